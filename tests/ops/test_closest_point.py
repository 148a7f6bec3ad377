"""closest_point: distances equal the analytic ones (exactly on the box, up to the facet error on the sphere and
torus), the returned point lies on the returned face at the returned distance, and the backends agree.

'torch' computes in the queries' dtype (float64 here: exact to ~1e-12). 'cpu' is Open3D's RaycastingScene, which
works in float32: 1e-6 on unit-sized shapes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hnf3d.ops import ClosestPoint, closest_point
from hnf3d.ops.closest_point import closest_point_on_triangle
from helpers import box, box_distance, on_face, sphere, torus, torus_sdf

TOL = {"torch": 1e-12, "cpu": 1e-6}


def box_queries(n=600, seed=0):
    """Inside, outside, near faces / edges / corners of the box, and exactly on it."""
    g = np.random.default_rng(seed)
    q = g.uniform(-0.8, 0.8, size=(n, 3))
    corners = np.array([[sx * 0.4, sy * 0.3, sz * 0.2] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    near_corners = corners + g.normal(scale=0.05, size=(8, 3))
    on_surface = np.array([[0.4, 0.1, -0.05], [0.0, -0.3, 0.0], [0.4, 0.3, 0.2], [-0.1, 0.2, -0.2]])
    return np.vstack([q, corners, near_corners, on_surface])


def check_point_on_face(res: ClosestPoint, v, f, q, tol):
    p, fi, d = res.point.numpy(), res.face_index.numpy(), res.distance.numpy()
    assert fi.min() >= 0 and fi.max() < len(f)
    plane, bary = on_face(p, v, f, fi)
    assert plane.max() < tol and bary.min() > -tol * 10, (plane.max(), bary.min())
    np.testing.assert_allclose(np.linalg.norm(p - q, axis=1), d, rtol=0, atol=tol)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_box_distances_are_exact(backend):
    v, f, _ = box()
    q = box_queries()
    res = closest_point(v, f, q, backend=backend)
    assert isinstance(res, ClosestPoint)
    np.testing.assert_allclose(res.distance.numpy(), box_distance(q), rtol=0, atol=TOL[backend])
    check_point_on_face(res, v, f, q, TOL[backend])
    # the closest point of an outside query is the query clamped to the box
    out = (np.abs(q) > [0.4, 0.3, 0.2]).any(1)
    np.testing.assert_allclose(res.point.numpy()[out], np.clip(q[out], -np.array([0.4, 0.3, 0.2]),
                                                               [0.4, 0.3, 0.2]), atol=TOL[backend])


@pytest.mark.parametrize("backend", ["torch", "cpu"])
@pytest.mark.parametrize("name", ["sphere", "torus"])
def test_curved_shapes_within_the_facet_error(name, backend):
    make, dist = {"sphere": (sphere, lambda q: np.abs(np.linalg.norm(q, axis=1) - 1)),
                  "torus": (torus, lambda q: np.abs(torus_sdf(q)))}[name]
    v, f, band = make()
    q = np.random.default_rng(1).uniform(-1.3, 1.3, size=(500, 3))
    res = closest_point(v, f, q, backend=backend)
    assert np.abs(res.distance.numpy() - dist(q)).max() <= band + TOL[backend]
    check_point_on_face(res, v, f, q, 10 * TOL[backend])


def test_points_on_the_surface_have_distance_zero():
    v, f, _ = torus()
    p = v[f].mean(1)[:200]  # face centroids
    for backend in ("torch", "cpu"):
        res = closest_point(v, f, p, backend=backend)
        assert res.distance.max().item() < TOL[backend] * 10
        assert torch.equal(res.face_index, torch.arange(200))  # a centroid is only on its own face


def test_backends_agree_on_random_inputs():
    """Random queries against the torus and against a random triangle soup (slivers, intersections)."""
    g = np.random.default_rng(2)
    v, f, _ = torus()
    soup_v = g.uniform(-1, 1, size=(300, 3))
    soup_f = g.integers(0, 300, size=(100, 3))
    for vv, ff in ((v, f), (soup_v, soup_f)):
        q = g.uniform(-1.2, 1.2, size=(300, 3))
        rt = closest_point(vv, ff, q, backend="torch")
        rc = closest_point(vv, ff, q, backend="cpu")
        np.testing.assert_allclose(rc.distance.numpy(), rt.distance.numpy(), rtol=0, atol=1e-5)
        # ties aside (e.g. the torus axis is equidistant to a whole ring), both name a face at that distance
        for res in (rt, rc):
            t = torch.from_numpy(vv[ff[res.face_index.numpy()]])
            on = closest_point_on_triangle(torch.from_numpy(q), t[:, 0], t[:, 1], t[:, 2])
            np.testing.assert_allclose((on - torch.from_numpy(q)).norm(dim=1).numpy(), rt.distance.numpy(),
                                       atol=1e-5)


def test_degenerate_triangles_do_not_produce_nan():
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    f = np.array([[0, 1, 2], [3, 3, 3], [0, 3, 4]])  # collinear, a point, a real triangle
    q = np.array([[0.5, 0.5, 0.0], [1.5, 1.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.2, 0.2]])
    res = closest_point(v, f, q, backend="torch")
    assert torch.isfinite(res.point).all() and torch.isfinite(res.distance).all()
    # brute force over the segments / points the degenerate faces are
    np.testing.assert_allclose(res.distance.numpy(), [0.5, 1.0, 0.0, 1.0], atol=1e-12)


def test_auto_on_cpu_tensors_is_the_cpu_library():
    v, f, _ = sphere()
    q = torch.rand(100, 3, dtype=torch.float64) * 3 - 1.5
    a, c = closest_point(v, f, q), closest_point(v, f, q, backend="cpu")
    assert all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_dtypes_and_input_types(backend):
    v, f, _ = box()
    q = box_queries(20)
    r64 = closest_point(v, f, q, backend=backend)
    assert r64.distance.dtype == r64.point.dtype == torch.float64 and r64.face_index.dtype == torch.int64
    assert r64.distance.shape == (len(q),) and r64.point.shape == (len(q), 3)
    r32 = closest_point(torch.from_numpy(v).float(), torch.from_numpy(f).int(), torch.from_numpy(q).float(),
                        backend=backend)
    assert r32.distance.dtype == r32.point.dtype == torch.float32 and r32.point.device.type == "cpu"
    np.testing.assert_allclose(r32.distance.numpy(), r64.distance.numpy(), atol=1e-6)
    rl = closest_point(v.tolist(), f.tolist(), [[0, 0, 1]], backend=backend)
    np.testing.assert_allclose(rl.distance.numpy(), [0.8], atol=1e-6)
    empty = closest_point(v, f, np.zeros((0, 3)), backend=backend)
    assert empty.distance.shape == (0,) and empty.point.shape == (0, 3) and empty.face_index.shape == (0,)
