"""What goes into the pipeline, made safe: point clouds cleaned (`clean_points`), the 'spacing' normalisation's
scale (`spacing_scale`), and images of any common form turned into the model's input tensor (`image_tensor`).

Every check raises ValueError naming the argument it is about; nothing is dropped without a message.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from .._checks import check_array, check_int

__all__ = ["MAX_COORDINATE", "MAX_POINTS", "MIN_POINTS", "OUTLIER_FACTOR", "CleanedPoints", "clean_points",
           "image_tensor", "spacing_scale"]

MIN_POINTS = 16
MAX_POINTS = 1_000_000
# Median nearest-neighbour distance of 3000 points on a unit-box shape: the scale 'spacing' normalisation aims at.
# A test (tests/test_reconstruction.py) checks it against the procedural training shapes.
TARGET_SPACING = 0.0105
#: gross outliers: points farther from the median point than this many times the median distance to it. Measured
#: (tests/test_inputs.py): the largest ratio max/median distance is 2.8 on the real scans and meshes of
#: ../shared/data/real and 15 on the vertices of the procedural shapes (a rifle's barrel), so 50 keeps every real
#: shape whole while a stray point 20+ object sizes away (which would shrink the object to a blob) goes.
OUTLIER_FACTOR = 50.0
#: largest |coordinate| accepted (float64): the mesh around the points (their box plus margins) must stay finite
MAX_COORDINATE = 1e300
#: points whose spread along some axis is below this fraction of their largest spread are collinear / coplanar
#: (rank < 3): std ratios are ~1e-16 for exact lines or planes and ~6e-4 for a 0.1 mm sheet 30 cm wide
DEGENERATE_RATIO = 1e-4


@dataclass
class CleanedPoints:
    """Result of `clean_points`: points (N, 3) float64, normals (N, 3) float64 or None, and what was done."""

    points: np.ndarray
    normals: Optional[np.ndarray]
    messages: list = field(default_factory=list)


def _scaled(p: np.ndarray) -> np.ndarray:
    """p (N, 3) divided by a power of two (exact) so that every |value| < 1: differences, norms and squares of
    the result cannot overflow, whatever the magnitude of p (up to float64's largest finite value)."""
    top = float(np.abs(p).max()) if p.size else 0.0
    return np.ldexp(p, -math.frexp(top)[1]) if top > 0 else p


def _row_norms(d: np.ndarray) -> np.ndarray:
    """Euclidean norms (N,) of the rows of d (N, 3) without squaring tiny or huge values: |row|_inf times the norm
    of the row divided by it (in [1, sqrt(3)])."""
    top = np.abs(d).max(axis=1)
    safe = np.where(top > 0, top, 1.0)
    return top * np.linalg.norm(d / safe[:, None], axis=1)


def _gross_outliers(p: np.ndarray) -> np.ndarray:
    """Mask (N,) of the points farther from the coordinate-wise median point than OUTLIER_FACTOR times the median
    of those distances. Both medians ignore up to half the points, so a few far points cannot hide each other.
    Scale-free and overflow-free: computed on `_scaled` coordinates with `_row_norms`, so values up to float64's
    largest (1.8e308) beside points of size 1 are found, not turned into Inf or NaN."""
    q = _scaled(p)
    d = _row_norms(q - np.median(q, axis=0))
    radius = float(np.median(d))
    return d > OUTLIER_FACTOR * radius if radius > 0 else np.zeros(len(p), bool)


def _check_spans_3d(p: np.ndarray, name: str) -> None:
    """Refuse collinear or coplanar points (rank < 3, relative to their own extent): a closed surface needs a
    volume to enclose, and refining such input runs for minutes before it fails. p: (N, 3), |p| <= MAX_COORDINATE
    (so p - mean cannot overflow; dividing by the largest offset keeps the covariance's squares in range)."""
    q = p - p.mean(axis=0)
    top = float(np.abs(q).max())
    if top > 0:
        q = q / top
    spread = np.sqrt(np.clip(np.linalg.eigvalsh(q.T @ q / len(q)), 0, None))  # ascending std per principal axis
    if spread[2] <= 0 or spread[1] <= DEGENERATE_RATIO * spread[2]:
        raise ValueError(f"{name}: the points are collinear: a surface needs points that span 3D")
    if spread[0] <= DEGENERATE_RATIO * spread[2]:
        raise ValueError(f"{name}: the points are coplanar: a surface needs points that span 3D")


def _unit_normals(n: np.ndarray) -> Optional[np.ndarray]:
    """Normals (N, 3) scaled to unit length (any finite length works: row-wise `_scaled`), None if any is zero."""
    top = np.abs(n).max(axis=1, keepdims=True)
    if not (top > 0).all():
        return None
    u = n / top  # each row's largest |component| becomes 1: no overflow below
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def clean_points(points, normals=None, *, max_points: int = MAX_POINTS, seed: int = 0,
                 min_points: int = MIN_POINTS, name: str = "points") -> CleanedPoints:
    """Clean a point cloud for the pipeline; every step that changes the data adds a message.

    points: (N, 3) real numbers (complex, object or string arrays are refused); normals: (N, 3) or None (rows
    follow the points; rescaled to unit length, ignored with a message when some are NaN/Inf or zero).
    Steps: drop points with NaN/Inf coordinates; remove exact duplicates; drop gross outliers (farther from the
    median point than OUTLIER_FACTOR times the median distance to it; the message counts them); subsample
    (seeded) to `max_points`. Raises ValueError naming `name` when fewer than `min_points` usable points remain,
    when a coordinate exceeds MAX_COORDINATE in magnitude, or when the points are collinear or coplanar (their
    spread along some principal axis is below DEGENERATE_RATIO of the largest)."""
    min_points = check_int("min_points", min_points, min_value=1)
    max_points = check_int("max_points", max_points, min_value=max(min_points, MIN_POINTS))
    seed = check_int("seed", seed, min_value=0, max_value=2**63 - 1)
    p = check_array(name, points, "(N, 3)", dtype=np.float64)
    n = None if normals is None else check_array("normals", normals, "(N, 3)", dtype=np.float64)
    if n is not None and n.shape != p.shape:
        raise ValueError(f"normals: expected shape {p.shape} (that of {name}), got {n.shape}")
    messages = []
    keep = np.isfinite(p).all(1)
    if n is not None:
        unit_n = _unit_normals(n[keep]) if np.isfinite(n[keep]).all() else None
        if unit_n is None:
            messages.append("ignored the normals: some are NaN/Inf or zero")
            n = None
        else:
            n = n.copy()
            n[keep] = unit_n
    if not keep.all():
        messages.append(f"dropped {int((~keep).sum())} of {len(p)} points with NaN/Inf coordinates")
        p = p[keep]
        n = None if n is None else n[keep]
    if len(p):
        _, first = np.unique(p, axis=0, return_index=True)
        if len(first) < len(p):
            first.sort()  # keep the input order
            messages.append(f"removed {len(p) - len(first)} duplicate points")
            p = p[first]
            n = None if n is None else n[first]
    if len(p) >= 3:
        far = _gross_outliers(p)
        if far.any():
            messages.append(f"dropped {int(far.sum())} of {len(p)} points as gross outliers (farther from the "
                            f"median point than {OUTLIER_FACTOR:g} x the median distance to it)")
            p = p[~far]
            n = None if n is None else n[~far]
    if len(p) < min_points:
        raise ValueError(f"{name}: {len(p)} usable points (after removing NaN/Inf, duplicates and gross "
                         f"outliers); at least {min_points} are needed")
    top = float(np.abs(p).max())
    if top > MAX_COORDINATE:
        raise ValueError(f"{name}: coordinates reach {top:.3g}, beyond the supported magnitude "
                         f"{MAX_COORDINATE:g} (the mesh around them would overflow float64); rescale the points")
    _check_spans_3d(p, name)
    if len(p) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(p), max_points, replace=False))
        messages.append(f"subsampled {len(p)} points to {max_points} (seed {seed})")
        p = p[pick]
        n = None if n is None else n[pick]
    return CleanedPoints(p, n, messages)


def spacing_scale(points: np.ndarray, seed: int = 0, sample: int = 3000) -> float:
    """POCO-style scale: the factor that maps the median nearest-neighbour distance of `sample` random points of
    the cloud (N, 3) to TARGET_SPACING, i.e. the density the model saw in training."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    sub = points if len(points) <= sample else points[rng.choice(len(points), sample, replace=False)]
    # distances of power-of-two-scaled points (exact), scaled back: squared distances of 1e200 would overflow
    exponent = math.frexp(float(np.abs(sub).max()))[1] if len(sub) else 0
    d, _ = cKDTree(np.ldexp(sub, -exponent)).query(np.ldexp(sub, -exponent), k=2)
    spacing = math.ldexp(float(np.median(d[:, 1])), exponent)
    if not spacing > 0:
        raise ValueError("points: zero nearest-neighbour spacing; cannot normalise by spacing")
    # fewer points than `sample` are sparser: compare at equal counts (spacing ~ 1/sqrt(n) on a surface)
    return spacing / TARGET_SPACING * math.sqrt(len(sub) / sample)


#: an image "holds no object" when fewer than this fraction of its pixels (after resizing to the model's input)
#: differ from the border colour by more than BACKGROUND_TOLERANCE (of the [0, 1] range) in some channel. The
#: smallest object in the real and rendered test images covers 0.6% (a rifle seen end-on; 4.5% on the real
#: photographs and ONet renders), a uniform or blank image 0%.
MIN_OBJECT_FRACTION = 0.0005
BACKGROUND_TOLERANCE = 0.1


def _check_holds_object(t: torch.Tensor, name: str) -> None:
    """Refuse an image (3, S, S) in [0, 1] in which nothing stands out from the background (the median colour
    of its border): a blank, uniform or all-white image would come back as a blob."""
    border = torch.cat([t[:, 0, :], t[:, -1, :], t[:, :, 0], t[:, :, -1]], dim=1)
    background = border.median(dim=1).values
    differs = (t - background[:, None, None]).abs().amax(dim=0) > BACKGROUND_TOLERANCE
    if differs.float().mean().item() < MIN_OBJECT_FRACTION:
        raise ValueError(f"{name}: the image holds no object (nearly every pixel has the background colour "
                         f"{[round(float(c), 3) for c in background]}); give an image of one object on a plain "
                         f"background")


def _tensor_pixels(t: torch.Tensor) -> np.ndarray:
    """A (3, H, W) tensor as (H, W, 3) numpy pixels, for the same reader as every other image form."""
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"image: expected a (3, H, W) tensor, got {tuple(t.shape)}")
    t = t.detach().cpu()
    if t.is_floating_point():
        t = t.float()  # numpy has no bfloat16
    return t.permute(1, 2, 0).numpy()


def image_tensor(image, size: int) -> torch.Tensor:
    """(3, S, S) float32 in [0, 1] for the model (S = `size`, its img_size), from
    - a path: read by hnf3d.io.image.read_image (its header's size checked before decoding);
    - a PIL image of any mode or an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array of uint8, uint16 (16-bit),
      bool or float in [0, 1] (the rules of hnf3d.io.image.to_rgb8);
    - a (3, H, W) torch tensor, uint8 or float in [0, 1].
    All go through hnf3d.io.image.to_rgb8 (8-bit RGB; transparent pixels become white, as in the training renders)
    and the same PIL bilinear resize as the training images. Raises ValueError naming the image when it is none
    of these, or when it holds no object (see MIN_OBJECT_FRACTION)."""
    from PIL import Image

    from ..io.image import read_image, to_rgb8

    size = check_int("size", size, min_value=1)
    name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "image"
    if isinstance(image, (str, os.PathLike)):
        image = read_image(name)
    elif isinstance(image, torch.Tensor):
        image = _tensor_pixels(image)
    pil = to_rgb8(image, name=name).resize((size, size), Image.BILINEAR)
    t = torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
    _check_holds_object(t, name)
    return t
