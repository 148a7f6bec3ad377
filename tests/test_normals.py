"""hnf3d.pipeline.normals: PCA normals and their consistent orientation (minimum spanning tree propagation, or
the votes of an occupancy field smoothed over the neighbour graph)."""
import numpy as np
import pytest
import trimesh

from hnf3d.pipeline.normals import estimate_normals, orient_normals, orient_normals_by_field


def _surface(mesh, n, noise=0.0, seed=0):
    pts, faces = trimesh.sample.sample_surface(mesh, n, seed=seed)
    rng = np.random.default_rng(seed)
    return pts + noise * rng.standard_normal(pts.shape), mesh.face_normals[faces]


def test_plane_normals_are_the_plane_normal():
    rng = np.random.default_rng(0)
    p = np.c_[rng.uniform(-1, 1, (500, 2)), 0.001 * rng.standard_normal(500)]
    n = estimate_normals(p, k=12)
    assert n.shape == (500, 3) and n.dtype == np.float32
    assert np.abs(n[:, 2]).min() > 0.95


@pytest.mark.parametrize("shape", ["sphere", "torus", "box"])
def test_orientation_is_outward_on_closed_shapes(shape):
    mesh = {"sphere": trimesh.creation.icosphere(4, 0.4),
            "torus": trimesh.creation.torus(0.3, 0.1),
            "box": trimesh.creation.box((0.8, 0.3, 0.5))}[shape]
    p, true_n = _surface(mesh, 3000, noise=0.002)
    n = orient_normals(p, estimate_normals(p))
    agree = (n * true_n).sum(1)
    assert np.mean(agree > 0) > 0.99, np.mean(agree > 0)


def test_outward_reference_chooses_the_sign_of_each_part():
    a = trimesh.creation.icosphere(3, 0.2)
    b = a.copy()
    b.apply_translation([1.0, 0, 0])
    pa, na = _surface(a, 800)
    pb, nb = _surface(b, 800, seed=1)
    p, true_n = np.r_[pa, pb], np.r_[na, nb]
    centres = np.where(p[:, :1] < 0.5, 0.0, 1.0) * np.array([1.0, 0, 0])
    inward = lambda q: (np.where(q[:, :1] < 0.5, 0.0, 1.0) * np.array([1.0, 0, 0])) - q  # noqa: E731
    n_in = orient_normals(p, estimate_normals(p), outward=inward)
    assert np.mean((n_in * true_n).sum(1) < 0) > 0.99  # the reference wins, part by part
    n_out = orient_normals(p, estimate_normals(p))
    assert np.mean((n_out * (p - centres)).sum(1) > 0) > 0.99


def _thin_plate(seed=0):
    """Points of a 0.8 x 0.8 x 0.012 box (walls 0.012 apart, noise 0.002), their true normals and an outward field."""
    plate = trimesh.creation.box((0.8, 0.8, 0.012))
    p, true_n = _surface(plate, 4000, noise=0.002, seed=seed)
    outward = np.c_[np.zeros((len(p), 2)), np.sign(p[:, 2:]) + (p[:, 2:] == 0)]  # +z above the mid-plane
    return p, true_n, outward


def test_field_orientation_follows_the_field_across_a_thin_plate():
    p, true_n, outward = _thin_plate()
    n = orient_normals_by_field(p, estimate_normals(p, k=12), outward)
    assert n.shape == p.shape and n.dtype == np.float32
    big = np.abs(true_n[:, 2]) > 0.5  # the two large walls (the rims' few points are decided by neighbours)
    assert np.mean((n * true_n).sum(1)[big] > 0) > 0.97


def test_field_orientation_smooths_a_wrong_minority_of_votes():
    p, true_n = _surface(trimesh.creation.icosphere(4, 0.4), 3000, noise=0.002)
    wrong = np.random.default_rng(123).random(len(p)) < 0.2  # a fifth of the field's votes point inwards
    outward = np.where(wrong[:, None], -p, p)
    n0 = estimate_normals(p)
    alone = np.where(((n0 * outward).sum(1) < 0)[:, None], -n0, n0)
    assert np.mean((alone * true_n).sum(1) > 0) < 0.85  # the votes alone keep their errors
    n = orient_normals_by_field(p, n0, outward)
    assert np.mean((n * true_n).sum(1) > 0) > 0.98  # the neighbours outvote them (0.989)


def test_bad_inputs():
    with pytest.raises(ValueError, match="points: expected shape"):
        estimate_normals(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="at least 3"):
        estimate_normals(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="normals: expected shape"):
        orient_normals(np.random.rand(10, 3), np.ones((9, 3)))
    with pytest.raises(ValueError, match="outward: expected shape"):
        orient_normals_by_field(np.random.rand(10, 3), np.ones((10, 3)), np.ones((10, 2)))


def test_real_meshes_orient_across_creases_and_thin_parts(real_data):
    """fandisk (sharp creases) and the knight (thin parts): sampled as the protocol does (3000 points, noise
    0.005 in the unit box). Without the edge cost's 'across' term, fandisk's seed-0
    sample with 16-neighbour normals came out 47% wrong (one tree edge across a thin wall flipped half the part);
    with it, 0.1%."""
    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.io import load_mesh
    from hnf3d.ops import sample_surface

    # k: 16 for fandisk (the regression above); 30, as the reconstruction pipeline uses, for the others
    for name, k, worst in (("fandisk.obj", 16, 0.01), ("decimated-knight_libigl.off", 30, 0.06),
                           ("bunny_libigl.off", 30, 0.05)):
        mesh = load_mesh(real_data / "meshes" / name)
        v = unit_box_normalization(np.asarray(mesh.vertices)).apply(np.asarray(mesh.vertices))
        s = sample_surface(v, np.asarray(mesh.faces), 3000, seed=0)
        pts = s.points.numpy() + np.random.default_rng(0).normal(0, 0.005, (3000, 3))
        n = orient_normals(pts, estimate_normals(pts, k=k))
        wrong = np.mean((n * s.normals.numpy()).sum(1) < 0)
        assert wrong < worst, (name, wrong)
