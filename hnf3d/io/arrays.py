"""NumPy point clouds: .npy and .npz.

- .npy: one (N, 3) array (points) or (N, 6) array (points then normals).
- .npz: the Occupancy Networks `pointcloud.npz` layout, keys `points` (N, 3) and optional `normals` (N, 3)
  (other keys such as `loc`/`scale` are ignored and never decompressed); or an archive holding a single array,
  read like a .npy.
Any real numeric dtype is accepted (ONet stores float16).

Reading does not go through np.load. The .npy header (magic, version, dtype, shape) is parsed first with
numpy.lib.format, and the array is refused before anything is allocated when it holds Python objects (never
unpickled: unpickling runs arbitrary code), is not a real numeric (N, 3) / (N, 6) table, declares more than
MAX_FILE_POINTS rows or more than MAX_DECODED_BYTES bytes (see errors.py), or declares a size that differs from
the bytes actually present. In an .npz, each member's uncompressed size in the zip directory is checked against
MAX_DECODED_BYTES before it is inflated, and its data is read in chunks into an array of exactly the declared
size, so a zip bomb cannot expand past what its header states.
"""
from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from .errors import FileFormatError, PathLike, check_decoded_size, check_point_count

_CHUNK = 1 << 24  # bytes inflated per read: the peak beyond the array itself
# What zipfile and its decompressors raise on damaged archives (lzma/bz2 errors are OSError/ValueError or below).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
               zlib.error, struct.error, ValueError)
_TABLE = "expected (N, 3) points or (N, 6) points + normals"


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class _NpyHeader:
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool
    offset: int  # bytes of magic + header, where the data starts

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read_header(path: PathLike, name: str, stream: BinaryIO) -> _NpyHeader:
    """Parse the .npy header at the start of `stream` and check that it describes a real numeric array."""
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:  # 3.0 only adds utf-8 field names, i.e. structured arrays, which are refused anyway
            raise FileFormatError(path, f"{name}: .npy format version {version[0]}.{version[1]} is not supported")
        offset = stream.tell()
    except FileFormatError:
        raise
    except (RecursionError, *_ZIP_ERRORS) as exc:  # RecursionError: a deeply nested header literal
        raise FileFormatError(path, f"not a valid NumPy file: {name}: {_one_line(exc)}") from None
    if dtype.hasobject:
        raise FileFormatError(path, f"{name} holds Python objects (an object array); refusing to unpickle it")
    if dtype.kind not in "fiub":
        raise FileFormatError(path, f"{name} has dtype {dtype}; expected a real numeric array")
    if any(n < 0 for n in shape):
        raise FileFormatError(path, f"not a valid NumPy file: {name} has a negative dimension in its shape {shape}")
    return _NpyHeader(dtype, tuple(shape), fortran, offset)


def _check_table(path: PathLike, name: str, header: _NpyHeader, expected: str, columns: tuple[int, ...]) -> None:
    """Shape (N, c) with c in `columns`, N and the byte size within the limits."""
    if len(header.shape) != 2 or header.shape[1] not in columns:
        raise FileFormatError(path, f"{name} has shape {header.shape}; {expected}")
    check_point_count(path, header.shape[0], f"points in {name}")
    check_decoded_size(path, header.nbytes, name)


def _check_present(path: PathLike, name: str, header: _NpyHeader, available: int) -> None:
    if available != header.nbytes:
        raise FileFormatError(
            path,
            f"not a valid NumPy file: {name} declares shape {header.shape} of {header.dtype} ({header.nbytes:,} bytes) "
            f"but {available:,} bytes of data follow its header",
        )


def _as_array(header: _NpyHeader, buffer) -> np.ndarray:
    flat = np.frombuffer(buffer, dtype=header.dtype, count=math.prod(header.shape), offset=0)
    if header.fortran:
        return flat.reshape(header.shape[::-1]).T
    return flat.reshape(header.shape)


def _split_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) -> points; (N, 6) -> points, normals."""
    return table[:, :3], (table[:, 3:6] if table.shape[1] == 6 else None)


def read_npy_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Points (N, 3) and normals (N, 3) or None of .npy bytes, in the file's dtype (views of `data`)."""
    if data.startswith(b"PK"):
        raise FileFormatError(path, "is an .npz archive, not a .npy array; rename it to .npz")
    if not data.startswith(b"\x93NUMPY"):
        raise FileFormatError(path, "not a NumPy .npy/.npz file (bad magic bytes)")
    name = "the array"
    header = _read_header(path, name, io.BytesIO(data))
    _check_table(path, name, header, _TABLE, (3, 6))
    _check_present(path, name, header, len(data) - header.offset)
    return _split_table(_as_array(header, memoryview(data)[header.offset :]))


def read_npz_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Points (N, 3) and normals (N, 3) or None of .npz bytes, in the file's dtype."""
    if data.startswith(b"\x93NUMPY"):
        raise FileFormatError(path, "is a .npy array, not an .npz archive; rename it to .npy")
    if not data.startswith(b"PK"):
        raise FileFormatError(path, "not a NumPy .npy/.npz file (bad magic bytes)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise FileFormatError(path, f"not a valid NumPy file: {_one_line(exc)}") from None
    with archive:
        # np.load's keys: member names without their .npy suffix
        members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i for i in archive.infolist()}
        if "points" in members:
            points = _read_member(path, archive, members["points"], len(data), "'points'", "expected (N, 3)", (3,))
            normals = None
            if "normals" in members:
                normals = _read_member(path, archive, members["normals"], len(data), "'normals'",
                                       "expected (N, 3)", (3,), same_shape_as=points.shape)
            return points, normals
        if len(members) == 1:
            key, info = next(iter(members.items()))
            return _split_table(_read_member(path, archive, info, len(data), f"array {key!r}", _TABLE, (3, 6)))
    raise FileFormatError(path, f"no 'points' array and more than one array (keys: {', '.join(members) or 'none'})")


def _read_member(
    path: PathLike,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    file_size: int,
    name: str,
    expected: str,
    columns: tuple[int, ...],
    same_shape_as: tuple[int, ...] | None = None,
) -> np.ndarray:
    """One array of the archive, checked from the zip directory and its .npy header before it is inflated."""
    if info.compress_size > file_size:
        raise FileFormatError(
            path, f"not a valid NumPy file: {name} declares {info.compress_size:,} compressed bytes "
            f"but the file has {file_size:,}"
        )
    check_decoded_size(path, info.file_size, f"{name} (zip member {info.filename!r})")
    try:
        with archive.open(info) as member:
            header = _read_header(path, name, member)
            if same_shape_as is not None and header.shape != same_shape_as:
                raise FileFormatError(path, f"{name} has shape {header.shape} but 'points' has {same_shape_as}")
            _check_table(path, name, header, expected, columns)
            _check_present(path, name, header, info.file_size - header.offset)
            buffer = _read_exactly(path, name, member, header.nbytes)
    except FileFormatError:
        raise
    except _ZIP_ERRORS as exc:
        raise FileFormatError(path, f"cannot read {name}: {_one_line(exc)}") from None
    return _as_array(header, buffer)


def _read_exactly(path: PathLike, name: str, member: BinaryIO, nbytes: int) -> np.ndarray:
    """`nbytes` bytes of `member` into one preallocated buffer, read in chunks (no second full-size copy)."""
    buffer = np.empty(nbytes, dtype=np.uint8)
    view, pos = memoryview(buffer), 0
    while pos < nbytes:
        chunk = member.read(min(_CHUNK, nbytes - pos))
        if not chunk:
            raise FileFormatError(path, f"cannot read {name}: the data ends after {pos:,} of {nbytes:,} bytes")
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    member.read(1)  # reach the end of the member: zipfile checks the CRC there
    return buffer


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
