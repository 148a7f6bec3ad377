"""Scan denoising by local quadric (jet) projection within a fixed radius.

Each point's neighbours within `radius` (at most k of them, the point included) are put in their PCA frame (u, v
along the neighbourhood, w across it) and the height function w = a u^2 + b uv + c v^2 + d u + e v + f is fitted
by least squares; the point moves along w onto the fitted quadric (a "jet", Cazals and Pouget 2005, of degree 2).
A plane fit would pull every point towards the chord of a curved neighbourhood (a bias of about curvature x
radius^2 / 4); the quadric has no such first-order bias.

Why a fixed radius and not k neighbours: projection cannot tell noise from two walls of a thin part that share a
neighbourhood, and it merges them. Within a small radius (a few % of the object) a dense, noisy scan has plenty of
points to average its noise over, while a sparse sampling (3000 points of a chair) has too few (fewer than
MIN_NEIGHBOURS) and is left as it is: the k nearest neighbours of a sparse chair reach across its seat and legs,
and projecting them erased those parts (benchmarks/results/refine-settings-local-terms.json).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from .normals import _as_points

__all__ = ["MIN_NEIGHBOURS", "jet_fit", "jet_project"]

MIN_NEIGHBOURS = 12  # a quadric has 6 coefficients: twice as many points to fit it with noise
CHUNK = 2048  # points fitted at a time


def jet_fit(points, radius: float, k: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Fit each point's neighbourhood in `points` (N, 3) (its k nearest within `radius`, itself included) with a
    quadric height function.

    Returns (moved (N, 3) float64: each point with at least MIN_NEIGHBOURS neighbours projected onto its quadric,
    the others unchanged; ratio (N,) float64: the fit's RMS residual / `radius`, NaN where too few neighbours)."""
    from scipy.spatial import cKDTree

    p = _as_points(points).astype(np.float64)
    radius = check_float("radius", radius, min_value=0.0, open_interval=True)
    k = check_int("k", k, min_value=MIN_NEIGHBOURS)
    if len(p) < MIN_NEIGHBOURS:
        return p.copy(), np.full(len(p), np.nan)
    tree = cKDTree(p)
    moved, ratio = p.copy(), np.full(len(p), np.nan)
    for lo in range(0, len(p), CHUNK):  # bounded memory: (chunk, k, 6, 6) normal equations at a time
        dist, idx = tree.query(p[lo:lo + CHUNK], k=min(k, len(p)))
        # only the points with enough neighbours are fitted (on a sparse scan: few or none)
        fit = np.nonzero((dist <= radius).sum(1) >= MIN_NEIGHBOURS)[0]
        if len(fit):
            moved[lo + fit], ratio[lo + fit] = _fit_chunk(p, p[lo + fit], dist[fit], idx[fit], radius)
    return moved, ratio


def _fit_chunk(p: np.ndarray, q: np.ndarray, dist: np.ndarray, idx: np.ndarray, radius: float):
    """(q (M, 3) moved onto their quadrics, RMS residual / radius (M,)) for points q whose k nearest points of p
    are idx (M, k) at distances dist (M, k), each with at least MIN_NEIGHBOURS of them within `radius`."""
    w8 = (dist <= radius).astype(np.float64)  # (M, k) 1 for a neighbour within the radius
    count = w8.sum(1)
    nb = p[idx]
    centre = (w8[..., None] * nb).sum(1) / count[:, None]
    local = (nb - centre[:, None]) * w8[..., None]  # points beyond the radius contribute nothing
    _, frame = np.linalg.eigh(np.einsum("nki,nkj->nij", local, local))  # columns: w (least variance), v, u
    w, v, u = np.moveaxis(np.einsum("nki,nij->nkj", nb - centre[:, None], frame), -1, 0)  # each (M, k)
    design = np.stack([u * u, u * v, v * v, u, v, np.ones_like(u)], -1)  # (M, k, 6)
    normal_eq = np.einsum("nk,nki,nkj->nij", w8, design, design) + 1e-12 * np.eye(6)
    coef = np.linalg.solve(normal_eq, np.einsum("nk,nki,nk->ni", w8, design, w)[..., None])[..., 0]  # (M, 6)
    residual = np.sqrt((w8 * (np.einsum("nki,ni->nk", design, coef) - w) ** 2).sum(1) / count)
    # the point itself is column 0 of its neighbourhood (distance 0): it moves along w onto the quadric
    height = np.einsum("ni,ni->n", design[:, 0], coef)
    return q + (height - w[:, 0])[:, None] * frame[:, :, 0], residual / radius


def jet_project(points, radius: float, k: int = 30, iterations: int = 2,
                min_noise: float = 0.0) -> tuple[np.ndarray, int, float]:
    """`points` (N, 3) moved onto their neighbourhoods' quadrics `iterations` times: ((N, 3) float32, how many
    points had enough neighbours to move in the first pass, the scan's estimated noise).

    The noise estimate is the median RMS residual of the first pass's fits (NaN when no point has enough
    neighbours). min_noise > 0: a scan whose estimate is below it (or NaN) is returned unmoved (0 points moved).
    Smoothing a clean scan gains nothing and costs its thin parts: where the two walls of a slat share a
    neighbourhood, the fit runs between them and moves both (a clean 9,000-point chair scan lost most of its
    back that way); a noisy scan's estimate is high everywhere, a clean one's only on such parts."""
    p = _as_points(points)
    min_noise = check_float("min_noise", min_noise, min_value=0.0)
    moved, noise = 0, float("nan")
    for i in range(check_int("iterations", iterations, min_value=0)):
        q, ratio = jet_fit(p, radius, k)
        if not i:
            fitted = np.isfinite(ratio)
            moved = int(fitted.sum())
            noise = float(np.median(ratio[fitted]) * radius) if moved else float("nan")
            if min_noise and not noise >= min_noise:
                return p.astype(np.float32), 0, noise
        p = q.astype(np.float32)
    return p, moved, noise
