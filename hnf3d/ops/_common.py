"""Argument checking and conversion shared by the ops.

Every public op takes numpy arrays or torch tensors and returns torch tensors on the queries' device.
User input is validated here, at the public boundary, with messages that name the argument and say what was
expected and what was given (never an `assert`).
"""
from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch

from .._optional import available

Array = "np.ndarray | torch.Tensor"

BACKENDS = ("auto", "torch", "cpu", "triton")


def as_tensor(x, name: str, *, device: torch.device | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert a numpy array / tensor / nested sequence to a tensor, keeping the device unless `device` is given."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}") from exc
    if device is not None:
        t = t.to(device)
    if dtype is not None:
        t = t.to(dtype)
    return t


def check_points(x, name: str, *, device=None, dtype=None, dims: int = 3) -> torch.Tensor:
    """(N, dims) floating tensor with finite values."""
    t = as_tensor(x, name, device=device)
    if t.ndim != 2 or t.shape[1] != dims:
        raise ValueError(f"{name}: expected shape (N, {dims}), got {tuple(t.shape)}")
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {t.dtype}")
    t = t.to(dtype or (t.dtype if t.is_floating_point() else torch.float32))
    if t.numel() and not _all_finite(t):
        bad = int((~torch.isfinite(t)).any(dim=1).sum())
        raise ValueError(f"{name}: {bad} of {t.shape[0]} rows contain NaN or Inf")
    return t


def check_queries(x, name: str = "queries") -> torch.Tensor:
    """The leading point array of an op, (N, 3) (see `check_points`): it sets the device and dtype of the other
    inputs and of the result; float16 is computed in float32 (no op keeps useful precision in half)."""
    t = check_points(x, name)
    return t.float() if t.dtype == torch.float16 else t


def _all_finite(t: torch.Tensor) -> bool:
    """One reduction instead of an elementwise pass: the sum is finite whenever every value is (an overflow only
    costs the exact check). CPU tensors are summed by numpy on the same memory: torch's threaded reductions pay
    milliseconds of thread wake-up on small arrays, as much as the query itself (benchmarks/ops.py)."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        a = t.detach().numpy()
        return bool(np.isfinite(a.sum())) or bool(np.isfinite(a).all())
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def check_mesh(vertices, faces, *, device=None, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
    """vertices (V, 3) float, faces (F, 3) int64 with indices in range."""
    v = check_points(vertices, "vertices", device=device, dtype=dtype)
    f = as_tensor(faces, "faces", device=v.device)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces: expected shape (F, 3) (triangles), got {tuple(f.shape)}")
    if f.is_floating_point() or f.dtype == torch.bool:
        raise TypeError(f"faces: expected an integer array, got dtype {f.dtype}")
    f = f.long()
    if f.shape[0] == 0:
        raise ValueError("faces: the mesh has no faces")
    lo, hi = int(f.min()), int(f.max())
    if lo < 0 or hi >= v.shape[0]:
        raise ValueError(f"faces: indices must lie in [0, {v.shape[0] - 1}] (the vertex count), got [{lo}, {hi}]")
    return v, f


def triangles(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(F, 3, 3) corner coordinates, contiguous."""
    return vertices[faces].contiguous()


def soup_mesh(tri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, 3, 3) triangle corners -> (vertices (3F, 3), faces (F, 3) int64), the inverse of `triangles`: a triangle
    soup (the kernels' layout) as the mesh the public ops take."""
    faces = torch.arange(3 * tri.shape[0], device=tri.device).reshape(-1, 3)
    return tri.reshape(-1, 3), faces


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def triton_usable(device: torch.device) -> bool:
    """Triton kernels run on CUDA tensors, or on CPU tensors only under TRITON_INTERPRET=1 (tests)."""
    if not available("triton"):
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def resolve_backend(backend: str, device: torch.device, *, cpu_library: str | None) -> str:
    """The one rule every op's dispatch follows.

    auto: CUDA tensors -> 'triton' (custom kernels) when triton imports, else 'torch';
          CPU tensors  -> 'cpu' (the fastest measured library, see benchmarks/ops.py) when it imports, else 'torch'.
    An explicit backend is honoured, or refused with a reason.
    """
    check_backend(backend)
    if backend == "auto":
        if device.type == "cuda":
            return "triton" if available("triton") else "torch"
        if device.type == "cpu" and cpu_library is not None and available(cpu_library):
            return "cpu"
        return "torch"
    if backend == "triton" and not triton_usable(device):
        raise ValueError(
            f"backend='triton' needs CUDA tensors and an importable triton (or TRITON_INTERPRET=1 on CPU); "
            f"got device {device}, triton {'available' if available('triton') else 'missing'}"
        )
    if backend == "cpu":
        if cpu_library is None:
            raise ValueError("backend='cpu': this op has no CPU library backend; use 'torch' or 'auto'")
        from .._optional import require

        require(cpu_library, "backend='cpu' for this op")
    return backend


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most `size` covering range(n)."""
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + size))


def pair_chunk(n_other: int, budget: int = 2**24) -> int:
    """Rows per chunk so that a (rows, n_other) pairwise block stays under `budget` elements (memory bound)."""
    return max(1, budget // max(1, n_other))
