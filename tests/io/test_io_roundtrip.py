"""save_* then load_* gives back what was saved, for every writable format."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from hnf3d.io import (
    MESH_WRITE_EXTENSIONS,
    POINT_CLOUD_WRITE_EXTENSIONS,
    PointCloud,
    load_mesh,
    load_point_cloud,
    save_mesh,
    save_point_cloud,
)

RNG = np.random.default_rng(11)
# Values that need all of float32's precision, so a lossy text format would be caught.
PTS = (RNG.normal(size=(200, 3)) * 1e3).astype(np.float32)
NRM = RNG.normal(size=(200, 3)).astype(np.float32)


@pytest.mark.parametrize("ext", POINT_CLOUD_WRITE_EXTENSIONS)
@pytest.mark.parametrize("with_normals", [False, True])
def test_point_cloud_round_trip(tmp_path, ext, with_normals):
    path = tmp_path / f"cloud{ext}"
    save_point_cloud(PointCloud(PTS, NRM if with_normals else None), path)
    pc = load_point_cloud(path)
    assert pc.points.dtype == np.float32
    np.testing.assert_array_equal(pc.points, PTS)
    if with_normals:
        np.testing.assert_array_equal(pc.normals, NRM)
    else:
        assert pc.normals is None


def test_save_plain_arrays(tmp_path):
    save_point_cloud(PTS.astype(np.float64), str(tmp_path / "a.ply"), normals=NRM)
    np.testing.assert_array_equal(load_point_cloud(tmp_path / "a.ply").normals, NRM)
    save_point_cloud(np.concatenate([PTS, NRM], axis=1), tmp_path / "b.npz")  # (N, 6) = points + normals
    with np.load(tmp_path / "b.npz") as archive:  # ONet layout
        assert sorted(archive.files) == ["normals", "points"]
        assert archive["points"].dtype == np.float32


def test_saved_ply_is_readable_by_open3d(tmp_path):
    o3d = pytest.importorskip("open3d")
    save_point_cloud(PointCloud(PTS, NRM), tmp_path / "a.ply")
    cloud = o3d.io.read_point_cloud(str(tmp_path / "a.ply"))
    np.testing.assert_array_equal(np.asarray(cloud.points), PTS)
    np.testing.assert_array_equal(np.asarray(cloud.normals), NRM)


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"must have shape \(N, 3\)"):
        save_point_cloud(np.zeros((4, 4)), tmp_path / "a.ply")
    with pytest.raises(ValueError, match="normals given twice"):
        save_point_cloud(PointCloud(PTS, NRM), tmp_path / "a.ply", normals=NRM)
    with pytest.raises(ValueError, match="cannot write point clouds as '.pcd'"):
        save_point_cloud(PTS, tmp_path / "a.pcd")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", MESH_WRITE_EXTENSIONS)
def test_mesh_round_trip(tmp_path, ext):
    mesh = trimesh.creation.icosphere(subdivisions=2)
    mesh.apply_translation([0.1, -2.0, 3.5])
    path = tmp_path / f"mesh{ext}"
    save_mesh(mesh, path)
    back = load_mesh(path)
    if ext == ".stl":  # STL stores triangle soup: compare triangles, not indexed vertices
        np.testing.assert_allclose(back.triangles, mesh.triangles, atol=1e-6)
    else:
        np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-6)
        np.testing.assert_array_equal(back.faces, mesh.faces)


def test_save_mesh_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="expects a trimesh.Trimesh"):
        save_mesh(np.zeros((3, 3)), tmp_path / "a.ply")
    with pytest.raises(ValueError, match="cannot write meshes as '.gltf'"):
        save_mesh(trimesh.creation.box(), tmp_path / "a.gltf")
