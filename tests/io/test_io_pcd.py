"""PCD reader (ascii / binary / binary_compressed) and the LZF decompressor behind binary_compressed."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from _io_helpers import lzf_compress, make_pcd

from hnf3d.io import FileFormatError, LZFError, NonFiniteWarning, load_point_cloud, lzf_decompress

XYZN = [("x", "F", 4, 1), ("y", "F", 4, 1), ("z", "F", 4, 1),
        ("normal_x", "F", 4, 1), ("normal_y", "F", 4, 1), ("normal_z", "F", 4, 1), ("curvature", "F", 4, 1)]
RNG = np.random.default_rng(7)
PTS = RNG.normal(size=(50, 3)).astype(np.float32)
NRM = RNG.normal(size=(50, 3)).astype(np.float32)
CURV = RNG.random((50, 1)).astype(np.float32)
ROWS = [tuple(float(v) for v in r) for r in np.concatenate([PTS, NRM, CURV], axis=1)]


def write(tmp_path, data: bytes, name: str = "scan.pcd"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["ascii", "binary", "binary_compressed"])
def test_points_normals_and_ignored_fields(tmp_path, kind):
    pc = load_point_cloud(write(tmp_path, make_pcd(XYZN, ROWS, kind)))
    np.testing.assert_array_equal(pc.points, PTS)
    np.testing.assert_array_equal(pc.normals, NRM)


@pytest.mark.parametrize("kind", ["binary", "binary_compressed"])
@pytest.mark.parametrize("compressed_padding", [False, True])
def test_padding_rgb_and_multi_count_fields(tmp_path, kind, compressed_padding):
    # rgb packed as U4, a 3-value descriptor, 1- and 3-byte padding `_` fields, a double and an int16 field.
    fields = [("_", "U", 1, 1), ("x", "F", 4, 1), ("rgb", "U", 4, 1), ("y", "F", 8, 1), ("fpfh", "F", 4, 3),
              ("_", "U", 1, 3), ("z", "F", 4, 1), ("label", "I", 2, 1)]
    rows = [(0, *[float(p[0])], 0xFF8000, float(p[1]), 1.0, 2.0, 3.0, 0, 0, 0, float(p[2]), -3) for p in PTS]
    data = make_pcd(fields, rows, kind, compressed_padding=compressed_padding)
    pc = load_point_cloud(write(tmp_path, data))
    np.testing.assert_array_equal(pc.points, PTS)
    assert pc.normals is None


def test_version_06_without_count_line(tmp_path):
    data = make_pcd(XYZN[:3], [r[:3] for r in ROWS], "ascii", version=".6", with_count=False)
    np.testing.assert_array_equal(load_point_cloud(write(tmp_path, data)).points, PTS)


@pytest.mark.parametrize("kind", ["ascii", "binary", "binary_compressed"])
def test_organised_scan_drops_nan_pixels(tmp_path, kind):
    # A 4 x 3 organised cloud where 5 pixels have no depth (NaN x y z and NaN normals), as Kinect scans do.
    pts = RNG.normal(size=(12, 3)).astype(np.float32)
    nrm = RNG.normal(size=(12, 3)).astype(np.float32)
    missing = [0, 3, 4, 9, 11]
    pts[missing] = np.nan
    nrm[missing] = np.nan
    rows = [tuple(float(v) for v in r) for r in np.concatenate([pts, nrm, np.zeros((12, 1))], axis=1)]
    path = write(tmp_path, make_pcd(XYZN, rows, kind, width=4, height=3), "kinect.pcd")
    with pytest.warns(NonFiniteWarning, match=r"kinect\.pcd: dropped 5 of 12 points with NaN/Inf coordinates"):
        pc = load_point_cloud(path)
    keep = np.setdiff1d(np.arange(12), missing)
    np.testing.assert_array_equal(pc.points, pts[keep])
    np.testing.assert_array_equal(pc.normals, nrm[keep])


def test_matches_open3d(tmp_path):
    o3d = pytest.importorskip("open3d")
    for kind in ("ascii", "binary", "binary_compressed"):
        path = write(tmp_path, make_pcd(XYZN, ROWS, kind), f"{kind}.pcd")
        ours, theirs = load_point_cloud(path), o3d.io.read_point_cloud(str(path))
        np.testing.assert_allclose(ours.points, np.asarray(theirs.points), atol=1e-6)
        np.testing.assert_allclose(ours.normals, np.asarray(theirs.normals), atol=1e-6)


# ------------------------------------------------------------------------------------------------------ errors


def test_truncated_binary(tmp_path):
    data = make_pcd(XYZN, ROWS, "binary")
    expected = r"scan\.pcd: truncated binary data: header declares 50 points \(1400 bytes\) but only 1390 bytes"
    with pytest.raises(FileFormatError, match=expected):
        load_point_cloud(write(tmp_path, data[:-10]))


def test_truncated_compressed(tmp_path):
    data = make_pcd(XYZN, ROWS, "binary_compressed")
    with pytest.raises(FileFormatError, match="truncated binary_compressed data: .* compressed bytes declared"):
        load_point_cloud(write(tmp_path, data[:-10]))
    header_end = data.index(b"DATA binary_compressed\n") + len(b"DATA binary_compressed\n")
    with pytest.raises(FileFormatError, match="the 8-byte size header is missing"):
        load_point_cloud(write(tmp_path, data[: header_end + 4]))


def test_corrupt_compressed_stream(tmp_path):
    data = bytearray(make_pcd(XYZN, ROWS, "binary_compressed"))
    start = data.index(b"DATA binary_compressed\n") + len(b"DATA binary_compressed\n") + 8
    data[start] = 0xE0 | 0x1F  # first chunk becomes a back-reference, but the output is still empty
    with pytest.raises(FileFormatError, match="corrupt binary_compressed data: back-reference"):
        load_point_cloud(write(tmp_path, bytes(data)))


def test_compressed_size_disagrees_with_header(tmp_path):
    data = make_pcd(XYZN, ROWS, "binary_compressed")
    start = data.index(b"DATA binary_compressed\n") + len(b"DATA binary_compressed\n")
    (csize, usize) = struct.unpack_from("<II", data, start)
    bad = data[:start] + struct.pack("<II", csize, usize - 4) + data[start + 8 :]
    with pytest.raises(FileFormatError, match="expands to 1396 bytes but the header's 50 points need 1400"):
        load_point_cloud(write(tmp_path, bad))


def test_ascii_too_few_values(tmp_path):
    data = make_pcd(XYZN, ROWS, "ascii")
    with pytest.raises(FileFormatError, match=r"truncated ascii data: header declares 50 points \(350 values\)"):
        load_point_cloud(write(tmp_path, data[: data.rindex(b"\n", 0, -1)]))


HEADER = make_pcd(XYZN[:3], [r[:3] for r in ROWS[:2]], "ascii").decode()


@pytest.mark.parametrize(
    "text, why",
    [
        (HEADER.replace("DATA ascii", "DADA ascii"), "unknown line 'DADA ascii'"),
        (HEADER.split("DATA")[0], "no DATA line"),
        (HEADER.replace("DATA ascii", "DATA binary_lz4"), "DATA must be one of"),
        (HEADER.replace("SIZE 4 4 4", "SIZE 4 4"), "FIELDS has 3 entries but SIZE has 2"),
        (HEADER.replace("TYPE F F F", "TYPE F F Q"), "TYPE Q with SIZE 4 is not a PCD type"),
        (HEADER.replace("SIZE 4 4 4", "SIZE 4 4 2"), "TYPE F with SIZE 2"),
        (HEADER.replace("WIDTH 2", "WIDTH 3"), "WIDTH 3 x HEIGHT 1 != POINTS 2"),
        (HEADER.replace("POINTS 2", "POINTS two"), "POINTS must be integers"),
        (HEADER.replace("FIELDS x y z", "FIELDS"), "no FIELDS line"),
    ],
)
def test_malformed_header(tmp_path, text, why):
    path = write(tmp_path, text.encode(), "bad.pcd")
    with pytest.raises(FileFormatError, match="malformed PCD header") as info:
        load_point_cloud(path)
    assert why in str(info.value) and str(info.value).startswith(str(path))


def test_missing_xyz_field(tmp_path):
    data = make_pcd([("x", "F", 4, 1), ("y", "F", 4, 1), ("w", "F", 4, 1)], [(1.0, 2.0, 3.0)], "ascii")
    with pytest.raises(FileFormatError, match=r"no field z \(FIELDS: x y w\)"):
        load_point_cloud(write(tmp_path, data))


# --------------------------------------------------------------------------------------------------------- LZF


def test_lzf_literal_and_back_references_by_hand():
    # literal "abc" (ctrl 2), back-ref length 3 distance 3 (ctrl 1<<5), overlapping run: "x" then length 9 at
    # distance 1 (ctrl 7<<5 + extra byte 0 -> 7 + 2 = 9), and a long one: length 7 + 20 + 2 = 29 at distance 1.
    stream = bytes([2, *b"abc", 1 << 5, 2, 0, *b"x", 7 << 5, 0, 0, 7 << 5, 20, 0])
    assert lzf_decompress(stream, 6 + 1 + 9 + 29) == b"abcabc" + b"x" * 39


def test_lzf_two_byte_periodic_overlap():
    stream = bytes([1, *b"ab", 4 << 5, 1])  # copy 6 bytes from 2 back: "ababab"
    assert lzf_decompress(stream, 8) == b"abababab"


@pytest.mark.parametrize(
    "stream, size, why",
    [
        (bytes([5, *b"abc"]), 6, "runs past the end"),
        (bytes([1 << 5, 0]), 3, "points before the start"),
        (bytes([0, 65, 1 << 5]), 4, "input ends inside a back-reference"),
        (bytes([2, *b"abc"]), 2, "exceeds the declared 2 bytes"),
        (bytes([2, *b"abc"]), 5, "output is 3 bytes, expected 5"),
    ],
)
def test_lzf_rejects_corrupt_streams(stream, size, why):
    with pytest.raises(LZFError, match=why):
        lzf_decompress(stream, size)


def test_lzf_round_trip_with_test_compressor():
    rng = np.random.default_rng(1)
    samples = [b"", b"a", b"a" * 1000, rng.bytes(3000), (b"hello world " * 500) + rng.bytes(100),
               np.repeat(rng.normal(size=(400, 3)).astype(np.float32), 3, axis=0).tobytes()]
    for raw in samples:
        packed = lzf_compress(raw)
        assert lzf_decompress(packed, len(raw)) == raw
    assert len(lzf_compress(samples[2])) < 50  # the compressor really emits back-references
