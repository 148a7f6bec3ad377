"""Geometry query ops: sampling, winding numbers, occupancy, closest points, k-NN, ray casting.

Each op takes numpy arrays or torch tensors and returns torch tensors on the queries' device. The backend is
chosen in one place per op (its `_dispatch`): Triton kernels on CUDA, the fastest measured library on CPU,
and an exact chunked torch reference that is also the test oracle. Pass backend='torch' | 'cpu' | 'triton' to
force one.
"""
from .cast_rays import RayHits, cast_rays
from .closest_point import ClosestPoint, closest_point
from .knn import KNN, knn
from .occupancy import choose_method, occupancy
from .point_cloud_winding_number import estimate_point_areas, point_cloud_winding_number
from .sample_surface import (
    SurfaceSamples, sample_exposed_surface, sample_near_surface, sample_surface, sample_uniform,
)
from .winding_number import winding_number

__all__ = [
    "KNN", "ClosestPoint", "RayHits", "SurfaceSamples",
    "cast_rays", "choose_method", "closest_point", "estimate_point_areas", "knn", "occupancy",
    "point_cloud_winding_number", "sample_exposed_surface", "sample_near_surface", "sample_surface", "sample_uniform", "winding_number",
]
