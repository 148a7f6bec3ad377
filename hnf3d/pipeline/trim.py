"""Trimming: drop the parts of a reconstruction that no scan point supports (an open mesh, by request).

A reconstruction is watertight: where the scan saw nothing (the back of a single view, a missing part, the gap
between a chair's legs) the surface is the field's guess. A user who wants only what the scan shows asks for the
faces farther than `distance` from every point to be dropped, as Open3D users trim a Poisson surface by its density
and NKSR masks its mesh by the distance to the input. The result is open where faces were dropped; the
reconstructor says how many (hnf3d.pipeline.reconstructor.Reconstructor.reconstruct, `trim`).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_float

__all__ = ["TRIM_DISTANCE", "trim_reconstruction", "trim_unsupported"]

#: the distance a user gets when asking for trimming without one (tools/reconstruct.py --trim), in the normalised
#: frame: chosen on the project's validation shapes, their dense and partial scans included, by
#: benchmarks/refine_settings.py --study trim (benchmarks/results/refine-settings-local-trim.json); smaller distances
#: cut the surface between the points of a sparse scan
TRIM_DISTANCE = 0.05


def trim_unsupported(mesh, points: np.ndarray, distance: float):
    """(mesh without the faces whose centroid lies farther than `distance` from every point of `points` (N, 3),
    number of faces dropped). mesh: a trimesh.Trimesh in the points' frame; its unreferenced vertices go too.
    When no face lies within `distance` of a point the mesh is returned whole: trimming would leave nothing."""
    from scipy.spatial import cKDTree

    distance = check_float("trim", distance, min_value=0.0, open_interval=True)
    if not len(mesh.faces) or not len(points):
        return mesh, 0
    dist, _ = cKDTree(np.asarray(points, dtype=np.float64)).query(mesh.triangles_center,
                                                                  distance_upper_bound=distance)
    keep = np.isfinite(dist)  # cKDTree reports inf beyond the bound
    if keep.all() or not keep.any():
        return mesh, 0
    out = mesh.copy()
    out.update_faces(keep)
    out.remove_unreferenced_vertices()
    return out, int((~keep).sum())


def trim_reconstruction(mesh, points: np.ndarray, distance: float):
    """(`mesh`, as Reconstructor.reconstruct(points, ..., trim=distance) returns it, number of faces dropped) for a
    watertight `mesh` that reconstruct(points, ...) returned: `distance` is in the normalised frame, i.e.
    distance x the normalisation's scale (mesh.metadata["hnf3d"]["scale"]) in the points' frame. Lets a study trim
    one refined mesh at several distances without refining it again."""
    return trim_unsupported(mesh, points, distance * mesh.metadata["hnf3d"]["scale"])
