"""Bounded reading: a small file whose header declares a huge size (or a zip / LZF bomb) is refused from its
header, before anything is allocated, decoded or decompressed, with a one-line FileFormatError naming the file
and the limit (hnf3d.io.errors.MAX_FILE_POINTS / MAX_DECODED_BYTES)."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from _io_helpers import make_pcd, make_ply
from numpy.lib import format as npy_format

from hnf3d.io import FileFormatError, LZFError, load_point_cloud, lzf_decompress
from hnf3d.io import errors as io_errors
from hnf3d.io import pcd as pcd_module

XYZ_PCD = [("x", "F", 4, 1), ("y", "F", 4, 1), ("z", "F", 4, 1)]
XYZ_PLY = [("float", "x"), ("float", "y"), ("float", "z")]
PEAK_LIMIT = 20 << 20  # a refused file must not make the loader allocate more than this


def npy_bytes(shape, descr="<f4", body=b"", fortran=False) -> bytes:
    """A .npy header declaring `shape` / `descr`, followed by `body` (whatever the header says)."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buf.getvalue() + body


def pcd_header(fields, points: int, kind: str) -> bytes:
    """A PCD header declaring `points` points of `fields`, with no data after it."""
    head = make_pcd(fields, [], "ascii").replace(b"DATA ascii", f"DATA {kind}".encode())
    return head.replace(b"WIDTH 0", f"WIDTH {points}".encode()).replace(b"POINTS 0", f"POINTS {points}".encode())


def npz_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def load_refused(path, *patterns: str) -> str:
    """Load `path` under tracemalloc; it must raise a one-line FileFormatError naming the file, matching every
    pattern, without a large allocation. Returns the message."""
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as info:
            load_point_cloud(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    for pattern in patterns:
        assert pattern in message, message
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB while refusing {path}"
    return message


# ------------------------------------------------------------------------------------------------------- .npy


@pytest.mark.parametrize("shape", [(10**12, 3), (60_000_000, 6), (2**62, 3)])
def test_npy_header_declaring_too_many_points(tmp_path, shape):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_bytes(shape))
    load_refused(path, f"{shape[0]:,} points", "MAX_FILE_POINTS", f"{io_errors.MAX_FILE_POINTS:,}")


def test_npy_header_declaring_too_many_bytes(tmp_path):
    # within the point limit, but 40 M rows of float128 expand past MAX_DECODED_BYTES
    if not hasattr(np, "float128"):
        pytest.skip("no float128 on this platform")
    path = tmp_path / "wide.npy"
    path.write_bytes(npy_bytes((40_000_000, 6), descr=np.dtype(np.float128).str))
    load_refused(path, "would expand to 3,840,000,000 bytes", "MAX_DECODED_BYTES")


@pytest.mark.parametrize("shape", [(10**6, 10**6), (10**9,), (3, 10**9, 3)])
def test_npy_huge_shape_of_the_wrong_layout(tmp_path, shape):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_bytes(shape))
    load_refused(path, "has shape", "expected (N, 3)")


@pytest.mark.parametrize(
    "shape, body, why",
    [
        ((100, 3), bytes(12), "declares shape (100, 3) of float32 (1,200 bytes) but 12 bytes of data follow"),
        ((1, 3), bytes(24), "(12 bytes) but 24 bytes of data follow"),  # trailing bytes are not ignored
        ((-5, 3), b"", "negative dimension"),
    ],
)
def test_npy_declared_size_must_match_the_bytes_present(tmp_path, shape, body, why):
    path = tmp_path / "bad.npy"
    path.write_bytes(npy_bytes(shape, body=body))
    load_refused(path, why)


def test_npy_deeply_nested_header_is_a_format_error(tmp_path):
    # ast.literal_eval of a deeply nested literal raises RecursionError, not ValueError
    header = ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "-" * 3000 + "1, 3)}").encode()
    path = tmp_path / "deep.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
    load_refused(path, "not a valid NumPy file")


def test_npy_fortran_order_and_big_endian(tmp_path):
    table = np.arange(12.0).reshape(4, 3)
    path = tmp_path / "f.npy"
    path.write_bytes(npy_bytes((4, 3), descr=">f8", body=table.T.astype(">f8").tobytes(), fortran=True))
    pc = load_point_cloud(path)
    np.testing.assert_array_equal(pc.points, table)
    assert pc.points.flags.writeable and pc.points.flags.c_contiguous


# ------------------------------------------------------------------------------------------------------- .npz


def test_npz_member_declaring_too_many_points(tmp_path):
    path = tmp_path / "huge.npz"
    path.write_bytes(npz_bytes({"points.npy": npy_bytes((10**9, 3), body=bytes(12))}))
    load_refused(path, "1,000,000,000 points in 'points'", "MAX_FILE_POINTS")


def test_npz_member_whose_data_is_shorter_than_its_header_says(tmp_path):
    path = tmp_path / "short.npz"
    path.write_bytes(npz_bytes({"points.npy": npy_bytes((1000, 3), body=bytes(120))}))
    load_refused(path, "'points' declares shape (1000, 3)", "but 120 bytes of data follow")


def test_npz_bomb_is_refused_from_the_zip_directory_before_inflating(tmp_path, monkeypatch):
    # 200,000 zero points compress from 2.4 MB to a few KB; with the limit lowered to 1 MB the member's
    # uncompressed size in the zip directory must refuse it before a single byte is inflated.
    monkeypatch.setattr(io_errors, "MAX_DECODED_BYTES", 1 << 20)
    buf = io.BytesIO()
    np.savez_compressed(buf, points=np.zeros((200_000, 3), np.float32))
    path = tmp_path / "bomb.npz"
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size < 20_000
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or 1 / 0)
    load_refused(path, "'points' (zip member 'points.npy') would expand to 2,400,128 bytes", "MAX_DECODED_BYTES")
    assert opened == []


def test_npz_member_point_limit_uses_the_constant(tmp_path, monkeypatch):
    monkeypatch.setattr(io_errors, "MAX_FILE_POINTS", 10)
    np.savez_compressed(tmp_path / "a.npz", points=np.zeros((11, 3)), normals=np.zeros((11, 3)))
    load_refused(tmp_path / "a.npz", "declares 11 points in 'points', more than the limit of 10 points")
    np.savez_compressed(tmp_path / "b.npz", points=np.zeros((10, 3)))
    assert len(load_point_cloud(tmp_path / "b.npz")) == 10


def test_npz_unused_members_are_never_inflated(tmp_path, monkeypatch):
    monkeypatch.setattr(io_errors, "MAX_DECODED_BYTES", 1 << 20)
    np.savez_compressed(tmp_path / "a.npz", points=np.ones((5, 3)), junk=np.zeros((1 << 20,)))
    assert len(load_point_cloud(tmp_path / "a.npz")) == 5


def test_npz_normals_header_checked_against_points(tmp_path):
    path = tmp_path / "n.npz"
    path.write_bytes(npz_bytes({"points.npy": npy_bytes((2, 3), body=bytes(24)),
                                "normals.npy": npy_bytes((10**10, 3))}))
    load_refused(path, "'normals' has shape (10000000000, 3) but 'points' has (2, 3)")


@pytest.mark.parametrize("damage", ["crc", "deflate", "compressed_size"])
def test_damaged_npz_is_one_line(tmp_path, damage):
    inner = npy_bytes((50, 3), body=np.arange(150, dtype=np.float32).tobytes())
    data = bytearray(npz_bytes({"points.npy": inner}))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    if damage == "crc":  # CRC field of the central directory entry
        data[central + 16 : central + 20] = b"\x00\x00\x00\x00"
    elif damage == "deflate":
        start = local + 30 + len("points.npy")
        data[start : start + 40] = bytes(range(200, 240))
    else:
        data[central + 20 : central + 24] = struct.pack("<I", 10**9)
    path = tmp_path / "bad.npz"
    path.write_bytes(bytes(data))
    load_refused(path)


# -------------------------------------------------------------------------------------------------------- PCD


@pytest.mark.parametrize("kind", ["ascii", "binary", "binary_compressed"])
def test_pcd_header_declaring_too_many_points(tmp_path, kind):
    path = tmp_path / "huge.pcd"
    body = struct.pack("<II", 3, 720_000_000) + bytes([0xE0, 0xFF, 0])
    path.write_bytes(pcd_header(XYZ_PCD, 60_000_000, kind) + body)
    load_refused(path, "declares 60,000,000 points", "MAX_FILE_POINTS")


def test_pcd_compressed_size_beyond_the_limit_is_refused_before_decompressing(tmp_path, monkeypatch):
    # 10 M points of x y z + a 40-value float64 descriptor: 3.32 GB uncompressed, within the point limit
    fields = XYZ_PCD + [("desc", "F", 8, 40)]
    head = pcd_header(fields, 10_000_000, "binary_compressed")
    raw_size = 10_000_000 * (12 + 320)
    called = []
    monkeypatch.setattr(pcd_module, "lzf_decompress", lambda *a: called.append(1) or 1 / 0)
    path = tmp_path / "bomb.pcd"
    path.write_bytes(head + struct.pack("<II", 3, raw_size) + bytes([0xE0, 0xFF, 0]))
    load_refused(path, f"would expand to {raw_size:,} bytes", "MAX_DECODED_BYTES")
    assert called == []


# -------------------------------------------------------------------------------------------------------- LZF


def _bomb_stream(n_refs: int) -> bytes:
    """One literal byte, then back-references of 264 bytes at distance 1: expands ~88 times."""
    return bytes([0, 0]) + bytes([0xE0, 0xFF, 0]) * n_refs


def test_lzf_never_writes_or_allocates_past_the_stated_size():
    stream = _bomb_stream(40_000)  # would expand to 10.5 MB
    tracemalloc.start()
    try:
        with pytest.raises(LZFError, match="exceeds the declared 1000 bytes"):
            lzf_decompress(stream, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10


def test_lzf_output_is_allocated_once():
    # the decoded buffer is the only large allocation: no growing buffer, no second full-size copy
    size = 1 + 264 * 4000
    stream = _bomb_stream(4000)
    tracemalloc.start()
    try:
        out = lzf_decompress(stream, size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out) == size and out == bytes(size)
    assert peak < size * 1.1


def test_lzf_rejects_a_bad_expected_size():
    with pytest.raises(ValueError, match="expected_size"):
        lzf_decompress(b"", -1)


# ----------------------------------------------------------------------------------------------- PLY and text


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
@pytest.mark.parametrize("count", [10**12, 2**63 - 1, 60_000_000])
def test_ply_header_declaring_huge_counts_stays_refused(tmp_path, fmt, count):
    data = make_ply(fmt, [("vertex", XYZ_PLY, [(1.0, 2.0, 3.0)])]).replace(b"element vertex 1",
                                                                          f"element vertex {count}".encode())
    path = tmp_path / "huge.ply"
    path.write_bytes(data)
    load_refused(path)


def test_text_point_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(io_errors, "MAX_FILE_POINTS", 4)
    (tmp_path / "a.xyz").write_text("# four points are fine\n" + "1 2 3\n" * 4)
    assert len(load_point_cloud(tmp_path / "a.xyz")) == 4
    (tmp_path / "b.xyz").write_text("1 2 3\n" * 5)
    load_refused(tmp_path / "b.xyz", "declares 5 point lines", "more than the limit of 4 points")


def test_pts_count_line_beyond_the_limit(tmp_path):
    (tmp_path / "a.pts").write_text("1000000000000\n1 2 3\n")
    load_refused(tmp_path / "a.pts", "1,000,000,000,000 points in its count line", "MAX_FILE_POINTS")
