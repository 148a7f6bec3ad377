"""The peer baseline: Open3D's screened Poisson reconstruction of a point cloud, as the benchmarks run it."""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

__all__ = ["poisson_baseline"]


def poisson_baseline(points, depth: int = 8, density_quantile: Optional[float] = None, *, neighbours: int = 30):
    """Open3D screened Poisson reconstruction of `points` (N, 3): (trimesh.Trimesh, timings in seconds).

    Normals are estimated from `neighbours` nearest neighbours and oriented by consistent tangent planes (Open3D's
    own pipeline, what its users run); density_quantile q in [0, 1): drop the vertices whose Poisson density is
    below the q-quantile (trims the surface Poisson invents far from the points). Raises ImportError without
    open3d."""
    import open3d as o3d
    import trimesh

    if density_quantile is not None and not 0.0 <= density_quantile < 1.0:
        raise ValueError(f"density_quantile: expected a quantile in [0, 1), got {density_quantile!r}")
    t = {}
    t0 = time.perf_counter()
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64).reshape(-1, 3)))
    pc.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(neighbours))
    t["normals"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pc.orient_normals_consistent_tangent_plane(neighbours)
    t["orient"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pc, depth=int(depth))
    t["poisson"] = time.perf_counter() - t0
    if density_quantile:
        d = np.asarray(densities)
        if d.size:
            mesh.remove_vertices_by_mask(d < np.quantile(d, density_quantile))
    return trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.triangles), process=False), t
