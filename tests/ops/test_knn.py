"""knn: the k nearest reference points, checked against scipy's exact cKDTree and a numpy brute force."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from hnf3d.ops import KNN, knn

BACKENDS = ["torch", "cpu"]


@pytest.fixture(scope="module")
def clouds():
    g = np.random.default_rng(0)
    return g.normal(size=(2000, 3)), g.uniform(-2, 2, size=(1500, 3))


def check_neighbours(res: KNN, ref: np.ndarray, qry: np.ndarray, k: int, atol: float):
    """Distances equal cKDTree's; each index names a reference point at exactly that distance (ties aside)."""
    d_ref, _ = cKDTree(ref).query(qry, k=k)
    d_ref = d_ref.reshape(len(qry), k)
    dist, idx = res.distance.numpy(), res.index.numpy()
    assert dist.shape == idx.shape == (len(qry), k)
    np.testing.assert_allclose(dist, d_ref, rtol=0, atol=atol)
    np.testing.assert_allclose(np.linalg.norm(ref[idx] - qry[:, None], axis=2), dist, rtol=0, atol=atol)
    assert (np.diff(dist, axis=1) >= 0).all()  # ascending
    assert all(len(set(row)) == k for row in idx)  # k distinct neighbours


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 5])
def test_matches_ckdtree(clouds, backend, k):
    ref, qry = clouds
    res = knn(ref, qry, k=k, backend=backend)
    assert isinstance(res, KNN)
    check_neighbours(res, ref, qry, k, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_brute_force_in_float32(backend):
    g = np.random.default_rng(1)
    ref, qry = g.random((300, 3), dtype=np.float32), g.random((200, 3), dtype=np.float32)
    res = knn(torch.from_numpy(ref), torch.from_numpy(qry), k=4, backend=backend)
    assert res.distance.dtype == torch.float32 and res.index.dtype == torch.int64
    brute = np.sort(np.linalg.norm(qry[:, None].astype(np.float64) - ref[None], axis=2), axis=1)[:, :4]
    np.testing.assert_allclose(res.distance.numpy(), brute, rtol=0, atol=1e-6)
    check_neighbours(res, ref.astype(np.float64), qry.astype(np.float64), 4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_self_query_finds_itself_first(clouds, backend):
    ref, _ = clouds
    res = knn(ref, ref, k=2, backend=backend)
    assert (res.distance[:, 0] == 0).all()
    assert torch.equal(res.index[:, 0], torch.arange(len(ref)))
    assert (res.distance[:, 1] > 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_equal_to_reference_size_returns_all(backend):
    ref = np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 3.0, 0]])
    res = knn(ref, np.array([[0.9, 0, 0]]), k=3, backend=backend)
    assert res.index.tolist() == [[1, 0, 2]]
    np.testing.assert_allclose(res.distance.numpy(), [[0.1, 0.9, np.hypot(0.9, 3.0)]], atol=1e-12)


def test_backends_agree(clouds):
    ref, qry = clouds
    rt = knn(ref, qry, k=5, backend="torch")
    rc = knn(ref, qry, k=5, backend="cpu")
    np.testing.assert_allclose(rc.distance.numpy(), rt.distance.numpy(), rtol=0, atol=1e-12)
    assert (rc.index == rt.index).float().mean() > 0.999  # random float64 data: ties are (almost) impossible


def test_auto_on_cpu_tensors_is_the_cpu_library(clouds):
    ref, qry = (torch.from_numpy(x) for x in clouds)
    a, c = knn(ref, qry, k=3), knn(ref, qry, k=3, backend="cpu")
    assert torch.equal(a.distance, c.distance) and torch.equal(a.index, c.index)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_input_types(clouds, backend):
    ref, qry = clouds
    ref, qry = ref[:100], qry[:20]
    r64 = knn(ref, qry, k=2, backend=backend)  # numpy float64
    assert r64.distance.dtype == torch.float64 and r64.index.dtype == torch.int64
    # torch tensors, mixed dtypes (the reference follows the queries), non-contiguous views, numpy integer k
    ref_t = torch.from_numpy(np.ascontiguousarray(ref.T)).T
    qry_t = torch.from_numpy(qry).float()
    assert not ref_t.is_contiguous()
    r32 = knn(ref_t, qry_t, k=np.int64(2), backend=backend)
    assert r32.distance.dtype == torch.float32 and r32.distance.device.type == "cpu"
    np.testing.assert_allclose(r32.distance.numpy(), r64.distance.numpy(), atol=1e-5)
    assert torch.equal(r32.index, r64.index)
    # nested lists
    rl = knn([[0, 0, 0], [2, 0, 0]], [[1.5, 0, 0]], k=1, backend=backend)
    assert rl.index.tolist() == [[1]] and rl.distance.tolist() == [[0.5]]
    empty = knn(ref, np.zeros((0, 3)), k=2, backend=backend)
    assert empty.distance.shape == empty.index.shape == (0, 2)
