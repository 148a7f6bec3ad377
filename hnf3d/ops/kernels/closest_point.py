"""Squared distance from query points to the nearest triangle of a soup, and that triangle's index, in Triton.

Exact point-triangle distance by Ericson's Voronoi-region method (Real-Time Collision Detection, 5.1.5), written
branch-free: every region's barycentric answer (v, w) is formed and the first matching region (in Ericson's
order: vertex A, vertex B, edge AB, vertex C, edge AC, edge BC, interior) wins through tl.where. The closest point
is then a + v ab + w ac and the distance is |ap - v ab - w ac|^2.

With ab = b - a, ac = c - a, ap = p - a, d1 = ab.ap, d2 = ac.ap, Ericson's other dot products follow from
per-triangle constants (aa = ab.ab, cc = ac.ac, e = ab.ac):
    d3 = ab.bp = d1 - aa      d4 = ac.bp = d2 - e      d5 = ab.cp = d1 - e      d6 = ac.cp = d2 - cc
and his three region determinants simplify to
    vc = d1 d4 - d3 d2 = aa d2 - e d1,   vb = d5 d2 - d1 d6 = cc d1 - e d2,   va = D - vb - vc,
with D = |ab x ac|^2 (= va + vb + vc), also the interior denominator. Besides saving flops this avoids the
cancellation of products of two O(|p|) terms far from the triangle. Edge parameters divide by per-triangle
constants (aa, cc, |bc|^2, D), so there is no per-pair division; their reciprocals are guarded (0 when the
constant is 0), so a degenerate triangle gives the distance to some point of it (an upper bound, exact when the
region tests pick an edge or vertex) and never NaN.

In the interior region the squared distance is the plane distance (ap . n)^2 / |n|^2 with n = ab x ac, not the
residual |ap - v ab - w ac|^2: for thin triangles the barycentrics v = vb / D, w = vc / D are ill-conditioned and
the residual lost up to 8e-5 of absolute distance in float32 on a random soup (the plane form: 2e-7).

Layout: each program owns BLOCK_Q queries, sweeps the triangles (structure-of-arrays (9, F)) in tiles of
BLOCK_F, and keeps a running minimum per (query, lane of the tile) with elementwise compares, reducing the lanes
once at the end. Ties resolve to one of the tied faces (deterministically).
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
BLOCK_Q = 64
BLOCK_F = 32
NUM_WARPS = 4
INF = tl.constexpr(float("inf"))


@triton.jit
def _safe_reciprocal(x):
    return tl.where(x > 0.0, 1.0 / tl.where(x > 0.0, x, 1.0), 0.0)


@triton.jit
def _closest_point_kernel(
    tri_ptr,  # (9, F) float32: rows ax ay az bx by bz cx cy cz
    q_ptr,  # (Q, 3) float32
    dist_ptr,  # (Q,) float32
    face_ptr,  # (Q,) int64
    F,
    Q,
    BLOCK_Q: tl.constexpr,
    BLOCK_F: tl.constexpr,
):
    qi, qmask = program_rows(Q, BLOCK_Q)
    px, py, pz = load_xyz_col(q_ptr, qi, qmask)

    best_d = tl.full([BLOCK_Q, BLOCK_F], INF, tl.float32)
    best_f0 = tl.full([BLOCK_Q, BLOCK_F], 0, tl.int32)  # start of the tile the lane's minimum came from
    for f0 in range(0, F, BLOCK_F):
        fi = f0 + tl.arange(0, BLOCK_F)
        fmask = fi < F
        # per-triangle constants, [BLOCK_F] vectors
        ax, ay, az, abx, aby, abz, acx, acy, acz = load_triangle_edges(tri_ptr, F, fi, fmask)
        aa = abx * abx + aby * aby + abz * abz
        cc = acx * acx + acy * acy + acz * acz
        e = abx * acx + aby * acy + abz * acz
        bcx = acx - abx
        bcy = acy - aby
        bcz = acz - abz
        nx = aby * acz - abz * acy
        ny = abz * acx - abx * acz
        nz = abx * acy - aby * acx
        dd = nx * nx + ny * ny + nz * nz
        inv_aa = _safe_reciprocal(aa)[None, :]
        inv_cc = _safe_reciprocal(cc)[None, :]
        inv_bc = _safe_reciprocal(bcx * bcx + bcy * bcy + bcz * bcz)[None, :]
        inv_dd = _safe_reciprocal(dd)[None, :]
        aa = aa[None, :]
        cc = cc[None, :]
        e = e[None, :]
        dd = dd[None, :]
        nx = nx[None, :]
        ny = ny[None, :]
        nz = nz[None, :]
        abx = abx[None, :]
        aby = aby[None, :]
        abz = abz[None, :]
        acx = acx[None, :]
        acy = acy[None, :]
        acz = acz[None, :]

        # per pair, [BLOCK_Q, BLOCK_F]
        apx = px - ax[None, :]
        apy = py - ay[None, :]
        apz = pz - az[None, :]
        d1 = abx * apx + aby * apy + abz * apz
        d2 = acx * apx + acy * apy + acz * apz
        d3 = d1 - aa
        d4 = d2 - e
        d5 = d1 - e
        d6 = d2 - cc
        vc = aa * d2 - e * d1
        vb = cc * d1 - e * d2
        va = dd - vb - vc

        # lowest priority first; each later tl.where overrides with a higher-priority region
        v = vb * inv_dd  # interior
        w = vc * inv_dd
        in_bc = (va <= 0.0) & (d4 - d3 >= 0.0) & (d5 - d6 >= 0.0)
        w_bc = (d4 - d3) * inv_bc
        v = tl.where(in_bc, 1.0 - w_bc, v)
        w = tl.where(in_bc, w_bc, w)
        in_ac = (vb <= 0.0) & (d2 >= 0.0) & (d6 <= 0.0)
        v = tl.where(in_ac, 0.0, v)
        w = tl.where(in_ac, d2 * inv_cc, w)
        in_c = (d6 >= 0.0) & (d5 <= d6)
        v = tl.where(in_c, 0.0, v)
        w = tl.where(in_c, 1.0, w)
        in_ab = (vc <= 0.0) & (d1 >= 0.0) & (d3 <= 0.0)
        v = tl.where(in_ab, d1 * inv_aa, v)
        w = tl.where(in_ab, 0.0, w)
        in_b = (d3 >= 0.0) & (d4 <= d3)
        v = tl.where(in_b, 1.0, v)
        w = tl.where(in_b, 0.0, w)
        in_a = (d1 <= 0.0) & (d2 <= 0.0)
        v = tl.where(in_a, 0.0, v)
        w = tl.where(in_a, 0.0, w)

        rx = apx - v * abx - w * acx
        ry = apy - v * aby - w * acy
        rz = apz - v * abz - w * acz
        dist = rx * rx + ry * ry + rz * rz
        # interior: the plane distance (ap.n)^2 / |n|^2; the residual above loses ~|ab||ac|/|n| digits there
        h = apx * nx + apy * ny + apz * nz
        interior = ~(in_bc | in_ac | in_c | in_ab | in_b | in_a) & (dd > 0.0)
        dist = tl.where(interior, h * h * inv_dd, dist)
        dist = tl.where(fmask[None, :], dist, INF)
        best_d, best_f0 = lane_min_update(best_d, best_f0, dist, f0)
    m, face = lane_argmin(best_d, best_f0, BLOCK_F)
    tl.store(dist_ptr + qi, m, mask=qmask)
    tl.store(face_ptr + qi, face.to(tl.int64), mask=qmask)


def closest_point_triton(
    tri: torch.Tensor,
    queries: torch.Tensor,
    *,
    block_q: int = BLOCK_Q,
    block_f: int = BLOCK_F,
    num_warps: int = NUM_WARPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance to the nearest triangle and its index, for each query.

    tri: (F, 3, 3) float32 triangle corners; queries: (Q, 3) float32; contiguous, on one CUDA device (or CPU
    under TRITON_INTERPRET=1). Returns (dist2 (Q,) float32, face_index (Q,) int64); with F = 0, inf and -1.
    """
    check_tensor(queries, "queries", (None, 3))
    check_tensor(tri, "tri", (None, 3, 3), queries.device)
    check_tile("block_q", block_q)
    check_tile("block_f", block_f)
    n_q, n_f = queries.shape[0], tri.shape[0]
    dist = torch.full((n_q,), float("inf"), dtype=torch.float32, device=queries.device)
    face = torch.full((n_q,), -1, dtype=torch.int64, device=queries.device)
    if n_q == 0 or n_f == 0:
        return dist, face
    launch(_closest_point_kernel, n_q, block_q, (soa(tri), queries, dist, face, n_f, n_q),
           {"BLOCK_Q": block_q, "BLOCK_F": block_f}, num_warps, queries.device)
    return dist, face


def aot_specs() -> list[AotSpec]:
    sig = {"tri_ptr": "*fp32", "q_ptr": "*fp32", "dist_ptr": "*fp32", "face_ptr": "*i64", "F": "i32", "Q": "i32",
           "BLOCK_Q": "constexpr", "BLOCK_F": "constexpr"}
    return [AotSpec("closest_point", _closest_point_kernel, sig, {"BLOCK_Q": BLOCK_Q, "BLOCK_F": BLOCK_F},
                    {"num_warps": NUM_WARPS})]
