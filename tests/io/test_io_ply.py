"""PLY reader: every format variant, type, element layout and the errors users hit with broken files."""
from __future__ import annotations

import numpy as np
import pytest
from _io_helpers import make_ply

from hnf3d.io import FileFormatError, load_point_cloud
from hnf3d.io.ply import PLY_TYPES, read_ply

FORMATS = ["ascii", "binary_little_endian", "binary_big_endian"]
XYZ = [("float", "x"), ("float", "y"), ("float", "z")]
NORMALS = [("float", "nx"), ("float", "ny"), ("float", "nz")]
PTS = np.array([[0.5, -1.25, 2.0], [3.0, 4.5, -6.75], [1e-3, 2e-3, 3e-3]], dtype=np.float32)
NRM = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
GOOD_HEADER = (
    "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
)


def rows(*columns: np.ndarray) -> list[tuple]:
    table = np.concatenate(columns, axis=1)
    return [tuple(float(v) for v in r) for r in table]


def write(tmp_path, data: bytes, name: str = "cloud.ply"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_points_and_normals_every_format(tmp_path, fmt):
    data = make_ply(fmt, [("vertex", XYZ + NORMALS, rows(PTS, NRM))], comments=["comment made by hand", "obj_info x 1"])
    pc = load_point_cloud(write(tmp_path, data))
    assert pc.points.dtype == np.float32 and pc.normals.dtype == np.float32
    np.testing.assert_array_equal(pc.points, PTS)
    np.testing.assert_array_equal(pc.normals, NRM)


@pytest.mark.parametrize("fmt", FORMATS)
def test_points_without_normals(tmp_path, fmt):
    pc = load_point_cloud(write(tmp_path, make_ply(fmt, [("vertex", XYZ, rows(PTS))])))
    assert pc.normals is None
    np.testing.assert_array_equal(pc.points, PTS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_scalar_type_and_alias(tmp_path, fmt):
    # x/y/z in three different types, then one extra property of every other spelling.
    extra = [("char", "a"), ("int8", "b"), ("uchar", "c"), ("uint8", "d"), ("short", "e"), ("int16", "f"),
             ("ushort", "g"), ("uint16", "h"), ("int", "i"), ("int32", "j"), ("uint", "k"), ("uint32", "l"),
             ("float32", "m"), ("float64", "n"), ("double", "o")]
    extra_values = (-128, 127, 255, 0, -32768, 32767, 65535, 1, -2**31, 2**31 - 1, 2**32 - 1, 7, 1.5, -2.25, 1e100)
    props = [("char", "x"), ("ushort", "y"), ("double", "z")] + extra
    data = make_ply(fmt, [("vertex", props, [(-5, 60000, 0.125, *extra_values), (7, 1, -3.5, *extra_values)])])
    path = write(tmp_path, data)
    pc = load_point_cloud(path)
    np.testing.assert_array_equal(pc.points, [[-5, 60000, 0.125], [7, 1, -3.5]])
    _, elements = read_ply(path, data)
    vertex = elements["vertex"]
    for (type_name, name), value in zip(extra, extra_values):
        assert vertex[name].dtype == np.dtype(PLY_TYPES[type_name]), name
        assert vertex[name][0] == vertex[name].dtype.type(value), name
    assert vertex["x"].dtype == np.int8 and vertex["y"].dtype == np.uint16 and vertex["z"].dtype == np.float64


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_property_element_before_and_after_vertex(tmp_path, fmt):
    # Like a Stanford range scan: a grid element whose rows hold 0 or 1 vertex index (varying list lengths).
    grid = ("range_grid", [("list", "uchar", "int", "vertex_indices")], [([],), ([0],), ([],), ([2],), ([1],)])
    tail = ("camera", [("float", "fx"), ("list", "uchar", "float", "k")], [(1.0, [0.5, 0.25])])
    for elements in ([grid, ("vertex", XYZ, rows(PTS)), tail], [("vertex", XYZ, rows(PTS)), grid, tail]):
        data = make_ply(fmt, elements)
        path = write(tmp_path, data)
        np.testing.assert_array_equal(load_point_cloud(path).points, PTS)
        _, parsed = read_ply(path, data)
        cells = parsed["range_grid"]["vertex_indices"]
        assert [list(c) for c in cells] == [[], [0], [], [2], [1]]
        np.testing.assert_array_equal(parsed["camera"]["k"], [[0.5, 0.25]])


@pytest.mark.parametrize("fmt", FORMATS)
def test_mesh_ply_is_a_point_cloud_of_its_vertices(tmp_path, fmt):
    faces = [([0, 1, 2],), ([2, 1, 0],)]
    data = make_ply(fmt, [("vertex", XYZ, rows(PTS)), ("face", [("list", "uchar", "int", "vertex_indices")], faces)])
    path = write(tmp_path, data)
    np.testing.assert_array_equal(load_point_cloud(path).points, PTS)
    _, parsed = read_ply(path, data)
    np.testing.assert_array_equal(parsed["face"]["vertex_indices"], [[0, 1, 2], [2, 1, 0]])


@pytest.mark.parametrize("fmt", FORMATS)
def test_mixed_polygon_faces_are_walked_row_by_row(tmp_path, fmt):
    faces = [([0, 1, 2],), ([0, 1, 2, 0],), ([1, 2, 0],)]
    data = make_ply(fmt, [("vertex", XYZ, rows(PTS)), ("face", [("list", "uchar", "uint", "vertex_indices")], faces)])
    _, parsed = read_ply("mixed.ply", data)
    assert [list(f) for f in parsed["face"]["vertex_indices"]] == [[0, 1, 2], [0, 1, 2, 0], [1, 2, 0]]


def test_crlf_header_and_ascii_body_split_over_lines(tmp_path):
    data = b"ply\r\nformat ascii 1.0\r\nelement vertex 2\r\nproperty float x\r\nproperty float y\r\n" \
           b"property float z\r\nend_header\r\n1 2\r\n3\r\n4 5 6\r\n"
    np.testing.assert_array_equal(load_point_cloud(write(tmp_path, data)).points, [[1, 2, 3], [4, 5, 6]])


def test_binary_header_crlf_keeps_data_aligned(tmp_path):
    data = make_ply("binary_little_endian", [("vertex", XYZ, rows(PTS))], newline="\r\n")
    np.testing.assert_array_equal(load_point_cloud(write(tmp_path, data)).points, PTS)


def test_uppercase_extension(tmp_path):
    path = write(tmp_path, make_ply("ascii", [("vertex", XYZ, rows(PTS))]), "SCAN.PLY")
    assert len(load_point_cloud(path)) == 3


def test_matches_open3d_on_a_binary_file(tmp_path):
    o3d = pytest.importorskip("open3d")
    rng = np.random.default_rng(0)
    pts, nrm = rng.normal(size=(500, 3)).astype(np.float32), rng.normal(size=(500, 3)).astype(np.float32)
    grid = ("range_grid", [("list", "uchar", "int", "vertex_indices")], [([i],) for i in range(7)])
    path = write(tmp_path, make_ply("binary_big_endian", [("vertex", XYZ + NORMALS, rows(pts, nrm)), grid]))
    ours, theirs = load_point_cloud(path), o3d.io.read_point_cloud(str(path))
    np.testing.assert_allclose(ours.points, np.asarray(theirs.points), atol=1e-6)
    np.testing.assert_allclose(ours.normals, np.asarray(theirs.normals), atol=1e-6)


# ------------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian"])
def test_truncated_binary_vertices(tmp_path, fmt):
    data = make_ply(fmt, [("vertex", XYZ, rows(PTS))])
    path = write(tmp_path, data[:-5], "scan.ply")
    with pytest.raises(FileFormatError, match=r"^.*scan\.ply: truncated binary data: header declares 3 vertex") as info:
        load_point_cloud(path)
    assert "36 bytes" in str(info.value) and "31 bytes follow" in str(info.value)
    assert str(info.value).startswith(str(path))


def test_truncated_binary_list_element_before_vertex(tmp_path):
    grid = ("range_grid", [("list", "uchar", "int", "vertex_indices")], [([1, 2],)] * 4)
    data = make_ply("binary_little_endian", [grid, ("vertex", XYZ, rows(PTS))])
    header_end = data.index(b"end_header\n") + len(b"end_header\n")
    with pytest.raises(FileFormatError, match="truncated binary data"):
        load_point_cloud(write(tmp_path, data[: header_end + 20]))


def test_truncated_ascii(tmp_path):
    data = make_ply("ascii", [("vertex", XYZ, rows(PTS))])
    with pytest.raises(FileFormatError, match=r"truncated ascii data: header declares 3 vertex elements \(9 values\)"):
        load_point_cloud(write(tmp_path, data[: data.rindex(b" ")]))


def test_non_numeric_ascii_value(tmp_path):
    data = (GOOD_HEADER + "1 two 3\n").encode()
    with pytest.raises(FileFormatError, match="non-numeric value 'two'"):
        load_point_cloud(write(tmp_path, data))


@pytest.mark.parametrize(
    "header, why",
    [
        (GOOD_HEADER.replace("ply\n", "PLY\n", 1), "first line is not 'ply'"),
        (GOOD_HEADER.replace("end_header", "end_head"), "no 'end_header'"),
        (GOOD_HEADER.replace("format ascii 1.0\n", ""), "no 'format' line"),
        (GOOD_HEADER.replace("ascii", "binary"), "expected 'format"),
        (GOOD_HEADER.replace("vertex 1", "vertex one"), "non-negative integer count"),
        (GOOD_HEADER.replace("float y", "float96 y"), "unknown property type 'float96'"),
        (GOOD_HEADER.replace("element vertex 1\n", "property float w\nelement vertex 1\n"), "property before any"),
        (GOOD_HEADER.replace("property float z", "property list float int z"), "list length type must be an integer"),
        (GOOD_HEADER.replace("end_header", "frobnicate\nend_header"), "unknown keyword 'frobnicate'"),
    ],
)
def test_malformed_header(tmp_path, header, why):
    path = write(tmp_path, (header + "1 2 3\n").encode(), "bad.ply")
    with pytest.raises(FileFormatError, match="malformed PLY header|not a PLY file") as info:
        load_point_cloud(path)
    assert why in str(info.value) and str(info.value).startswith(str(path))


def test_missing_coordinate_property(tmp_path):
    data = make_ply("ascii", [("vertex", [("float", "x"), ("float", "y"), ("float", "w")], rows(PTS))])
    with pytest.raises(FileFormatError, match="vertex element lacks property z"):
        load_point_cloud(write(tmp_path, data))


def test_no_vertex_element(tmp_path):
    data = make_ply("ascii", [("point", XYZ, rows(PTS))])
    with pytest.raises(FileFormatError, match=r"no 'vertex' element \(elements: point\)"):
        load_point_cloud(write(tmp_path, data))


def test_zero_vertices(tmp_path):
    with pytest.raises(FileFormatError, match="contains no points"):
        load_point_cloud(write(tmp_path, make_ply("binary_little_endian", [("vertex", XYZ, [])])))


@pytest.mark.parametrize("fmt", FORMATS)
def test_ply_has_faces_reads_the_header_only(tmp_path, fmt):
    from hnf3d.io.ply import ply_has_faces, read_ply_header

    faces = [([0, 1, 2],), ([2, 1, 0],)]
    mesh = make_ply(fmt, [("vertex", XYZ, rows(PTS)), ("face", [("list", "uchar", "int", "vertex_indices")], faces)])
    assert ply_has_faces(write(tmp_path, mesh, "mesh.ply"))
    header = read_ply_header(tmp_path / "mesh.ply")
    assert [(e.name, e.count) for e in header.elements] == [("vertex", 3), ("face", 2)] and header.format == fmt
    # header only: the data is never read, so a mesh whose data is cut short is still told from its header
    assert ply_has_faces(write(tmp_path, mesh[: mesh.index(b"end_header") + 11], "cut.ply"))
    cloud = make_ply(fmt, [("vertex", XYZ, rows(PTS))])
    assert not ply_has_faces(write(tmp_path, cloud, "cloud.ply"))
    no_faces = make_ply(fmt, [("vertex", XYZ, rows(PTS)), ("face", [("list", "uchar", "int", "vertex_indices")], [])])
    assert not ply_has_faces(write(tmp_path, no_faces, "nofaces.ply"))


def test_read_ply_header_errors(tmp_path):
    from hnf3d.io.ply import HEADER_READ_LIMIT, read_ply_header

    for name, data, why in [
        ("empty.ply", b"", "empty file"),
        ("text.ply", b"hello world\n" * 10, "not a PLY file"),
        ("endless.ply", b"ply\nformat ascii 1.0\n" + b"comment x\n" * (HEADER_READ_LIMIT // 10 + 10), "end_header"),
    ]:
        with pytest.raises(FileFormatError, match=why) as info:
            read_ply_header(write(tmp_path, data, name))
        assert str(info.value).startswith(str(tmp_path / name))
