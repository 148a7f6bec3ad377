"""Normalisation to the unit box (ONet's convention) and back to world units.

ONet: loc = centre of the bounding box, scale = its largest side; normalised = (p - loc) / scale, so the object
is centred at the origin with largest side 1, inside [-0.5, 0.5]^3. points.npz / pointcloud.npz store loc and
scale so that world = normalised * scale + loc.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Normalization(NamedTuple):
    """world = normalised * scale + loc. loc: (3,) float64; scale: float."""

    loc: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        """World -> unit box. (N, 3) -> (N, 3), float64 unless the input is float32."""
        return (np.asarray(points) - self.loc) / self.scale

    def invert(self, points: np.ndarray) -> np.ndarray:
        """Unit box -> world. (N, 3) -> (N, 3)."""
        return np.asarray(points) * self.scale + self.loc


def unit_box_normalization(points: np.ndarray) -> Normalization:
    """The ONet normalisation of a point set or a mesh's vertices, (N, 3) with N >= 1.

    Raises ValueError when the points are empty, non-finite or all identical (no extent to scale by).
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or p.shape[0] == 0:
        raise ValueError(f"points: expected a non-empty (N, 3) array, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("points: contain NaN or Inf; drop them first")
    lo, hi = p.min(axis=0), p.max(axis=0)
    scale = float((hi - lo).max())
    if not scale > 0:
        raise ValueError("points: all points coincide; the bounding box has no extent to normalise by")
    return Normalization(loc=(lo + hi) / 2, scale=scale)
