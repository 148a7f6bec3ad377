"""k nearest neighbours between point sets (Euclidean).

Backends (one dispatch point, `_dispatch`): 'triton' (CUDA, tiled brute force in hnf3d.ops.kernels.knn),
'cpu' (pykdtree: the fastest CPU KD-tree measured in benchmarks/ops.py; scipy's cKDTree is the fallback
when pykdtree is missing), 'torch' (exact chunked brute force: cdist + topk).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._optional import available
from ._common import check_backend, check_points, check_queries, chunks, pair_chunk, resolve_backend


class KNN(NamedTuple):
    """distance: (Q, k) Euclidean distances, ascending; index: (Q, k) int64 rows of `reference`."""

    distance: torch.Tensor
    index: torch.Tensor


def _knn_torch(reference: torch.Tensor, queries: torch.Tensor, k: int) -> KNN:
    dist = torch.empty(queries.shape[0], k, dtype=queries.dtype, device=queries.device)
    idx = torch.empty(queries.shape[0], k, dtype=torch.int64, device=queries.device)
    step = pair_chunk(reference.shape[0], 2**24)
    for s in chunks(queries.shape[0], step):
        d2 = torch.cdist(queries[s], reference, compute_mode="donot_use_mm_for_euclid_dist")
        val, ind = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        dist[s], idx[s] = val, ind
    return KNN(dist, idx)


def _knn_cpu(reference: torch.Tensor, queries: torch.Tensor, k: int) -> KNN:
    ref = reference.detach().numpy()
    qry = queries.detach().numpy().astype(ref.dtype, copy=False)
    if available("pykdtree"):
        from pykdtree.kdtree import KDTree

        dist, idx = KDTree(ref).query(qry, k=k)
    else:  # scipy is a required dependency
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(ref).query(qry, k=k, workers=-1)
    dist = np.asarray(dist).reshape(len(qry), k)
    idx = np.asarray(idx).reshape(len(qry), k).astype(np.int64)
    return KNN(torch.from_numpy(dist).to(queries.dtype), torch.from_numpy(idx))


def _knn_triton(reference: torch.Tensor, queries: torch.Tensor, k: int) -> KNN:
    from .kernels.knn import knn_triton

    d2, idx = knn_triton(reference.float().contiguous(), queries.float().contiguous(), k)
    return KNN(d2.clamp_min(0).sqrt().to(queries.dtype), idx)


def _dispatch(backend: str, reference: torch.Tensor, queries: torch.Tensor, k: int) -> KNN:
    backend = resolve_backend(backend, queries.device, cpu_library="scipy")
    if backend == "cpu":
        return _knn_cpu(reference, queries, k)
    if backend == "triton":
        return _knn_triton(reference, queries, k)
    return _knn_torch(reference, queries, k)


def knn(reference, queries, k: int = 1, *, backend: str = "auto") -> KNN:
    """The k nearest points of `reference` for each query.

    reference: (R, 3); queries: (Q, 3) (numpy or torch). k: 1 <= k <= R.
    Returns KNN(distance (Q, k), index (Q, k) int64), ascending distance, on the queries' device.
    """
    check_backend(backend)
    q = check_queries(queries)
    r = check_points(reference, "reference", device=q.device, dtype=q.dtype)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    if r.shape[0] < k:
        raise ValueError(f"k: asked for {k} neighbours but reference has only {r.shape[0]} points")
    if q.shape[0] == 0:
        return KNN(torch.zeros(0, k, dtype=q.dtype, device=q.device), torch.zeros(0, k, dtype=torch.int64, device=q.device))
    return _dispatch(backend, r, q, int(k))
