"""PLY reader (ascii, binary little/big endian) and binary point-cloud writer.

Reader: parses the header (all scalar types and their aliases, list properties, comments/obj_info, any number of
elements in any order, e.g. Stanford range scans' `range_grid` element or mesh `face` elements) and then the
data of the elements asked for. Binary elements without list properties are read with one numpy structured
dtype; list-property elements take a vectorised path when every row has the same list lengths (triangle faces)
and a per-row walk otherwise. Reading stops after the last requested element, so trailing elements of a file
loaded as a point cloud are neither parsed nor validated.

`read_ply_header` / `ply_has_faces` read the header only (is this PLY a mesh or a point cloud?).

Writer: binary_little_endian `vertex` element with float x y z [nx ny nz].
"""
from __future__ import annotations

import os
import re
import struct
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from .errors import FileFormatError, PathLike

# PLY type names (both the original and the sized spellings) -> numpy type codes without byte order.
PLY_TYPES: dict[str, str] = {
    "char": "i1", "int8": "i1",
    "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4",
    "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4",
    "double": "f8", "float64": "f8",
}
PLY_FORMATS = ("ascii", "binary_little_endian", "binary_big_endian")
_END_HEADER = re.compile(rb"^end_header[ \t]*(?:\r\n|\n|\r|$)", re.MULTILINE)


@dataclass(frozen=True)
class PlyProperty:
    """One property of an element: a scalar (`count_type` None) or a list with a length prefix of `count_type`."""

    name: str
    value_type: str  # numpy code, e.g. "f4"
    count_type: str | None = None

    @property
    def is_list(self) -> bool:
        return self.count_type is not None


@dataclass
class PlyElement:
    name: str
    count: int
    properties: list[PlyProperty] = field(default_factory=list)

    @property
    def has_lists(self) -> bool:
        return any(p.is_list for p in self.properties)


@dataclass
class PlyHeader:
    format: str  # one of PLY_FORMATS
    elements: list[PlyElement]
    comments: list[str]
    data_offset: int  # byte offset of the first data byte

    def element(self, name: str) -> PlyElement | None:
        return next((e for e in self.elements if e.name == name), None)


# Parsed element data: property name -> array. Scalars: (count,). Lists: (count, k) when all rows have k items,
# else a (count,) object array of 1-D arrays.
ElementData = dict[str, np.ndarray]


def parse_ply_header(path: PathLike, data: bytes) -> PlyHeader:
    """Parse the header at the start of `data`; FileFormatError on anything malformed."""
    if not re.match(rb"ply[ \t]*(?:\r\n|\n|\r)", data):
        raise FileFormatError(path, "not a PLY file: the first line is not 'ply'")
    end = _END_HEADER.search(data)
    if end is None:
        raise FileFormatError(path, "malformed PLY header: no 'end_header' line")
    lines = data[: end.start()].decode("latin-1").splitlines()[1:]
    fmt: str | None = None
    elements: list[PlyElement] = []
    comments: list[str] = []
    for lineno, raw in enumerate(lines, start=2):
        words = raw.split()
        if not words:
            continue

        def bad(why: str) -> FileFormatError:
            return FileFormatError(path, f"malformed PLY header, line {lineno} {raw.strip()!r}: {why}")

        key = words[0]
        if key in ("comment", "obj_info"):
            comments.append(raw.strip())
        elif key == "format":
            if len(words) != 3 or words[1] not in PLY_FORMATS:
                raise bad(f"expected 'format <{'|'.join(PLY_FORMATS)}> 1.0'")
            if fmt is not None:
                raise bad("second 'format' line")
            fmt = words[1]
        elif key == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise bad("expected 'element <name> <count>' with a non-negative integer count")
            elements.append(PlyElement(words[1], int(words[2])))
        elif key == "property":
            if not elements:
                raise bad("property before any element")
            if len(words) == 5 and words[1] == "list":
                count_type, value_type = PLY_TYPES.get(words[2]), PLY_TYPES.get(words[3])
                if count_type is None or value_type is None:
                    raise bad("unknown type in list property")
                if count_type[0] == "f":
                    raise bad("list length type must be an integer type")
                elements[-1].properties.append(PlyProperty(words[4], value_type, count_type))
            elif len(words) == 3:
                value_type = PLY_TYPES.get(words[1])
                if value_type is None:
                    raise bad(f"unknown property type {words[1]!r}")
                elements[-1].properties.append(PlyProperty(words[2], value_type))
            else:
                raise bad("expected 'property <type> <name>' or 'property list <type> <type> <name>'")
        else:
            raise bad(f"unknown keyword {key!r}")
    if fmt is None:
        raise FileFormatError(path, "malformed PLY header: no 'format' line")
    for element in elements:
        if element.count and not element.properties:
            raise FileFormatError(path, f"malformed PLY header: element {element.name!r} has no properties")
    return PlyHeader(fmt, elements, comments, end.end())


HEADER_READ_LIMIT = 1 << 20  # bytes read looking for 'end_header' by read_ply_header (real headers: < 4 KB)


def read_ply_header(path: PathLike) -> PlyHeader:
    """The header of the PLY file at `path`, reading only the first bytes of the file (at most
    HEADER_READ_LIMIT), not its data. FileFormatError for anything that is not a PLY header."""
    chunks: list[bytes] = []
    with open(os.fspath(path), "rb") as handle:
        while sum(map(len, chunks)) < HEADER_READ_LIMIT:
            chunk = handle.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            head = b"".join(chunks)
            if not head.startswith(b"ply") or _END_HEADER.search(head) is not None:
                break
    head = b"".join(chunks)
    if not head:
        raise FileFormatError(path, "empty file")
    if _END_HEADER.search(head) is None and len(head) >= HEADER_READ_LIMIT:
        raise FileFormatError(path, f"malformed PLY header: no 'end_header' line in the first "
                                    f"{HEADER_READ_LIMIT} bytes")
    return parse_ply_header(path, head)


def ply_has_faces(path: PathLike) -> bool:
    """True when the PLY file at `path` declares a non-empty `face` element: a mesh, whose vertices are not a
    fair sample of its surface (sample it: hnf3d.io.load_mesh + hnf3d.ops.sample_surface). Reads the header
    only; FileFormatError when it is not a PLY header."""
    face = read_ply_header(path).element("face")
    return face is not None and face.count > 0


def read_ply(
    path: PathLike, data: bytes, elements: Collection[str] | None = None
) -> tuple[PlyHeader, dict[str, ElementData]]:
    """Parse PLY bytes. Returns the header and {element name: {property name: array}} for the elements named in
    `elements` (all when None). Values keep their declared type (native byte order). `path` is only used in
    error messages."""
    header = parse_ply_header(path, data)
    return header, _read_elements(path, header, data, elements)


def _read_elements(
    path: PathLike, header: PlyHeader, data: bytes, elements: Collection[str] | None
) -> dict[str, ElementData]:
    wanted = {e.name for e in header.elements} if elements is None else set(elements)
    if header.format == "ascii":
        return _read_ascii(path, header, data, wanted)
    return _read_binary(path, header, data, wanted, "<" if header.format == "binary_little_endian" else ">")


def _last_wanted(header: PlyHeader, wanted: set[str]) -> int:
    """Index of the last element to parse; later elements are not needed."""
    return max((i for i, e in enumerate(header.elements) if e.name in wanted), default=-1)


def _unique_names(props: list[PlyProperty]) -> list[str]:
    # numpy structured dtypes reject duplicate names; positional names sidestep files that repeat one.
    return [f"f{i}" for i in range(len(props))]


# ---------------------------------------------------------------------------------------------------- binary


def _read_binary(
    path: PathLike, header: PlyHeader, data: bytes, wanted: set[str], order: str
) -> dict[str, ElementData]:
    result: dict[str, ElementData] = {}
    offset = header.data_offset
    for element in header.elements[: _last_wanted(header, wanted) + 1]:
        want = element.name in wanted
        if element.has_lists:
            values, offset = _read_binary_lists(path, element, data, offset, order, want)
        else:
            names = _unique_names(element.properties)
            dtype = np.dtype([(n, order + p.value_type) for n, p in zip(names, element.properties)])
            need = element.count * dtype.itemsize
            _check_available(path, element, data, offset, need)
            values = None
            if want:
                table = np.frombuffer(data, dtype=dtype, count=element.count, offset=offset)
                values = {p.name: table[n].astype(p.value_type) for n, p in zip(dtype.names, element.properties)}
            offset += need
        if want and values is not None:
            result[element.name] = values
    return result


def _check_available(path: PathLike, element: PlyElement, data: bytes, offset: int, need: int) -> None:
    have = len(data) - offset
    if need > have:
        raise FileFormatError(
            path,
            f"truncated binary data: header declares {element.count} {element.name} elements ({need} bytes) "
            f"but only {max(have, 0)} bytes follow",
        )


def _read_binary_lists(
    path: PathLike, element: PlyElement, data: bytes, offset: int, order: str, want: bool
) -> tuple[ElementData | None, int]:
    """Read (or just skip) an element with list properties. Returns (values or None, offset after it)."""
    if element.count == 0:
        return ({p.name: np.empty((0,), p.value_type) for p in element.properties} if want else None), offset
    fast = _read_binary_lists_uniform(element, data, offset, order, want)
    if fast is not None:
        return fast
    return _read_binary_lists_rowwise(path, element, data, offset, order, want)


def _read_binary_lists_uniform(
    element: PlyElement, data: bytes, offset: int, order: str, want: bool
) -> tuple[ElementData | None, int] | None:
    """Vectorised read assuming every row has the list lengths of the first row (true for triangle meshes).

    Returns None when that assumption fails (or the data is too short for it), so the caller walks row by row.
    Checking every row's length fields is enough: rows before the first mismatch are correctly aligned.
    """
    fields: list[tuple] = []
    pos = offset
    for i, prop in enumerate(element.properties):
        if prop.is_list:
            count_dtype = np.dtype(order + prop.count_type)
            if pos + count_dtype.itemsize > len(data):
                return None
            k = int(np.frombuffer(data, count_dtype, count=1, offset=pos)[0])
            if k < 0:
                return None
            fields.append((f"n{i}", count_dtype))
            fields.append((f"f{i}", np.dtype(order + prop.value_type), (k,)))
            pos += count_dtype.itemsize + k * np.dtype(prop.value_type).itemsize
        else:
            fields.append((f"f{i}", np.dtype(order + prop.value_type)))
            pos += np.dtype(prop.value_type).itemsize
    row = np.dtype(fields)
    if offset + element.count * row.itemsize > len(data):
        return None
    table = np.frombuffer(data, dtype=row, count=element.count, offset=offset)
    for i, prop in enumerate(element.properties):
        if prop.is_list and not (table[f"n{i}"] == table[f"n{i}"][0]).all():
            return None
    end = offset + element.count * row.itemsize
    if not want:
        return None, end
    values: ElementData = {}
    for i, prop in enumerate(element.properties):
        column = table[f"f{i}"].astype(prop.value_type)
        values[prop.name] = column.reshape(element.count, -1) if prop.is_list else column
    return values, end


def _read_binary_lists_rowwise(
    path: PathLike, element: PlyElement, data: bytes, offset: int, order: str, want: bool
) -> tuple[ElementData | None, int]:
    """General walk for rows whose list lengths vary (e.g. range_grid: 0 or 1 index per grid cell)."""
    props = element.properties
    sizes = [np.dtype(p.value_type).itemsize for p in props]
    counter = [struct.Struct(order + np.dtype(p.count_type).char) if p.is_list else None for p in props]
    flat = [bytearray() for _ in props]  # raw bytes of each property's values, converted once at the end
    lengths: list[list[int]] = [[] for _ in props]
    pos, end = offset, len(data)
    try:
        for _ in range(element.count):
            for j, prop in enumerate(props):
                if prop.is_list:
                    (k,) = counter[j].unpack_from(data, pos)
                    if k < 0:
                        raise struct.error("negative list length")
                    pos += counter[j].size
                    nbytes = k * sizes[j]
                    if want:
                        lengths[j].append(k)
                else:
                    nbytes = sizes[j]
                if pos + nbytes > end:
                    raise struct.error("data ends inside a row")
                if want:
                    flat[j] += data[pos : pos + nbytes]
                pos += nbytes
    except struct.error:
        raise FileFormatError(
            path,
            f"truncated binary data: header declares {element.count} {element.name} elements "
            f"but the data ends at byte {end} while reading them",
        ) from None
    if not want:
        return None, pos
    values: ElementData = {}
    for j, prop in enumerate(props):
        column = np.frombuffer(bytes(flat[j]), dtype=order + prop.value_type).astype(prop.value_type)
        values[prop.name] = _split_lists(column, lengths[j]) if prop.is_list else column
    return values, pos


# ---------------------------------------------------------------------------------------------------- ascii


def _read_ascii(path: PathLike, header: PlyHeader, data: bytes, wanted: set[str]) -> dict[str, ElementData]:
    """ASCII data is read as one whitespace-separated token stream (line breaks carry no meaning)."""
    tokens = data[header.data_offset :].split()
    result: dict[str, ElementData] = {}
    pos = 0
    for element in header.elements[: _last_wanted(header, wanted) + 1]:
        want = element.name in wanted
        nprops = len(element.properties)
        if not element.has_lists:
            need = element.count * nprops
            if pos + need > len(tokens):
                raise FileFormatError(
                    path,
                    f"truncated ascii data: header declares {element.count} {element.name} elements "
                    f"({need} values) but only {len(tokens) - pos} values follow",
                )
            if want:
                table = _to_float(path, element, tokens[pos : pos + need]).reshape(element.count, nprops)
                result[element.name] = {
                    p.name: _cast(table[:, j], p.value_type) for j, p in enumerate(element.properties)
                }
            pos += need
        else:
            values, pos = _read_ascii_lists(path, element, tokens, pos, want)
            if want and values is not None:
                result[element.name] = values
    return result


def _to_float(path: PathLike, element: PlyElement, tokens: list[bytes]) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise FileFormatError(
            path, f"non-numeric value {bad.decode('latin-1')!r} in the ascii data of element {element.name!r}"
        ) from None


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _cast(values: np.ndarray, value_type: str) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(value_type)


def _read_ascii_lists(
    path: PathLike, element: PlyElement, tokens: list[bytes], pos: int, want: bool
) -> tuple[ElementData | None, int]:
    """Walk the rows of an element with list properties; values are gathered flat and converted once."""
    props = element.properties
    flat: list[list[bytes]] = [[] for _ in props]
    lengths: list[list[int]] = [[] for _ in props]
    n_tokens = len(tokens)
    try:
        for _ in range(element.count):
            for j, prop in enumerate(props):
                if prop.is_list:
                    k = int(tokens[pos])
                    if k < 0 or pos + 1 + k > n_tokens:
                        raise IndexError
                    if want:
                        flat[j] += tokens[pos + 1 : pos + 1 + k]
                        lengths[j].append(k)
                    pos += 1 + k
                else:
                    if pos >= n_tokens:
                        raise IndexError
                    if want:
                        flat[j].append(tokens[pos])
                    pos += 1
    except IndexError:
        raise FileFormatError(
            path,
            f"truncated ascii data: header declares {element.count} {element.name} elements but the data ends early",
        ) from None
    except ValueError:
        raise FileFormatError(
            path, f"bad list length {tokens[pos].decode('latin-1')!r} in the ascii data of element {element.name!r}"
        ) from None
    if not want:
        return None, pos
    values: ElementData = {}
    for j, prop in enumerate(props):
        column = _cast(_to_float(path, element, flat[j]), prop.value_type)
        values[prop.name] = _split_lists(column, lengths[j]) if prop.is_list else column
    return values, pos


def _split_lists(flat: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Flat list values + per-row lengths -> (count, k) when uniform, else an object array of rows."""
    sizes = np.asarray(lengths, dtype=np.int64)
    if len(sizes) == 0 or (sizes == sizes[0]).all():
        return flat.reshape(len(sizes), int(sizes[0]) if len(sizes) else 0)
    out = np.empty(len(sizes), dtype=object)
    out[:] = np.split(flat, np.cumsum(sizes)[:-1])
    return out


# ---------------------------------------------------------------------------------------------------- points

_NORMAL_NAMES = (("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z"))


def read_ply_points(path: PathLike, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The `vertex` element of a PLY as points (N, 3) and normals (N, 3) or None, in the file's dtype."""
    header = parse_ply_header(path, data)
    vertex = header.element("vertex")
    if vertex is None:
        names = ", ".join(e.name for e in header.elements) or "none"
        raise FileFormatError(path, f"no 'vertex' element (elements: {names})")
    scalars = {p.name for p in vertex.properties if not p.is_list}
    missing = [c for c in "xyz" if c not in scalars]
    if missing:
        present = ", ".join(p.name for p in vertex.properties)
        raise FileFormatError(path, f"vertex element lacks property {', '.join(missing)} (has: {present})")
    values = _read_elements(path, header, data, ("vertex",))["vertex"]
    points = np.stack([values["x"], values["y"], values["z"]], axis=1)
    normals = None
    for names in _NORMAL_NAMES:
        if all(n in scalars for n in names):
            normals = np.stack([values[n] for n in names], axis=1)
            break
    return points, normals


def write_ply_points(handle: BinaryIO, points: np.ndarray, normals: np.ndarray | None = None) -> None:
    """Write a binary_little_endian PLY with float32 x y z [nx ny nz]. points/normals: (N, 3)."""
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals is not None else [])
    header = ["ply", "format binary_little_endian 1.0", "comment written by hnf3d", f"element vertex {len(points)}"]
    header += [f"property float {n}" for n in names]
    header.append("end_header")
    table = np.empty(len(points), dtype=[(n, "<f4") for n in names])
    for j, n in enumerate("xyz"):
        table[n] = points[:, j]
    if normals is not None:
        for j, n in enumerate(("nx", "ny", "nz")):
            table[n] = normals[:, j]
    handle.write(("\n".join(header) + "\n").encode("ascii"))
    handle.write(table.tobytes())
