"""hnf3d.pipeline.snap: the refined mesh's vertices moved onto quadric fits of the scan."""
import numpy as np
import pytest
import trimesh

from hnf3d.pipeline.snap import snap_to_points


def _sphere_points(n: int, radius: float, noise: float, seed: int = 0, keep=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if keep is not None:
        x = x[keep(x)]
    return radius * x + rng.normal(0.0, noise, x.shape)


def _sphere_mesh(radius: float) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=4, radius=radius)


def _off(vertices: np.ndarray, radius: float) -> np.ndarray:
    return np.abs(np.linalg.norm(vertices, axis=1) - radius)


def test_an_inflated_mesh_moves_onto_the_scan_and_stays_watertight():
    """A sphere of radius 0.3 scanned with noise 0.005, and a mesh 0.008 too large (a refined surface just beyond
    F@1%): the snapped vertices are within the noise's average of the sphere, the faces and watertightness are
    kept, and the result is deterministic."""
    points = _sphere_points(6000, 0.3, 0.005)
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    mesh = _sphere_mesh(0.308)
    out, moved = snap_to_points(mesh.vertices, mesh.vertex_normals, points, normals, radius=0.05, k=30)
    assert moved > 0.98 * len(mesh.vertices) and out.shape == mesh.vertices.shape
    assert _off(mesh.vertices, 0.3).mean() > 0.0079 and _off(out, 0.3).mean() < 0.0025
    assert trimesh.Trimesh(out, mesh.faces, process=False).is_watertight
    again, _ = snap_to_points(mesh.vertices, mesh.vertex_normals, points, normals, radius=0.05, k=30)
    assert np.array_equal(out, again)
    # normals of either orientation, mesh or points, give the same move
    flipped, _ = snap_to_points(mesh.vertices, -mesh.vertex_normals, points, -normals, radius=0.05, k=30)
    np.testing.assert_allclose(flipped, out, atol=1e-9)


def test_vertices_without_points_around_them_stay():
    """Half the sphere is scanned: the vertices of the unscanned half (no points within the radius) and those at
    the scan's rim (points on one side only) do not move; the scanned half's do."""
    points = _sphere_points(6000, 0.3, 0.0, keep=lambda x: x[:, 2] > 0)
    normals = points / 0.3
    mesh = _sphere_mesh(0.306)
    out, moved = snap_to_points(mesh.vertices, mesh.vertex_normals, points, normals, radius=0.05, k=30)
    shift = np.linalg.norm(out - mesh.vertices, axis=1)
    z = mesh.vertices[:, 2] / 0.306
    assert np.all(shift[z < -0.05] == 0)  # the unscanned half and the rim
    assert np.all(shift[z > 0.3] > 0.005)  # the scanned half: onto the points
    assert moved == int((shift > 0).sum())


def test_the_two_walls_of_a_thin_part_stay_apart():
    """A slab 0.02 thick, both walls scanned densely, and the mesh of a slab 0.03 thick: each wall's vertices
    move onto their own wall's points (the far wall's points face the other way and are not neighbours), so the
    slab becomes 0.02 thick rather than collapsing onto its middle."""
    rng = np.random.default_rng(2)
    n = 40_000
    xy = rng.uniform(-0.3, 0.3, (n, 2))
    top = np.arange(n) % 2 == 0
    points = np.c_[xy, np.where(top, 0.01, -0.01)]
    normals = np.zeros_like(points)
    normals[:, 2] = np.where(top, 1.0, -1.0)
    box = trimesh.creation.box(extents=(0.4, 0.4, 0.03))
    mesh = box.subdivide().subdivide().subdivide()
    # k = 300: the neighbourhoods reach across to the far wall (its points are within the radius)
    out, _ = snap_to_points(mesh.vertices, mesh.vertex_normals, points, normals, radius=0.05, k=300)
    middle = np.all(np.abs(mesh.vertices[:, :2]) < 0.1, axis=1)  # well inside the walls, away from the edges
    upper = middle & (mesh.vertices[:, 2] > 0)
    lower = middle & (mesh.vertices[:, 2] < 0)
    np.testing.assert_allclose(out[upper, 2], 0.01, atol=1e-6)
    np.testing.assert_allclose(out[lower, 2], -0.01, atol=1e-6)
    # with every normal pointing up, the lower wall's points would count for the top wall too: it would land
    # between the walls; this is what the side test prevents
    up = np.tile([0.0, 0.0, 1.0], (n, 1))
    merged, _ = snap_to_points(mesh.vertices, np.tile([0.0, 0.0, 1.0], (len(mesh.vertices), 1)), points, up,
                               radius=0.05, k=300)
    assert np.abs(merged[upper, 2]).max() < 0.005


def test_a_sparse_scan_is_left_alone_and_moves_are_bounded():
    """Fewer than MIN_NEIGHBOURS points within the radius: nothing moves. A move never exceeds the radius."""
    points = _sphere_points(300, 0.3, 0.0)
    mesh = _sphere_mesh(0.31)
    out, moved = snap_to_points(mesh.vertices, mesh.vertex_normals, points, points / 0.3, radius=0.02)
    assert moved == 0 and np.array_equal(out, mesh.vertices)
    dense = _sphere_points(6000, 0.3, 0.0)
    far = _sphere_mesh(0.33)  # 0.03 too large, radius 0.04: each vertex moves at most 0.04
    out, moved = snap_to_points(far.vertices, far.vertex_normals, dense, dense / 0.3, radius=0.04)
    assert moved > 0 and np.linalg.norm(out - far.vertices, axis=1).max() <= 0.04 + 1e-9


@pytest.mark.parametrize("kwargs, match", [
    ({"radius": 0.0}, "radius"), ({"radius": float("nan")}, "radius"), ({"k": 5}, "k"),
    ({"vertex_normals": np.zeros((3, 3))}, "vertex_normals"), ({"point_normals": np.zeros((4, 3))}, "point_normals"),
    ({"points": np.zeros((20, 2))}, "points"),
])
def test_bad_arguments_are_refused(kwargs, match):
    mesh = _sphere_mesh(0.3)
    points = _sphere_points(200, 0.3, 0.0)
    args = {"vertices": mesh.vertices, "vertex_normals": mesh.vertex_normals, "points": points,
            "point_normals": points / 0.3, "radius": 0.05, "k": 30, **kwargs}
    if "points" in kwargs:
        args["point_normals"] = kwargs["points"]
    with pytest.raises(ValueError, match=match):
        snap_to_points(**args)


def test_a_vertex_without_a_normal_stays():
    """A vertex whose faces have no area has a zero normal: it stays where it is (no NaN), the others move."""
    points = _sphere_points(6000, 0.3, 0.0)
    mesh = _sphere_mesh(0.306)
    normals = np.array(mesh.vertex_normals)
    normals[0] = 0.0
    out, _ = snap_to_points(mesh.vertices, normals, points, points / 0.3, radius=0.05)
    assert np.isfinite(out).all() and np.array_equal(out[0], mesh.vertices[0])
    assert np.linalg.norm(out[1:] - mesh.vertices[1:], axis=1).max() > 0.005
