"""Winding number of query points w.r.t. an oriented point cloud (Barill et al. 2018, the dipole sum), in Triton.

    w(q) = sum_i a_i ((p_i - q) . n_i) / (4 pi max(|p_i - q|, eps)^3)

with p_i the points, n_i their unit normals and a_i the surface area each point stands for. Each term is the
solid angle of a small oriented disc; eps caps the kernel near the points (a point coinciding with q gives 0).

Layout: each program owns BLOCK_Q queries and sweeps the N points in tiles of BLOCK_N. The launcher packs the
points as structure-of-arrays (6, N) = (p; a n), folding the area into the normal once per point, so the inner
tile costs one rsqrt and ~15 flops per pair. Per-tile tl.sum, Kahan-compensated across tiles.
"""
from __future__ import annotations

import math

import torch

from . import AotSpec
from ._common import (
    check_tensor, check_tile, kahan_add, launch, load_soa3, load_xyz_col, program_rows, soa, tile_minus, tl, triton,
)

# GPU defaults (H200 sweep, benchmarks/gpu_kernels.py --sweep-all): 64x32 took 12.2 ms at 100k x 100k, 64x64 17.0
BLOCK_Q = 64
BLOCK_N = 32
NUM_WARPS = 4
INV_4PI = tl.constexpr(0.07957747154594767)


@triton.jit
def _pc_winding_number_kernel(
    pts_ptr,  # (6, N) float32: px py pz (a nx) (a ny) (a nz)
    q_ptr,  # (Q, 3) float32
    out_ptr,  # (Q,) float32
    N,
    Q,
    eps2,  # eps^2, float32
    BLOCK_Q: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    qi, qmask = program_rows(Q, BLOCK_Q)
    qx, qy, qz = load_xyz_col(q_ptr, qi, qmask)

    acc = tl.zeros([BLOCK_Q], dtype=tl.float32)
    comp = tl.zeros([BLOCK_Q], dtype=tl.float32)  # Kahan compensation
    for n0 in range(0, N, BLOCK_N):
        ni = n0 + tl.arange(0, BLOCK_N)
        nmask = ni < N
        dx, dy, dz = tile_minus(pts_ptr, 0, N, ni, nmask, qx, qy, qz)
        nx, ny, nz = load_soa3(pts_ptr, 3, N, ni, nmask)
        nx = nx[None, :]
        ny = ny[None, :]
        nz = nz[None, :]
        r2 = dx * dx + dy * dy + dz * dz
        inv_r = tl.rsqrt(tl.maximum(r2, eps2))
        term = (dx * nx + dy * ny + dz * nz) * (inv_r * inv_r * inv_r)
        # r2 == 0 (with eps = 0) would be 0 * inf; padded points have zero weight anyway
        term = tl.where(nmask[None, :] & (r2 > 0.0), term, 0.0)
        acc, comp = kahan_add(acc, comp, tl.sum(term, axis=1))
    tl.store(out_ptr + qi, acc * INV_4PI, mask=qmask)


def point_cloud_winding_number_triton(
    points: torch.Tensor,
    normals: torch.Tensor,
    areas: torch.Tensor,
    queries: torch.Tensor,
    eps: float,
    *,
    block_q: int = BLOCK_Q,
    block_n: int = BLOCK_N,
    num_warps: int = NUM_WARPS,
) -> torch.Tensor:
    """Winding number of each query w.r.t. the oriented point cloud.

    points, normals: (N, 3) float32; areas: (N,) float32; queries: (Q, 3) float32; all contiguous on one CUDA
    device (or CPU under TRITON_INTERPRET=1). eps >= 0: distance floor of the kernel. Returns (Q,) float32.
    """
    check_tensor(queries, "queries", (None, 3))
    check_tensor(points, "points", (None, 3), queries.device)
    n = points.shape[0]
    check_tensor(normals, "normals", (n, 3), queries.device)
    check_tensor(areas, "areas", (n,), queries.device)
    eps = float(eps)
    if not (math.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"eps: expected a finite value >= 0, got {eps}")
    check_tile("block_q", block_q)
    check_tile("block_n", block_n)
    n_q = queries.shape[0]
    out = torch.zeros(n_q, dtype=torch.float32, device=queries.device)
    if n_q == 0 or n == 0:
        return out
    packed = soa(torch.cat([points, normals * areas[:, None]], dim=1))
    launch(_pc_winding_number_kernel, n_q, block_q, (packed, queries, out, n, n_q, eps * eps),
           {"BLOCK_Q": block_q, "BLOCK_N": block_n}, num_warps, queries.device)
    return out


def aot_specs() -> list[AotSpec]:
    sig = {"pts_ptr": "*fp32", "q_ptr": "*fp32", "out_ptr": "*fp32", "N": "i32", "Q": "i32", "eps2": "fp32",
           "BLOCK_Q": "constexpr", "BLOCK_N": "constexpr"}
    return [AotSpec("point_cloud_winding_number", _pc_winding_number_kernel, sig,
                    {"BLOCK_Q": BLOCK_Q, "BLOCK_N": BLOCK_N}, {"num_warps": NUM_WARPS})]
