"""point_cloud_winding_number / estimate_point_areas on an oriented point cloud sampled from the unit sphere.

The point-cloud winding number is a quadrature of the solid angle: with N uniform samples it is ~1 inside and ~0
outside up to the sampling noise near the surface. Both backends evaluate the same sum ('torch' exactly, 'cpu' with
point-cloud-utils' far-field tree approximation, measured within 0.04 of 'torch' here).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hnf3d.ops import estimate_point_areas, point_cloud_winding_number, sample_surface
from helpers import sphere, unit_vectors

N = 3000


@pytest.fixture(scope="module")
def cloud():
    p = unit_vectors(N, seed=0)  # uniform on the unit sphere; the outward normal is the point itself
    q = np.random.default_rng(1).uniform(-1.6, 1.6, size=(2000, 3))
    return p, q, np.linalg.norm(q, axis=1)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
@pytest.mark.parametrize("given_areas", [True, False], ids=["areas", "estimated_areas"])
def test_inside_above_half_outside_below(cloud, backend, given_areas):
    p, q, r = cloud
    areas = np.full(N, 4 * math.pi / N) if given_areas else None
    w = point_cloud_winding_number(p, p, q, areas=areas, backend=backend).numpy()
    assert (w[r < 0.9] > 0.5).all() and (w[r > 1.1] < 0.5).all()
    # and close to the ideal 1 / 0 away from the surface
    assert np.abs(w[r < 0.5] - 1).max() < 0.05 and np.abs(w[r > 1.5]).max() < 0.05


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_points_and_normals_sampled_from_a_mesh(backend):
    v, f, _ = sphere(3)
    s = sample_surface(v, f, N, seed=2)
    q = np.array([[0.0, 0.0, 0.0], [0.3, -0.4, 0.2], [0.0, 0.0, 1.5], [-2.0, 0.5, 0.0]])
    w = point_cloud_winding_number(s.points, s.normals, q, backend=backend).numpy()
    np.testing.assert_allclose(w, [1, 1, 0, 0], atol=0.05)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_inward_normals_flip_the_sign_and_normals_are_normalised(cloud, backend):
    p, q, r = cloud
    q = q[:300]
    w = point_cloud_winding_number(p, p, q, backend=backend).numpy()
    np.testing.assert_allclose(point_cloud_winding_number(p, -p, q, backend=backend).numpy(), -w, atol=1e-9)
    np.testing.assert_allclose(point_cloud_winding_number(p, 3.0 * p, q, backend=backend).numpy(), w, atol=1e-9)


def test_backends_agree(cloud):
    p, q, r = cloud
    areas = np.full(N, 4 * math.pi / N)
    wt = point_cloud_winding_number(p, p, q, areas=areas, backend="torch").numpy()
    wc = point_cloud_winding_number(p, p, q, areas=areas, backend="cpu").numpy()
    np.testing.assert_allclose(wc, wt, atol=0.05)
    far = np.abs(r - 1) > 0.1
    np.testing.assert_allclose(wc[far], wt[far], atol=0.01)


def test_auto_on_cpu_tensors_is_the_cpu_library(cloud):
    p, q, _ = cloud
    pt, qt = torch.from_numpy(p), torch.from_numpy(q[:100])
    assert torch.equal(point_cloud_winding_number(pt, pt, qt), point_cloud_winding_number(pt, pt, qt, backend="cpu"))


def test_estimated_areas_tile_the_surface(cloud):
    p, _, _ = cloud
    a = estimate_point_areas(torch.from_numpy(p))
    assert a.shape == (N,) and a.dtype == torch.float64 and (a > 0).all()
    assert abs(a.sum().item() / (4 * math.pi) - 1) < 0.1  # the areas add up to the sphere's area
    # areas scale with the square of the length unit
    a3 = estimate_point_areas(torch.from_numpy(3.0 * p))
    np.testing.assert_allclose(a3.numpy(), 9.0 * a.numpy(), rtol=1e-12)
    # degenerate clouds do not crash: a single point gets area 1, two points use each other
    assert estimate_point_areas(torch.zeros(1, 3)).tolist() == [1.0]
    assert estimate_point_areas(torch.tensor([[0.0, 0, 0], [1.0, 0, 0]])).tolist() == pytest.approx([math.pi] * 2)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_dtypes_and_input_types(cloud, backend):
    p, q, _ = cloud
    q = q[:50]
    w64 = point_cloud_winding_number(p, p, q, backend=backend)
    assert isinstance(w64, torch.Tensor) and w64.dtype == torch.float64 and w64.shape == (50,)
    pt = torch.from_numpy(p).float()
    w32 = point_cloud_winding_number(pt, pt, torch.from_numpy(q).float(), backend=backend)
    assert w32.dtype == torch.float32 and w32.device.type == "cpu"
    np.testing.assert_allclose(w32.numpy(), w64.numpy(), atol=1e-3)
    # areas as a torch tensor or a column work the same
    a = np.full(N, 4 * math.pi / N)
    wa = point_cloud_winding_number(p, p, q, areas=a, backend=backend)
    wt = point_cloud_winding_number(p, p, q, areas=torch.from_numpy(a)[:, None], backend=backend)
    np.testing.assert_allclose(wt.numpy(), wa.numpy(), rtol=1e-12)
    # a query on a sample point stays finite
    assert torch.isfinite(point_cloud_winding_number(p, p, p[:5], backend=backend)).all()
    assert point_cloud_winding_number(p, p, np.zeros((0, 3)), backend=backend).shape == (0,)
