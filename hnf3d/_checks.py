"""Argument checks for the public entry points: one line each, a ValueError (or TypeError) that names the argument,
says what was expected and what came.

Use them where user input enters (the Reconstructor, the CLIs, dataset constructors), not in hot inner calls:
a value checked once at the boundary is trusted inside.

    n = check_int("refine_steps", refine_steps, min_value=0)
    x = check_array("points", points, "(N, 3)", dtype=np.float64)
    dev = check_device("device", "cuda:1")
"""
from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

__all__ = ["check_array", "check_choice", "check_device", "check_float", "check_int"]


def check_int(name: str, value, *, min_value: Optional[int] = None, max_value: Optional[int] = None) -> int:
    """`value` as an int: a Python or numpy integer (not a bool, not a float such as 2.0 or 2.7) within
    [min_value, max_value]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    v = int(value)
    if min_value is not None and v < min_value:
        raise ValueError(f"{name}: expected an integer >= {min_value}, got {v}")
    if max_value is not None and v > max_value:
        raise ValueError(f"{name}: expected an integer <= {max_value}, got {v}")
    return v


def check_float(name: str, value, *, min_value: Optional[float] = None, max_value: Optional[float] = None,
                open_interval: bool = False) -> float:
    """`value` as a finite float within [min_value, max_value] (or the open interval)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    lo_ok = min_value is None or (v > min_value if open_interval else v >= min_value)
    hi_ok = max_value is None or (v < max_value if open_interval else v <= max_value)
    if not math.isfinite(v) or not (lo_ok and hi_ok):
        lo = "-inf" if min_value is None else min_value
        hi = "inf" if max_value is None else max_value
        span = f"({lo}, {hi})" if open_interval else f"[{lo}, {hi}]"
        raise ValueError(f"{name}: expected a finite number in {span}, got {value!r}")
    return v


def check_choice(name: str, value, choices) -> str:
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _shape_spec(spec: str) -> list:
    """'(N, 3)' -> [None, 3]: a letter is any size, a number is that size."""
    dims = [d.strip() for d in spec.strip("() ").split(",") if d.strip()]
    return [int(d) if d.isdigit() else None for d in dims]


def check_array(name: str, value, shape: str, *, dtype=np.float64, finite: bool = False) -> np.ndarray:
    """`value` as a numpy array of `dtype` with the given shape ('(N, 3)', '(P,)', '(H, W, 3)'; letters are any
    size). Refuses complex, object and string data (a real-valued argument never silently drops an imaginary
    part); with finite=True also NaN/Inf."""
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists, objects numpy cannot convert
        raise ValueError(f"{name}: expected an array of shape {shape}, got {type(value).__name__} ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected real numbers, got an array of dtype {a.dtype}")
    want = _shape_spec(shape)
    if a.ndim != len(want) or any(w is not None and w != s for w, s in zip(want, a.shape)):
        raise ValueError(f"{name}: expected an array of shape {shape}, got {a.shape}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or Inf values")
    return a


def check_device(name: str, value):
    """A torch.device from 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ... or a torch.device. Refuses
    devices the pipeline cannot compute on here (meta, a missing CUDA, a CUDA index beyond the GPUs present)."""
    import torch

    if isinstance(value, str) and value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = value if isinstance(value, torch.device) else torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a device; expected auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: {value!r}: expected auto, cpu, cuda or cuda:N (no computation runs on "
                         f"'{dev.type}')")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}: {value!r} requested but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}: {value!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev
