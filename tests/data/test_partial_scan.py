"""hnf3d.data.partial_scan: z-buffer visibility over points, and the simulated scans training may use as inputs."""
from __future__ import annotations

import numpy as np
import pytest

from hnf3d.data.partial_scan import MIN_VISIBLE, NOISE_RANGE, scan_like_input, visible_from


def sphere(n: int, radius: float = 0.4, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((n, 3))
    return radius * d / np.linalg.norm(d, axis=1, keepdims=True)


def test_a_camera_sees_the_near_side_of_a_sphere_only():
    p = sphere(30_000)
    cam = np.array([0.0, 0.0, 2.0])
    seen = visible_from(p, cam)
    assert not seen[p[:, 2] < 0].any()  # nothing of the far half
    to_cam = cam - p
    to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
    facing = (p / 0.4 * to_cam).sum(1)  # cosine between the normal and the ray
    assert seen[facing > 0.7].all()  # everything facing the camera
    assert seen[facing > 0.4].mean() > 0.99
    assert 0.25 < seen.mean() < 0.45  # the geometric cap is 0.4 of the sphere; grazing hits are lost


def test_a_plate_hides_the_plate_behind_it():
    g = np.random.default_rng(1)
    front = np.c_[g.uniform(-0.3, 0.3, (8000, 2)), np.full(8000, 0.2)]
    back = np.c_[g.uniform(-0.2, 0.2, (4000, 2)), np.full(4000, -0.2)]
    seen = visible_from(np.concatenate([front, back]), np.array([0.0, 0.0, 2.5]))
    assert seen[:8000].mean() > 0.99
    assert seen[8000:].mean() < 0.01


def test_scans_are_seeded_partial_and_noisy_along_the_rays():
    p = sphere(30_000)
    a = scan_like_input(p, np.random.default_rng(5), 3000)
    b = scan_like_input(p, np.random.default_rng(5), 3000)
    assert a.shape == (3000, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, scan_like_input(p, np.random.default_rng(6), 3000))
    covered = []
    for seed in range(30):
        s = scan_like_input(p, np.random.default_rng(seed), 3000)
        r = np.linalg.norm(s, axis=1)
        assert np.abs(r - 0.4).max() < 6 * NOISE_RANGE[1]  # range noise only, no outliers
        # which of 26 directions around the sphere the scan covers
        dirs = np.array([[x, y, z] for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1) if x or y or z], float)
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        covered.append(((s / r[:, None]) @ dirs.T > 0.95).any(0).mean())
    covered = np.array(covered)
    assert covered.min() < 0.6  # single views leave most of the far side empty
    assert covered.max() > 0.85  # six views see almost everything


def test_too_little_seen_gives_none():
    # even six views of a sphere see fewer than MIN_VISIBLE of its points (each about a third of them)
    assert scan_like_input(sphere(MIN_VISIBLE // 3), np.random.default_rng(0), 3000) is None


@pytest.mark.parametrize("n", [500, 5000])
def test_scans_have_the_requested_size(n):
    assert scan_like_input(sphere(20_000), np.random.default_rng(3), n).shape == (n, 3)
