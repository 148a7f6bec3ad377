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


# ------------------------------------------------------------------------------- leftovers of killed writers

_WRITER = """
import sys, time
from hnf3d.io import atomic_write
with atomic_write(sys.argv[1]) as handle:
    handle.write(b"partial")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _temp_files(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") or p.name.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pid checks are POSIX")
def test_sigkill_mid_write_leftover_is_removed_by_the_next_write(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "mesh.ply"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline() == b"writing\n"
        leftovers = _temp_files(tmp_path, "mesh.ply")
        assert len(leftovers) == 1 and ".hnf3d-tmp." in leftovers[0] and f".{proc.pid}." in leftovers[0]
        with atomic_write(tmp_path / "other.ply") as handle:  # another target: a live writer's file is kept
            handle.write(b"x")
        assert _temp_files(tmp_path, "mesh.ply") == leftovers
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert _temp_files(tmp_path, "mesh.ply") == leftovers  # SIGKILL: nobody cleaned up
    assert not out.exists()
    save_point_cloud(PTS, out)
    assert _temp_files(tmp_path, "mesh.ply") == []
    assert len(load_point_cloud(out)) == len(PTS)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has this id (unless reused within milliseconds)


@pytest.mark.skipif(os.name != "posix", reason="pid checks are POSIX")
def test_stale_temp_files_of_dead_writers_are_removed_live_and_foreign_ones_kept(tmp_path):
    from hnf3d.io.atomic import _host_tag

    host, dead = _host_tag(), _dead_pid()
    stale = tmp_path / f".a.xyz.hnf3d-tmp.{host}.{dead}.0123abcd"
    live = tmp_path / f".a.xyz.hnf3d-tmp.{host}.{os.getpid()}.0123abcd"  # a concurrent writer (this process)
    foreign = tmp_path / f".a.xyz.hnf3d-tmp.otherhost-{host}.{dead}.0123abcd"  # another machine's writer
    other_target = tmp_path / f".b.xyz.hnf3d-tmp.{host}.{dead}.0123abcd"
    user_file = tmp_path / ".a.xyz.hnf3d-tmp.notes"
    for p in (stale, live, foreign, other_target, user_file):
        p.write_bytes(b"leftover")
    save_point_cloud(PTS, tmp_path / "a.xyz")
    assert not stale.exists()
    assert live.exists() and foreign.exists() and other_target.exists() and user_file.exists()


def test_temp_file_name_is_recognisable(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_point_cloud(PTS, tmp_path / "out.npy")
    assert len(seen) == 1 and seen[0].startswith(".out.npy.hnf3d-tmp.") and f".{os.getpid()}." in seen[0]
