"""The `PointCloud` container and the clean-up every loader applies to what it read.

Loaders return raw coordinates in whatever dtype the file holds; `finalize_point_cloud` turns them into a
`PointCloud` of float32 arrays, dropping points with NaN/Inf coordinates (organised scans are full of them) with a
`NonFiniteWarning` that says how many were dropped and from which file.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import FileFormatError, NonFiniteWarning, PathLike


def _as_float32_rows(name: str, value: object) -> np.ndarray:
    """Return `value` as a C-contiguous (N, 3) float32 array or raise ValueError naming the field."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"PointCloud.{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"PointCloud.{name} must have shape (N, 3), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


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
    """Build the `PointCloud` a loader returns, dropping non-finite data.

    points: (N, 3) any real dtype; normals: (N, 3) or None.
    - rows whose coordinates are NaN/Inf (also values too large for float32) are dropped together with their
      normals, with a NonFiniteWarning giving the count;
    - if some kept points have NaN/Inf normals, the whole normals array is dropped (a partial normal field would
      silently poison normal-based losses) with a NonFiniteWarning giving the count;
    - no points at all, or no finite point, is a FileFormatError.
    """
    # Casting float64 values beyond the float32 range gives inf: that is exactly "non-finite" for our purposes.
    with np.errstate(over="ignore", invalid="ignore"):
        pts = np.asarray(points).astype(np.float32, copy=False)
        nrm = None if normals is None else np.asarray(normals).astype(np.float32, copy=False)
    n = len(pts)
    if n == 0:
        raise FileFormatError(path, "contains no points")
    finite = np.isfinite(pts).all(axis=1)
    n_bad = n - int(finite.sum())
    if n_bad == n:
        raise FileFormatError(path, f"no finite point: all {n} points have NaN/Inf coordinates")
    if n_bad:
        warnings.warn(
            f"{path}: dropped {n_bad} of {n} points with NaN/Inf coordinates", NonFiniteWarning, stacklevel=3
        )
        pts = pts[finite]
        if nrm is not None:
            nrm = nrm[finite]
    if nrm is not None:
        n_bad_normals = len(nrm) - int(np.isfinite(nrm).all(axis=1).sum())
        if n_bad_normals:
            warnings.warn(
                f"{path}: {n_bad_normals} of {len(nrm)} points have NaN/Inf normals; "
                "dropped the normals of the whole cloud (points kept)",
                NonFiniteWarning,
                stacklevel=3,
            )
            nrm = None
    return PointCloud(pts, nrm)
