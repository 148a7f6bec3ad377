"""load_mesh: geometry kept as in the file, scenes flattened, NaN vertices removed, clear errors."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import trimesh

from hnf3d.io import FileFormatError, NonFiniteWarning, load_mesh

OBJ_WITH_SEAMS = """mtllib missing_material.mtl
o quad
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vt 0.5 0.5
usemtl nowhere
f 1/1 2/2 3/3
f 1/5 3/3 4/4
"""


def test_obj_with_missing_mtl_loads_quietly_in_file_order(tmp_path, caplog):
    path = tmp_path / "model_normalized.obj"
    path.write_text(OBJ_WITH_SEAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            mesh = load_mesh(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # Vertex 1 is used with two different UVs (a texture seam): it must not be split into two vertices.
    np.testing.assert_array_equal(mesh.vertices, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [0, 2, 3]])


def test_no_processing_duplicates_and_degenerates_survive(tmp_path):
    path = tmp_path / "soup.off"
    path.write_text("OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 0\n3 0 1 2\n3 3 3 3\n")
    mesh = load_mesh(path)
    assert mesh.vertices.shape == (4, 3) and mesh.faces.shape == (2, 3)


def test_scene_is_flattened_with_transforms(tmp_path):
    box = trimesh.creation.box()
    scene = trimesh.Scene()
    scene.add_geometry(box, node_name="a", transform=trimesh.transformations.translation_matrix([10, 0, 0]))
    scene.add_geometry(trimesh.creation.icosphere(1), node_name="b",
                       transform=trimesh.transformations.scale_matrix(2.0))
    path = tmp_path / "scene.glb"
    path.write_bytes(scene.export(file_type="glb"))
    mesh = load_mesh(path)
    assert isinstance(mesh, trimesh.Trimesh)
    assert len(mesh.faces) == len(box.faces) + len(trimesh.creation.icosphere(1).faces)
    np.testing.assert_allclose(mesh.bounds, [[-2, -2, -2], [10.5, 2, 2]], atol=1e-6)


def test_gltf_with_external_buffer(tmp_path):
    scene = trimesh.Scene()
    shift = trimesh.transformations.translation_matrix([0, 0, 3])
    scene.add_geometry(trimesh.creation.box(), node_name="a", transform=shift)
    for name, payload in scene.export(file_type="gltf").items():  # model.gltf + its .bin buffer
        (tmp_path / ("model.gltf" if name.endswith(".gltf") else name)).write_bytes(payload)
    mesh = load_mesh(tmp_path / "model.gltf")
    assert len(mesh.faces) == 12
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -0.5, 2.5], [0.5, 0.5, 3.5]], atol=1e-6)


def test_nan_vertices_drop_their_faces(tmp_path):
    path = tmp_path / "holes.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv nan 0 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\nf 2 5 3\nf 4 4 1\n")
    with pytest.warns(NonFiniteWarning, match=r"holes\.obj: 1 vertices have NaN/Inf .*the 2 of 4 faces"):
        mesh = load_mesh(path)
    np.testing.assert_array_equal(mesh.vertices, [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [1, 3, 2]])


def test_all_faces_nan_is_an_error(tmp_path):
    path = tmp_path / "void.off"
    path.write_text("OFF\n3 1 0\nnan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.warns(NonFiniteWarning), pytest.raises(FileFormatError, match="no faces left"):
        load_mesh(path)


@pytest.mark.parametrize(
    "name, content, why",
    [
        ("points.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces found"),
        ("points.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                       "property float z\nend_header\n0 0 0\n", "no faces found"),
        ("bad.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "not a valid OFF file"),
        ("bad.glb", "definitely not glTF", "not a valid GLB file"),
        ("empty.stl", "", "empty file"),
        ("model.fbx", "whatever", "unknown mesh extension '.fbx'"),
        ("scan.pcd", "whatever", "holds a point cloud, not a mesh"),
    ],
)
def test_unusable_files(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FileFormatError, match=why) as info:
        load_mesh(path)
    assert str(info.value).startswith(str(path)) and isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ghost.obj"):
        load_mesh(tmp_path / "ghost.obj")


@pytest.mark.parametrize("ext", [".stl", ".obj", ".off"])
@pytest.mark.parametrize("kind", ["bytes", "text"])
def test_random_content_is_not_a_valid_mesh_file(tmp_path, ext, kind):
    """Random bytes (or random text) are 'not a valid STL/OBJ/OFF file', never 'a file of bare vertices'."""
    rng = np.random.default_rng(7)
    path = tmp_path / f"noise{ext}"
    if kind == "bytes":
        path.write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    else:
        path.write_text(" ".join("".join(rng.choice(list("abcdeghijklmnopqrsxyz"), 6)) for _ in range(300)))
    with pytest.raises(FileFormatError, match=rf"not a valid {ext[1:].upper()} file") as info:
        load_mesh(path)
    assert str(info.value).startswith(str(path)) and "bare vertices" not in str(info.value)
    assert "\n" not in str(info.value)


def test_is_mesh_file(tmp_path):
    from hnf3d.io.mesh import is_mesh_file

    box = trimesh.creation.box()
    (tmp_path / "box.ply").write_bytes(box.export(file_type="ply"))
    (tmp_path / "box_ascii.ply").write_bytes(box.export(file_type="ply", encoding="ascii"))
    (tmp_path / "cloud.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n"
                                        "property float y\nproperty float z\nelement face 0\n"
                                        "property list uchar int vertex_indices\nend_header\n0 0 0\n")
    assert is_mesh_file(tmp_path / "box.ply") and is_mesh_file(tmp_path / "box_ascii.ply")
    assert not is_mesh_file(tmp_path / "cloud.ply")  # a face element with no faces: a point cloud
    for name in ("a.obj", "a.OFF", "a.stl", "a.glb", "a.gltf"):
        assert is_mesh_file(tmp_path / name)  # by extension, the file is not opened
    for name in ("a.xyz", "a.npz", "a.pcd"):
        assert not is_mesh_file(tmp_path / name)
    (tmp_path / "junk.ply").write_bytes(b"\x00" * 100)
    with pytest.raises(FileFormatError, match="junk.ply"):
        is_mesh_file(tmp_path / "junk.ply")
