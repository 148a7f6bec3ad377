"""hnf3d.io: reading and writing point clouds and meshes.

Point clouds (`PointCloud`: points (N, 3) float32, normals (N, 3) float32 or None):
    load_point_cloud(path)   .ply (ascii/binary, own parser), .pcd (ascii/binary/binary_compressed),
                             .xyz/.txt/.pts (text), .npy, .npz (Occupancy Networks keys)
    save_point_cloud(cloud, path, normals=None)   .ply (binary LE), .xyz/.txt, .npy, .npz
Meshes (trimesh.Trimesh):
    load_mesh(path)          .obj/.off/.ply/.stl/.glb/.gltf, geometry kept as in the file
    save_mesh(mesh, path)    .ply/.obj/.off/.stl/.glb

Problems with a file's content raise FileFormatError (a ValueError whose message starts with the path); dropped
NaN/Inf data is reported with NonFiniteWarning. Every save is atomic (temp file, fsync, rename).
"""
from __future__ import annotations

from .atomic import atomic_write
from .errors import FileFormatError, NonFiniteWarning
from .lzf import LZFError, lzf_decompress
from .mesh import MESH_READ_EXTENSIONS, MESH_WRITE_EXTENSIONS, load_mesh, mesh_arrays, save_mesh
from .point_cloud_io import (
    POINT_CLOUD_READ_EXTENSIONS,
    POINT_CLOUD_WRITE_EXTENSIONS,
    load_point_cloud,
    save_point_cloud,
)
from .pointcloud import PointCloud

__all__ = [
    "PointCloud",
    "load_point_cloud",
    "save_point_cloud",
    "load_mesh",
    "save_mesh",
    "mesh_arrays",
    "FileFormatError",
    "NonFiniteWarning",
    "atomic_write",
    "lzf_decompress",
    "LZFError",
    "POINT_CLOUD_READ_EXTENSIONS",
    "POINT_CLOUD_WRITE_EXTENSIONS",
    "MESH_READ_EXTENSIONS",
    "MESH_WRITE_EXTENSIONS",
]
