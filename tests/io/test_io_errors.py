"""Errors common to every point-cloud format: what a user sees for missing, empty or misnamed files."""
from __future__ import annotations

from pathlib import Path

import pytest

from hnf3d.io import POINT_CLOUD_READ_EXTENSIONS, FileFormatError, load_point_cloud


@pytest.mark.parametrize("ext", POINT_CLOUD_READ_EXTENSIONS)
def test_missing_file(tmp_path, ext):
    path = tmp_path / f"nowhere{ext}"
    with pytest.raises(FileNotFoundError, match=f"nowhere\\{ext}"):
        load_point_cloud(path)


@pytest.mark.parametrize("ext", POINT_CLOUD_READ_EXTENSIONS)
def test_empty_file(tmp_path, ext):
    path = tmp_path / f"empty{ext}"
    path.touch()
    with pytest.raises(FileFormatError) as info:
        load_point_cloud(str(path))
    assert str(info.value) == f"{path}: empty file"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["scan.las", "scan", "scan.ply.bak"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("1 2 3\n")
    with pytest.raises(ValueError, match="unknown point cloud extension") as info:
        load_point_cloud(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize("ext", [".obj", ".OFF", ".stl", ".glb"])
def test_mesh_formats_point_to_load_mesh(tmp_path, ext):
    path = tmp_path / f"model{ext}"
    path.write_text("v 0 0 0\n")
    with pytest.raises(ValueError, match="is a mesh format: use hnf3d.io.load_mesh"):
        load_point_cloud(path)


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "dir.ply").mkdir()
    with pytest.raises(IsADirectoryError):
        load_point_cloud(tmp_path / "dir.ply")


def test_accepts_str_and_pathlike(tmp_path):
    path = tmp_path / "a.xyz"
    path.write_text("1 2 3\n")

    class Custom:  # any os.PathLike
        def __fspath__(self) -> str:
            return str(path)

    for p in (str(path), Path(path), Custom()):
        assert len(load_point_cloud(p)) == 1
