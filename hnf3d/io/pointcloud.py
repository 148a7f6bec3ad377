"""The `PointCloud` container and the clean-up every loader applies to what it read.

Loaders return raw coordinates in whatever dtype the file holds; `finalize_point_cloud` turns them into a
`PointCloud` of float32 arrays, dropping points with NaN/Inf coordinates (organised scans are full of them) and
points whose finite coordinates lie beyond the float32 range (|x| > 3.4e38, e.g. 1e300 in a float64 file: they
would become Inf) with a `NonFiniteWarning` that counts each kind and names the file.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import FileFormatError, NonFiniteWarning, PathLike


FLOAT32_MAX = float(np.finfo(np.float32).max)
_RANGE = f"beyond the float32 range (|x| > {FLOAT32_MAX:.1e})"


def _to_float32(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(arr as float32, mask of the values that were finite but became Inf; None when there are none).

    Only float dtypes wider than float32 can overflow it (int64 and uint64 stay below 1.9e19).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float32, copy=False)
    if arr.dtype.kind != "f" or arr.dtype.itemsize <= 4 or np.isfinite(out).all():
        return out, None
    overflow = np.isinf(out) & np.isfinite(arr)
    return out, (overflow if overflow.any() else None)


def _as_float32_rows(name: str, value: object) -> np.ndarray:
    """Return `value` as a C-contiguous (N, 3) float32 array or raise ValueError naming the field."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"PointCloud.{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"PointCloud.{name} must have shape (N, 3), got {arr.shape}")
    out, overflow = _to_float32(arr)
    if overflow is not None:
        raise ValueError(
            f"PointCloud.{name} has {int(overflow.sum())} values {_RANGE}; they cannot be stored as float32"
        )
    return np.ascontiguousarray(out)


@dataclass
class PointCloud:
    """A set of 3D points with optional per-point normals.

    points:  (N, 3) float32.
    normals: (N, 3) float32, or None when the source has no normals.

    Any real numeric array of the right shape is accepted and converted to C-contiguous float32; a wrong shape
    or dtype raises ValueError.
    """

    points: np.ndarray
    normals: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.points = _as_float32_rows("points", self.points)
        if self.normals is not None:
            self.normals = _as_float32_rows("normals", self.normals)
            if len(self.normals) != len(self.points):
                raise ValueError(
                    f"PointCloud.normals has {len(self.normals)} rows but points has {len(self.points)}"
                )

    def __len__(self) -> int:
        return len(self.points)


def finalize_point_cloud(path: PathLike, points: np.ndarray, normals: np.ndarray | None) -> PointCloud:
    """Build the `PointCloud` a loader returns, dropping unusable data.

    points: (N, 3) any real dtype; normals: (N, 3) or None.
    - rows whose coordinates are NaN/Inf, or finite but beyond the float32 range, are dropped together with
      their normals, with a NonFiniteWarning counting each kind;
    - if some kept points have NaN/Inf normals (or normals beyond the float32 range), the whole normals array is
      dropped (a partial normal field would silently poison normal-based losses) with a NonFiniteWarning;
    - no points at all, or no usable point, is a FileFormatError.
    The arrays returned are writable and own their memory (a reader may hand over read-only views of the file).
    """
    points = np.asarray(points)
    n = len(points)
    if n == 0:
        raise FileFormatError(path, "contains no points")
    pts, nan_rows, big_rows = _rows_as_float32(points)
    n_nan, n_big = int(nan_rows.sum()), int(big_rows.sum())
    if n_nan + n_big == n:
        raise FileFormatError(path, f"no usable point: all {n} points have {_kinds(n_nan, n_big, 'coordinates')}")
    nrm = None
    if normals is not None:
        nrm, nrm_nan, nrm_big = _rows_as_float32(np.asarray(normals))
    if n_nan + n_big:
        warnings.warn(f"{path}: dropped {n_nan + n_big} of {n} points {_with(n_nan, n_big, 'coordinates')}",
                      NonFiniteWarning, stacklevel=3)
        keep = ~(nan_rows | big_rows)
        pts = pts[keep]
        if nrm is not None:
            nrm, nrm_nan, nrm_big = nrm[keep], nrm_nan[keep], nrm_big[keep]
    if nrm is not None:
        k_nan, k_big = int(nrm_nan.sum()), int(nrm_big.sum())
        if k_nan + k_big:
            warnings.warn(
                f"{path}: {k_nan + k_big} of {len(nrm)} points have {_kinds(k_nan, k_big, 'normals')}; "
                "dropped the normals of the whole cloud (points kept)",
                NonFiniteWarning,
                stacklevel=3,
            )
            nrm = None
    return PointCloud(_owned(pts), None if nrm is None else _owned(nrm))


def _rows_as_float32(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arr (N, k) as float32, rows with NaN/Inf (N,) bool, other rows with values beyond float32 (N,) bool)."""
    out, overflow = _to_float32(arr)
    nan_rows = ~np.isfinite(arr).all(axis=1)
    big_rows = np.zeros(len(arr), dtype=bool) if overflow is None else overflow.any(axis=1) & ~nan_rows
    return out, nan_rows, big_rows


def _kinds(n_nonfinite: int, n_overflow: int, what: str) -> str:
    """What unusable rows have, e.g. 'NaN/Inf coordinates' or 'NaN/Inf normals (2) or normals beyond ... (1)'."""
    if not n_overflow:
        return f"NaN/Inf {what}"
    if not n_nonfinite:
        return f"{what} {_RANGE}"
    return f"NaN/Inf {what} ({n_nonfinite}) or {what} {_RANGE} ({n_overflow})"


def _with(n_nonfinite: int, n_overflow: int, what: str) -> str:
    """'with NaN/Inf coordinates', 'with coordinates beyond ...', or '(2 with NaN/Inf ..., 1 with ...)'."""
    if n_overflow and n_nonfinite:
        return f"({n_nonfinite} with NaN/Inf {what}, {n_overflow} with {what} {_RANGE})"
    return f"with {_kinds(n_nonfinite, n_overflow, what)}"


def _owned(arr: np.ndarray) -> np.ndarray:
    return arr if arr.flags.writeable and arr.flags.owndata else np.array(arr, dtype=np.float32, order="C")
