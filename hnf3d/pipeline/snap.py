"""The refined mesh's vertices moved onto the scan: a moving-least-squares projection after extraction.

The refined task network is a small one (a 64^2 triplane of 16 channels, a 64-wide MLP) pulled towards the field's
prediction, so its surface is a smooth fit of the scan that stays about 1% off where the scan curves sharply or is
noisy: most of what F@1% counts as imprecise on a refined mesh lies just beyond that distance from the truth
(benchmarks/results/refine-settings-local-snap.json has what snapping gains). Where the scan has points all
around a vertex, the points say better where the surface is: the vertex moves along its normal onto a quadric
height function w(u, v) fitted by least squares to its neighbours, in the frame of its normal (u, v across it, w
along it), at w(0, 0). That is the MLS projection of point-set surfaces (Levin 2003; Alexa et al. 2003) with a
degree-2 fit (a plane would pull the vertex towards the chord of a curved neighbourhood). Where the scan has no
points (a hole, the back of a single view) the network's surface stays: only the vertex positions change, so a
watertight mesh stays watertight.

A vertex keeps its place, or moves less, where the fit would not be about the surface under it:
- the far wall of a thin part is not a neighbour: a point counts only where its normal, oriented like the normal
  of the mesh vertex nearest to it, agrees with the vertex's (a non-negative dot product);
- fewer than MIN_NEIGHBOURS such points within `radius`: no move; up to twice as many: part of the move, so that
  the snapped region blends into the rest;
- the neighbours' centroid far from the vertex across its normal (more than EDGE times their RMS distance from
  it): the vertex is at the edge of the scan (a hole's rim, a partial scan's border), where the quadric would be
  extrapolated;
- at most `radius` along the normal.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from .denoise import MIN_NEIGHBOURS, fit_height_quadric, quadric_terms
from .normals import _as_points

__all__ = ["snap_to_points"]

CHUNK = 4096  # vertices fitted at a time: (chunk, k, 6, 6) normal equations
#: a vertex whose neighbours' centroid is farther than this times their RMS distance across its normal stays
#: (about 0.6 on the straight rim of a scan; 1 / sqrt(2 n) on average for n neighbours all around)
EDGE = 0.5


def snap_to_points(vertices, vertex_normals, points, point_normals, radius: float,
                   k: int = 30) -> tuple[np.ndarray, int]:
    """(vertices (V, 3) float64 moved onto the scan `points` (N, 3), how many moved) (module docstring).

    vertex_normals (V, 3): the mesh's normals at its vertices (either orientation, consistent over the mesh);
    point_normals (N, 3): the points' normals, either orientation (each is oriented like the vertex normal
    nearest to its point). radius > 0: the neighbourhood of each vertex's fit and the most it moves (the
    normalised frame's units); k >= MIN_NEIGHBOURS: the most neighbours per fit."""
    from scipy.spatial import cKDTree

    v = _as_points(vertices, "vertices", np.float64)
    nv = _as_points(vertex_normals, "vertex_normals", np.float64)
    p = _as_points(points, "points", np.float64)
    n = _as_points(point_normals, "point_normals", np.float64)
    radius = check_float("radius", radius, min_value=0.0, open_interval=True)
    k = check_int("k", k, min_value=MIN_NEIGHBOURS)
    if nv.shape != v.shape:
        raise ValueError(f"vertex_normals: expected shape {v.shape} (that of vertices), got {nv.shape}")
    if n.shape != p.shape:
        raise ValueError(f"point_normals: expected shape {p.shape} (that of points), got {n.shape}")
    out = v.copy()
    if len(p) < MIN_NEIGHBOURS or not len(v):
        return out, 0
    length = np.linalg.norm(nv, axis=1, keepdims=True)
    nv = nv / np.maximum(length, 1e-12)  # a vertex of only zero-area faces has no normal (length 0): it stays
    _, nearest = cKDTree(v).query(p, workers=-1)
    n = n * np.where(np.einsum("ni,ni->n", n, nv[nearest]) < 0, -1.0, 1.0)[:, None]
    tree = cKDTree(p)
    # only vertices with a point within the radius can have neighbours: the others are not fitted at all
    near = np.nonzero(np.isfinite(tree.query(v, k=1, distance_upper_bound=radius, workers=-1)[0])
                      & (length[:, 0] > 1e-12))[0]
    moved = 0
    for lo in range(0, len(near), CHUNK):
        rows = near[lo:lo + CHUNK]
        dist, idx = tree.query(v[rows], k=min(k, len(p)), workers=-1)
        height, weight = _heights(v[rows], nv[rows], p, n, dist, idx, radius)
        out[rows] += (weight * np.clip(height, -radius, radius))[:, None] * nv[rows]
        moved += int((weight > 0).sum())
    return out, moved


def _heights(v: np.ndarray, nv: np.ndarray, p: np.ndarray, n: np.ndarray, dist: np.ndarray, idx: np.ndarray,
             radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(the height (M,) of the quadric fitted to each vertex's neighbours above the vertex v (M, 3) along its unit
    normal nv (M, 3), the share (M,) in [0, 1] of that move the vertex makes). idx, dist (M, k): its nearest
    points of p (N, 3) (normals n (N, 3), oriented) and their distances."""
    agree = np.einsum("mki,mi->mk", n[idx], nv) >= 0
    w8 = ((dist <= radius) & agree).astype(np.float64)  # (M, k) 1 for a neighbour on the vertex's side
    count = w8.sum(1)
    # the tangent frame (t1, t2) of each normal: t1 is across the normal from whichever axis is least parallel
    axis = np.where(np.abs(nv[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t1 = np.cross(nv, axis)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(nv, t1)
    d = p[idx] - v[:, None]  # (M, k, 3)
    u, s, w = (np.einsum("mki,mi->mk", d, e) for e in (t1, t2, nv))
    height = np.zeros(len(v))
    fit = count >= MIN_NEIGHBOURS
    if fit.any():
        coef = fit_height_quadric(quadric_terms(u[fit], s[fit]), w[fit], w8[fit])
        height[fit] = coef[:, 5]  # the constant term: w(0, 0)
    share = np.clip((count - MIN_NEIGHBOURS) / MIN_NEIGHBOURS, 0.0, 1.0)  # 0 below MIN_NEIGHBOURS
    # at the edge of the scan the neighbours lie to one side: their centroid is far from the vertex across nv,
    # measured against how far they spread (the k nearest of a dense scan lie well within the radius)
    across = np.hypot((w8 * u).sum(1), (w8 * s).sum(1)) / np.maximum(count, 1.0)
    spread = np.sqrt((w8 * (u * u + s * s)).sum(1) / np.maximum(count, 1.0))
    share[across > EDGE * spread] = 0.0
    return height, share
