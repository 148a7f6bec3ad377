"""Pieces shared by the kernel modules: Triton helpers (math, loads, reductions) and the launcher side (argument
checks, layout, launch).

The interpreter (TRITON_INTERPRET=1) cannot call libdevice / extern functions, so helpers such as `atan2` are
written from plain tl ops; they compile to the same few FMAs on the GPU.
"""
from __future__ import annotations

import contextlib
import math
import os

import torch

from ..._optional import require

triton = require("triton", "the Triton kernels in hnf3d.ops.kernels")
import triton.language as tl  # noqa: E402

PI = tl.constexpr(math.pi)  # globals used in @triton.jit code must be constexpr

# atan(t) ~= t * P(t^2) on [0, 1], P of degree 7: minimax for the absolute error (Lawson's iteration on a dense
# grid, fitted for this module), max error 3.8e-8 rad in exact arithmetic, 1.3e-7 rad evaluated in float32.
_ATAN_C0 = tl.constexpr(0.9999993355756189)
_ATAN_C1 = tl.constexpr(-0.3332986077247694)
_ATAN_C2 = tl.constexpr(0.19946565504968125)
_ATAN_C3 = tl.constexpr(-0.13908628766010717)
_ATAN_C4 = tl.constexpr(0.09642195198623846)
_ATAN_C5 = tl.constexpr(-0.05591229610380936)
_ATAN_C6 = tl.constexpr(0.021862935571201628)
_ATAN_C7 = tl.constexpr(-0.004054560769618743)


@triton.jit
def atan2(y, x):
    """Four-quadrant arctangent of y / x in (-pi, pi], elementwise; atan2(0, 0) = 0, never NaN for finite input.

    Range reduction: t = min(|x|, |y|) / max(|x|, |y|) in [0, 1], a polynomial for atan(t), then the octant
    and quadrant are restored with selects. Max abs error ~3e-7 rad in float32.
    """
    ax = tl.abs(x)
    ay = tl.abs(y)
    hi = tl.maximum(ax, ay)
    lo = tl.minimum(ax, ay)
    t = lo / tl.where(hi > 0.0, hi, 1.0)
    z = t * t
    p = _ATAN_C7
    p = p * z + _ATAN_C6
    p = p * z + _ATAN_C5
    p = p * z + _ATAN_C4
    p = p * z + _ATAN_C3
    p = p * z + _ATAN_C2
    p = p * z + _ATAN_C1
    p = p * z + _ATAN_C0
    r = p * t
    r = tl.where(ay > ax, 0.5 * PI - r, r)
    r = tl.where(x < 0.0, PI - r, r)
    return tl.where(y < 0.0, -r, r)


# ---------------------------------------------------------------------------------------------------------------
# kernel side: the loads and reductions every kernel shares (inlined by the compiler, so they cost nothing)


@triton.jit
def program_rows(n, BLOCK: tl.constexpr):
    """This program's block of row indices (BLOCK,) and the mask of those < n."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return rows, rows < n


@triton.jit
def load_xyz_col(ptr, rows, mask):
    """x, y, z of `rows` of a row-major (N, 3) float32 array, each a (BLOCK, 1) column; 0 where masked."""
    x = tl.load(ptr + rows * 3 + 0, mask=mask, other=0.0)[:, None]
    y = tl.load(ptr + rows * 3 + 1, mask=mask, other=0.0)[:, None]
    z = tl.load(ptr + rows * 3 + 2, mask=mask, other=0.0)[:, None]
    return x, y, z


@triton.jit
def load_soa3(ptr, row, n, cols, mask):
    """Rows row, row + 1, row + 2 of a structure-of-arrays (C, n) float32 array at `cols`, each (BLOCK,) (see `soa`);
    0 where masked."""
    x = tl.load(ptr + (row + 0) * n + cols, mask=mask, other=0.0)
    y = tl.load(ptr + (row + 1) * n + cols, mask=mask, other=0.0)
    z = tl.load(ptr + (row + 2) * n + cols, mask=mask, other=0.0)
    return x, y, z


@triton.jit
def load_triangle_edges(ptr, n, cols, mask):
    """Triangles `cols` of a structure-of-arrays (9, n) corner array as corner a and edges b - a, c - a: nine
    (BLOCK,) vectors ax, ay, az, abx, aby, abz, acx, acy, acz (0 where masked)."""
    ax, ay, az = load_soa3(ptr, 0, n, cols, mask)
    bx, by, bz = load_soa3(ptr, 3, n, cols, mask)
    cx, cy, cz = load_soa3(ptr, 6, n, cols, mask)
    return ax, ay, az, bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az


@triton.jit
def tile_minus(ptr, row, n, cols, mask, qx, qy, qz):
    """The [BLOCK_Q, BLOCK] pairwise differences p - q: p from `load_soa3(ptr, row, n, cols, mask)` (a row
    vector), q the (BLOCK_Q, 1) query columns of `load_xyz_col`."""
    px, py, pz = load_soa3(ptr, row, n, cols, mask)
    return px[None, :] - qx, py[None, :] - qy, pz[None, :] - qz


@triton.jit
def kahan_add(acc, comp, x):
    """acc + x with Kahan compensation `comp`; returns the new (acc, comp). Keeps per-tile sums of 1e5+ terms
    accurate in float32."""
    y = x - comp
    s = acc + y
    return s, (s - acc) - y


@triton.jit
def lane_min_update(best, best_start, value, start):
    """Running minimum per (row, lane of the tile), by elementwise compares (no reduction in the loop): where
    `value` beats `best`, keep it and the `start` of the tile it came from."""
    better = value < best
    return tl.where(better, value, best), tl.where(better, start, best_start)


@triton.jit
def lane_argmin(best, best_start, BLOCK: tl.constexpr):
    """Reduce the lanes of `lane_min_update` once, at the end: (min (BLOCK_Q,), its column index start + lane)."""
    m, lane = tl.min(best, axis=1, return_indices=True)
    col = tl.arange(0, BLOCK)[None, :]
    start = tl.max(tl.where(col == lane[:, None], best_start, 0), axis=1)
    return m, start + lane


# ---------------------------------------------------------------------------------------------------------------
# launcher side


def interpreting() -> bool:
    """True when Triton runs kernels through its CPU interpreter (TRITON_INTERPRET=1 at triton import)."""
    knobs = getattr(triton, "knobs", None)  # triton >= 3.4; older versions read the variable directly
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def check_tensor(x, name: str, shape: tuple, device: torch.device | None = None) -> torch.Tensor:
    """A contiguous float32 tensor of `shape` (None = any size) on `device`; raises TypeError / ValueError."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype != torch.float32:
        raise TypeError(f"{name}: expected dtype torch.float32, got {x.dtype}")
    if x.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    if not x.is_contiguous():
        raise ValueError(f"{name}: expected a contiguous tensor (call .contiguous()), got strides {x.stride()}")
    if device is not None and x.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (like the other inputs), got {x.device}")
    if x.device.type != "cuda" and not interpreting():
        raise ValueError(
            f"{name}: expected a CUDA tensor (CPU tensors run only under TRITON_INTERPRET=1), got {x.device}"
        )
    return x


def check_tile(name: str, value: int, lo: int = 1) -> int:
    """Tile sizes must be powers of two (tl.arange); raise ValueError naming the argument otherwise."""
    if not isinstance(value, int) or value < lo or value & (value - 1):
        raise ValueError(f"{name}: expected a power of two >= {lo}, got {value!r}")
    return value


def soa(x: torch.Tensor) -> torch.Tensor:
    """(N, C) -> (C, N) contiguous: the inner-loop operand is read as C coalesced rows of N floats."""
    return x.reshape(x.shape[0], -1).t().contiguous()


def device_guard(device: torch.device):
    """Launch on the tensors' GPU (Triton launches on the current device); no-op for CPU (interpreter)."""
    if device.type == "cuda":
        return torch.cuda.device(device)
    return contextlib.nullcontext()


def launch(kernel, n_rows: int, block: int, args: tuple, constexprs: dict, num_warps: int, device: torch.device):
    """Launch `kernel` on cdiv(n_rows, block) programs, on the tensors' device, with the shared compile options."""
    grid = (triton.cdiv(n_rows, block),)
    with device_guard(device):
        kernel[grid](*args, **constexprs, num_warps=num_warps, **LAUNCH_OPTIONS)


# Compile options passed with every launch. Fusing a*b+c into FMA is what the GPU does best; passing it
# explicitly keeps results stable across Triton versions (3.10 changes the default) and silences the warning.
LAUNCH_OPTIONS = {"enable_fp_fusion": True}
