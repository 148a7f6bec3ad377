"""sample_surface / sample_uniform / sample_near_surface: where the samples lie, how they are distributed,
and reproducibility."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from hnf3d.ops import SurfaceSamples, closest_point, sample_near_surface, sample_surface, sample_uniform
from helpers import box, box_distance, face_normals, on_face, sphere, torus, torus_sdf, two_triangles


def binomial_ok(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("shape", ["sphere", "box", "torus"])
def test_points_lie_on_the_surface_of_their_face(shape):
    v, f, band = {"sphere": sphere, "box": box, "torus": torus}[shape]()
    s = sample_surface(v, f, 2000, seed=0)
    assert isinstance(s, SurfaceSamples)
    p, fi = s.points.numpy(), s.face_index.numpy()
    assert fi.min() >= 0 and fi.max() < len(f)
    plane, bary = on_face(p, v, f, fi)  # the point is in the face it names
    assert plane.max() < 1e-12 and bary.min() > -1e-12
    # and on the mesh surface as closest_point sees it
    assert closest_point(v, f, s.points).distance.max().item() < 1e-6
    # and on the analytic surface up to the facet error
    analytic = {"sphere": lambda q: np.abs(np.linalg.norm(q, axis=1) - 1), "box": box_distance,
                "torus": lambda q: np.abs(torus_sdf(q))}[shape](p)
    assert analytic.max() <= band + 1e-12


def test_normals_are_the_unit_face_normals_of_face_index():
    v, f, _ = torus()
    s = sample_surface(v, f, 2000, seed=1)
    n = s.normals.numpy()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(n, face_normals(v, f)[s.face_index.numpy()], atol=1e-12)


def test_normals_point_outward_on_an_outward_mesh():
    v, f, _ = sphere()
    s = sample_surface(v, f, 1000, seed=2)
    assert ((s.normals * s.points).sum(1) > 0.9).all()  # ~ radial on the unit sphere


def test_faces_are_chosen_in_proportion_to_their_area():
    v, f = two_triangles()  # areas 1 and 3
    n = 20000
    fi = sample_surface(v, f, n, seed=3).face_index.numpy()
    assert binomial_ok(int((fi == 0).sum()), n, 0.25)
    assert binomial_ok(int((fi == 1).sum()), n, 0.75)


def test_points_are_uniform_inside_each_triangle():
    """The medial triangle (midpoints of the edges) covers 1/4 of the triangle, each corner triangle 1/4 too."""
    v = np.array([[0, 0, 0], [2, 0, 0], [0.5, 1.5, 0]], dtype=np.float64)
    f = np.array([[0, 1, 2]])
    n = 20000
    p = sample_surface(v, f, n, seed=4).points.numpy()
    a, b, c = v
    for corner, others in ((a, (b, c)), (b, (a, c)), (c, (a, b))):
        m1, m2 = (corner + others[0]) / 2, (corner + others[1]) / 2
        tri_v = np.stack([corner, m1, m2])
        plane, bary = on_face(p, tri_v, np.array([[0, 1, 2]]), np.zeros(n, dtype=np.int64))
        assert binomial_ok(int((bary >= 0).sum()), n, 0.25)
    # the barycentre of the samples is the centroid
    np.testing.assert_allclose(p.mean(0), v.mean(0), atol=5 * 1.0 / math.sqrt(n))


def test_zero_area_faces_are_never_sampled():
    v, f = two_triangles()
    v = np.vstack([v, [[5, 5, 5]]])
    f = np.array([[0, 1, 2], [6, 6, 6], [3, 4, 5], [0, 1, 1]])  # faces 1 and 3 have no area
    s = sample_surface(v, f, 5000, seed=5)
    fi = s.face_index.numpy()
    assert set(np.unique(fi)) == {0, 2}
    assert torch.isfinite(s.normals).all()


def test_same_seed_same_samples_other_seed_other_samples():
    v, f, _ = torus()
    a, b, c = (sample_surface(v, f, 500, seed=s) for s in (7, 7, 8))
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.allclose(a.points, c.points)
    assert torch.equal(sample_uniform(100, seed=7), sample_uniform(100, seed=7))
    assert not torch.equal(sample_uniform(100, seed=7), sample_uniform(100, seed=8))
    assert torch.equal(sample_near_surface(v, f, 100, seed=7), sample_near_surface(v, f, 100, seed=7))
    assert not torch.equal(sample_near_surface(v, f, 100, seed=7), sample_near_surface(v, f, 100, seed=8))
    # seed=None draws fresh randomness
    assert not torch.equal(sample_uniform(100), sample_uniform(100))


def test_dtypes_devices_and_input_types():
    v, f, _ = sphere(1)
    s64 = sample_surface(v, f, 10, seed=0)  # numpy float64 in
    assert s64.points.dtype == s64.normals.dtype == torch.float64 and s64.face_index.dtype == torch.int64
    s32 = sample_surface(torch.from_numpy(v).float(), torch.from_numpy(f), 10, seed=0)
    assert s32.points.dtype == torch.float32 and s32.points.device.type == "cpu"
    np.testing.assert_allclose(s32.points.numpy(), s64.points.numpy(), atol=1e-6)  # same seed, same samples
    assert torch.equal(s32.face_index, s64.face_index)
    assert sample_surface(v, f.astype(np.int32), 10, seed=0).face_index.dtype == torch.int64
    assert sample_surface(v, f, 0, seed=0).points.shape == (0, 3)
    assert sample_surface(v, f, np.int64(4), seed=0).points.shape == (4, 3)
    u = sample_uniform(10, seed=0, dtype=torch.float64)
    assert u.shape == (10, 3) and u.dtype == torch.float64
    assert sample_near_surface(v, f, 10, seed=0).dtype == torch.float64


def test_sample_uniform_fills_the_padded_unit_box():
    n = 64000
    u = sample_uniform(n, seed=9).numpy()
    assert u.shape == (n, 3) and u.dtype == np.float32
    assert (np.abs(u) <= 0.55).all()
    assert (u.min(0) < -0.549).all() and (u.max(0) > 0.549).all()  # reaches the walls
    # covers the box evenly: each of the 4^3 cells gets ~n/64 points
    cells = np.clip(((u + 0.55) / 1.1 * 4).astype(int), 0, 3)
    counts = np.bincount(cells[:, 0] * 16 + cells[:, 1] * 4 + cells[:, 2], minlength=64)
    assert all(binomial_ok(int(c), n, 1 / 64) for c in counts)
    np.testing.assert_allclose(u.std(0), 1.1 / math.sqrt(12), rtol=0.02)


def test_sample_uniform_half_extent():
    u = sample_uniform(5000, half_extent=2.0, seed=0).numpy()
    assert (np.abs(u) <= 2.0).all() and np.abs(u).max() > 1.95


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_sample_near_surface_offsets_have_std_sigma(sigma):
    """On a flat square the offset from the surface is the z coordinate: N(0, sigma^2)."""
    v = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=np.float64)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    n = 20000
    p = sample_near_surface(v, f, n, sigma=sigma, seed=10).numpy()
    z = p[:, 2]
    assert abs(z.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(z.std() / sigma - 1) < 5 / math.sqrt(2 * n)
    # the in-plane coordinates are the (uniform) surface samples plus noise: they still fill the square
    assert (np.abs(p[:, :2]) < 1 + 6 * sigma).all() and np.abs(p[:, :2]).max() > 0.99


def test_sample_near_surface_noise_is_isotropic_gaussian():
    """With sigma=0 the samples are exactly the surface samples of the same seed; with sigma>0 they are those
    points plus isotropic N(0, sigma^2) noise: each coordinate of the offset has std sigma, uncorrelated."""
    v, f, _ = sphere()
    assert torch.equal(sample_near_surface(v, f, 50, sigma=0.0, seed=1), sample_surface(v, f, 50, seed=1).points)
    sigma, n = 0.02, 20000
    offset = (sample_near_surface(v, f, n, sigma=sigma, seed=11) - sample_surface(v, f, n, seed=11).points).numpy()
    np.testing.assert_allclose(offset.mean(0), 0.0, atol=5 * sigma / math.sqrt(n))
    np.testing.assert_allclose(offset.std(0) / sigma, 1.0, atol=5 / math.sqrt(2 * n))
    corr = np.corrcoef(offset.T)[np.triu_indices(3, 1)]
    assert np.abs(corr).max() < 5 / math.sqrt(n)


def test_exposed_surface_rejects_faces_buried_in_other_parts():
    """Two overlapping closed parts (a box and a sphere poking out of it, concatenated without a union): plain
    sampling puts points on the sphere inside the box and on the box inside the sphere; exposed sampling does
    not, and a mesh of one closed part is sampled exactly as sample_surface samples it."""
    from hnf3d.ops import sample_exposed_surface, winding_number

    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    ball.apply_translation((0.5, 0.0, 0.0))
    both = trimesh.util.concatenate([box, ball])
    v, f = np.asarray(both.vertices), np.asarray(both.faces)

    def buried(points):
        # inside the box AND inside the ball, or on one part's surface strictly inside the other
        p = np.asarray(points)
        in_box = (np.abs(p) < 0.5 - 1e-3).all(axis=1)
        in_ball = np.linalg.norm(p - [0.5, 0, 0], axis=1) < 0.4 * 0.985  # the facets sag up to ~1% inside
        return in_box | in_ball

    plain = sample_surface(v, f, 20000, seed=0).points.numpy()
    assert buried(plain).mean() > 0.05
    exposed = sample_exposed_surface(v, f, 20000, seed=0)
    assert exposed.points.shape == (20000, 3)
    assert buried(exposed.points.numpy()).mean() < 0.002
    w = winding_number(v, f, exposed.points + 0.02 * exposed.normals).abs()
    w_in = winding_number(v, f, exposed.points - 0.02 * exposed.normals).abs()
    assert ((w < 0.5) | (w_in < 0.5)).float().mean() > 0.99
    # deterministic, and a single closed part takes the plain path
    assert torch.equal(sample_exposed_surface(v, f, 500, seed=3).points, sample_exposed_surface(v, f, 500, seed=3).points)
    s = trimesh.creation.icosphere(subdivisions=2)
    assert torch.equal(sample_exposed_surface(s.vertices, s.faces, 300, seed=1).points,
                       sample_surface(s.vertices, s.faces, 300, seed=1).points)
