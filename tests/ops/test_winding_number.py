"""winding_number: ~1 inside / ~0 outside closed outward meshes, -1 inside flipped ones, exact solid angles.

Tolerances: 'torch' is the exact brute-force sum (float64 here: 1e-6, in practice ~1e-15). 'cpu' is
point-cloud-utils' fast winding number (Barill et al. 2018), a tree with far-field expansions: approximate, with
a measured error of ~2e-3 on these shapes; we allow CPU_TOL = 1e-2, still far from the 0.5 decision threshold.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hnf3d.ops import winding_number
from helpers import box, box_distance, box_inside, sphere, torus, torus_sdf

EXACT_TOL = 1e-6
CPU_TOL = 1e-2

SHAPES = {
    # name: (shape factory, signed analytic distance (negative inside))
    "sphere": (sphere, lambda q: np.linalg.norm(q, axis=1) - 1.0),
    "box": (box, lambda q: np.where(box_inside(q), -box_distance(q), box_distance(q))),
    "torus": (torus, torus_sdf),
}


def queries_away_from_surface(v, sdf, band, n=1000, seed=0):
    """n points uniform in the shape's bounding box padded by 30%, minus the band around the surface."""
    lim = 1.3 * np.abs(v).max(0)
    q = np.random.default_rng(seed).uniform(-lim, lim, size=(4 * n, 3))
    d = sdf(q)
    keep = np.abs(d) > band + 0.02
    return q[keep][:n], d[keep][:n] < 0


@pytest.mark.parametrize("backend,tol", [("torch", EXACT_TOL), ("cpu", CPU_TOL)])
@pytest.mark.parametrize("name", list(SHAPES))
def test_one_inside_zero_outside(name, backend, tol):
    make, sdf = SHAPES[name]
    v, f, band = make()
    q, inside = queries_away_from_surface(v, sdf, band)
    assert inside.sum() > 50 and (~inside).sum() > 50
    w = winding_number(v, f, q, backend=backend).numpy()
    np.testing.assert_allclose(w, inside.astype(float), atol=tol)


@pytest.mark.parametrize("backend,tol", [("torch", EXACT_TOL), ("cpu", CPU_TOL)])
def test_flipped_mesh_gives_minus_one_inside(backend, tol):
    v, f, band = torus()
    q, inside = queries_away_from_surface(v, torus_sdf, band, n=500, seed=1)
    w = winding_number(v, f[:, ::-1].copy(), q, backend=backend).numpy()
    np.testing.assert_allclose(w, -inside.astype(float), atol=tol)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_nested_parts_add_up(backend):
    """Two concentric outward spheres: w = 2 inside both, 1 between them (the winding number counts enclosure)."""
    v, f, band = sphere()
    vv = np.vstack([v, 0.5 * v])
    ff = np.vstack([f, f + len(v)])
    q = np.array([[0.0, 0.0, 0.0], [0.1, -0.2, 0.1], [0.75, 0.0, 0.0], [0.0, -0.7, 0.2], [1.5, 0.0, 0.0]])
    w = winding_number(vv, ff, q, backend=backend).numpy()
    np.testing.assert_allclose(w, [2, 2, 1, 1, 0], atol=CPU_TOL)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_single_triangle_solid_angle(backend):
    """The triangle (e1, e2, e3) seen from the origin covers one octant of the sphere of directions: w = 1/8,
    positive from behind its right-hand normal (the inside of an outward mesh), negative for the flipped one.
    Seen from a point in its own plane it covers nothing."""
    v = np.eye(3)
    f = np.array([[0, 1, 2]])
    q = np.array([[0.0, 0.0, 0.0], [-1.0, 1.0, 1.0]])  # the second lies in the plane x+y+z = 1
    tol = EXACT_TOL if backend == "torch" else CPU_TOL
    np.testing.assert_allclose(winding_number(v, f, q, backend=backend).numpy(), [0.125, 0.0], atol=tol)
    np.testing.assert_allclose(winding_number(v, f[:, ::-1], q, backend=backend).numpy(), [-0.125, 0.0], atol=tol)


def test_open_mesh_degrades_gracefully():
    """A sphere with a few faces removed: w stays near 1 deep inside and near 0 far outside (where ray parity
    would be wrong along rays through the hole)."""
    v, f, _ = sphere()
    hole = v[f].mean(1)[:, 2] > 0.95  # a small cap at the north pole
    assert 0 < hole.sum() < 10
    q = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -0.5], [0.3, 0.2, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]])
    for backend in ("torch", "cpu"):
        w = winding_number(v, f[~hole], q, backend=backend).numpy()
        assert (w[:3] > 0.9).all() and (np.abs(w[3:]) < 0.1).all(), (backend, w)


def test_backends_agree_on_random_queries():
    v, f, _ = torus()
    q = np.random.default_rng(3).uniform(-1, 1, size=(1000, 3))
    wt = winding_number(v, f, q, backend="torch").numpy()
    wc = winding_number(v, f, q, backend="cpu").numpy()
    np.testing.assert_allclose(wc, wt, atol=CPU_TOL)
    assert ((wc >= 0.5) == (wt >= 0.5)).mean() >= 0.999


def test_auto_on_cpu_tensors_is_the_cpu_library():
    v, f, _ = sphere()
    q = torch.rand(200, 3, dtype=torch.float64) * 2 - 1
    assert torch.equal(winding_number(v, f, q), winding_number(v, f, q, backend="cpu"))


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_dtypes_and_input_types(backend):
    v, f, _ = sphere(1)
    q64 = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    w64 = winding_number(v, f, q64, backend=backend)  # numpy float64 in -> float64 out (docstring)
    assert isinstance(w64, torch.Tensor) and w64.dtype == torch.float64 and w64.shape == (2,)
    w32 = winding_number(torch.from_numpy(v).float(), torch.from_numpy(f), torch.from_numpy(q64).float(),
                         backend=backend)
    assert w32.dtype == torch.float32 and w32.device.type == "cpu"
    np.testing.assert_allclose(w32.numpy(), w64.numpy(), atol=1e-5)
    # a nested list and integer queries are accepted too (as float32)
    wl = winding_number(v.tolist(), f.tolist(), [[0, 0, 0], [2, 0, 0]], backend=backend)
    assert wl.dtype == torch.float32
    np.testing.assert_allclose(wl.numpy(), [1, 0], atol=CPU_TOL)
    assert winding_number(v, f, np.zeros((0, 3)), backend=backend).shape == (0,)
