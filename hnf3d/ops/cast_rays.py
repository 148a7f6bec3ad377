"""Ray casting against a triangle mesh: nearest hit distance, face and normal per ray.

Used for rendering views and previews, and by the robust occupancy test (is a point enclosed?).
Rays are two-sided (back faces count) and hits need t >= 0, so a ray starting on the surface hits it at t = 0
(Embree's convention, which the CPU backend inherits); `directions` need not be unit length: t is in units of the
direction's length, as in Open3D.

Backends (one dispatch point, `_dispatch`): 'triton' (CUDA, hnf3d.ops.kernels.cast_rays), 'cpu' (Open3D's
RaycastingScene, Embree), 'torch' (exact chunked Moller-Trumbore below).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ._common import (
    check_backend, check_mesh, check_points, check_queries, chunks, pair_chunk, resolve_backend, triangles,
)
from ._embree import raycasting_scene


class RayHits(NamedTuple):
    """t_hit: (R,) distance along the ray, inf on a miss; face_index: (R,) int64, -1 on a miss;
    normal: (R, 3) unit geometric normal of the hit face (zeros on a miss), not flipped towards the ray."""

    t_hit: torch.Tensor
    face_index: torch.Tensor
    normal: torch.Tensor


def face_normals(tri: torch.Tensor) -> torch.Tensor:
    """(F, 3, 3) -> (F, 3) unit normals by the right-hand rule; zeros for degenerate faces."""
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-30)


def ray_triangle_t(tri: torch.Tensor, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Moller-Trumbore: (F,3,3), (R,3), (R,3) -> (R, F) hit distances, inf where the ray misses (t < 0 too)."""
    v0 = tri[None, :, 0]
    e1 = tri[None, :, 1] - v0
    e2 = tri[None, :, 2] - v0
    d = directions[:, None, :]
    pvec = torch.linalg.cross(d, e2)
    det = (e1 * pvec).sum(-1)
    ok = det.abs() > 1e-12 * (e1.norm(dim=-1) * e2.norm(dim=-1) * d.norm(dim=-1)).clamp_min(1e-30)
    inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
    tvec = origins[:, None, :] - v0
    u = (tvec * pvec).sum(-1) * inv
    qvec = torch.linalg.cross(tvec, e1)
    v = (d * qvec).sum(-1) * inv
    t = (e2 * qvec).sum(-1) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0)
    return torch.where(hit, t, torch.full_like(t, float("inf")))


def _cast_rays_torch(tri: torch.Tensor, origins: torch.Tensor, directions: torch.Tensor) -> RayHits:
    t_hit = torch.empty(origins.shape[0], dtype=origins.dtype, device=origins.device)
    face = torch.empty(origins.shape[0], dtype=torch.int64, device=origins.device)
    step = pair_chunk(tri.shape[0], 2**21)
    for s in chunks(origins.shape[0], step):
        t = ray_triangle_t(tri, origins[s], directions[s])
        t_hit[s], face[s] = t.min(dim=1)
    return _finish(tri, t_hit, face)


def _finish(tri: torch.Tensor, t_hit: torch.Tensor, face: torch.Tensor) -> RayHits:
    """Mark misses (face -1, zero normal) and look up the unit normals of the hit faces only."""
    hit = torch.isfinite(t_hit)
    face = torch.where(hit, face, torch.full_like(face, -1))
    normal = torch.zeros(t_hit.shape[0], 3, dtype=t_hit.dtype, device=t_hit.device)
    idx = hit.nonzero().squeeze(1)
    normal[idx] = face_normals(tri[face[idx]]).to(t_hit.dtype)
    return RayHits(t_hit, face, normal)


def _cast_rays_cpu(vertices, faces, origins, directions) -> RayHits:
    scene, o3c = raycasting_scene(vertices, faces, "cast_rays on CPU")
    # numpy rather than torch for the glue: torch's threaded elementwise ops cost milliseconds of wake-up here
    rays = np.concatenate([origins.detach().numpy(), directions.detach().numpy()], axis=1, dtype=np.float32)
    ans = scene.cast_rays(o3c.Tensor(rays))
    t_hit = ans["t_hit"].numpy()
    # Embree reports the invalid id (2^32 - 1) and zero normals on a miss; its normals are the unit face normals
    face = np.where(np.isfinite(t_hit), ans["primitive_ids"].numpy().astype(np.int64), -1)
    normal = ans["primitive_normals"].numpy()
    return RayHits(torch.from_numpy(t_hit).to(origins.dtype), torch.from_numpy(face),
                   torch.from_numpy(normal).to(origins.dtype))


def _dispatch(backend, vertices, faces, origins, directions) -> RayHits:
    backend = resolve_backend(backend, origins.device, cpu_library="open3d")
    if backend == "cpu":
        return _cast_rays_cpu(vertices, faces, origins, directions)
    tri = triangles(vertices, faces)
    if backend == "triton":
        from .kernels.cast_rays import cast_rays_triton

        # the kernel accepts t > t_min; -tiny makes that t >= 0 like the other backends
        t_hit, face = cast_rays_triton(
            tri.float().contiguous(), origins.float().contiguous(), directions.float().contiguous(),
            -torch.finfo(torch.float32).tiny,
        )
        return _finish(tri, t_hit.to(origins.dtype), face)
    return _cast_rays_torch(tri, origins, directions)


def cast_rays(vertices, faces, origins, directions, *, backend: str = "auto") -> RayHits:
    """Nearest hit of each ray (origins[i] + t * directions[i], t >= 0) with the mesh.

    vertices: (V, 3); faces: (F, 3) int; origins, directions: (R, 3).
    Returns RayHits(t_hit (R,), face_index (R,), normal (R, 3)) on the origins' device.
    """
    check_backend(backend)
    o = check_queries(origins, "origins")
    d = check_points(directions, "directions", device=o.device, dtype=o.dtype)
    if d.shape != o.shape:
        raise ValueError(f"directions: expected shape {tuple(o.shape)} (one per origin), got {tuple(d.shape)}")
    # numpy on CPU: torch's threaded reductions cost milliseconds of wake-up on arrays this size
    if d.device.type == "cpu":
        dn = d.detach().numpy()
        x_zero = dn[:, 0] == 0  # the full row test only when some x is 0: one compare in the common case
        zero = x_zero.any() and (x_zero & (dn[:, 1] == 0) & (dn[:, 2] == 0)).any()
    else:
        zero = (d == 0).all(dim=1).any()
    if o.shape[0] and bool(zero):
        raise ValueError("directions: some directions are zero vectors")
    v, f = check_mesh(vertices, faces, device=o.device, dtype=o.dtype)
    if o.shape[0] == 0:
        return RayHits(o.new_zeros(0), torch.zeros(0, dtype=torch.int64, device=o.device), o.new_zeros(0, 3))
    return _dispatch(backend, v, f, o, d)
