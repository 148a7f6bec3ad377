"""hnf3d.pipeline.denoise: quadric projection of a scan within a radius."""
import numpy as np
import pytest

from hnf3d.pipeline.denoise import MIN_NEIGHBOURS, jet_fit, jet_project


def _sphere(n: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x + rng.normal(0.0, noise, x.shape)


def _off_sphere(p: np.ndarray) -> float:
    return float(np.abs(np.linalg.norm(p, axis=1) - 1.0).mean())


def test_projection_removes_noise_without_shrinking_a_curved_surface():
    clean, moved, _ = jet_project(_sphere(8000, 0.0), radius=0.15)
    assert moved == 8000 and _off_sphere(clean) < 1e-4  # a quadric fits a sphere's patch: no chord bias
    noisy = _sphere(8000, 0.02)
    smoothed, moved, _ = jet_project(noisy, radius=0.15)
    assert moved == 8000 and smoothed.shape == noisy.shape and smoothed.dtype == np.float32
    assert _off_sphere(smoothed) < 0.4 * _off_sphere(noisy)
    assert abs(np.linalg.norm(smoothed, axis=1).mean() - 1.0) < 0.005  # no shrinkage
    assert np.array_equal(jet_project(noisy, radius=0.15, iterations=0)[0], noisy.astype(np.float32))
    assert np.array_equal(jet_project(noisy, radius=0.15)[0], smoothed)  # deterministic


def test_a_sparse_sampling_is_left_alone_and_two_close_walls_are_not_merged():
    """Points with fewer than MIN_NEIGHBOURS within the radius do not move. Two parallel walls 0.04 apart,
    densely sampled: a radius below their distance smooths each wall on its own (both stay where they are)."""
    sparse = _sphere(200, 0.01)
    out, moved, noise = jet_project(sparse, radius=0.1)
    assert moved == 0 and np.array_equal(out, sparse.astype(np.float32)) and np.isnan(noise)
    rng = np.random.default_rng(1)
    n = 30_000
    xy = rng.uniform(-0.5, 0.5, (n, 2))
    walls = np.c_[xy, np.where(np.arange(n) % 2, 0.02, -0.02) + rng.normal(0, 0.003, n)]
    inner = (np.abs(xy) < 0.4).all(1)
    out, moved, _ = jet_project(walls, radius=0.03)
    assert moved > 0.95 * n
    assert np.abs(np.abs(out[inner, 2]) - 0.02).mean() < 0.6 * np.abs(np.abs(walls[inner, 2]) - 0.02).mean()
    assert abs(np.abs(out[inner, 2]).mean() - 0.02) < 0.001  # each wall stays where it is
    ratio = jet_fit(sparse, radius=0.1)[1]
    assert np.isnan(ratio).all() and MIN_NEIGHBOURS >= 6


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="radius"):
        jet_fit(_sphere(100, 0.0), radius=0.0)
    with pytest.raises(ValueError, match="k"):
        jet_fit(_sphere(100, 0.0), radius=0.1, k=3)
    few, moved, _ = jet_project(_sphere(5, 0.0), radius=1.0)
    assert moved == 0 and few.shape == (5, 3)
    with pytest.raises(ValueError, match="min_noise"):
        jet_project(_sphere(100, 0.0), radius=0.1, min_noise=-1.0)


def test_the_noise_estimate_gates_the_smoothing():
    """The estimate (median fit residual) follows the noise's standard deviation; with min_noise, a scan less
    noisy than that is returned as it is, a noisier one is smoothed as without it."""
    estimates = [jet_project(_sphere(8000, s), radius=0.15)[2] for s in (0.0, 0.005, 0.02)]
    assert estimates[0] < 1e-4 and 0.6 * 0.005 < estimates[1] < 0.005 and 0.6 * 0.02 < estimates[2] < 0.02
    clean = _sphere(8000, 0.005)
    out, moved, noise = jet_project(clean, radius=0.15, min_noise=0.01)
    assert moved == 0 and noise == estimates[1] and np.array_equal(out, clean.astype(np.float32))
    noisy = _sphere(8000, 0.02)
    gated = jet_project(noisy, radius=0.15, min_noise=0.01)
    ungated = jet_project(noisy, radius=0.15)
    assert gated[1] == 8000 and np.array_equal(gated[0], ungated[0])


def test_outward_directions_keep_the_walls_of_a_thin_part_apart():
    """Two clean walls 0.02 apart within one radius (the slats of a chair's back): every fit runs between them and
    merges them; with each point's direction out of the part (+z on the top wall, -z on the bottom one) the walls
    are fitted apart and stay where they are. Directions that all agree change nothing."""
    rng = np.random.default_rng(2)
    n = 20_000
    xy = rng.uniform(-0.5, 0.5, (n, 2))
    top = np.arange(n) % 2 == 1
    slab = np.c_[xy, np.where(top, 0.01, -0.01)]
    inner = (np.abs(xy) < 0.4).all(1)
    merged, _, _ = jet_project(slab, radius=0.03)
    assert np.abs(merged[inner, 2]).mean() < 0.003  # both walls pulled onto the mid-plane
    outward = np.zeros((n, 3))
    outward[:, 2] = np.where(top, 1.0, -1.0)
    kept, moved, noise = jet_project(slab, radius=0.03, outward=outward)
    assert moved > 0.95 * n and noise < 1e-6
    assert np.abs(np.abs(kept[inner, 2]) - 0.01).max() < 1e-4
    same = np.tile([0.0, 0.0, 1.0], (n, 1))
    assert np.array_equal(jet_project(slab, radius=0.03, outward=same)[0], merged)
    zero = np.zeros((n, 3))  # no direction known: every neighbour counts
    assert np.array_equal(jet_project(slab, radius=0.03, outward=zero)[0], merged)
    with pytest.raises(ValueError, match="outward"):
        jet_fit(slab, radius=0.03, outward=outward[:10])


def test_directions_that_split_the_noise_do_not_split_the_wall():
    """One noisy wall whose directions say 'up' above it and 'down' below it (a prediction of a part thinner than
    the noise): fitting each half on its own would pull the halves apart. Both fits explain the points about
    equally, so the points take the fit across both and the wall is smoothed as without directions."""
    rng = np.random.default_rng(3)
    n = 20_000
    wall = np.c_[rng.uniform(-0.5, 0.5, (n, 2)), rng.normal(0.0, 0.004, n)]
    inner = (np.abs(wall[:, :2]) < 0.4).all(1)
    outward = np.zeros((n, 3))
    outward[:, 2] = np.sign(wall[:, 2])
    plain, _, _ = jet_project(wall, radius=0.03)
    split, moved, _ = jet_project(wall, radius=0.03, outward=outward)
    assert moved > 0.95 * n
    assert np.abs(split[inner, 2]).mean() < 0.3 * np.abs(wall[inner, 2]).mean()
    assert np.abs(split[inner, 2]).mean() < 1.2 * np.abs(plain[inner, 2]).mean()
    first = jet_fit(wall, radius=0.03, outward=outward)[0]  # most points take the fit across both sides
    assert np.mean(np.all(first == jet_fit(wall, radius=0.03)[0], axis=1)) > 0.8
