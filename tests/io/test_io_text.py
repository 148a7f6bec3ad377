"""Text point clouds: .xyz / .txt / .pts column layouts, separators, comments and count lines."""
from __future__ import annotations

import numpy as np
import pytest

from hnf3d.io import FileFormatError, load_point_cloud


def write(tmp_path, text: str | bytes, name: str):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("ext", ["xyz", "txt"])
def test_three_columns(tmp_path, ext):
    pc = load_point_cloud(write(tmp_path, "# scan\n1 2 3\n\n4.5 -5 6e-1  # trailing comment\n", f"a.{ext}"))
    np.testing.assert_array_equal(pc.points, np.float32([[1, 2, 3], [4.5, -5, 0.6]]))
    assert pc.normals is None and pc.points.dtype == np.float32


@pytest.mark.parametrize("ext", ["xyz", "txt"])
def test_six_columns_are_points_and_normals(tmp_path, ext):
    pc = load_point_cloud(write(tmp_path, "1 2 3 0 0 1\n4 5 6 0 1 0\n", f"a.{ext}"))
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pc.normals, [[0, 0, 1], [0, 1, 0]])


def test_comma_and_tab_separated(tmp_path):
    pc = load_point_cloud(write(tmp_path, "1,2,3\r\n4, 5,\t6\r\n", "a.txt"))
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6]])


def test_extra_columns_are_ignored(tmp_path):
    pc = load_point_cloud(write(tmp_path, "1 2 3 0.5\n4 5 6 0.7\n", "a.xyz"))
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6]])
    assert pc.normals is None


def test_pts_with_count_line_and_intensity_rgb(tmp_path):
    # Leica-style: count, then x y z intensity r g b. Six-plus columns never mean normals in a .pts.
    pc = load_point_cloud(write(tmp_path, "2\n1 2 3 -1200 255 0 0\n4 5 6 87 0 255 0\n", "scan.pts"))
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6]])
    assert pc.normals is None


def test_pts_without_count_line(tmp_path):
    pc = load_point_cloud(write(tmp_path, "1 2 3 0 0 1\n4 5 6 0 1 0\n", "scan.pts"))
    assert pc.normals is None and len(pc) == 2


def test_pts_count_mismatch(tmp_path):
    with pytest.raises(FileFormatError, match="count line says 3 points but 2 rows follow"):
        load_point_cloud(write(tmp_path, "3\n1 2 3\n4 5 6\n", "scan.pts"))


@pytest.mark.parametrize(
    "text, why",
    [
        ("1 2\n3 4\n", "expected at least 3 columns"),
        ("1 2 3\n4 5 6 7\n", "number of columns changed"),
        ("1 2 3\n4 five 6\n", "cannot parse"),
        ("# only a comment\n\n", "contains no points"),
        ("4\n", "expected at least 3 columns"),  # a count line is only understood in .pts
    ],
)
def test_malformed_text(tmp_path, text, why):
    path = write(tmp_path, text, "bad.xyz")
    with pytest.raises(FileFormatError, match=why) as info:
        load_point_cloud(path)
    assert str(info.value).startswith(str(path))


def test_binary_garbage_is_not_text(tmp_path):
    with pytest.raises(FileFormatError, match="not valid UTF-8"):
        load_point_cloud(write(tmp_path, b"\xff\xfe\x00\x81garbage", "bad.txt"))
