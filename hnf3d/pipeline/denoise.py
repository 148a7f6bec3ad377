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

Why sides: a dense, clean scan of thin parts (the slats of a chair's back, 2% thick) has both walls of a slat within
the radius, the fit runs between them and both move onto it (the example chair scan lost most of its back that
way). Given each point's direction out of the shape (`outward`, from the field's prediction), a second fit uses
only the neighbours whose directions agree with the point's (a non-negative dot product): the two walls of a slat
look opposite ways. A point takes that one-sided fit only where it explains its neighbours far better than the fit
across both (residual per degree of freedom below TWO_WALLS times the other's, as for two walls apart by more than
the noise). Where the noise is as large as the part is thick, the prediction's sides split the noise rather than
the walls: fitting each half on its own would pull the halves apart, and there both fits are about as good, so the
point takes the fit across both as without directions.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from .normals import _as_points

__all__ = ["MIN_NEIGHBOURS", "fit_height_quadric", "jet_fit", "jet_project", "quadric_terms"]

MIN_NEIGHBOURS = 12  # a quadric has 6 coefficients: twice as many points to fit it with noise
CHUNK = 2048  # points fitted at a time
#: with directions out of the shape, a point takes its one-sided fit where that fit's residual is below this
#: fraction of the two-sided one's (jet_fit)
TWO_WALLS = 0.5
#: a point without enough neighbours on its own side stays where its fit across the others' residual is above
#: this many times the scan's median one (jet_fit)
ALONE = 3.0


def jet_fit(points, radius: float, k: int = 30, outward=None) -> tuple[np.ndarray, np.ndarray]:
    """Fit each point's neighbourhood in `points` (N, 3) (its k nearest within `radius`, itself included) with a
    quadric height function. outward: optional (N, 3) directions out of the shape at each point; each point is
    then also fitted to the neighbours whose directions agree with its own, and takes that fit where it is far
    better (two walls; module docstring); a point with too few such neighbours, whose fit across the others is
    far worse than the scan's typical fit (ALONE), stays.

    Returns (moved (N, 3) float64: each point with at least MIN_NEIGHBOURS neighbours projected onto its quadric,
    the others unchanged; ratio (N,) float64: the fit's RMS residual / `radius`, NaN where too few neighbours)."""
    from scipy.spatial import cKDTree

    p = _as_points(points).astype(np.float64)
    radius = check_float("radius", radius, min_value=0.0, open_interval=True)
    k = check_int("k", k, min_value=MIN_NEIGHBOURS)
    if outward is not None:
        outward = _as_points(outward, "outward").astype(np.float64)
        if outward.shape != p.shape:
            raise ValueError(f"outward: expected shape {p.shape} (that of points), got {outward.shape}")
    if len(p) < MIN_NEIGHBOURS:
        return p.copy(), np.full(len(p), np.nan)
    tree = cKDTree(p)
    moved, ratio = p.copy(), np.full(len(p), np.nan)
    if outward is not None:  # the one-sided fits, and both fits' residuals per degree of freedom
        side, side_ratio = p.copy(), np.full(len(p), np.nan)
        spread, side_spread = np.full(len(p), np.nan), np.full(len(p), np.nan)
    for lo in range(0, len(p), CHUNK):  # bounded memory: (chunk, k, 6, 6) normal equations at a time
        q = p[lo:lo + CHUNK]
        dist, idx = tree.query(q, k=min(2 * k if outward is not None else k, len(p)))
        moved[lo:lo + CHUNK], ratio[lo:lo + CHUNK] = _fit_within(p, q, dist[:, :k], idx[:, :k], radius)
        if outward is None:
            continue
        # a neighbour looking the other way (the far wall of a thin part) is not one: the k nearest of those that
        # agree among the 2k nearest (>= 0: a point without a direction, a zero vector, keeps every neighbour,
        # and each point always itself)
        agree = np.einsum("nki,ni->nk", outward[idx], outward[lo:lo + CHUNK]) >= 0
        order = np.argsort(np.where(agree, dist, np.inf), axis=1, kind="stable")[:, :k]
        side_dist = np.where(np.take_along_axis(agree, order, 1), np.take_along_axis(dist, order, 1), np.inf)
        side[lo:lo + CHUNK], side_ratio[lo:lo + CHUNK] = _fit_within(p, q, side_dist,
                                                                     np.take_along_axis(idx, order, 1), radius)
        spread[lo:lo + CHUNK] = _per_dof(ratio[lo:lo + CHUNK], dist[:, :k], radius)
        side_spread[lo:lo + CHUNK] = _per_dof(side_ratio[lo:lo + CHUNK], side_dist, radius)
    if outward is None:
        return moved, ratio
    # two walls apart: the one-sided fit explains the points far better than the fit across both (whose residual
    # is about half the walls' distance); noise alone: both fit about equally (splitting the noise by sides would
    # only pull each side's points apart), per degree of freedom since the one-sided fit has fewer points
    two_walls = side_spread < TWO_WALLS * np.where(np.isnan(spread), np.inf, spread)
    moved[two_walls], ratio[two_walls] = side[two_walls], side_ratio[two_walls]
    # too few neighbours on the point's own side to fit, and its fit across them far worse than the scan's
    # typical one: another wall dominates its neighbourhood, and it stays (a merely sparse, noisy part fits
    # about as well as the rest and is smoothed)
    typical = np.nanmedian(np.fmin(spread, side_spread)) if np.isfinite(spread).any() else np.inf
    alone = np.isnan(side_ratio) & (spread > ALONE * typical)
    moved[alone], ratio[alone] = p[alone], np.nan
    return moved, ratio


def _per_dof(ratio: np.ndarray, dist: np.ndarray, radius: float) -> np.ndarray:
    """The RMS residuals / radius `ratio` (M,) of fits to the neighbours within `radius` (dist (M, k)) per degree
    of freedom: sqrt(n / (n - 6)) times larger for n neighbours (a fit to few points follows their noise)."""
    n = (dist <= radius).sum(1)
    return ratio * np.sqrt(n / np.maximum(n - 6, 1))


def _fit_within(p: np.ndarray, q: np.ndarray, dist: np.ndarray, idx: np.ndarray, radius: float):
    """(q (M, 3) with those that have at least MIN_NEIGHBOURS of their neighbours idx (M, k) of p within `radius`
    moved onto their quadrics, the others unchanged; the fits' RMS residual / radius (M,), NaN where unfitted).
    dist (M, k): the neighbours' distances (inf: not a neighbour)."""
    moved, ratio = q.copy(), np.full(len(q), np.nan)
    fit = np.nonzero((dist <= radius).sum(1) >= MIN_NEIGHBOURS)[0]  # on a sparse scan: few or none
    if len(fit):
        moved[fit], ratio[fit] = _fit_chunk(p, q[fit], dist[fit], idx[fit], radius)
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
    design = quadric_terms(u, v)
    coef = fit_height_quadric(design, w, w8)
    residual = np.sqrt((w8 * (np.einsum("nki,ni->nk", design, coef) - w) ** 2).sum(1) / count)
    # the point itself is column 0 of its neighbourhood (distance 0): it moves along w onto the quadric
    height = np.einsum("ni,ni->n", design[:, 0], coef)
    return q + (height - w[:, 0])[:, None] * frame[:, :, 0], residual / radius


def quadric_terms(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(M, k, 6): the terms u^2, uv, v^2, u, v, 1 of a quadric height function at (u, v), each (M, k)."""
    return np.stack([u * u, u * v, v * v, u, v, np.ones_like(u)], -1)


def fit_height_quadric(design: np.ndarray, w: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(M, 6) coefficients (of u^2, uv, v^2, u, v, 1) of the height functions w = q(u, v) fitted by weighted least
    squares to M neighbourhoods of k points each: design (M, k, 6) = quadric_terms(u, v) with u, v (M, k) across
    the fit's axis, w (M, k) along it, weights (M, k) >= 0 (0: not a neighbour). Each neighbourhood needs at least
    6 points of weight > 0 not on one conic; a tiny ridge keeps the others solvable (hnf3d.pipeline.snap uses
    this too)."""
    weighted = np.swapaxes(design * weights[..., None], 1, 2)  # (M, 6, k); batched products: BLAS, not einsum
    return np.linalg.solve(weighted @ design + 1e-12 * np.eye(6), weighted @ w[..., None])[..., 0]


def jet_project(points, radius: float, k: int = 30, iterations: int = 2, min_noise: float = 0.0,
                outward=None) -> tuple[np.ndarray, int, float]:
    """`points` (N, 3) moved onto their neighbourhoods' quadrics `iterations` times: ((N, 3) float32, how many
    points had enough neighbours to move in the first pass, the scan's estimated noise). outward: optional (N, 3)
    directions out of the shape, each point's for all iterations (jet_fit).

    The noise estimate is the median RMS residual of the first pass's fits (NaN when no point has enough
    neighbours). min_noise > 0: a scan whose estimate is below it (or NaN) is returned unmoved (0 points moved).
    Smoothing a clean scan gains nothing and costs its thin parts: where the two walls of a slat share a
    neighbourhood, the fit runs between them and moves both (a clean 9,000-point chair scan lost most of its
    back that way); a noisy scan's estimate is high everywhere, a clean one's only on such parts."""
    p = _as_points(points)
    min_noise = check_float("min_noise", min_noise, min_value=0.0)
    moved, noise = 0, float("nan")
    for i in range(check_int("iterations", iterations, min_value=0)):
        q, ratio = jet_fit(p, radius, k, outward)
        if not i:
            fitted = np.isfinite(ratio)
            moved = int(fitted.sum())
            noise = float(np.median(ratio[fitted]) * radius) if moved else float("nan")
            if min_noise and not noise >= min_noise:
                return p.astype(np.float32), 0, noise
        p = q.astype(np.float32)
    return p, moved, noise
