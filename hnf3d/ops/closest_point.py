"""Closest point on a triangle mesh (unsigned distance) for each query point.

Backends (one dispatch point, `_dispatch`): 'triton' (CUDA, tiled brute force in hnf3d.ops.kernels.closest_point;
the point itself is recomputed here from the winning face), 'cpu' (Open3D's RaycastingScene, an Embree BVH: the
fastest CPU library measured in benchmarks/ops.py), 'torch' (exact chunked brute force below).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ._common import check_backend, check_mesh, check_queries, chunks, pair_chunk, resolve_backend, triangles
from ._embree import raycasting_scene


class ClosestPoint(NamedTuple):
    """distance: (Q,) Euclidean; point: (Q, 3) on the mesh; face_index: (Q,) int64."""

    distance: torch.Tensor
    point: torch.Tensor
    face_index: torch.Tensor


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    # Degenerate triangles make some region denominators 0; those regions are never selected for them
    # (a nearer vertex/edge region is), but the division must not produce NaN that leaks through torch.where.
    ok = den != 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def closest_point_on_triangle(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Closest point to p on triangle (a, b, c), all (..., 3) broadcastable; returns (..., 3).

    Voronoi-region method (Ericson, Real-Time Collision Detection, 5.1.5), branch-free: each region's answer is
    computed everywhere and selected with torch.where in reverse order of precedence.
    """
    ab, ac = b - a, c - a
    ap, bp, cp = p - a, p - b, p - c
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2

    denom = va + vb + vc
    v, w = _safe_div(vb, denom), _safe_div(vc, denom)
    out = a + ab * v[..., None] + ac * w[..., None]  # interior (face region)

    w_bc = _safe_div(d4 - d3, (d4 - d3) + (d5 - d6))
    out = torch.where(((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0))[..., None], b + (c - b) * w_bc[..., None], out)
    w_ac = _safe_div(d2, d2 - d6)
    out = torch.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[..., None], a + ac * w_ac[..., None], out)
    out = torch.where(((d6 >= 0) & (d5 <= d6))[..., None], c.expand_as(out), out)
    v_ab = _safe_div(d1, d1 - d3)
    out = torch.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[..., None], a + ab * v_ab[..., None], out)
    out = torch.where(((d3 >= 0) & (d4 <= d3))[..., None], b.expand_as(out), out)
    out = torch.where(((d1 <= 0) & (d2 <= 0))[..., None], a.expand_as(out), out)
    return out


def _closest_point_torch(tri: torch.Tensor, queries: torch.Tensor) -> ClosestPoint:
    dist = torch.empty(queries.shape[0], dtype=queries.dtype, device=queries.device)
    point = torch.empty_like(queries)
    face = torch.empty(queries.shape[0], dtype=torch.int64, device=queries.device)
    step = pair_chunk(tri.shape[0], 2**21)
    for s in chunks(queries.shape[0], step):
        q = queries[s, None, :]
        cp = closest_point_on_triangle(q, tri[None, :, 0], tri[None, :, 1], tri[None, :, 2])  # (q, F, 3)
        d2 = ((cp - q) ** 2).sum(-1)
        best = d2.argmin(dim=1)
        rows = torch.arange(best.shape[0], device=best.device)
        dist[s], point[s], face[s] = d2[rows, best].sqrt(), cp[rows, best], best
    return ClosestPoint(dist, point, face)


def _closest_point_cpu(vertices, faces, queries) -> ClosestPoint:
    scene, o3c = raycasting_scene(vertices, faces, "closest_point on CPU")
    ans = scene.compute_closest_points(o3c.Tensor(queries.detach().float().numpy()))
    point = torch.from_numpy(ans["points"].numpy()).to(queries.dtype)
    face = torch.from_numpy(ans["primitive_ids"].numpy().astype(np.int64))
    dist = (point - queries).norm(dim=1)
    return ClosestPoint(dist, point, face)


def _dispatch(backend, vertices, faces, queries) -> ClosestPoint:
    backend = resolve_backend(backend, queries.device, cpu_library="open3d")
    if backend == "cpu":
        return _closest_point_cpu(vertices, faces, queries)
    tri = triangles(vertices, faces)
    if backend == "triton":
        from .kernels.closest_point import closest_point_triton

        _, face = closest_point_triton(tri.float().contiguous(), queries.float().contiguous())
        t = tri[face]
        point = closest_point_on_triangle(queries, t[:, 0], t[:, 1], t[:, 2])
        return ClosestPoint((point - queries).norm(dim=1), point, face)
    return _closest_point_torch(tri, queries)


def closest_point(vertices, faces, queries, *, backend: str = "auto") -> ClosestPoint:
    """Nearest surface point of the mesh for each query.

    vertices: (V, 3) float; faces: (F, 3) int; queries: (Q, 3) float.
    Returns ClosestPoint(distance (Q,), point (Q, 3), face_index (Q,) int64) on the queries' device.
    """
    check_backend(backend)
    q = check_queries(queries)
    v, f = check_mesh(vertices, faces, device=q.device, dtype=q.dtype)
    if q.shape[0] == 0:
        return ClosestPoint(q.new_zeros(0), q.new_zeros(0, 3), torch.zeros(0, dtype=torch.int64, device=q.device))
    return _dispatch(backend, v, f, q)
