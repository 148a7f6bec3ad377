"""NumPy point clouds: .npy and .npz.

- .npy: one (N, 3) array (points) or (N, 6) array (points then normals).
- .npz: the Occupancy Networks `pointcloud.npz` layout, keys `points` (N, 3) and optional `normals` (N, 3)
  (other keys such as `loc`/`scale` are ignored); or an archive holding a single array, read like a .npy.
Any real numeric dtype is accepted (ONet stores float16). Files are opened with allow_pickle=False: a file that
holds Python objects is refused, never unpickled (unpickling runs arbitrary code).
"""
from __future__ import annotations

import io
import zipfile
from typing import BinaryIO

import numpy as np

from .errors import FileFormatError, PathLike


def _check_numeric(path: PathLike, name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind not in "fiub":
        raise FileFormatError(path, f"{name} has dtype {arr.dtype}; expected a real numeric array")


def _split_table(path: PathLike, name: str, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) -> points; (N, 6) -> points, normals."""
    _check_numeric(path, name, arr)
    if arr.ndim != 2 or arr.shape[1] not in (3, 6):
        raise FileFormatError(path, f"{name} has shape {arr.shape}; expected (N, 3) points or (N, 6) points + normals")
    return arr[:, :3], (arr[:, 3:6] if arr.shape[1] == 6 else None)


def _load(path: PathLike, data: bytes):
    """np.load without pickle: an ndarray for .npy bytes, an NpzFile for .npz bytes."""
    if not (data.startswith(b"\x93NUMPY") or data.startswith(b"PK")):
        raise FileFormatError(path, "not a NumPy .npy/.npz file (bad magic bytes)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise FileFormatError(path, "holds Python objects (an object array); refusing to unpickle it") from None
        raise FileFormatError(path, f"not a valid NumPy file: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FileFormatError(path, f"not a valid NumPy file: {exc}") from None


def read_npy_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    arr = _load(path, data)
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise FileFormatError(path, "is an .npz archive, not a .npy array; rename it to .npz")
    return _split_table(path, "the array", arr)


def read_npz_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    archive = _load(path, data)
    if isinstance(archive, np.ndarray):
        raise FileFormatError(path, "is a .npy array, not an .npz archive; rename it to .npy")
    with archive:
        keys = list(archive.files)
        try:
            if "points" in keys:
                points = archive["points"]
                normals = archive["normals"] if "normals" in keys else None
            elif len(keys) == 1:
                return _split_table(path, f"array {keys[0]!r}", archive[keys[0]])
            else:
                raise FileFormatError(
                    path, f"no 'points' array and more than one array (keys: {', '.join(keys) or 'none'})"
                )
        except ValueError as exc:
            if isinstance(exc, FileFormatError):
                raise
            if "allow_pickle" in str(exc):
                raise FileFormatError(path, "holds Python objects (an object array); refusing to unpickle it") from None
            raise FileFormatError(path, f"cannot read an array: {exc}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise FileFormatError(path, f"cannot read an array: {exc}") from None
    _check_numeric(path, "'points'", points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise FileFormatError(path, f"'points' has shape {points.shape}; expected (N, 3)")
    if normals is not None:
        _check_numeric(path, "'normals'", normals)
        if normals.shape != points.shape:
            raise FileFormatError(path, f"'normals' has shape {normals.shape} but 'points' has {points.shape}")
    return points, normals


def write_npy_points(handle: BinaryIO, points: np.ndarray, normals: np.ndarray | None = None) -> None:
    """(N, 3) float32, or (N, 6) float32 with normals."""
    table = points if normals is None else np.concatenate([points, normals], axis=1)
    np.save(handle, np.ascontiguousarray(table, dtype=np.float32), allow_pickle=False)


def write_npz_points(handle: BinaryIO, points: np.ndarray, normals: np.ndarray | None = None) -> None:
    """ONet layout: `points` (N, 3) float32 and, when given, `normals` (N, 3) float32."""
    arrays = {"points": np.asarray(points, dtype=np.float32)}
    if normals is not None:
        arrays["normals"] = np.asarray(normals, dtype=np.float32)
    np.savez(handle, **arrays)
