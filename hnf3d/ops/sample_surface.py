"""Random point sampling: on a mesh surface (area-weighted), near it, and uniformly in a box.

All samplers are deterministic given `seed` (a torch.Generator on the CPU draws the random numbers, so the same
seed gives the same samples on every device). Computation is plain torch: the work is O(F + n), memory-bound,
and no library is faster (benchmarks/ops.py compares with trimesh.sample).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._common import check_mesh, triangles


class SurfaceSamples(NamedTuple):
    """points: (n, 3); normals: (n, 3) unit face normals (right-hand rule); face_index: (n,) int64."""

    points: torch.Tensor
    normals: torch.Tensor
    face_index: torch.Tensor


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator(device="cpu")
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__") or int(n) < 0:
        raise ValueError(f"n: expected a non-negative integer, got {n!r}")
    return int(n)


def sample_surface(vertices, faces, n: int, *, seed: int | None = None) -> SurfaceSamples:
    """n points uniformly distributed over the mesh surface (face chosen with probability proportional to its area,
    then a uniform point in the face).

    vertices: (V, 3); faces: (F, 3). Returns SurfaceSamples on the vertices' device, in their dtype (float32 at
    least). Raises ValueError when the mesh has zero total area.
    """
    n = _check_n(n)
    v, f = check_mesh(vertices, faces)
    if not v.is_floating_point() or v.dtype == torch.float16:
        v = v.float()
    tri = triangles(v, f)
    cross = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    double_area = cross.norm(dim=-1)
    total = double_area.double().sum()
    if not total > 0:
        raise ValueError("vertices/faces: the mesh has zero surface area; nothing to sample")

    g = _generator(seed)
    # Inverse-CDF face choice in float64: torch.multinomial is limited to 2^24 categories.
    cdf = torch.cumsum(double_area.double().cpu(), 0)
    u = torch.rand(n, generator=g, dtype=torch.float64) * cdf[-1]
    face = torch.searchsorted(cdf, u, right=True).clamp_max(f.shape[0] - 1)
    r1, r2 = torch.rand(2, n, generator=g, dtype=torch.float64)
    s = r1.sqrt()  # uniform in the triangle: barycentrics (1 - sqrt r1, sqrt r1 (1 - r2), sqrt r1 r2)
    bary = torch.stack([1 - s, s * (1 - r2), s * r2], dim=1).to(v.dtype)

    face = face.to(v.device)
    t = tri[face]
    points = (bary.to(v.device)[:, :, None] * t).sum(1)
    normals = cross[face] / double_area[face].clamp_min(1e-30)[:, None]
    return SurfaceSamples(points, normals, face)


def sample_uniform(n: int, *, half_extent: float = 0.55, seed: int | None = None,
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n points uniform in the cube [-half_extent, half_extent]^3 (ONet: 0.55 = unit box + 0.1 padding). (n, 3)."""
    n = _check_n(n)
    if not half_extent > 0:
        raise ValueError(f"half_extent: expected > 0, got {half_extent!r}")
    g = _generator(seed)
    return ((torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * half_extent).to(device=device, dtype=dtype)


def sample_near_surface(vertices, faces, n: int, *, sigma: float = 0.01, seed: int | None = None) -> torch.Tensor:
    """n surface samples displaced by isotropic Gaussian noise N(0, sigma^2) (ONet's points_sigma). (n, 3)."""
    if not sigma >= 0:
        raise ValueError(f"sigma: expected >= 0, got {sigma!r}")
    samples = sample_surface(vertices, faces, n, seed=seed)
    g = _generator(None if seed is None else int(seed) + 1)
    noise = torch.randn(samples.points.shape, generator=g, dtype=torch.float64) * sigma
    return samples.points + noise.to(device=samples.points.device, dtype=samples.points.dtype)
