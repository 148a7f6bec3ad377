"""Winding number of query points with respect to an oriented point cloud.

Each point p_i with unit normal n_i and area a_i is a tiny oriented disc; its solid-angle contribution at q is
a_i ((p_i - q) . n_i) / (4 pi |p_i - q|^3) (Barill et al. 2018, "Fast winding numbers for soups and clouds").
The sum is ~1 inside and ~0 outside a well-sampled closed surface with outward normals: the pseudo-label source
for test-time refinement on scans.

Backends (one dispatch point, `_dispatch`): 'triton' (CUDA, hnf3d.ops.kernels), 'cpu' (point-cloud-utils' fast
winding number, a tree with far-field expansions), 'torch' (exact chunked brute force below).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._optional import require
from ._common import as_tensor, check_backend, check_points, check_queries, chunks, pair_chunk, resolve_backend

# Distances below EPS (relative to nothing: the inputs are expected in a unit-sized frame) are clamped so a
# query that coincides with a sample point gives a large but finite contribution instead of inf/NaN.
EPS = 1e-6


def estimate_point_areas(points: torch.Tensor, k: int = 8) -> torch.Tensor:
    """Per-point surface area a_i = pi r_k^2 / k, with r_k the distance to the k-th nearest other point.

    points: (N, 3). Returns (N,). Assumes locally uniform sampling: k neighbours within r_k means a density of
    k / (pi r_k^2) points per unit area.
    """
    from .knn import knn

    k = max(1, min(k, points.shape[0] - 1))
    if k < 1 or points.shape[0] < 2:
        return torch.ones(points.shape[0], dtype=points.dtype, device=points.device)
    dist, _ = knn(points, points, k=k + 1)  # the first neighbour is the point itself
    r = dist[:, -1]
    return math.pi * r * r / k


def _pcwn_torch(points, normals, areas, queries, eps: float = EPS) -> torch.Tensor:
    """Exact reference: (N, 3) points, (N, 3) unit normals, (N,) areas, (Q, 3) queries -> (Q,), in the queries'
    dtype, chunked over queries to bound memory. eps: the distance floor (the kernel's argument; EPS here)."""
    out = torch.empty(queries.shape[0], dtype=queries.dtype, device=queries.device)
    step = pair_chunk(points.shape[0], 2**22)
    for s in chunks(queries.shape[0], step):
        d = points[None, :, :] - queries[s, None, :]  # (q, N, 3)
        r = d.norm(dim=-1).clamp_min(eps)
        out[s] = ((d * normals[None]).sum(-1) * areas[None] / r**3).sum(dim=1) / (4.0 * math.pi)
    return out


def _pcwn_cpu(points, normals, areas, queries) -> torch.Tensor:
    pcu = require("point_cloud_utils", "point_cloud_winding_number on CPU")
    # in the queries' precision: pcu is ~1.6x faster in float32 and its float32/float64 answers differ by < 1e-3,
    # well under its own far-field approximation error (benchmarks/ops.py)
    dtype = torch.float32 if queries.dtype == torch.float32 else torch.float64
    w = pcu.point_cloud_fast_winding_number(
        *(t.detach().to(dtype).contiguous().numpy() for t in (points, normals, areas, queries))
    )
    return torch.from_numpy(np.asarray(w)).to(queries.dtype)


def _dispatch(backend, points, normals, areas, queries) -> torch.Tensor:
    backend = resolve_backend(backend, queries.device, cpu_library="point_cloud_utils")
    if backend == "cpu":
        return _pcwn_cpu(points, normals, areas, queries)
    if backend == "triton":
        from .kernels.point_cloud_winding_number import point_cloud_winding_number_triton

        out = point_cloud_winding_number_triton(
            points.float().contiguous(), normals.float().contiguous(), areas.float().contiguous(),
            queries.float().contiguous(), EPS,
        )
        return out.to(queries.dtype)
    return _pcwn_torch(points, normals, areas, queries)


def point_cloud_winding_number(points, normals, queries, areas=None, *, backend: str = "auto") -> torch.Tensor:
    """Winding number of `queries` w.r.t. the oriented point cloud (points, normals).

    points: (N, 3); normals: (N, 3), outward, normalised here; queries: (Q, 3);
    areas: (N,) per-point areas, or None to estimate them from the k-nearest-neighbour spacing.
    Returns (Q,) on the queries' device.
    """
    check_backend(backend)
    q = check_queries(queries)
    p = check_points(points, "points", device=q.device, dtype=q.dtype)
    n = check_points(normals, "normals", device=q.device, dtype=q.dtype)
    if n.shape != p.shape:
        raise ValueError(f"normals: expected shape {tuple(p.shape)} (one per point), got {tuple(n.shape)}")
    if p.shape[0] == 0:
        raise ValueError("points: the point cloud is empty")
    n = n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if areas is None:
        a = estimate_point_areas(p)
    else:
        a = as_tensor(areas, "areas", device=q.device, dtype=q.dtype).reshape(-1)
        if a.shape[0] != p.shape[0]:
            raise ValueError(f"areas: expected shape ({p.shape[0]},), got {tuple(as_tensor(areas, 'areas').shape)}")
        if not (torch.isfinite(a).all() and (a >= 0).all()):
            raise ValueError("areas: expected finite, non-negative per-point areas")
    if q.shape[0] == 0:
        return torch.zeros(0, dtype=q.dtype, device=q.device)
    return _dispatch(backend, p, n, a, q)
