"""Normals of a raw point cloud: estimation (PCA of the k nearest neighbours) and consistent orientation.

Scans rarely come with normals, and the test-time refinement (hnf3d.pipeline.refine) needs oriented ones to label space by
the point cloud's winding number. Orientation follows Hoppe et al. (1992), as Open3D's
`orient_normals_consistent_tangent_plane` does: build the k-nearest-neighbour graph with edge cost
1 - |n_i . n_j|, take its minimum spanning tree (flipping along a tree edge is trustworthy where the tangent
planes agree), and propagate signs along it. Each connected part of the graph gets its own global sign: from
`outward` when given (e.g. the negative gradient of a trusted occupancy field), else by a vote of the part's
convex-hull points, whose outward normals point away from the part's centroid.

Where a trusted occupancy field exists (a model's prediction, before refinement), `orient_normals_by_field` lets it
vote per point instead, smoothed over the same neighbour graph: thin parts, whose two walls lie within the noise of
each other, defeat the tree's propagation but not the field's gradient.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

__all__ = ["estimate_normals", "orient_normals", "orient_normals_by_field"]

ACROSS_SCALE = 0.25  # field orientation: neighbours whose edge runs across the normals by more than this barely vote
ACROSS_WEIGHT = 1.0  # measured on the real meshes of ../shared/data/real: 0.5 to 2 all orient 99.5% right


def _as_points(points, name: str = "points", dtype=np.float32) -> np.ndarray:
    """`points` (a tensor or array-like) as a contiguous (N, 3) array of `dtype`; ValueError naming `name`."""
    p = np.asarray(points.detach().cpu().numpy() if hasattr(points, "detach") else points, dtype=dtype)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name}: expected shape (N, 3), got {p.shape}")
    return np.ascontiguousarray(p)


def _knn_index(points: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of each point's k nearest OTHER points."""
    from ..ops import knn

    k_eff = min(k + 1, len(points))
    idx = knn(points, points, k=k_eff).index
    idx = np.asarray(idx.cpu().numpy() if hasattr(idx, "cpu") else idx)
    return idx[:, 1:]  # column 0 is the point itself (distance 0; duplicates were removed by the caller)


def _neighbour_edges(p: np.ndarray, n: np.ndarray, k: int):
    """The k-nearest-neighbour graph of points p (N, 3) with unit normals n (N, 3), as (idx (N, k'), rows (E,),
    cols (E,), cos (E,) = n_row . n_col, across (E,)): `across` is how much the edge runs along the two normals
    (mean |d . n| for the edge's unit direction d), large between the two walls of a thin part."""
    idx = _knn_index(p, k)
    rows = np.repeat(np.arange(len(p)), idx.shape[1])
    cols = idx.reshape(-1)
    d = p[cols] - p[rows]
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    cos = np.einsum("ij,ij->i", n[rows], n[cols])
    across = 0.5 * (np.abs(np.einsum("ij,ij->i", d, n[rows])) + np.abs(np.einsum("ij,ij->i", d, n[cols])))
    return idx, rows, cols, cos, across


def estimate_normals(points, k: int = 16) -> np.ndarray:
    """Unoriented unit normals, shape (N, 3) float32: the direction of least variance of each point's k nearest
    neighbours (and itself). points: (N, 3) with N >= 3; k >= 2."""
    p = _as_points(points)
    if len(p) < 3:
        raise ValueError(f"points: need at least 3 points to estimate normals, got {len(p)}")
    if k < 2:
        raise ValueError(f"k: expected an integer >= 2, got {k!r}")
    idx = _knn_index(p, k)
    nb = np.concatenate([p[:, None, :], p[idx]], 1).astype(np.float64)  # (N, k+1, 3)
    nb -= nb.mean(1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", nb, nb)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues: column 0 is the normal
    return vecs[:, :, 0].astype(np.float32)


def _hull_vote(p: np.ndarray, n: np.ndarray) -> float:
    """Sum over the convex-hull points of a part of n . (p - centre): positive when the normals point outwards.
    At a point of the convex hull the outward normal points away from the part's interior, so the sign of the
    part is decided by all of its hull points (robust to a few noisy ones) rather than by one extreme point."""
    from scipy.spatial import ConvexHull, QhullError

    centre = p.mean(0)
    try:
        hull = ConvexHull(p).vertices if len(p) >= 4 else np.arange(len(p))
    except (QhullError, ValueError):  # flat or degenerate part: every point is on its hull
        hull = np.arange(len(p))
    d = p[hull] - centre
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return float(np.sign(np.einsum("ij,ij->i", n[hull], d)).sum())


def orient_normals(points, normals, k: int = 10,
                   outward: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """Consistently oriented copies of `normals` (N, 3), see the module docstring.

    points: (N, 3) without duplicates. k: neighbours of the graph. outward: optional callable mapping the points
    (M, 3) of a part to (M, 3) directions that point out of the shape (any length); each part takes the sign that
    agrees with them on the (length-weighted) majority. Returns (N, 3) float32.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

    p = _as_points(points)
    n = _as_points(normals, "normals").astype(np.float64)
    if n.shape != p.shape:
        raise ValueError(f"normals: expected shape {p.shape} (that of points), got {n.shape}")
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    N = len(p)
    if N < 2:
        return n.astype(np.float32)
    _, rows, cols, cos, across = _neighbour_edges(p, n, k)
    # cost 1 - |cos|: small where tangent planes agree; plus how much the edge runs along the normals, so that the
    # tree avoids jumping across a thin wall (two sides with parallel planes but opposite normals); + eps keeps
    # zero-cost edges in the sparse graph
    cost = 1.0 - np.abs(cos) + ACROSS_WEIGHT * across + 1e-6
    graph = coo_matrix((cost, (rows, cols)), shape=(N, N)).tocsr()
    graph = graph.maximum(graph.T)
    tree = minimum_spanning_tree(graph)
    tree = (tree + tree.T).tocsr()
    n_parts, part = connected_components(tree, directed=False)
    for label in range(n_parts):
        members = np.nonzero(part == label)[0]
        root = members[0]
        order, parent = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        for node in order[1:]:  # parents come before children in BFS order
            if np.dot(n[node], n[parent[node]]) < 0:
                n[node] = -n[node]
        if outward is not None:
            ref = np.asarray(outward(p[members]), dtype=np.float64).reshape(len(members), 3)
            vote = np.einsum("ij,ij->", n[members], ref)
        else:
            vote = _hull_vote(p[members], n[members])
        if vote < 0:
            n[members] = -n[members]
    return n.astype(np.float32)


def orient_normals_by_field(points, normals, outward, k: int = 10, trust: float = 0.2,
                            iterations: int = 20) -> np.ndarray:
    """Normals (N, 3) flipped to point the way `outward` (N, 3) says, smoothed over the neighbour graph.

    outward: directions out of the shape at each point, e.g. the negative gradient of a predicted occupancy (the
    hypernetwork field's prior). Per point, a = n . outward / |outward| in [-1, 1] is the prior's vote (its size
    is its confidence: a normal across the predicted surface votes strongly, one along it barely). The votes are
    smoothed `iterations` times over the k-nearest-neighbour graph, s <- trust * a + (1 - trust) * weighted mean
    over neighbours j of s_j sign(n_i . n_j), weighted by |n_i . n_j| exp(-(a_ij / ACROSS_SCALE)^2), where a_ij
    is how much the edge runs along the normals (as in `orient_normals`): a neighbour on the other wall of a thin
    part does not vote. n_i is flipped where s_i < 0.

    Unlike the spanning-tree propagation, one wrong flip cannot carry across a thin part (two walls a noise width
    apart), which is where the tree fails: on chair and table shapes it orients about half of the normals wrong.
    Returns (N, 3) float32 unit normals."""
    p = _as_points(points)
    n = _as_points(normals, "normals").astype(np.float64)
    o = _as_points(outward, "outward").astype(np.float64)
    if n.shape != p.shape or o.shape != p.shape:
        raise ValueError(f"normals, outward: expected shape {p.shape} (that of points), got {n.shape}, {o.shape}")
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    o /= np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-12)
    vote = np.einsum("ij,ij->i", n, o)
    N = len(p)
    if N < 2:
        return np.where(vote[:, None] < 0, -n, n).astype(np.float32)
    idx, _, _, cos, across = _neighbour_edges(p, n, k)
    # a neighbour on the other wall of a thin part sits across the normals: its vote must not count
    weight = (np.abs(cos) * np.exp(-(across / ACROSS_SCALE) ** 2)).reshape(N, -1)
    signed = (weight * np.sign(cos).reshape(N, -1))
    total = np.maximum(weight.sum(1), 1e-12)
    s = vote.copy()
    for _ in range(int(iterations)):
        s = trust * vote + (1.0 - trust) * (signed * s[idx]).sum(1) / total
    return np.where(s[:, None] < 0, -n, n).astype(np.float32)
