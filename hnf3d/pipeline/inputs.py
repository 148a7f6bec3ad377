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

__all__ = ["MAX_POINTS", "MIN_POINTS", "CleanedPoints", "clean_points", "image_tensor", "spacing_scale"]

MIN_POINTS = 16
MAX_POINTS = 1_000_000
# Median nearest-neighbour distance of 3000 points on a unit-box shape: the scale 'spacing' normalisation aims at.
# A test (tests/test_reconstruction.py) checks it against the procedural training shapes.
TARGET_SPACING = 0.0105


@dataclass
class CleanedPoints:
    """Result of `clean_points`: points (N, 3) float64, normals (N, 3) float64 or None, and what was done."""

    points: np.ndarray
    normals: Optional[np.ndarray]
    messages: list = field(default_factory=list)


def clean_points(points, normals=None, *, max_points: int = MAX_POINTS, seed: int = 0,
                 min_points: int = MIN_POINTS, name: str = "points") -> CleanedPoints:
    """Drop points with NaN/Inf coordinates, exact duplicates, and subsample (seeded) to `max_points`.

    points: (N, 3); normals: (N, 3) or None (rows follow the points). Each step that changes the data adds a
    message (nothing is dropped silently). Raises ValueError naming `name` when fewer than `min_points` usable
    points remain."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name}: expected an array of shape (N, 3), got {p.shape}")
    n = None if normals is None else np.asarray(normals, dtype=np.float64)
    if n is not None and n.shape != p.shape:
        raise ValueError(f"normals: expected shape {p.shape} (that of {name}), got {n.shape}")
    messages = []
    keep = np.isfinite(p).all(1)
    if n is not None:
        bad_n = ~np.isfinite(n).all(1) & keep
        if bad_n.any():
            messages.append(f"ignored the normals: {int(bad_n.sum())} of them are NaN/Inf")
            n = None
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
    if len(p) < min_points:
        raise ValueError(f"{name}: {len(p)} usable points (after removing NaN/Inf and duplicates); "
                         f"at least {min_points} are needed")
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
    d, _ = cKDTree(sub).query(sub, k=2)
    spacing = float(np.median(d[:, 1]))
    if not spacing > 0:
        raise ValueError("points: zero nearest-neighbour spacing; cannot normalise by spacing")
    # fewer points than `sample` are sparser: compare at equal counts (spacing ~ 1/sqrt(n) on a surface)
    return spacing / TARGET_SPACING * math.sqrt(len(sub) / sample)


def image_tensor(image, size: int) -> torch.Tensor:
    """(3, S, S) float32 in [0, 1] from a path, a PIL image, an (H, W, 3|4) or (H, W) array (uint8 or float in
    [0, 1]) or a (3, H, W) tensor; resized to the model's img_size. Transparent pixels become white, as in
    the training renders."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        from ..data.transforms import load_image

        return load_image(image, size)
    if isinstance(image, torch.Tensor):
        t = image.detach().float().cpu()
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError(f"image: expected a (3, H, W) tensor, got {tuple(t.shape)}")
        return torch.nn.functional.interpolate(t[None], size=(size, size), mode="bilinear",
                                               align_corners=False)[0].clamp(0, 1)
    if isinstance(image, Image.Image):
        pil = image
    else:
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.floating):
                raise ValueError(f"image: expected uint8 or float pixels, got {arr.dtype}")
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, -1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"image: expected an (H, W, 3) or (H, W, 4) array, got {arr.shape}")
        pil = Image.fromarray(arr)
    if pil.mode in ("RGBA", "LA", "P"):
        pil = pil.convert("RGBA")
        white = Image.new("RGBA", pil.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(white, pil)
    pil = pil.convert("RGB").resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
