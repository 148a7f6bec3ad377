"""NumPy point clouds: .npy tables and Occupancy Networks .npz archives; pickles are never loaded."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from hnf3d.io import FileFormatError, load_point_cloud

RNG = np.random.default_rng(3)


def test_npy_n3_any_dtype_becomes_float32(tmp_path):
    pts = RNG.normal(size=(20, 3))
    np.save(tmp_path / "a.npy", pts)
    pc = load_point_cloud(tmp_path / "a.npy")
    assert pc.points.dtype == np.float32 and pc.normals is None
    np.testing.assert_array_equal(pc.points, pts.astype(np.float32))


def test_npy_n6_gives_normals(tmp_path):
    table = RNG.normal(size=(20, 6)).astype(np.float32)
    np.save(tmp_path / "a.npy", table)
    pc = load_point_cloud(tmp_path / "a.npy")
    np.testing.assert_array_equal(pc.points, table[:, :3])
    np.testing.assert_array_equal(pc.normals, table[:, 3:])


def test_onet_npz_float16(tmp_path):
    pts, nrm = RNG.normal(size=(30, 3)).astype(np.float16), RNG.normal(size=(30, 3)).astype(np.float16)
    np.savez(tmp_path / "pointcloud.npz", points=pts, normals=nrm, loc=np.zeros(3, np.float16), scale=np.float16(1.5))
    pc = load_point_cloud(tmp_path / "pointcloud.npz")
    assert pc.points.dtype == np.float32 and pc.normals.dtype == np.float32
    np.testing.assert_array_equal(pc.points, pts.astype(np.float32))
    np.testing.assert_array_equal(pc.normals, nrm.astype(np.float32))


def test_npz_points_only_and_single_array(tmp_path):
    pts = RNG.normal(size=(5, 3)).astype(np.float32)
    np.savez_compressed(tmp_path / "a.npz", points=pts)
    assert load_point_cloud(tmp_path / "a.npz").normals is None
    np.savez(tmp_path / "b.npz", np.concatenate([pts, pts], axis=1))  # one unnamed (N, 6) array
    pc = load_point_cloud(tmp_path / "b.npz")
    np.testing.assert_array_equal(pc.normals, pts)


@pytest.mark.parametrize("shape", [(10, 4), (10,), (2, 5, 3), (3, 10)])
def test_npy_wrong_shape(tmp_path, shape):
    np.save(tmp_path / "bad.npy", np.zeros(shape, np.float32))
    with pytest.raises(FileFormatError, match=r"bad\.npy: the array has shape .*expected \(N, 3\)"):
        load_point_cloud(tmp_path / "bad.npy")


def test_object_npy_is_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match=r"obj\.npy: the array holds Python objects .*refusing to unpickle"):
        load_point_cloud(tmp_path / "obj.npy")


def test_plain_pickle_with_npy_extension_is_refused(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: called.append(1))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: called.append(1))
    (tmp_path / "evil.npy").write_bytes(pickle.dumps(np.zeros((4, 3))))
    with pytest.raises(FileFormatError, match="not a NumPy .npy/.npz file"):
        load_point_cloud(tmp_path / "evil.npy")
    assert not called


def test_object_array_inside_npz_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", points=np.array([[1, 2, 3]], dtype=object))
    with pytest.raises(FileFormatError, match="refusing to unpickle"):
        load_point_cloud(tmp_path / "obj.npz")


def test_npz_without_points_key(tmp_path):
    np.savez(tmp_path / "a.npz", xyz=np.zeros((3, 3)), rgb=np.zeros((3, 3)))
    with pytest.raises(FileFormatError, match=r"no 'points' array .*keys: xyz, rgb"):
        load_point_cloud(tmp_path / "a.npz")


def test_npz_normals_shape_mismatch(tmp_path):
    np.savez(tmp_path / "a.npz", points=np.zeros((3, 3)), normals=np.zeros((2, 3)))
    with pytest.raises(FileFormatError, match=r"'normals' has shape \(2, 3\) but 'points' has \(3, 3\)"):
        load_point_cloud(tmp_path / "a.npz")


def test_string_array_is_refused(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b", "c"]]))
    with pytest.raises(FileFormatError, match="expected a real numeric array"):
        load_point_cloud(tmp_path / "s.npy")


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((100, 3), np.float32))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:-17])
    with pytest.raises(FileFormatError, match=r"a\.npy: not a valid NumPy file"):
        load_point_cloud(tmp_path / "a.npy")
