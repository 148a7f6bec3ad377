"""`load_point_cloud` / `save_point_cloud`: pick the reader or writer from the file extension.

Readers return raw (points, normals) in the file's dtype; `finalize_point_cloud` makes the float32 PointCloud
and drops non-finite rows. Writers stream into `atomic_write`, so a failed save leaves no partial file.

The input path is checked first (`errors.check_input_file`: missing, a directory, unreadable -> one-line OSError
naming the file), then the extension, and only then is the file read. Every reader refuses, from its header and
before decoding or decompressing, a file that declares more than MAX_FILE_POINTS (50 million) points or data
that would expand past MAX_DECODED_BYTES (2.4 GB); see errors.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import arrays, pcd, ply, text
from .atomic import atomic_write, check_output_path
from .errors import FileFormatError, PathLike, check_input_file, read_input_file
from .pointcloud import PointCloud, finalize_point_cloud

POINT_CLOUD_READ_EXTENSIONS = (".ply", ".pcd", ".xyz", ".txt", ".pts", ".npy", ".npz")
POINT_CLOUD_WRITE_EXTENSIONS = (".ply", ".xyz", ".txt", ".npy", ".npz")
# Mesh-only formats: loading them as a point cloud would silently ignore the surface (and vertex density is not
# a surface sampling), so the user is pointed to load_mesh instead.
_MESH_ONLY = (".obj", ".off", ".stl", ".glb", ".gltf")


def load_point_cloud(path: PathLike) -> PointCloud:
    """Load a point cloud from .ply, .pcd, .xyz, .txt, .pts, .npy or .npz (extension, case-insensitive).

    Returns points (N, 3) float32 and normals (N, 3) float32 or None. Points with NaN/Inf coordinates or with
    values beyond the float32 range are dropped with a NonFiniteWarning that counts them; NaN/Inf normals drop
    the whole normals array (with a warning).
    Raises FileNotFoundError for a missing file (or an empty name), IsADirectoryError for a directory,
    PermissionError for an unreadable file (all one line, starting with the path); FileFormatError (a ValueError,
    message starting with the path) for an unknown extension, a mesh-only format, an empty or malformed file,
    truncated data, a wrong array shape, more than MAX_FILE_POINTS points or MAX_DECODED_BYTES of decoded data,
    or a file without any usable point.
    """
    file = check_input_file(path)
    ext = file.suffix.lower()
    if ext in _MESH_ONLY:
        raise FileFormatError(
            file, f"{ext} is a mesh format: use hnf3d.io.load_mesh() and sample its surface to get a point cloud"
        )
    if ext not in POINT_CLOUD_READ_EXTENSIONS:
        supported = ", ".join(POINT_CLOUD_READ_EXTENSIONS)
        raise FileFormatError(file, f"unknown point cloud extension {ext or '(none)'!r}; supported: {supported}")
    data = read_input_file(file)
    if not data:
        raise FileFormatError(file, "empty file")
    points, normals = _read(ext, file, data)
    return finalize_point_cloud(file, points, normals)


def _read(ext: str, file: Path, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    # Module-attribute calls (not a table of function objects) so tests can monkeypatch one reader.
    if ext == ".ply":
        return ply.read_ply_points(file, data)
    if ext == ".pcd":
        return pcd.read_pcd_points(file, data)
    if ext in (".xyz", ".txt", ".pts"):
        return text.read_text_points(file, data, ext[1:])
    if ext == ".npy":
        return arrays.read_npy_points(file, data)
    return arrays.read_npz_points(file, data)


def _write(ext: str, handle: BinaryIO, points: np.ndarray, normals: np.ndarray | None) -> None:
    if ext == ".ply":
        ply.write_ply_points(handle, points, normals)
    elif ext in (".xyz", ".txt"):
        text.write_text_points(handle, points, normals)
    elif ext == ".npy":
        arrays.write_npy_points(handle, points, normals)
    else:
        arrays.write_npz_points(handle, points, normals)


def save_point_cloud(cloud: PointCloud | np.ndarray, path: PathLike, normals: np.ndarray | None = None) -> None:
    """Save atomically to .ply (binary little endian float32), .xyz/.txt (ascii), .npy or .npz (ONet keys).

    cloud: a PointCloud, or an array of points (N, 3), or (N, 6) points + normals; `normals` (N, 3) may be given
    with a plain array (not with a PointCloud that has its own). The output directory must exist. On any error
    no output (and no temporary file) is left behind and an existing file at `path` is unchanged.
    """
    if isinstance(cloud, PointCloud):
        if normals is not None and cloud.normals is not None:
            raise ValueError("normals given twice: the PointCloud already has normals")
        pc = PointCloud(cloud.points, cloud.normals if normals is None else normals)
    else:
        table = np.asarray(cloud)
        if normals is None and table.ndim == 2 and table.shape[1] == 6:
            pc = PointCloud(table[:, :3], table[:, 3:])
        else:
            pc = PointCloud(table, normals)
    out = check_output_path(path)
    ext = out.suffix.lower()
    if ext not in POINT_CLOUD_WRITE_EXTENSIONS:
        raise ValueError(
            f"{out}: cannot write point clouds as {ext or '(no extension)'!r}; "
            f"supported: {', '.join(POINT_CLOUD_WRITE_EXTENSIONS)}"
        )
    with atomic_write(out) as handle:
        _write(ext, handle, pc.points, pc.normals)
