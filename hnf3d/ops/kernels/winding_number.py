"""Generalised winding number of query points w.r.t. a triangle soup, as a tiled Triton kernel.

    w(q) = sum_f Omega_f(q) / (4 pi)

Omega_f is the signed solid angle of triangle f = (v0, v1, v2) seen from q (Van Oosterom & Strackee 1983):
a = v0 - q, b = v1 - q, c = v2 - q,

    det   = a . (b x c)
    den   = |a||b||c| + (a.b)|c| + (b.c)|a| + (c.a)|b|
    Omega = 2 atan2(det, den)

so w(q) = sum_f atan2(det_f, den_f) / (2 pi). Degenerate triangles give det = 0 and contribute 0 (atan2(0, x) is
0 or +-pi only for den < 0, i.e. q inside a zero-area triangle; a query exactly on a vertex gives atan2(0, 0) = 0).

Layout: each program owns BLOCK_Q queries (held in registers) and sweeps all F triangles in tiles of BLOCK_F,
evaluating a [BLOCK_Q, BLOCK_F] tile of solid angles; the triangles are passed structure-of-arrays (9, F), so a
tile is nine coalesced loads shared by the whole program. Each tile is reduced with tl.sum (a tree, in fp32) and
the per-tile sums are accumulated with Kahan compensation, so the result stays accurate for 1e5+ faces.
Flops per query-triangle pair are counted in benchmarks/gpu_kernels.py (FLOPS_PER_PAIR there).
"""
from __future__ import annotations

import torch

from . import AotSpec
from ._common import (
    atan2, check_tensor, check_tile, kahan_add, launch, load_xyz_col, program_rows, soa, tile_minus, tl, triton,
)

# GPU defaults, the fastest of the configs swept on an H200 (benchmarks/gpu_kernels.py --sweep-all): 64x16 beat
# 64x32 / 32x32 / 128x32 (8 warps) by 1-8% at 100k queries x 10k faces
BLOCK_Q = 64
BLOCK_F = 16
NUM_WARPS = 4
INV_2PI = tl.constexpr(0.15915494309189535)


@triton.jit
def _winding_number_kernel(
    tri_ptr,  # (9, F) float32: rows v0x v0y v0z v1x v1y v1z v2x v2y v2z
    q_ptr,  # (Q, 3) float32
    out_ptr,  # (Q,) float32
    F,
    Q,
    BLOCK_Q: tl.constexpr,
    BLOCK_F: tl.constexpr,
):
    qi, qmask = program_rows(Q, BLOCK_Q)
    qx, qy, qz = load_xyz_col(q_ptr, qi, qmask)

    acc = tl.zeros([BLOCK_Q], dtype=tl.float32)
    comp = tl.zeros([BLOCK_Q], dtype=tl.float32)  # Kahan compensation
    for f0 in range(0, F, BLOCK_F):
        fi = f0 + tl.arange(0, BLOCK_F)
        fmask = fi < F
        ax, ay, az = tile_minus(tri_ptr, 0, F, fi, fmask, qx, qy, qz)
        bx, by, bz = tile_minus(tri_ptr, 3, F, fi, fmask, qx, qy, qz)
        cx, cy, cz = tile_minus(tri_ptr, 6, F, fi, fmask, qx, qy, qz)

        la = tl.sqrt(ax * ax + ay * ay + az * az)
        lb = tl.sqrt(bx * bx + by * by + bz * bz)
        lc = tl.sqrt(cx * cx + cy * cy + cz * cz)
        det = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
        den = (
            la * lb * lc
            + (ax * bx + ay * by + az * bz) * lc
            + (bx * cx + by * cy + bz * cz) * la
            + (cx * ax + cy * ay + cz * az) * lb
        )
        # padded faces: masked explicitly (with FMA contraction det of a zero triangle need not be exactly 0)
        half_omega = tl.where(fmask[None, :], atan2(det, den), 0.0)
        acc, comp = kahan_add(acc, comp, tl.sum(half_omega, axis=1))
    tl.store(out_ptr + qi, acc * INV_2PI, mask=qmask)


def winding_number_triton(
    tri: torch.Tensor,
    queries: torch.Tensor,
    *,
    block_q: int = BLOCK_Q,
    block_f: int = BLOCK_F,
    num_warps: int = NUM_WARPS,
) -> torch.Tensor:
    """Generalised winding number of each query.

    tri: (F, 3, 3) float32 triangle corners; queries: (Q, 3) float32; both contiguous, on the same CUDA device
    (or CPU under TRITON_INTERPRET=1). block_q / block_f: tile sizes (powers of two). Returns (Q,) float32:
    ~1 inside and ~0 outside a closed outward-oriented mesh, -1 inside a flipped one.
    """
    check_tensor(queries, "queries", (None, 3))
    check_tensor(tri, "tri", (None, 3, 3), queries.device)
    check_tile("block_q", block_q)
    check_tile("block_f", block_f)
    n_q, n_f = queries.shape[0], tri.shape[0]
    out = torch.zeros(n_q, dtype=torch.float32, device=queries.device)
    if n_q == 0 or n_f == 0:
        return out
    launch(_winding_number_kernel, n_q, block_q, (soa(tri), queries, out, n_f, n_q),
           {"BLOCK_Q": block_q, "BLOCK_F": block_f}, num_warps, queries.device)
    return out


def aot_specs() -> list[AotSpec]:
    sig = {"tri_ptr": "*fp32", "q_ptr": "*fp32", "out_ptr": "*fp32", "F": "i32", "Q": "i32",
           "BLOCK_Q": "constexpr", "BLOCK_F": "constexpr"}
    return [AotSpec("winding_number", _winding_number_kernel, sig, {"BLOCK_Q": BLOCK_Q, "BLOCK_F": BLOCK_F},
                    {"num_warps": NUM_WARPS})]
