"""hnf3d.pipeline.extraction: hierarchical (MISE-like) extraction against analytic occupancy functions and the dense grid."""
import numpy as np
import pytest
import torch

from hnf3d.pipeline.extraction import extract_mesh, grid_points, probability_to_logit

# Signed distances (positive inside) scaled to logits: the surface is the 0.5 level (logit 0).
SHARPNESS = 40.0


def sphere_sdf(p, r=0.35):
    return r - np.linalg.norm(p, axis=1)


def torus_sdf(p, R=0.3, r=0.1):
    q = np.sqrt(p[:, 0] ** 2 + p[:, 2] ** 2) - R
    return r - np.sqrt(q ** 2 + p[:, 1] ** 2)


def box_sdf(p, half=(0.3, 0.2, 0.25)):
    d = np.abs(p) - np.asarray(half)
    outside = np.linalg.norm(np.maximum(d, 0), axis=1)
    inside = np.minimum(d.max(1), 0)
    return -(outside + inside)


SHAPES = {"sphere": sphere_sdf, "torus": torus_sdf, "box": box_sdf}


def logits_of(sdf):
    return lambda p: SHARPNESS * sdf(p.astype(np.float64))


def chamfer_to_analytic(mesh, sdf, n=20000, seed=0):
    """Symmetric mean distance between the mesh and the analytic surface {sdf = 0}: mesh samples -> surface by
    |sdf| (exact for sphere/torus, exact outside and a bound inside for the box); surface samples -> mesh by
    closest points (surface samples: analytic points projected with the sdf's gradient)."""
    import trimesh

    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=seed)
    to_surface = np.abs(sdf(pts)).mean()
    # surface samples: project random points onto {sdf = 0} by Newton steps along the numerical gradient
    rng = np.random.default_rng(seed)
    q = rng.uniform(-0.5, 0.5, (n, 3))
    for _ in range(30):
        eps = 1e-5
        g = np.stack([(sdf(q + eps * e) - sdf(q - eps * e)) / (2 * eps) for e in np.eye(3)], 1)
        q = q - sdf(q)[:, None] * g / np.maximum((g ** 2).sum(1, keepdims=True), 1e-12)
    q = q[np.abs(sdf(q)) < 1e-6]
    _, d, _ = trimesh.proximity.closest_point(mesh, q)
    return 0.5 * (to_surface + d.mean())


# A 128^3 grid over 1.1 has cells of 0.0086: marching cubes on a linear-ish field is well inside a third of a cell
# on smooth surfaces; the box's edges and corners are cut by the cells, hence its looser bound.
BOUNDS = {"sphere": 0.002, "torus": 0.002, "box": 0.004}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_watertight_and_close_to_the_analytic_surface(name):
    mesh = extract_mesh(logits_of(SHAPES[name]), resolution_0=32, upsampling_steps=2)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0  # outward orientation
    assert chamfer_to_analytic(mesh, SHAPES[name]) < BOUNDS[name]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_hierarchical_equals_dense_and_evaluates_far_fewer_points(name):
    fn = logits_of(SHAPES[name])
    dense = extract_mesh(fn, resolution_0=32, upsampling_steps=2, mode="dense")
    hier = extract_mesh(fn, resolution_0=32, upsampling_steps=2)
    np.testing.assert_array_equal(hier.faces, dense.faces)
    np.testing.assert_array_equal(hier.vertices, dense.vertices)
    stats_h, stats_d = hier.metadata["extraction"], dense.metadata["extraction"]
    assert stats_d["evaluated_points"] == stats_d["dense_points"] == 129 ** 3
    ratio = stats_h["evaluated_points"] / stats_d["evaluated_points"]
    print(f"{name}: hierarchical evaluates {ratio:.3f} of the dense grid's points")
    assert ratio < 0.2


def test_the_ratio_shrinks_with_resolution():
    fn = logits_of(sphere_sdf)
    fractions = [extract_mesh(fn, resolution_0=32, upsampling_steps=s).metadata["extraction"]
                 for s in (1, 2, 3)]
    ratios = [f["evaluated_points"] / f["dense_points"] for f in fractions]
    assert ratios[0] > ratios[1] > ratios[2] and ratios[2] < 0.1


def test_threshold_moves_the_surface():
    fn = logits_of(sphere_sdf)
    low, mid, high = (extract_mesh(fn, threshold=t) for t in (0.2, 0.5, 0.8))
    assert low.volume > mid.volume > high.volume
    # logit(0.2) = -1.386: the 0.2 surface is where sdf = -1.386 / SHARPNESS, i.e. a larger radius
    r = np.linalg.norm(low.vertices, axis=1).mean()
    assert r == pytest.approx(0.35 - probability_to_logit(0.2) / SHARPNESS, abs=1e-3)


def test_shape_filling_the_box_is_closed_by_the_padding():
    mesh = extract_mesh(lambda p: np.full(len(p), 5.0), resolution_0=16, upsampling_steps=1, box=1.0)
    assert mesh.is_watertight and mesh.volume == pytest.approx(1.0, rel=1e-6)
    assert np.abs(mesh.vertices).max() == pytest.approx(0.5)


def test_empty_field_gives_an_empty_mesh():
    calls = []

    def fn(p):
        calls.append(len(p))
        return np.full(len(p), -3.0)

    mesh = extract_mesh(fn)
    assert len(mesh.faces) == 0 and len(mesh.vertices) == 0
    assert mesh.metadata["extraction"]["evaluated_points"] == sum(calls) == 33 ** 3  # nothing to refine


def test_batches_torch_outputs_and_box_coordinates():
    seen = []

    def fn(p):
        assert p.dtype == np.float32 and p.shape[1] == 3 and len(p) <= 1000
        seen.append(p)
        return torch.from_numpy(SHARPNESS * sphere_sdf(p.astype(np.float64))).float()

    mesh = extract_mesh(fn, resolution_0=8, upsampling_steps=1, batch_points=1000, box=2.0)
    pts = np.concatenate(seen)
    assert pts.min() == pytest.approx(-1.0) and pts.max() == pytest.approx(1.0)
    assert mesh.is_watertight
    np.testing.assert_allclose(grid_points(2, 2.0)[[0, -1]], [[-1, -1, -1], [1, 1, 1]])


def test_wrong_number_of_outputs_and_bad_arguments():
    with pytest.raises(ValueError, match="occupancy_fn: returned 1 values"):
        extract_mesh(lambda p: np.zeros(1))
    with pytest.raises(ValueError, match="threshold"):
        extract_mesh(logits_of(sphere_sdf), threshold=1.0)
    with pytest.raises(ValueError, match="resolution_0"):
        extract_mesh(logits_of(sphere_sdf), resolution_0=0)
    with pytest.raises(ValueError, match="mode"):
        extract_mesh(logits_of(sphere_sdf), mode="sparse")
    with pytest.raises(ValueError, match="box"):
        extract_mesh(logits_of(sphere_sdf), box=-1)
    with pytest.raises(ValueError, match="over 1024"):
        extract_mesh(logits_of(sphere_sdf), resolution_0=64, upsampling_steps=5)
    with pytest.raises(ValueError, match="smooth"):
        extract_mesh(logits_of(sphere_sdf), smooth=-0.01)


def _wrinkled_sphere(p):
    """A sphere of radius 0.35 whose surface wrinkles by +-0.004 with a wavelength of about three grid cells (the
    about three grid cells (the refined network's wrinkles), as logits."""
    wrinkle = 0.004 * np.sin(2 * np.pi * p[:, 0] / 0.025) * np.sin(2 * np.pi * p[:, 1] / 0.025)
    return SHARPNESS * (sphere_sdf(p) + wrinkle)


def _plate(p):
    """A square plate 0.3 wide and 0.012 thick (under two grid cells), as logits that saturate far more outside than
    inside (as a refined network's do: about +20 and -45 on the real meshes)."""
    sdf = np.minimum(np.minimum(0.006 - np.abs(p[:, 2]), 0.15 - np.abs(p[:, 0])), 0.15 - np.abs(p[:, 1]))
    return np.clip(10 * SHARPNESS * sdf, -40.0, 10.0)


def test_smoothing_irons_out_wrinkles():
    """smooth = one grid cell: a wrinkled sphere's mesh gets close to the sphere, its area too; watertight."""
    cell = 1.1 / 128
    plain = extract_mesh(_wrinkled_sphere, resolution_0=32, upsampling_steps=2)
    smooth = extract_mesh(_wrinkled_sphere, resolution_0=32, upsampling_steps=2, smooth=cell)
    area = 4 * np.pi * 0.35 ** 2
    assert plain.area > 1.05 * area and abs(smooth.area - area) < 0.01 * area
    assert chamfer_to_analytic(smooth, sphere_sdf) < 0.6 * chamfer_to_analytic(plain, sphere_sdf)
    assert smooth.is_watertight


def test_smoothing_keeps_a_thin_part():
    """A plate under two cells thick: the convolution alone empties it (no logit above 0 is left), so smooth_logits
    keeps its values and the smoothed extraction still has the whole plate."""
    from scipy.ndimage import gaussian_filter

    from hnf3d.pipeline.extraction import smooth_logits

    grid = _plate(grid_points(128, 1.1)).reshape((129,) * 3).astype(np.float32)
    assert gaussian_filter(grid, 1.0, mode="nearest").max() < 0 < smooth_logits(grid, 1.0, 0.0).max()
    cell = 1.1 / 128
    kept = extract_mesh(_plate, resolution_0=32, upsampling_steps=2, smooth=cell)
    assert kept.is_watertight
    # its surface lies between its own values and the smoothed ones around it: within a fraction of a cell
    np.testing.assert_allclose(kept.bounds, extract_mesh(_plate, resolution_0=32, upsampling_steps=2).bounds,
                               atol=0.25 * cell)
