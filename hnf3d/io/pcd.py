"""PCD (Point Cloud Library) reader: versions 0.6/0.7, DATA ascii, binary and binary_compressed.

Header keys: VERSION, FIELDS (COLUMNS in old files), SIZE, TYPE, COUNT (default 1), WIDTH, HEIGHT, VIEWPOINT,
POINTS, DATA (always last). Data is little endian. Layouts:
- ascii: one point per line, the values of every field (COUNT values each) in order;
- binary: array-of-structures rows of sum(SIZE * COUNT) bytes, padding fields named `_` included;
- binary_compressed: uint32 compressed size, uint32 uncompressed size, then LZF data that expands to
  structure-of-arrays blocks, one per field, each POINTS * SIZE * COUNT bytes. PCL's writer leaves `_` padding
  fields out of these blocks, so both with and without padding blocks are accepted (told apart by the size).

Limits (errors.py): a header declaring more than MAX_FILE_POINTS points is refused; binary_compressed data is
refused when the uncompressed size its 8-byte header states exceeds MAX_DECODED_BYTES, before any
decompression, and the LZF decoder never writes past that stated size.

Fields x y z give the points, normal_x normal_y normal_z the normals; every other field (rgb, curvature, ...)
is read past and ignored. Organised clouds (HEIGHT > 1) mark missing pixels with NaN; finalize drops them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import FileFormatError, PathLike, check_decoded_size, check_point_count
from .lzf import LZFError, lzf_decompress

_TYPES = {
    ("F", 4): "<f4", ("F", 8): "<f8",
    ("I", 1): "i1", ("I", 2): "<i2", ("I", 4): "<i4", ("I", 8): "<i8",
    ("U", 1): "u1", ("U", 2): "<u2", ("U", 4): "<u4", ("U", 8): "<u8",
}
_DATA_KINDS = ("ascii", "binary", "binary_compressed")
_KEYS = {"VERSION", "FIELDS", "COLUMNS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT", "VIEWPOINT", "POINTS", "DATA"}


@dataclass(frozen=True)
class PcdField:
    name: str
    dtype: str  # numpy type code with byte order
    count: int

    @property
    def nbytes(self) -> int:
        """Bytes per point."""
        return np.dtype(self.dtype).itemsize * self.count


@dataclass
class PcdHeader:
    fields: list[PcdField]
    width: int
    height: int
    points: int
    data: str  # one of _DATA_KINDS
    data_offset: int


def parse_pcd_header(path: PathLike, data: bytes) -> PcdHeader:
    """Parse the header lines up to and including `DATA`; FileFormatError on anything malformed."""
    entries: dict[str, list[str]] = {}
    pos = 0
    while True:
        if pos >= len(data):
            raise FileFormatError(path, "malformed PCD header: no DATA line")
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].decode("latin-1").strip()
        pos = end + 1
        if not line or line.startswith("#"):
            continue
        words = line.split()
        key = words[0].upper()
        if key not in _KEYS:
            raise FileFormatError(path, f"malformed PCD header: unknown line {line[:60]!r}")
        entries["FIELDS" if key == "COLUMNS" else key] = words[1:]
        if key == "DATA":
            break
    data_offset = min(pos, len(data))

    def bad(why: str) -> FileFormatError:
        return FileFormatError(path, f"malformed PCD header: {why}")

    def ints(key: str, default: list[int] | None = None) -> list[int]:
        if key not in entries:
            if default is None:
                raise bad(f"no {key} line")
            return default
        try:
            values = [int(w) for w in entries[key]]
        except ValueError:
            raise bad(f"{key} must be integers, got {' '.join(entries[key])!r}") from None
        if any(v < 0 for v in values):
            raise bad(f"{key} must not be negative")
        return values

    names = entries.get("FIELDS")
    if not names:
        raise bad("no FIELDS line")
    sizes = ints("SIZE")
    types = [t.upper() for t in entries.get("TYPE", [])]
    counts = ints("COUNT", [1] * len(names))
    if not (len(sizes) == len(types) == len(counts) == len(names)):
        raise bad(
            f"FIELDS has {len(names)} entries but SIZE has {len(sizes)}, TYPE {len(types)}, COUNT {len(counts)}"
        )
    fields = []
    for name, size, kind, count in zip(names, sizes, types, counts):
        dtype = _TYPES.get((kind, size))
        if dtype is None:
            raise bad(f"field {name!r}: TYPE {kind} with SIZE {size} is not a PCD type")
        fields.append(PcdField(name, dtype, count))
    kind = entries["DATA"][0].lower() if entries["DATA"] else ""
    if kind not in _DATA_KINDS:
        raise bad(f"DATA must be one of {', '.join(_DATA_KINDS)}, got {kind!r}")
    # Old files may give only POINTS (an unorganised cloud) or only WIDTH/HEIGHT.
    width = ints("WIDTH", [-1])[0] if entries.get("WIDTH") else -1
    height = ints("HEIGHT", [1])[0] if entries.get("HEIGHT") else 1
    if entries.get("POINTS"):
        points = ints("POINTS")[0]
    elif width >= 0:
        points = width * height
    else:
        raise bad("neither POINTS nor WIDTH is given")
    if width < 0:
        width, height = points, 1
    if width * height != points:
        raise bad(f"WIDTH {width} x HEIGHT {height} != POINTS {points}")
    check_point_count(path, points)
    return PcdHeader(fields, width, height, points, kind, data_offset)


def read_pcd_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Points (N, 3) and normals (N, 3) or None of a PCD file, in the file's dtype."""
    header = parse_pcd_header(path, data)
    by_name = {f.name: f for f in header.fields}
    missing = [c for c in "xyz" if c not in by_name]
    if missing:
        raise FileFormatError(path, f"no field {', '.join(missing)} (FIELDS: {' '.join(by_name)})")
    for name in ("x", "y", "z"):
        if by_name[name].count != 1:
            raise FileFormatError(path, f"field {name!r} has COUNT {by_name[name].count}, expected 1")
    if header.data == "ascii":
        columns = _read_ascii(path, header, data)
    elif header.data == "binary":
        columns = _read_binary(path, header, data)
    else:
        columns = _read_compressed(path, header, data)
    points = np.stack([columns["x"][:, 0], columns["y"][:, 0], columns["z"][:, 0]], axis=1)
    normals = None
    normal_names = ("normal_x", "normal_y", "normal_z")
    if all(n in columns and columns[n].shape[1] == 1 for n in normal_names):
        normals = np.stack([columns[n][:, 0] for n in normal_names], axis=1)
    return points, normals


def _wanted(field: PcdField) -> bool:
    return field.name in ("x", "y", "z", "normal_x", "normal_y", "normal_z")


def _read_ascii(path: PathLike, header: PcdHeader, data: bytes) -> dict[str, np.ndarray]:
    tokens = data[header.data_offset :].split()
    per_point = sum(f.count for f in header.fields)
    need = header.points * per_point
    if len(tokens) < need:
        raise FileFormatError(
            path,
            f"truncated ascii data: header declares {header.points} points ({need} values) "
            f"but only {len(tokens)} values follow",
        )
    if len(tokens) > need:
        raise FileFormatError(
            path, f"ascii data has {len(tokens)} values but the header declares {header.points} points ({need} values)"
        )
    try:
        table = np.array(tokens, dtype=np.float64).reshape(header.points, per_point)
    except ValueError:
        raise FileFormatError(path, "non-numeric value in the ascii data") from None
    columns, col = {}, 0
    for f in header.fields:
        if _wanted(f):
            columns[f.name] = table[:, col : col + f.count]
        col += f.count
    return columns


def _read_binary(path: PathLike, header: PcdHeader, data: bytes) -> dict[str, np.ndarray]:
    # Positional names: padding fields all share the name "_", which a structured dtype rejects.
    row = np.dtype([(f"f{i}", f.dtype, (f.count,)) for i, f in enumerate(header.fields)])
    need = header.points * row.itemsize
    have = len(data) - header.data_offset
    if have < need:
        raise FileFormatError(
            path,
            f"truncated binary data: header declares {header.points} points ({need} bytes) "
            f"but only {have} bytes follow",
        )
    table = np.frombuffer(data, dtype=row, count=header.points, offset=header.data_offset)
    return {f.name: table[f"f{i}"].reshape(header.points, f.count) for i, f in enumerate(header.fields) if _wanted(f)}


def _read_compressed(path: PathLike, header: PcdHeader, data: bytes) -> dict[str, np.ndarray]:
    start = header.data_offset
    if len(data) - start < 8:
        raise FileFormatError(path, "truncated binary_compressed data: the 8-byte size header is missing")
    compressed_size, raw_size = struct.unpack_from("<II", data, start)
    check_decoded_size(path, raw_size, "binary_compressed data")
    have = len(data) - start - 8
    if have < compressed_size:
        raise FileFormatError(
            path,
            f"truncated binary_compressed data: {compressed_size} compressed bytes declared but only {have} follow",
        )
    with_padding = header.points * sum(f.nbytes for f in header.fields)
    without_padding = header.points * sum(f.nbytes for f in header.fields if f.name != "_")
    if raw_size not in (with_padding, without_padding):
        raise FileFormatError(
            path,
            f"binary_compressed data expands to {raw_size} bytes but the header's {header.points} points "
            f"need {with_padding} bytes",
        )
    try:
        raw = lzf_decompress(memoryview(data)[start + 8 : start + 8 + compressed_size], raw_size)
    except LZFError as exc:
        raise FileFormatError(path, f"corrupt binary_compressed data: {exc}") from None
    skip_padding = raw_size != with_padding
    columns, offset = {}, 0
    for f in header.fields:
        if skip_padding and f.name == "_":
            continue
        block = header.points * f.nbytes
        if _wanted(f):
            columns[f.name] = np.frombuffer(raw, dtype=f.dtype, count=header.points * f.count, offset=offset).reshape(
                header.points, f.count
            )
        offset += block
    return columns
