"""Nearest ray-triangle hit (two-sided Moller-Trumbore) for a batch of rays against a triangle soup, in Triton.

For a ray o + t d and triangle (v0, v1, v2), with e1 = v1 - v0, e2 = v2 - v0:
    p = d x e2,  det = e1 . p,  s = o - v0,  u = (s . p) / det,  qv = s x e1,  v = (d . qv) / det,
    t = (e2 . qv) / det,
and the ray hits when u >= 0, v >= 0, u + v <= 1 and t > t_min. Both orientations count (two-sided: no test on
the sign of det). A ray (nearly) parallel to the plane, |det| <= 1e-7 |d| |e1| |e2| (float32 rounding level of
det), is a miss: there u and v are rounding noise. One division per pair (1 / det).

Layout: each program owns BLOCK_R rays and sweeps the triangles (structure-of-arrays (9, F)) in tiles of BLOCK_F,
keeping a running minimum of t per (ray, lane of the tile) with elementwise compares, reducing the lanes once at
the end. Misses are t = inf, face = -1; ties resolve to one of the tied faces (deterministically).
"""
from __future__ import annotations

import torch

from . import AotSpec
from ._common import (
    check_tensor, check_tile, lane_argmin, lane_min_update, launch, load_triangle_edges, load_xyz_col, program_rows,
    soa, tl, triton,
)

# GPU defaults (H200 sweep, benchmarks/gpu_kernels.py --sweep-all): 64x32 was the fastest of 64x32, 32x32, 64x16,
# 128x32 (8 warps), 64x64
BLOCK_R = 64
BLOCK_F = 32
NUM_WARPS = 4
INF = tl.constexpr(float("inf"))
DET_REL_EPS = tl.constexpr(1e-7)


@triton.jit
def _cast_rays_kernel(
    tri_ptr,  # (9, F) float32: rows v0x v0y v0z v1x v1y v1z v2x v2y v2z
    o_ptr,  # (R, 3) float32 origins
    d_ptr,  # (R, 3) float32 directions (any length; t is in units of |d|)
    t_ptr,  # (R,) float32
    face_ptr,  # (R,) int64
    F,
    R,
    t_min,
    BLOCK_R: tl.constexpr,
    BLOCK_F: tl.constexpr,
):
    ri, rmask = program_rows(R, BLOCK_R)
    ox, oy, oz = load_xyz_col(o_ptr, ri, rmask)  # (BLOCK_R, 1) columns
    dx, dy, dz = load_xyz_col(d_ptr, ri, rmask)
    d_tol = tl.sqrt(dx * dx + dy * dy + dz * dz) * DET_REL_EPS

    best_t = tl.full([BLOCK_R, BLOCK_F], INF, tl.float32)
    best_f0 = tl.full([BLOCK_R, BLOCK_F], 0, tl.int32)  # start of the tile the lane's minimum came from
    for f0 in range(0, F, BLOCK_F):
        fi = f0 + tl.arange(0, BLOCK_F)
        fmask = fi < F
        v0x, v0y, v0z, e1x, e1y, e1z, e2x, e2y, e2z = load_triangle_edges(tri_ptr, F, fi, fmask)
        f_tol = (tl.sqrt(e1x * e1x + e1y * e1y + e1z * e1z) * tl.sqrt(e2x * e2x + e2y * e2y + e2z * e2z))[None, :]
        e1x = e1x[None, :]
        e1y = e1y[None, :]
        e1z = e1z[None, :]
        e2x = e2x[None, :]
        e2y = e2y[None, :]
        e2z = e2z[None, :]

        # per pair, [BLOCK_R, BLOCK_F]
        pvx = dy * e2z - dz * e2y
        pvy = dz * e2x - dx * e2z
        pvz = dx * e2y - dy * e2x
        det = e1x * pvx + e1y * pvy + e1z * pvz
        sx = ox - v0x[None, :]
        sy = oy - v0y[None, :]
        sz = oz - v0z[None, :]
        qvx = sy * e1z - sz * e1y
        qvy = sz * e1x - sx * e1z
        qvz = sx * e1y - sy * e1x
        ok = tl.abs(det) > d_tol * f_tol
        inv_det = 1.0 / tl.where(ok, det, 1.0)
        u = (sx * pvx + sy * pvy + sz * pvz) * inv_det
        v = (dx * qvx + dy * qvy + dz * qvz) * inv_det
        t = (e2x * qvx + e2y * qvy + e2z * qvz) * inv_det
        hit = ok & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (t > t_min) & fmask[None, :]
        best_t, best_f0 = lane_min_update(best_t, best_f0, tl.where(hit, t, INF), f0)
    m, face = lane_argmin(best_t, best_f0, BLOCK_F)
    tl.store(t_ptr + ri, m, mask=rmask)
    tl.store(face_ptr + ri, tl.where(m < INF, face, -1).to(tl.int64), mask=rmask)


def cast_rays_triton(
    tri: torch.Tensor,
    origins: torch.Tensor,
    directions: torch.Tensor,
    t_min: float,
    *,
    block_r: int = BLOCK_R,
    block_f: int = BLOCK_F,
    num_warps: int = NUM_WARPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest hit of each ray o + t d with t > t_min.

    tri: (F, 3, 3) float32; origins, directions: (R, 3) float32 (directions need not be unit: t is in units of
    |d|); all contiguous on one CUDA device (or CPU under TRITON_INTERPRET=1). Returns (t_hit (R,) float32, inf on
    a miss; face_index (R,) int64, -1 on a miss).
    """
    check_tensor(origins, "origins", (None, 3))
    n_r = origins.shape[0]
    check_tensor(directions, "directions", (n_r, 3), origins.device)
    check_tensor(tri, "tri", (None, 3, 3), origins.device)
    check_tile("block_r", block_r)
    check_tile("block_f", block_f)
    n_f = tri.shape[0]
    t_hit = torch.full((n_r,), float("inf"), dtype=torch.float32, device=origins.device)
    face = torch.full((n_r,), -1, dtype=torch.int64, device=origins.device)
    if n_r == 0 or n_f == 0:
        return t_hit, face
    launch(_cast_rays_kernel, n_r, block_r, (soa(tri), origins, directions, t_hit, face, n_f, n_r, float(t_min)),
           {"BLOCK_R": block_r, "BLOCK_F": block_f}, num_warps, origins.device)
    return t_hit, face


def aot_specs() -> list[AotSpec]:
    sig = {"tri_ptr": "*fp32", "o_ptr": "*fp32", "d_ptr": "*fp32", "t_ptr": "*fp32", "face_ptr": "*i64", "F": "i32",
           "R": "i32", "t_min": "fp32", "BLOCK_R": "constexpr", "BLOCK_F": "constexpr"}
    return [AotSpec("cast_rays", _cast_rays_kernel, sig, {"BLOCK_R": BLOCK_R, "BLOCK_F": BLOCK_F},
                    {"num_warps": NUM_WARPS})]
