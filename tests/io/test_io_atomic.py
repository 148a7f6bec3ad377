"""Saves are atomic: a failure never leaves a partial file, a temp file, or a clobbered previous output."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import trimesh

from hnf3d.io import PointCloud, atomic_write, load_point_cloud, save_mesh, save_point_cloud
from hnf3d.io import ply as ply_module

PTS = np.arange(30, dtype=np.float32).reshape(10, 3)


def _half_then_fail(handle, points, normals=None):
    handle.write(b"ply\nformat binary_little_endian 1.0\n")
    raise RuntimeError("disk on fire")


def test_failing_writer_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ply_module, "write_ply_points", _half_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_point_cloud(PTS, tmp_path / "out.ply")
    assert list(tmp_path.iterdir()) == []


def test_failing_writer_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "out.ply"
    save_point_cloud(PTS, path)
    before = path.read_bytes()
    monkeypatch.setattr(ply_module, "write_ply_points", _half_then_fail)
    with pytest.raises(RuntimeError):
        save_point_cloud(PTS * 2, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.ply"]


def test_unserialisable_input_writes_nothing(tmp_path):
    path = tmp_path / "out.npy"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError):
        save_point_cloud(np.array([[object(), object(), object()]]), path)
    with pytest.raises(ValueError):
        save_point_cloud("not an array", path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


def test_interrupt_mid_write_cleans_up(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "x.bin") as handle:
            handle.write(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_failing_mesh_export_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "mesh.obj"
    path.write_text("previous")

    def boom(*args, **kwargs):
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(trimesh.Trimesh, "export", boom)
    with pytest.raises(RuntimeError, match="exporter failed"):
        save_mesh(trimesh.creation.box(), path)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["mesh.obj"]


def test_failing_mesh_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def fail_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="rename failed"):
        save_mesh(trimesh.creation.box(), tmp_path / "mesh.ply")
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="output directory .*does not exist"):
        save_point_cloud(PTS, tmp_path / "no" / "such" / "dir.ply")
    with pytest.raises(FileNotFoundError, match="output directory"):
        save_mesh(trimesh.creation.box(), tmp_path / "nope" / "m.ply")


def test_output_is_a_directory(tmp_path):
    (tmp_path / "taken.ply").mkdir()
    with pytest.raises(IsADirectoryError):
        save_point_cloud(PTS, tmp_path / "taken.ply")


def test_overwrite_replaces_content_and_keeps_mode(tmp_path):
    path = tmp_path / "a.xyz"
    save_point_cloud(PTS, path)
    os.chmod(path, 0o640)
    save_point_cloud(PointCloud(PTS[:2]), path)
    assert len(load_point_cloud(path)) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_new_file_gets_umask_permissions_not_private_tempfile_ones(tmp_path):
    old = os.umask(0o027)
    try:
        save_point_cloud(PTS, tmp_path / "a.ply")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.ply").stat().st_mode) == 0o640
