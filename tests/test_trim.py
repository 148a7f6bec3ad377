"""hnf3d.pipeline.trim and reconstruct(trim=...): the faces no scan point supports are dropped, and said so."""
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from hnf3d.pipeline.trim import TRIM_DISTANCE, trim_reconstruction, trim_unsupported

ROOT = Path(__file__).resolve().parents[1]


def _upper_cap_points(n=2000, seed=0):
    """Points on the unit sphere above z = 0.3 (a single view of its top)."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(4 * n, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    return p[p[:, 2] > 0.3][:n]


def test_faces_far_from_every_point_are_dropped():
    sphere = trimesh.creation.icosphere(subdivisions=4)
    points = _upper_cap_points()
    out, dropped = trim_unsupported(sphere, points, 0.05)
    assert dropped == len(sphere.faces) - len(out.faces) and dropped > len(sphere.faces) // 2
    # what stays is the cap the points cover (and a rim of at most the distance); the rest is gone
    assert out.triangles_center[:, 2].min() > 0.3 - 0.1 and not out.is_watertight
    assert len(out.vertices) == len(np.unique(out.faces))  # unreferenced vertices removed
    # every face the points support is kept: the faces whose centroid is within the distance of a point
    from scipy.spatial import cKDTree
    near = cKDTree(points).query(sphere.triangles_center)[0] < 0.05
    assert len(out.faces) == int(near.sum())
    assert len(sphere.faces) == 5120  # the input mesh is not modified


def test_nothing_to_drop_and_nothing_near():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    same, dropped = trim_unsupported(sphere, sphere.vertices, 0.5)
    assert dropped == 0 and len(same.faces) == len(sphere.faces)
    # no face near any point: trimming would leave nothing, so the mesh stays whole and nothing is counted
    whole, dropped = trim_unsupported(sphere, sphere.vertices + 10.0, 0.01)
    assert dropped == 0 and len(whole.faces) == len(sphere.faces)
    for bad in (0.0, -1.0, float("nan"), "far"):
        with pytest.raises(ValueError, match="trim: expected"):
            trim_unsupported(sphere, sphere.vertices, bad)


def test_reconstruct_trims_in_the_normalised_frame_and_says_how_much():
    from hnf3d.pipeline.reconstructor import Reconstructor

    rec = Reconstructor.load("default", device="cpu")
    points = _upper_cap_points(3000) * 250.0 + 1000.0  # millimetres, away from the origin
    whole = rec.reconstruct(points, resolution=64)
    cut = rec.reconstruct(points, resolution=64, trim=0.02)
    assert whole.is_watertight and not cut.is_watertight and 0 < len(cut.faces) < len(whole.faces)
    msgs = cut.metadata["hnf3d"]["messages"]
    dropped = len(whole.faces) - len(cut.faces)
    assert any(m.startswith(f"trimmed {dropped} of {len(whole.faces)} faces farther than 0.02") for m in msgs), msgs
    assert "trim" in cut.metadata["hnf3d"]["timings"]
    # 0.02 of the unit box is 0.02 x the points' largest side (500 mm) in their units: 10 mm
    from scipy.spatial import cKDTree
    assert cKDTree(points).query(cut.triangles_center)[0].max() < 10.0
    with pytest.raises(ValueError, match="trim: expected"):
        rec.reconstruct(points, trim=0.0)
    # trimming the watertight mesh afterwards (as the benchmarks do) gives the same faces
    again, n = trim_reconstruction(whole, points, 0.02)
    assert n == dropped and len(again.faces) == len(cut.faces)
    np.testing.assert_allclose(np.sort(again.triangles_center, 0), np.sort(cut.triangles_center, 0), atol=1e-6 * 500)


def test_the_default_distance_is_the_validation_studys_choice():
    """--trim without a value uses what benchmarks/refine_settings.py --study trim chose on the project's own
    validation shapes (their partial scans included), not a number tuned on the real evaluation data."""
    study = json.loads((ROOT / "benchmarks" / "results" / "refine-settings-local-trim.json").read_text())
    assert study["study"] == "trim" and study["best"]["trim"] == TRIM_DISTANCE
    rows = {r["variant"]: r["mean"] for r in study["variants"]}
    assert rows[f"trim {TRIM_DISTANCE:g}"] == max(v for k, v in rows.items() if k != "one pass")
