"""hnf3d.io: reading and writing point clouds and meshes.

Point clouds (`PointCloud`: points (N, 3) float32, normals (N, 3) float32 or None):
    load_point_cloud(path)   .ply (ascii/binary, own parser), .pcd (ascii/binary/binary_compressed),
                             .xyz/.txt/.pts (text), .npy, .npz (Occupancy Networks keys)
    save_point_cloud(cloud, path, normals=None)   .ply (binary LE), .xyz/.txt, .npy, .npz
Meshes (trimesh.Trimesh):
    load_mesh(path)          .obj/.off/.ply/.stl/.glb/.gltf, geometry kept as in the file
    save_mesh(mesh, path)    .ply/.obj/.off/.stl/.glb
    is_mesh_file(path)       True for a file with faces (any mesh extension, or a PLY with a face element)
Images (PIL, imported on first use):
    read_image(path)         decoded image; its header's size checked against MAX_IMAGE_PIXELS before decoding
    to_rgb8(image)           8-bit RGB from any PIL mode or pixel array (alpha over white, 16-bit scaled)

Problems with a file's content raise FileFormatError (a ValueError whose message starts with the path); dropped
NaN/Inf data and values beyond the float32 range are reported with NonFiniteWarning. Path problems are one-line
OSErrors starting with the path (check_input_file): FileNotFoundError (missing file, empty name),
IsADirectoryError, PermissionError.

Limits (errors.py): a file declaring more than MAX_FILE_POINTS (50 million) points, or an array, .npz member or
compressed PCD block that would expand past MAX_DECODED_BYTES (2.4 GB), is refused from its header, before
anything is allocated or decompressed; pickled (object) arrays are never loaded.

Every save is atomic (temp file `.<name>.hnf3d-tmp.<host>.<pid>.<random>` beside the output, fsync, rename); a
temp file left by a killed writer is removed by the next save to the same output (atomic.py).
"""
from __future__ import annotations

from .atomic import atomic_write
from .errors import MAX_DECODED_BYTES, MAX_FILE_POINTS, FileFormatError, NonFiniteWarning, check_input_file
from .image import MAX_IMAGE_PIXELS, read_image, to_rgb8
from .lzf import LZFError, lzf_decompress
from .mesh import MESH_READ_EXTENSIONS, MESH_WRITE_EXTENSIONS, is_mesh_file, load_mesh, mesh_arrays, save_mesh
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
    "is_mesh_file",
    "read_image",
    "to_rgb8",
    "MAX_IMAGE_PIXELS",
    "FileFormatError",
    "NonFiniteWarning",
    "atomic_write",
    "check_input_file",
    "MAX_FILE_POINTS",
    "MAX_DECODED_BYTES",
    "lzf_decompress",
    "LZFError",
    "POINT_CLOUD_READ_EXTENSIONS",
    "POINT_CLOUD_WRITE_EXTENSIONS",
    "MESH_READ_EXTENSIONS",
    "MESH_WRITE_EXTENSIONS",
]
