"""The ops layer's Triton path (backend='triton') gives the torch reference's answers.

Runs the kernels through hnf3d.ops on CPU tensors under TRITON_INTERPRET=1 (set by tests/conftest.py) at the GPU
default tile sizes, with small ragged inputs (the interpreter costs ~35 us per tl op). With HNF3D_TEST_NATIVE_CUDA=1
on a GPU machine the same tests run natively on CUDA tensors (what backend='auto' picks there).
"""
import os

import numpy as np
import pytest
import torch
import trimesh

from hnf3d import ops

pytest.importorskip("triton")
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
if not INTERPRETED and not torch.cuda.is_available():
    pytest.skip("native Triton needs a CUDA GPU (none here)", allow_module_level=True)
DEV = "cpu" if INTERPRETED else "cuda"


@pytest.fixture(scope="module")
def mesh():
    m = trimesh.creation.icosphere(subdivisions=1)  # 80 faces: ragged against 16/32-face tiles
    return torch.tensor(m.vertices, dtype=torch.float32, device=DEV), torch.tensor(m.faces, device=DEV)


@pytest.fixture(scope="module")
def queries():
    return torch.from_numpy(np.random.default_rng(0).uniform(-1.3, 1.3, (70, 3)).astype(np.float32)).to(DEV)


def cpu64(*tensors):
    """The torch reference's inputs: float64 copies on the CPU."""
    return [t.cpu().double() if t.is_floating_point() else t.cpu() for t in tensors]


def test_winding_number(mesh, queries):
    w = ops.winding_number(*mesh, queries, backend="triton")
    ref = ops.winding_number(*cpu64(*mesh, queries), backend="torch")
    assert w.dtype == torch.float32 and w.shape == (70,) and w.device.type == DEV
    assert torch.allclose(w.cpu().double(), ref, atol=1e-5)


def test_closest_point_recomputes_the_point_on_the_winning_face(mesh, queries):
    got = ops.closest_point(*mesh, queries, backend="triton")
    ref = ops.closest_point(*cpu64(*mesh, queries), backend="torch")
    assert torch.allclose(got.distance.cpu().double(), ref.distance, atol=1e-5)
    assert torch.allclose((got.point - queries).norm(dim=1), got.distance, atol=1e-6)
    # the point lies on the face the kernel chose (ties between faces sharing an edge may pick either)
    v, f, p = cpu64(mesh[0], mesh[1][got.face_index], got.point)
    on_face = ops.closest_point(v, f, p, backend="torch").distance
    assert on_face.max() < 1e-5


def test_knn(queries):
    ref_points = torch.from_numpy(np.random.default_rng(1).normal(size=(90, 3)).astype(np.float32)).to(DEV)
    got = ops.knn(ref_points, queries, k=3, backend="triton")
    ref = ops.knn(*cpu64(ref_points, queries), k=3, backend="torch")
    assert torch.allclose(got.distance.cpu().double(), ref.distance, atol=1e-5)
    assert torch.equal(got.index.cpu(), ref.index)


def test_cast_rays_hit_at_t_zero_like_the_other_backends(mesh, queries):
    d = -queries
    got = ops.cast_rays(*mesh, queries, d, backend="triton")
    ref = ops.cast_rays(*cpu64(*mesh, queries, d), backend="torch")
    assert torch.allclose(got.t_hit.cpu().double(), ref.t_hit, atol=1e-5)
    assert torch.allclose(got.normal.cpu().double(), ref.normal, atol=1e-5)
    # a ray starting on a vertex of the mesh hits it at t = 0 (t >= 0 is every backend's contract)
    v0 = mesh[0][:1]
    assert ops.cast_rays(*mesh, v0, -v0, backend="triton").t_hit.item() == 0.0


def test_point_cloud_winding_number(queries):
    m = trimesh.creation.icosphere(subdivisions=2)
    p = torch.tensor(m.vertices, dtype=torch.float32, device=DEV)
    n = torch.tensor(m.vertex_normals, dtype=torch.float32, device=DEV)
    areas = torch.full((p.shape[0],), 4 * np.pi / p.shape[0], device=DEV)
    got = ops.point_cloud_winding_number(p, n, queries, areas=areas, backend="triton")
    pr, nr, qr, ar = cpu64(p, n, queries, areas)
    ref = ops.point_cloud_winding_number(pr, nr, qr, areas=ar, backend="torch")
    assert torch.allclose(got.cpu().double(), ref, atol=1e-4)


def test_occupancy_robust_mode_through_the_kernels(mesh):
    # 'robust' uses cast_rays (enclosure) and closest_point (shell): both run as kernels here
    q = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.2, 0.1], [1.5, 0.0, 0.0], [0.0, 2.0, 0.5]], device=DEV)
    got = ops.occupancy(*mesh, q, method="robust", n_rays=6, backend="triton")
    assert got.tolist() == [True, True, False, False]
    # and 'auto' on this closed sphere: the winding-number kernel
    assert ops.occupancy(*mesh, q, backend="triton").tolist() == [True, True, False, False]
