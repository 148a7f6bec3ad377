"""k nearest neighbours by tiled brute force, in Triton: squared distances and indices, ascending.

For each query q and reference points r_j: d_j = |r_j - q|^2, computed from coordinate differences (not the
|q|^2 + |r|^2 - 2 q.r expansion, which loses the small distances that matter for Chamfer and F-score).

Layout: each program owns BLOCK_Q queries and sweeps the R reference points, passed as structure-of-arrays
(3, R), in tiles of BLOCK_R, computing a [BLOCK_Q, BLOCK_R] distance tile.
- k = 1: a running minimum per (query, lane of the tile), updated with elementwise compares; the lanes are reduced
  once at the end (a reduction per tile cost more than the distances themselves: 4x slower on an H200).
- k > 1: an unsorted running top-k per query, a [BLOCK_Q, KP] tile (KP = k padded to a power of two; the padding
  columns hold -inf so they are never the row maximum and never replaced). Per reference tile, while any row's
  smallest remaining tile distance beats its current worst kept distance, that smallest distance replaces the
  worst (one insertion per row per round) and is masked out of the tile. Once the running sets are good, most
  tiles end after one test, so the cost approaches that of the distance tile itself. The launcher sorts the
  final (Q, k) rows with torch.sort.
Ties resolve to one of the tied indices (deterministically; for k > 1 the earlier one). When R < k the extra
columns are dist2 = +inf and index = -1.
"""
from __future__ import annotations

import torch

from . import AotSpec
from ._common import (
    check_tensor, check_tile, lane_argmin, lane_min_update, launch, load_xyz_col, program_rows, soa, tile_minus, tl,
    triton,
)

# GPU defaults: (BLOCK_Q, BLOCK_R, num_warps) for k = 1 and for k > 1.
# H200 sweep at 100k x 100k: k = 1 64x32 4.9 ms (64x64 6.2); k = 8 8x64 on one warp 17 ms, 16x64 / 2 warps 35 ms:
# fewer rows per program let the insertion loop stop sooner (it runs while any row of the program improves).
KNN1_TILES = (64, 32, 4)
KNN_TILES = (8, 64, 1)
INF = tl.constexpr(float("inf"))


@triton.jit
def _tile_dist2(ref_ptr, R, r0, qx, qy, qz, BLOCK_R: tl.constexpr):
    """[BLOCK_Q, BLOCK_R] squared distances from the query columns to reference tile r0; inf past R."""
    ri = r0 + tl.arange(0, BLOCK_R)
    rmask = ri < R
    dx, dy, dz = tile_minus(ref_ptr, 0, R, ri, rmask, qx, qy, qz)
    return tl.where(rmask[None, :], dx * dx + dy * dy + dz * dz, INF)


@triton.jit
def _knn1_kernel(
    ref_ptr,  # (3, R) float32
    q_ptr,  # (Q, 3) float32
    dist_ptr,  # (Q,) float32
    idx_ptr,  # (Q,) int64
    R,
    Q,
    BLOCK_Q: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    qi, qmask = program_rows(Q, BLOCK_Q)
    qx, qy, qz = load_xyz_col(q_ptr, qi, qmask)

    best_d = tl.full([BLOCK_Q, BLOCK_R], INF, tl.float32)
    best_r0 = tl.full([BLOCK_Q, BLOCK_R], 0, tl.int32)  # start of the tile the lane's minimum came from
    for r0 in range(0, R, BLOCK_R):
        d = _tile_dist2(ref_ptr, R, r0, qx, qy, qz, BLOCK_R)
        best_d, best_r0 = lane_min_update(best_d, best_r0, d, r0)
    m, index = lane_argmin(best_d, best_r0, BLOCK_R)
    index = tl.where(m < INF, index, -1)
    tl.store(dist_ptr + qi, m, mask=qmask)
    tl.store(idx_ptr + qi, index.to(tl.int64), mask=qmask)


@triton.jit
def _knn_kernel(
    ref_ptr,  # (3, R) float32
    q_ptr,  # (Q, 3) float32
    dist_ptr,  # (Q, K) float32, unsorted rows
    idx_ptr,  # (Q, K) int64
    R,
    Q,
    K,
    BLOCK_Q: tl.constexpr,
    BLOCK_R: tl.constexpr,
    KP: tl.constexpr,
):
    qi, qmask = program_rows(Q, BLOCK_Q)
    qx, qy, qz = load_xyz_col(q_ptr, qi, qmask)

    kcol = tl.arange(0, KP)[None, :]
    rcol = tl.arange(0, BLOCK_R)[None, :]
    best_d = tl.where(kcol < K, INF, -INF) + tl.zeros([BLOCK_Q, KP], dtype=tl.float32)
    best_i = tl.full([BLOCK_Q, KP], -1, tl.int32)
    for r0 in range(0, R, BLOCK_R):
        d = _tile_dist2(ref_ptr, R, r0, qx, qy, qz, BLOCK_R)

        m, am = tl.min(d, axis=1, return_indices=True)  # best candidate of this tile, per row
        worst, wpos = tl.max(best_d, axis=1, return_indices=True)  # the kept distance it would replace
        n_better = tl.sum((m < worst).to(tl.int32), axis=0)
        while n_better > 0:  # at most min(k, BLOCK_R) rounds: each inserts one candidate per improving row
            slot = (m < worst)[:, None] & (kcol == wpos[:, None])
            best_d = tl.where(slot, m[:, None], best_d)
            best_i = tl.where(slot, (am + r0)[:, None], best_i)
            d = tl.where(rcol == am[:, None], INF, d)
            m, am = tl.min(d, axis=1, return_indices=True)
            worst, wpos = tl.max(best_d, axis=1, return_indices=True)
            n_better = tl.sum((m < worst).to(tl.int32), axis=0)

    out = qi[:, None] * K + kcol
    omask = qmask[:, None] & (kcol < K)
    tl.store(dist_ptr + out, best_d, mask=omask)
    tl.store(idx_ptr + out, best_i.to(tl.int64), mask=omask)


def _padded_k(k: int) -> int:
    return max(2, 1 << (k - 1).bit_length())


def _tiles(k: int) -> tuple[int, int, int]:
    """GPU-default (BLOCK_Q, BLOCK_R, num_warps) for k."""
    return KNN1_TILES if k == 1 else KNN_TILES


def knn_triton(
    reference: torch.Tensor,
    queries: torch.Tensor,
    k: int,
    *,
    block_q: int | None = None,
    block_r: int | None = None,
    num_warps: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest reference points of each query.

    reference: (R, 3) float32; queries: (Q, 3) float32; contiguous, on one CUDA device (or CPU under
    TRITON_INTERPRET=1); k >= 1. Returns (dist2 (Q, k) float32 squared distances ascending, index (Q, k) int64).
    When R < k the last k - R columns are dist2 = inf, index = -1. Tile sizes default per k (see _tiles).
    """
    check_tensor(queries, "queries", (None, 3))
    check_tensor(reference, "reference", (None, 3), queries.device)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    dq, dr, dw = _tiles(k)
    block_q = check_tile("block_q", dq if block_q is None else block_q)
    block_r = check_tile("block_r", dr if block_r is None else block_r)
    num_warps = dw if num_warps is None else num_warps
    n_q, n_r = queries.shape[0], reference.shape[0]
    dev = queries.device
    dist = torch.full((n_q, k), float("inf"), dtype=torch.float32, device=dev)
    index = torch.full((n_q, k), -1, dtype=torch.int64, device=dev)
    if n_q == 0 or n_r == 0:
        return dist, index
    ref = soa(reference)
    tiles = {"BLOCK_Q": block_q, "BLOCK_R": block_r}
    if k == 1:
        launch(_knn1_kernel, n_q, block_q, (ref, queries, dist, index, n_r, n_q), tiles, num_warps, dev)
        return dist, index
    launch(_knn_kernel, n_q, block_q, (ref, queries, dist, index, n_r, n_q, k), {**tiles, "KP": _padded_k(k)},
           num_warps, dev)
    dist, order = torch.sort(dist, dim=1)
    return dist, torch.gather(index, 1, order)


def aot_specs() -> list[AotSpec]:
    sig1 = {"ref_ptr": "*fp32", "q_ptr": "*fp32", "dist_ptr": "*fp32", "idx_ptr": "*i64", "R": "i32", "Q": "i32",
            "BLOCK_Q": "constexpr", "BLOCK_R": "constexpr"}
    sig = {**sig1, "K": "i32", "KP": "constexpr"}
    sig = {name: sig[name] for name in ("ref_ptr", "q_ptr", "dist_ptr", "idx_ptr", "R", "Q", "K", "BLOCK_Q",
                                        "BLOCK_R", "KP")}
    specs = []
    bq, br, w = _tiles(1)
    specs.append(AotSpec("knn[k=1]", _knn1_kernel, sig1, {"BLOCK_Q": bq, "BLOCK_R": br}, {"num_warps": w}))
    for k in (8, 16):
        bq, br, w = _tiles(k)
        specs.append(AotSpec(f"knn[k={k}]", _knn_kernel, sig, {"BLOCK_Q": bq, "BLOCK_R": br, "KP": _padded_k(k)},
                             {"num_warps": w}))
    return specs
