"""cast_rays: hit distances against analytic truth, miss conventions, normals, and backend agreement.

'torch' is exact Moller-Trumbore in the rays' dtype (float64 here); 'cpu' is Open3D/Embree in float32 (1e-5).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hnf3d.ops import RayHits, cast_rays
from helpers import BOX_HALF, box, face_normals, sphere, torus, torus_sdf, unit_vectors

BACKENDS = ["torch", "cpu"]
TOL = {"torch": 1e-12, "cpu": 1e-5}


def check_normals(hits: RayHits, v, f):
    """Hit rays carry the unit right-hand normal of the face they name; misses carry -1, inf and a zero normal."""
    hit = torch.isfinite(hits.t_hit).numpy()
    fi, n = hits.face_index.numpy(), hits.normal.numpy()
    np.testing.assert_allclose(n[hit], face_normals(v, f)[fi[hit]], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(n[hit], axis=1), 1.0, atol=1e-6)
    assert (fi[~hit] == -1).all() and (n[~hit] == 0).all() and np.isposinf(hits.t_hit.numpy()[~hit]).all()
    assert (fi[hit] >= 0).all() and (fi[hit] < len(f)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_rays_toward_the_sphere_centre_hit_at_distance_minus_one(backend):
    v, f, band = sphere()
    u = unit_vectors(500, seed=0)
    o = u * np.random.default_rng(1).uniform(1.5, 4.0, size=(500, 1))
    hits = cast_rays(v, f, o, -u, backend=backend)
    assert isinstance(hits, RayHits)
    r = np.linalg.norm(o, axis=1)
    t = hits.t_hit.numpy()
    # the mesh lies between radius 1 - band and 1
    assert (t >= r - 1 - TOL[backend]).all() and (t <= r - 1 + band + TOL[backend]).all()
    check_normals(hits, v, f)
    assert ((hits.normal.numpy() * u).sum(1) > 0.9).all()  # the outward normal of the face facing the origin
    # the hit point is on the mesh, at the face the hit names
    p = o - t[:, None] * u
    n = face_normals(v, f)[hits.face_index.numpy()]
    assert np.abs(((p - v[f[hits.face_index.numpy(), 0]]) * n).sum(1)).max() < 10 * TOL[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_t_is_in_units_of_the_direction_length(backend):
    v, f, _ = sphere()
    u = unit_vectors(100, seed=2)
    o = 3 * u
    t1 = cast_rays(v, f, o, -u, backend=backend).t_hit
    t5 = cast_rays(v, f, o, -5 * u, backend=backend).t_hit
    np.testing.assert_allclose((t5 * 5).numpy(), t1.numpy(), rtol=0, atol=TOL[backend] * 5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_misses(backend):
    v, f, _ = sphere()
    u = unit_vectors(200, seed=3)
    o = 2 * u
    away = cast_rays(v, f, o, u, backend=backend)  # pointing away from the sphere
    assert torch.isinf(away.t_hit).all() and (away.face_index == -1).all() and (away.normal == 0).all()
    # passing beside it: offset perpendicular to the direction by more than the radius
    d = np.cross(u, unit_vectors(200, seed=4))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    beside = cast_rays(v, f, 1.2 * u - 3 * d, d, backend=backend)
    assert torch.isinf(beside.t_hit).all() and (beside.face_index == -1).all()
    # t > 0 only: the sphere is behind the origin of a ray pointing away from it
    check_normals(away, v, f)


@pytest.mark.parametrize("backend", BACKENDS)
def test_box_hit_distances_are_exact(backend):
    """From a point inside the box, t = min over axes of (half_i - o_i sign(d_i)) / |d_i|; from outside, along
    the axes, t = |o_i| - half_i."""
    v, f, _ = box()
    g = np.random.default_rng(5)
    o = g.uniform(-1, 1, size=(500, 3)) * BOX_HALF * 0.9
    d = unit_vectors(500, seed=6)
    with np.errstate(divide="ignore"):
        t_exact = np.min((BOX_HALF - o * np.sign(d)) / np.abs(d), axis=1)
    hits = cast_rays(v, f, o, d, backend=backend)
    np.testing.assert_allclose(hits.t_hit.numpy(), t_exact, rtol=0, atol=TOL[backend])
    check_normals(hits, v, f)
    # the exit face's normal points along the ray (the normal is not flipped toward the ray)
    assert ((hits.normal.numpy() * d).sum(1) > 0).all()
    # from outside, along -x, -y, -z toward the centre, offset within the faces
    o2 = np.array([[2.0, 0.1, 0.05], [0.1, 1.0, -0.1], [-0.3, 0.2, 3.0]])
    d2 = np.array([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    hits2 = cast_rays(v, f, o2, d2, backend=backend)
    np.testing.assert_allclose(hits2.t_hit.numpy(), [1.6, 0.7, 2.8], atol=TOL[backend])
    np.testing.assert_allclose(hits2.normal.numpy(), -d2, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rays_starting_on_a_face_hit_it_at_t_zero(backend):
    """The documented contract: hits need t >= 0 (Embree's convention, kept by every backend). A ray starting
    exactly on a box face (the origin's coordinate is the very same float as the face's vertices) hits that face
    at t = 0, whichever way it points; a ray starting just off the face, pointing away, misses."""
    v, f, _ = box()
    hx, hy, hz = BOX_HALF
    o = np.array([[hx, 0.05, 0.03], [hx, 0.05, 0.03], [0.1, hy, -0.05], [hx, 0.0, 0.0], [0.1, -0.1, -hz]])
    d = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [1.0, 0.2, 0.1], [0, 0, 1.0]])
    t = cast_rays(v, f, o, d, backend=backend).t_hit.numpy()
    np.testing.assert_allclose(t, np.zeros(5), rtol=0, atol=TOL[backend])
    off = cast_rays(v, f, o[:1] + [[1e-3, 0, 0]], d[:1], backend=backend).t_hit.numpy()
    assert np.isinf(off).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sphere", "torus"])
def test_rays_from_inside_a_closed_mesh_always_hit(name, backend):
    v, f, band = {"sphere": sphere, "torus": torus}[name]()
    g = np.random.default_rng(7)
    q = g.uniform(-1, 1, size=(4000, 3))
    sdf = np.linalg.norm(q, axis=1) - 1 if name == "sphere" else torus_sdf(q)
    o = q[sdf < -band - 0.01][:600]
    assert len(o) > 150
    hits = cast_rays(v, f, o, unit_vectors(len(o), seed=8), backend=backend)
    assert torch.isfinite(hits.t_hit).all() and (hits.face_index >= 0).all()
    assert (hits.t_hit > 0).all()
    check_normals(hits, v, f)


def test_backends_agree_on_random_rays():
    v, f, _ = torus()
    g = np.random.default_rng(9)
    o = g.uniform(-1, 1, size=(1000, 3))
    d = g.normal(size=(1000, 3)) * g.uniform(0.5, 2, size=(1000, 1))  # non-unit directions
    ht = cast_rays(v, f, o, d, backend="torch")
    hc = cast_rays(v, f, o, d, backend="cpu")
    mt, mc = torch.isfinite(ht.t_hit), torch.isfinite(hc.t_hit)
    assert 0.1 < mt.float().mean() < 0.9  # both hits and misses are exercised
    assert (mt == mc).float().mean() >= 0.998  # a ray grazing an edge may go either way in float32
    both = mt & mc
    np.testing.assert_allclose(hc.t_hit[both].numpy(), ht.t_hit[both].numpy(), rtol=0, atol=1e-5)
    assert (hc.face_index[both] == ht.face_index[both]).float().mean() >= 0.998


def test_auto_on_cpu_tensors_is_the_cpu_library():
    v, f, _ = sphere()
    o = torch.rand(100, 3, dtype=torch.float64) * 4 - 2
    d = torch.randn(100, 3, dtype=torch.float64)
    a, c = cast_rays(v, f, o, d), cast_rays(v, f, o, d, backend="cpu")
    assert all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_input_types(backend):
    v, f, _ = box()
    o = np.array([[2.0, 0.1, 0.05], [2.0, 0.0, 0.0]])
    d = np.array([[-1.0, 0, 0], [1.0, 0, 0]])
    h64 = cast_rays(v, f, o, d, backend=backend)
    assert h64.t_hit.dtype == h64.normal.dtype == torch.float64 and h64.face_index.dtype == torch.int64
    assert h64.t_hit.shape == (2,) and h64.normal.shape == (2, 3)
    h32 = cast_rays(torch.from_numpy(v).float(), torch.from_numpy(f), torch.from_numpy(o).float(),
                    torch.from_numpy(d).float(), backend=backend)
    assert h32.t_hit.dtype == h32.normal.dtype == torch.float32 and h32.t_hit.device.type == "cpu"
    np.testing.assert_allclose(h32.t_hit.numpy(), h64.t_hit.numpy(), atol=1e-6)
    assert torch.equal(h32.face_index, h64.face_index)
    hl = cast_rays(v.tolist(), f.tolist(), o.tolist(), d.tolist(), backend=backend)
    np.testing.assert_allclose(hl.t_hit.numpy(), [1.6, np.inf], atol=1e-6)
    empty = cast_rays(v, f, np.zeros((0, 3)), np.zeros((0, 3)), backend=backend)
    assert empty.t_hit.shape == (0,) and empty.face_index.shape == (0,) and empty.normal.shape == (0, 3)
