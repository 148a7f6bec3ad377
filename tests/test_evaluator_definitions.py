"""hnf3d.eval.metrics reproduces ONet's MeshEvaluator on meshes whose metrics are known in closed form, and
hnf3d.eval.protocol aggregates like ONet (mean of class means). Complements tests/test_metrics.py (hand-computed
point pairs, brute force, sphere vs itself, one scaled sphere, the empty-mesh policy with IoU)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from hnf3d.eval.protocol import class_means
from hnf3d.eval.metrics import mesh_metrics

R = 0.5
TAUS = (0.01, 0.015, 0.02)


def sphere(radius=R):
    return trimesh.creation.icosphere(subdivisions=5, radius=radius)


def gt_samples(mesh, n=100_000, seed=11):
    pts, idx = trimesh.sample.sample_surface(mesh, n, seed=seed)
    return pts, mesh.face_normals[idx]


def test_box_against_itself_sharp_edges():
    # a mesh with sharp edges scored against samples of itself: Chamfer ~0, NC ~1, every F = 1, IoU = 1
    box = trimesh.creation.box(extents=(0.8, 0.5, 0.3))
    gp, gn = gt_samples(box)
    q = np.random.default_rng(0).uniform(-0.55, 0.55, (50_000, 3))
    labels = (np.abs(q) < np.array([0.4, 0.25, 0.15])).all(1)
    out = mesh_metrics(box, gp, gn, occ_points=q, occ_labels=labels)
    assert out["chamfer_l1"] < 3e-3 and out["chamfer_l2"] < 1e-5
    assert out["accuracy"] == pytest.approx(out["completeness"], rel=0.2)  # same surface, same density
    assert out["normal_consistency"] > 0.99  # only samples within about one spacing of an edge pair across it
    assert all(out[f"fscore@{t:g}"] == pytest.approx(1.0, abs=1e-3) for t in TAUS)
    assert out["iou"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("s", [0.95, 0.99, 1.01, 1.025, 1.05])
def test_concentric_spheres(s):
    """Sphere of radius r against one of radius r s: every nearest-neighbour distance is |r - r s| plus the
    sample spacing in the tangent plane (about 0.003 on average at 100k samples of a radius-0.5 sphere)."""
    gp, gn = gt_samples(sphere())
    delta = abs(R - R * s)
    out = mesh_metrics(sphere(R * s), gp, gn)
    for key in ("accuracy", "completeness", "chamfer_l1"):
        assert out[key] == pytest.approx(delta, abs=1.5e-3), key
        assert out[key] >= delta * 0.98, key  # never below the radial gap
    assert out["chamfer_l2"] == pytest.approx(delta ** 2, abs=2e-5)
    assert out["normal_consistency"] > 0.999
    for tau in TAUS:
        f = out[f"fscore@{tau:g}"]
        if delta > tau:
            assert f == 0.0, (tau, f)
        elif math.hypot(delta, 0.006) < tau:  # gap + the largest tangential spacing within tau
            assert f == pytest.approx(1.0, abs=2e-3), (tau, f)


def test_hemisphere_direction_of_accuracy_and_completeness():
    """Prediction = the upper half of the GT sphere: accuracy (pred -> GT) ~0, completeness (GT -> pred) large;
    precision ~1 and recall ~1/2 (+ the band within tau below the rim), F = 2PR / (P + R)."""
    full = sphere()
    gp, gn = gt_samples(full)
    upper = full.submesh([np.flatnonzero(full.triangles_center[:, 2] > 0)], append=True)
    out = mesh_metrics(upper, gp, gn)
    assert out["accuracy"] < 3e-3
    assert out["completeness"] > 10 * out["accuracy"]
    assert out["chamfer_l1"] == pytest.approx(0.5 * (out["accuracy"] + out["completeness"]))
    for tau in TAUS:
        recall = 0.5 + tau / (2 * R)  # area fraction of the sphere with z > -tau (roughly; the rim is a circle)
        expected = 2 * recall / (1 + recall)
        assert out[f"fscore@{tau:g}"] == pytest.approx(expected, abs=0.01), tau
    # completeness in closed form: a GT point at polar angle phi below the equator is at chord distance
    # 2 R sin(phi / 2) from the rim; the mean over the lower half-sphere (area element cos(phi)) is
    # R * integral_0^{pi/2} 2 sin(phi/2) cos(phi) dphi, halved because the upper half contributes ~0
    phi = np.linspace(0, np.pi / 2, 20001)
    lower_mean = R * np.trapezoid(2 * np.sin(phi / 2) * np.cos(phi), phi)
    assert out["completeness"] == pytest.approx(0.5 * lower_mean, abs=3e-3)


def test_empty_mesh_without_occupancy_and_custom_thresholds():
    gp, gn = gt_samples(sphere(), n=1000)
    out = mesh_metrics(trimesh.Trimesh(), gp, gn, thresholds=(0.005, 0.05))
    at = {f"{name}@{t}" for name in ("fscore", "precision", "recall") for t in ("0.005", "0.05")}
    assert set(out) == {"chamfer_l1", "chamfer_l2", "accuracy", "completeness", "normal_consistency",
                        *at}  # no iou without occupancy points
    assert out["chamfer_l1"] == out["accuracy"] == out["completeness"] == pytest.approx(math.sqrt(3))
    assert out["chamfer_l2"] == 3.0 and out["normal_consistency"] == -1.0
    assert all(out[k] == 0.0 for k in at)


def test_mean_of_class_means_not_mean_over_objects():
    rows = [{"category": "a", "model": "1", "status": "ok", "iou": 0.9, "chamfer_l1": 0.01},
            {"category": "a", "model": "2", "status": "ok", "iou": 0.7, "chamfer_l1": 0.03},
            {"category": "a", "model": "3", "status": "ok", "iou": 0.8, "chamfer_l1": 0.02},
            {"category": "b", "model": "4", "status": "missing", "iou": 0.2, "chamfer_l1": 0.10}]
    classes, mean = class_means(rows)
    assert classes["a"]["iou"] == pytest.approx(0.8) and classes["a"]["n"] == 3
    assert classes["b"]["iou"] == pytest.approx(0.2) and classes["b"]["n"] == 1
    assert mean["iou"] == pytest.approx(0.5)  # (0.8 + 0.2) / 2, not (0.9 + 0.7 + 0.8 + 0.2) / 4 = 0.65
    assert mean["chamfer_l1"] == pytest.approx((0.02 + 0.10) / 2)
    assert "status" not in mean and "status" not in classes["a"]  # text fields are not averaged
    assert list(classes) == ["a", "b"]


def test_class_means_metric_missing_in_some_rows():
    # iou only where points.npz exists: averaged over the rows / classes that have it
    rows = [{"category": "a", "model": "1", "iou": 0.6, "chamfer_l1": 0.01},
            {"category": "a", "model": "2", "chamfer_l1": 0.03},
            {"category": "b", "model": "3", "chamfer_l1": 0.05}]
    classes, mean = class_means(rows)
    assert classes["a"]["iou"] == pytest.approx(0.6) and "iou" not in classes["b"]
    assert mean["iou"] == pytest.approx(0.6) and mean["chamfer_l1"] == pytest.approx((0.02 + 0.05) / 2)
    assert class_means([]) == ({}, {})
