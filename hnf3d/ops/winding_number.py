"""Generalised winding number of query points with respect to a triangle mesh.

w(q) = sum_f Omega_f(q) / (4 pi), with Omega_f the signed solid angle of triangle f seen from q
(Van Oosterom & Strackee 1983). w is 1 inside and 0 outside a closed, consistently oriented mesh, -1 inside a
flipped one, and degrades gracefully on meshes with holes (Jacobson et al. 2013), where ray parity fails.

Backends (one dispatch point, `_dispatch`):
- 'triton': custom tiled kernel, for CUDA tensors (hnf3d.ops.kernels.winding_number);
- 'cpu': point-cloud-utils' fast winding number (Barill et al. 2018, a tree with far-field expansions:
  approximate far from the surface, to ~1e-3; the fastest CPU library measured in benchmarks/ops.py);
- 'torch': exact chunked brute force below; the test oracle and the fallback.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._optional import require
from ._common import check_backend, check_mesh, check_queries, chunks, pair_chunk, resolve_backend, triangles


def solid_angle(tri: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Signed solid angles.

    tri: (F, 3, 3) triangle corners; queries: (Q, 3). Returns (Q, F), in steradians.
    """
    a = tri[None, :, 0, :] - queries[:, None, :]
    b = tri[None, :, 1, :] - queries[:, None, :]
    c = tri[None, :, 2, :] - queries[:, None, :]
    la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
    det = (a * torch.cross(b, c, dim=-1)).sum(-1)
    den = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
    return 2.0 * torch.atan2(det, den)


def _winding_number_torch(tri: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Exact reference: (F,3,3), (Q,3) -> (Q,), chunked over queries to bound memory."""
    out = torch.empty(queries.shape[0], dtype=queries.dtype, device=queries.device)
    step = pair_chunk(tri.shape[0], 2**22)
    for s in chunks(queries.shape[0], step):
        out[s] = solid_angle(tri, queries[s]).sum(dim=1) / (4.0 * math.pi)
    return out


def _winding_number_cpu(vertices: torch.Tensor, faces: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    pcu = require("point_cloud_utils", "winding_number on CPU")
    w = pcu.triangle_soup_fast_winding_number(
        vertices.detach().double().numpy(), faces.detach().numpy().astype(np.int64), queries.detach().double().numpy()
    )
    return torch.from_numpy(np.asarray(w)).to(queries.dtype)


def _dispatch(backend: str, vertices: torch.Tensor, faces: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    backend = resolve_backend(backend, queries.device, cpu_library="point_cloud_utils")
    if backend == "cpu":
        return _winding_number_cpu(vertices, faces, queries)
    if backend == "triton":
        from .kernels.winding_number import winding_number_triton

        tri = triangles(vertices.float(), faces)
        return winding_number_triton(tri, queries.float().contiguous()).to(queries.dtype)
    return _winding_number_torch(triangles(vertices, faces), queries)


def winding_number(vertices, faces, queries, *, backend: str = "auto") -> torch.Tensor:
    """Generalised winding number of each query point.

    vertices: (V, 3) float; faces: (F, 3) int; queries: (Q, 3) float. numpy arrays or torch tensors.
    Returns a (Q,) float tensor on the queries' device (float64 for float64 queries, else float32).
    backend: 'auto' | 'torch' | 'cpu' | 'triton' (see the module docstring).
    """
    check_backend(backend)
    q = check_queries(queries)
    v, f = check_mesh(vertices, faces, device=q.device, dtype=q.dtype)
    if q.shape[0] == 0:
        return torch.zeros(0, dtype=q.dtype, device=q.device)
    return _dispatch(backend, v, f, q)
