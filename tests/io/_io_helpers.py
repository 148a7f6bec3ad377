"""Independent writers used to build test files byte by byte (struct/str, not the code under test)."""
from __future__ import annotations

import struct
from collections.abc import Sequence

# PLY type name -> struct code
STRUCT_CODES = {
    "char": "b", "int8": "b", "uchar": "B", "uint8": "B", "short": "h", "int16": "h", "ushort": "H",
    "uint16": "H", "int": "i", "int32": "i", "uint": "I", "uint32": "I", "float": "f", "float32": "f",
    "double": "d", "float64": "d",
}


def make_ply(fmt: str, elements: Sequence[tuple], comments: Sequence[str] = (), newline: str = "\n") -> bytes:
    """PLY bytes. elements: (name, props, rows); a prop is ("float", "x") or ("list", "uchar", "int", "idx");
    a row is a tuple with one value per prop (a sequence for list props)."""
    lines = ["ply", f"format {fmt} 1.0", *comments]
    for name, props, rows in elements:
        lines.append(f"element {name} {len(rows)}")
        lines += [f"property {' '.join(p)}" for p in props]
    lines.append("end_header")
    head = (newline.join(lines) + newline).encode("ascii")
    body = bytearray()
    order = "<" if fmt == "binary_little_endian" else ">"
    for _name, props, rows in elements:
        for row in rows:
            if fmt == "ascii":
                words = []
                for p, v in zip(props, row):
                    words += [str(len(v)), *map(str, v)] if p[0] == "list" else [str(v)]
                body += (" ".join(words) + "\n").encode()
            else:
                for p, v in zip(props, row):
                    if p[0] == "list":
                        body += struct.pack(order + STRUCT_CODES[p[1]], len(v))
                        body += struct.pack(order + STRUCT_CODES[p[2]] * len(v), *v)
                    else:
                        body += struct.pack(order + STRUCT_CODES[p[0]], v)
    return head + bytes(body)


def lzf_compress(data: bytes) -> bytes:
    """A small greedy LZF compressor (3-byte hash of the last position), enough to make binary_compressed PCDs.

    Emits literal runs of at most 32 bytes and back-references of 3..264 bytes up to 8192 bytes back,
    including overlapping ones (distance < length) for runs of repeated bytes.
    """
    out, literal = bytearray(), bytearray()
    last: dict[bytes, int] = {}

    def flush() -> None:
        while literal:
            chunk = literal[:32]
            out.append(len(chunk) - 1)
            out.extend(chunk)
            del literal[:32]

    i, n = 0, len(data)
    while i < n:
        key = data[i : i + 3]
        ref = last.get(key) if len(key) == 3 else None
        if len(key) == 3:
            last[key] = i
        if ref is not None and i - ref <= 8192:
            length = 3
            while length < min(264, n - i) and data[ref + length] == data[i + length]:
                length += 1
            flush()
            distance, code = i - ref - 1, length - 2
            if code < 7:
                out.append(code << 5 | distance >> 8)
            else:
                out.append(7 << 5 | distance >> 8)
                out.append(code - 7)
            out.append(distance & 0xFF)
            i += length
        else:
            literal.append(data[i])
            i += 1
    flush()
    return bytes(out)


def make_pcd(
    fields: Sequence[tuple[str, str, int, int]],
    rows: Sequence[Sequence[float]],
    data: str,
    *,
    width: int | None = None,
    height: int = 1,
    version: str = "0.7",
    with_count: bool = True,
    compressed_padding: bool = False,
) -> bytes:
    """PCD bytes. fields: (name, TYPE, SIZE, COUNT); rows: the flat values of each point (sum of COUNTs).

    binary_compressed leaves `_` padding fields out of the SoA blocks, as PCL does, unless compressed_padding.
    """
    width = len(rows) if width is None else width
    head = [f"# .PCD v{version} - Point Cloud Data file format", f"VERSION {version}",
            "FIELDS " + " ".join(f[0] for f in fields), "SIZE " + " ".join(str(f[2]) for f in fields),
            "TYPE " + " ".join(f[1] for f in fields)]
    if with_count:
        head.append("COUNT " + " ".join(str(f[3]) for f in fields))
    head += [f"WIDTH {width}", f"HEIGHT {height}", "VIEWPOINT 0 0 0 1 0 0 0", f"POINTS {len(rows)}", f"DATA {data}"]
    out = ("\n".join(head) + "\n").encode()
    codes = {("F", 4): "f", ("F", 8): "d", ("I", 1): "b", ("I", 2): "h", ("I", 4): "i", ("I", 8): "q",
             ("U", 1): "B", ("U", 2): "H", ("U", 4): "I", ("U", 8): "Q"}

    def split(row):
        values, k = [], 0
        for f in fields:
            values.append(row[k : k + f[3]])
            k += f[3]
        return values

    if data == "ascii":
        return out + b"".join((" ".join(str(v) for v in row) + "\n").encode() for row in rows)
    if data == "binary":
        body = b"".join(
            struct.pack("<" + codes[(f[1], f[2])] * f[3], *vals) for row in rows for f, vals in zip(fields, split(row))
        )
        return out + body
    blocks = []
    for j, f in enumerate(fields):
        if f[0] == "_" and not compressed_padding:
            continue
        blocks.append(b"".join(struct.pack("<" + codes[(f[1], f[2])] * f[3], *split(row)[j]) for row in rows))
    raw = b"".join(blocks)
    packed = lzf_compress(raw)
    return out + struct.pack("<II", len(packed), len(raw)) + packed
