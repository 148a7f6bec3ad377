"""Training inputs that look like real scans: the part of a shape's dense surface sample that a few depth cameras
see, with range noise and sometimes a part the scanner missed.

The shipped training data give the encoder 3000 points spread over the whole surface with isotropic noise. A
user's scan is not like that: one to a few views see one side (the back is empty), the noise runs along the rays
and a patch may be missing. A field that never saw such inputs guesses the unseen side poorly, and test-time
refinement (hnf3d.pipeline.refine) keeps that guess wherever the scan says nothing. `scan_like_input` turns a
dense surface sample into such an input; ShapeNetDataset uses it for a share of the training items
(data.scan_fraction).

Visibility is a z-buffer over the points themselves (no mesh is needed: pointcloud.npz holds 100k surface
points): each point is projected into a pinhole camera looking at the origin, the nearest depth per pixel wins,
and a point is kept when it is within a tolerance of the nearest depth of its own pixel and of the 3 x 3 pixels
around it (the neighbourhood closes the gaps between the splats, through which a far surface would leak).
Everything is drawn from the numpy Generator given, so an item depends only on its seed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["VIEW_COUNTS", "visible_from", "scan_like_input"]

#: how many views a simulated scan has, and their probabilities: single views are the hardest and most common
VIEW_COUNTS = ((1, 0.3), (2, 0.2), (3, 0.25), (6, 0.25))
NOISE_RANGE = (0.001, 0.012)  # range-noise std, fraction of the unit box (the real scans' 0.2% to 1% and beyond)
MISSING_PROBABILITY = 0.3  # share of scans with a part never seen
MISSING_RADIUS = (0.1, 0.25)  # its radius, fraction of the unit box
ELEVATION_DEG = (-20.0, 60.0)  # cameras from slightly below to well above the object (y up)
DISTANCE_RANGE = (1.5, 3.0)  # camera distance to the centre, unit-box units
SUBSAMPLE = 30_000  # points of the dense sample the z-buffer sees (30k of ONet's 100k: 5 ms a view)
PIXEL = 0.015  # pixel footprint at the object's centre: about 1.5 x the spacing of 30k points on a unit object
MIN_VISIBLE = 200  # a scan with fewer points than this is replaced by the full input (nothing to learn from)


def visible_from(points: np.ndarray, camera: np.ndarray, pixel: float = PIXEL) -> np.ndarray:
    """Boolean (N,) mask of the points (N, 3) that a pinhole camera at `camera` (3,), looking at the origin,
    sees. pixel: the footprint of one pixel at the origin's distance (unit-box units); depth tolerances are
    1.5 pixels within a pixel and 4 pixels across the 3 x 3 neighbourhood."""
    from scipy.ndimage import minimum_filter

    cam = np.asarray(camera, dtype=np.float64)
    dist = float(np.linalg.norm(cam))
    forward = -cam / dist
    up = np.array([0.0, 1.0, 0.0]) if abs(forward[1]) < 0.99 else np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    rel = np.asarray(points, dtype=np.float64) - cam
    z = rel @ forward
    ok = z > 1e-6
    depth = np.linalg.norm(rel, axis=1)
    angle = pixel / dist  # tangent-plane units per pixel
    u = np.where(ok, rel @ right / np.maximum(z, 1e-6), 0.0) / angle
    v = np.where(ok, rel @ true_up / np.maximum(z, 1e-6), 0.0) / angle
    iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    iu -= iu.min() - 1
    iv -= iv.min() - 1  # a border of one empty pixel for the neighbourhood filter
    w, h = int(iu.max()) + 2, int(iv.max()) + 2
    flat = iv * w + iu
    zbuf = np.full(w * h, np.inf)
    np.minimum.at(zbuf, flat[ok], depth[ok])
    near = minimum_filter(zbuf.reshape(h, w), size=3, mode="constant", cval=np.inf).reshape(-1)
    return ok & (depth <= zbuf[flat] + 1.5 * pixel) & (depth <= near[flat] + 4.0 * pixel)


def _cameras(rng: np.random.Generator, views: int) -> np.ndarray:
    """(views, 3) camera positions on a ring around the y axis (evenly spaced azimuths, random start), each at
    its own random elevation and distance."""
    start = rng.uniform(0.0, 2 * np.pi)
    azimuth = start + 2 * np.pi * np.arange(views) / views
    elevation = np.radians(rng.uniform(*ELEVATION_DEG, size=views))
    distance = rng.uniform(*DISTANCE_RANGE, size=views)
    direction = np.stack([np.cos(elevation) * np.cos(azimuth), np.sin(elevation),
                          np.cos(elevation) * np.sin(azimuth)], axis=1)
    return direction * distance[:, None]


def scan_like_input(surface: np.ndarray, rng: np.random.Generator, n_points: int) -> np.ndarray | None:
    """A simulated scan (n_points, 3) float32 of the shape whose dense surface sample is `surface` (M, 3) in the
    unit box: 1, 2, 3 or 6 views (VIEW_COUNTS), range noise of std drawn from NOISE_RANGE along each view's
    rays, and with probability MISSING_PROBABILITY a ball of the surface removed. Drawn with replacement when
    fewer than n_points are seen. None when fewer than MIN_VISIBLE points are seen (the caller keeps the full
    input)."""
    surface = np.asarray(surface, dtype=np.float64)
    if len(surface) > SUBSAMPLE:
        surface = surface[rng.choice(len(surface), SUBSAMPLE, replace=False)]
    counts, probs = zip(*VIEW_COUNTS)
    views = int(rng.choice(counts, p=probs))
    sigma = rng.uniform(*NOISE_RANGE)
    seen = []
    for cam in _cameras(rng, views):
        p = surface[visible_from(surface, cam)]
        ray = p - cam
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        seen.append(p + sigma * rng.standard_normal((len(p), 1)) * ray)
    scan = np.concatenate(seen)
    if rng.random() < MISSING_PROBABILITY and len(scan):
        centre = scan[rng.integers(len(scan))]
        scan = scan[np.linalg.norm(scan - centre, axis=1) > rng.uniform(*MISSING_RADIUS)]
    if len(scan) < MIN_VISIBLE:
        return None
    pick = rng.choice(len(scan), n_points, replace=len(scan) < n_points)
    return scan[pick].astype(np.float32)
