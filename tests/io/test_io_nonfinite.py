"""NaN/Inf handling shared by every point-cloud reader, and the PointCloud container's validation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hnf3d.io import FileFormatError, NonFiniteWarning, PointCloud, load_point_cloud


def test_nonfinite_points_dropped_with_count_and_file_name(tmp_path):
    path = tmp_path / "holes.xyz"
    path.write_text("1 2 3\nnan 0 0\n4 5 6\n0 inf 0\n0 0 -inf\n7 8 9\n")
    with pytest.warns(NonFiniteWarning, match=r"holes\.xyz: dropped 3 of 6 points with NaN/Inf coordinates"):
        pc = load_point_cloud(path)
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_dropped_rows_take_their_normals_along(tmp_path):
    table = np.float32([[1, 2, 3, 0, 0, 1], [np.nan, 0, 0, 1, 0, 0], [4, 5, 6, 0, 1, 0]])
    np.save(tmp_path / "a.npy", table)
    with pytest.warns(NonFiniteWarning, match="dropped 1 of 3"):
        pc = load_point_cloud(tmp_path / "a.npy")
    np.testing.assert_array_equal(pc.normals, [[0, 0, 1], [0, 1, 0]])


def test_nonfinite_normals_drop_the_normals_array(tmp_path):
    table = np.float32([[1, 2, 3, 0, 0, 1], [4, 5, 6, np.nan, np.nan, np.nan], [7, 8, 9, 0, 1, 0]])
    np.save(tmp_path / "n.npy", table)
    with pytest.warns(NonFiniteWarning, match=r"n\.npy: 1 of 3 points have NaN/Inf normals; dropped the normals"):
        pc = load_point_cloud(tmp_path / "n.npy")
    assert pc.normals is None and len(pc) == 3


def test_float64_values_beyond_float32_range_are_reported_as_such(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[1e300, 0, 0], [1, 2, 3], [0, -1e39, 1e308]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow noise leaks out
        with pytest.warns(NonFiniteWarning) as record:
            pc = load_point_cloud(tmp_path / "big.npy")
    np.testing.assert_array_equal(pc.points, [[1, 2, 3]])
    (message,) = [str(w.message) for w in record]
    assert message.endswith("big.npy: dropped 2 of 3 points with coordinates beyond the float32 range (|x| > 3.4e+38)")
    assert "NaN" not in message


@pytest.mark.parametrize("name, content", [
    ("big.xyz", "1e300 0 0\n1 2 3\nnan 0 0\n4 5 6\n"),
    ("big.pcd", "VERSION 0.7\nFIELDS x y z\nSIZE 8 8 8\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 4\nHEIGHT 1\n"
                "POINTS 4\nDATA ascii\n1e300 0 0\n1 2 3\nnan 0 0\n4 5 6\n"),
])
def test_mixed_nan_and_out_of_range_are_counted_separately(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.warns(NonFiniteWarning, match=r"dropped 2 of 4 points \(1 with NaN/Inf coordinates, 1 with "
                                              r"coordinates beyond the float32 range \(\|x\| > 3\.4e\+38\)\)"):
        pc = load_point_cloud(path)
    np.testing.assert_array_equal(pc.points, [[1, 2, 3], [4, 5, 6]])


def test_all_points_beyond_float32_range(tmp_path):
    path = tmp_path / "huge.xyz"
    path.write_text("1e300 0 0\n0 -1e308 0\n")
    with pytest.raises(FileFormatError) as info:
        load_point_cloud(path)
    assert str(info.value) == (f"{path}: no usable point: all 2 points have coordinates beyond the float32 range "
                               "(|x| > 3.4e+38)")


def test_normals_beyond_float32_range(tmp_path):
    table = np.array([[1, 2, 3, 0, 0, 1e300], [4, 5, 6, 0, 1, 0]])
    np.save(tmp_path / "n.npy", table)
    with pytest.warns(NonFiniteWarning, match=r"1 of 2 points have normals beyond the float32 range .*dropped the "
                                              r"normals"):
        pc = load_point_cloud(tmp_path / "n.npy")
    assert pc.normals is None and len(pc) == 2


def test_pointcloud_refuses_values_beyond_float32_range():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"PointCloud.points has 2 values beyond the float32 range"):
            PointCloud(np.array([[1e300, 0, 0], [0, 0, -1e39]]))
    assert np.isnan(PointCloud(np.array([[np.nan, 0, 0]])).points[0, 0])  # NaN is kept: loaders drop it


def test_loaded_arrays_are_writable(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((5, 3), np.float32))
    pc = load_point_cloud(tmp_path / "a.npy")
    pc.points += 1  # a read-only view of the file's bytes would refuse this
    assert pc.points[0, 0] == 2


def test_all_nan_is_an_error(tmp_path):
    path = tmp_path / "void.xyz"
    path.write_text("nan nan nan\nnan 1 2\n")
    with pytest.raises(FileFormatError, match=r"void\.xyz: no usable point: all 2 points have NaN/Inf coordinates"):
        load_point_cloud(path)


def test_finite_file_emits_no_warning(tmp_path):
    path = tmp_path / "ok.xyz"
    path.write_text("1 2 3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_point_cloud(path)


def test_pointcloud_validates_and_converts():
    pc = PointCloud(np.zeros((4, 3), np.float64), np.ones((4, 3), np.int32))
    assert pc.points.dtype == np.float32 and pc.normals.dtype == np.float32 and len(pc) == 4
    assert PointCloud(np.zeros((0, 3))).normals is None
    with pytest.raises(ValueError, match=r"PointCloud.points must have shape \(N, 3\), got \(4, 2\)"):
        PointCloud(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"PointCloud.normals has 3 rows but points has 4"):
        PointCloud(np.zeros((4, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="real numeric array"):
        PointCloud(np.array([[object()] * 3]))
