"""Pieces shared by the kernel modules: Triton math helpers and launcher-side argument checks.

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


# Compile options passed with every launch. Fusing a*b+c into FMA is what the GPU does best; passing it
# explicitly keeps results stable across Triton versions (3.10 changes the default) and silences the warning.
LAUNCH_OPTIONS = {"enable_fp_fusion": True}
