"""hnf3d.eval.metrics reproduces the ONet/ConvONet MeshEvaluator definitions."""
import math

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.distance import cdist

from hnf3d.eval.metrics import CHAMFER_L1_REPORT_SCALE, empty_mesh_metrics, iou, mesh_metrics, point_cloud_metrics

KEYS = {"chamfer_l1", "chamfer_l2", "accuracy", "completeness", "normal_consistency",
        *(f"{name}@{t}" for name in ("fscore", "precision", "recall") for t in ("0.01", "0.015", "0.02"))}


def brute_force(pp, pn, gp, gn, thresholds=(0.01, 0.015, 0.02)):
    """The protocol written out with a dense distance matrix (independent of hnf3d.ops)."""
    pn = pn / np.linalg.norm(pn, axis=1, keepdims=True)
    gn = gn / np.linalg.norm(gn, axis=1, keepdims=True)
    d = cdist(gp, pp)  # (N gt, M pred)
    i_comp, i_acc = d.argmin(1), d.argmin(0)
    d_comp, d_acc = d.min(1), d.min(0)
    out = {
        "completeness": d_comp.mean(), "accuracy": d_acc.mean(),
        "chamfer_l1": 0.5 * (d_comp.mean() + d_acc.mean()),
        "chamfer_l2": 0.5 * ((d_comp**2).mean() + (d_acc**2).mean()),
        "normal_consistency": 0.5 * (np.abs((gn * pn[i_comp]).sum(1)).mean() + np.abs((pn * gn[i_acc]).sum(1)).mean()),
    }
    for t in thresholds:
        p, r = (d_acc <= t).mean(), (d_comp <= t).mean()
        out[f"fscore@{t:g}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
        out[f"precision@{t:g}"], out[f"recall@{t:g}"] = p, r
    return out


def test_hand_computed_single_pair():
    # one predicted point, one GT point at distance 0.5 (3-4-5 triangle scaled), normals at 60 degrees
    pred, gt = np.array([[0.0, 0, 0]]), np.array([[0.3, 0.4, 0]])
    pn, gn = np.array([[0.0, 0, 2]]), np.array([[0.0, math.sin(math.pi / 3), -math.cos(math.pi / 3)]])
    m = point_cloud_metrics(pred, pn, gt, gn)
    assert m["completeness"] == pytest.approx(0.5) and m["accuracy"] == pytest.approx(0.5)
    assert m["chamfer_l1"] == pytest.approx(0.5)
    assert m["chamfer_l2"] == pytest.approx(0.25)
    assert m["normal_consistency"] == pytest.approx(0.5)  # |cos 120 deg|: orientation ignored, normals normalised
    assert m["fscore@0.01"] == 0.0


def test_hand_computed_fscore():
    # GT: 4 points; pred: 2 of them exactly plus 2 far away -> precision 1/2, recall 2/4 at every threshold
    gt = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    pred = np.array([[0, 0, 0], [1, 0, 0], [5, 5, 5], [6, 6, 6]], dtype=np.float64)
    n = np.tile([[0.0, 0, 1]], (4, 1))
    m = point_cloud_metrics(pred, n, gt, n)
    assert m["fscore@0.01"] == pytest.approx(0.5)
    assert m["precision@0.01"] == pytest.approx(0.5) and m["recall@0.01"] == pytest.approx(0.5)
    # completeness: two zeros, two points at distance 1 from their nearest pred -> 0.5
    assert m["completeness"] == pytest.approx(0.5)
    expected_acc = (0 + 0 + np.linalg.norm([5, 5, 4]) + np.linalg.norm([6, 6, 5])) / 4
    assert m["accuracy"] == pytest.approx(expected_acc)
    assert set(m) == KEYS


def test_precision_and_recall_are_not_swapped():
    # GT: 4 points; pred: 2 of them plus 1 far away -> precision 2/3 (surface where there is none), recall 2/4
    gt = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    pred = np.array([[0, 0, 0], [1, 0, 0], [5, 5, 5]], dtype=np.float64)
    m = point_cloud_metrics(pred, np.tile([[0.0, 0, 1]], (3, 1)), gt, np.tile([[0.0, 0, 1]], (4, 1)))
    assert m["precision@0.02"] == pytest.approx(2 / 3) and m["recall@0.02"] == pytest.approx(0.5)
    assert m["fscore@0.02"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_agrees_with_brute_force():
    rng = np.random.default_rng(1)
    gp, gn = rng.normal(size=(1500, 3)) * 0.1, rng.normal(size=(1500, 3))
    pp, pn = gp[:1200] + rng.normal(size=(1200, 3)) * 0.008, rng.normal(size=(1200, 3))
    ours = point_cloud_metrics(pp, pn, gp, gn)
    ref = brute_force(pp, pn, gp, gn)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12), k


def test_float16_gt_and_torch_inputs_accepted():
    rng = np.random.default_rng(2)
    gp = rng.uniform(-0.5, 0.5, (500, 3)).astype(np.float16)
    gn = rng.normal(size=(500, 3)).astype(np.float16)
    m = point_cloud_metrics(torch.from_numpy(gp.astype(np.float32)), torch.from_numpy(gn.astype(np.float32)), gp, gn)
    assert m["chamfer_l1"] == 0.0 and m["normal_consistency"] == pytest.approx(1.0)


def sphere_gt(radius=0.5, n=100_000, seed=0):
    m = trimesh.creation.icosphere(subdivisions=5, radius=radius)
    pts, idx = trimesh.sample.sample_surface(m, n, seed=seed)
    return m, pts, m.face_normals[idx]


def test_mesh_against_itself():
    m, gp, gn = sphere_gt()
    rng = np.random.default_rng(0)
    q = rng.uniform(-0.55, 0.55, (100_000, 3))
    labels = m.contains(q)
    out = mesh_metrics(m, gp, gn, occ_points=q, occ_labels=labels)
    assert out["iou"] == pytest.approx(1.0, abs=1e-4)
    # two independent 100k samplings of the same surface (area pi/4 * 4 = 3.14): sample spacing
    # sqrt(3.14 / 1e5) = 0.0056, mean nearest-neighbour distance about half of it
    assert out["chamfer_l1"] < 4e-3
    assert out["normal_consistency"] > 0.999
    assert out["fscore@0.01"] > 0.999


def test_sphere_against_scaled_sphere():
    m, gp, gn = sphere_gt(radius=0.5)
    bigger = trimesh.creation.icosphere(subdivisions=5, radius=0.55)
    out = mesh_metrics(bigger, gp, gn)
    # every point is ~0.05 from the other surface: chamfer ~0.05 (+ sampling spacing), F@1%..2% = 0
    assert out["chamfer_l1"] == pytest.approx(0.05, abs=2e-3)
    assert out["chamfer_l2"] == pytest.approx(0.05**2, rel=0.1)
    assert out["fscore@0.02"] == 0.0
    assert out["normal_consistency"] > 0.999
    # IoU of concentric balls = (r1 / r2)^3
    q = np.random.default_rng(3).uniform(-0.55, 0.55, (200_000, 3))
    out = mesh_metrics(bigger, gp, gn, occ_points=q, occ_labels=np.linalg.norm(q, axis=1) < 0.5)
    assert out["iou"] == pytest.approx((0.5 / 0.55) ** 3, abs=0.01)


def test_empty_mesh_policy_is_onets():
    _, gp, gn = sphere_gt(n=1000)
    q = np.zeros((10, 3))
    for empty in (trimesh.Trimesh(), (np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)),
                  (np.zeros((3, 3)), np.array([[0, 1, 2]]))):  # the last: one zero-area face
        out = mesh_metrics(empty, gp, gn, occ_points=q, occ_labels=np.ones(10, bool))
        assert out["completeness"] == out["accuracy"] == pytest.approx(math.sqrt(3))
        assert out["chamfer_l1"] == pytest.approx(math.sqrt(3)) and out["chamfer_l2"] == 3.0
        assert out["normal_consistency"] == -1.0 and out["iou"] == 0.0
        assert all(out[f"{name}@{t:g}"] == 0.0 for t in (0.01, 0.015, 0.02)
                   for name in ("fscore", "precision", "recall"))
        assert set(out) == KEYS | {"iou"}
    assert "iou" not in empty_mesh_metrics()


def test_seeded_and_reproducible():
    m, gp, gn = sphere_gt(n=5000)
    a = mesh_metrics(m, gp, gn, n_samples=5000, seed=4)
    b = mesh_metrics(m, gp, gn, n_samples=5000, seed=4)
    c = mesh_metrics(m, gp, gn, n_samples=5000, seed=5)
    assert a == b and a != c


def test_iou_definition():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([1, 0, 1, 0], bool)
    assert iou(a, b) == pytest.approx(1 / 3)
    assert iou(np.array([0.7, 0.2]), np.array([0.5, 0.0])) == 1.0  # thresholds at 0.5 like ONet's compute_iou
    assert math.isnan(iou(np.zeros(3, bool), np.zeros(3, bool)))


def test_bad_arguments_are_named():
    _, gp, gn = sphere_gt(n=100)
    m = trimesh.creation.box()
    with pytest.raises(ValueError, match="occ_points and occ_labels"):
        mesh_metrics(m, gp, gn, occ_points=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="gt_normals"):
        mesh_metrics(m, gp, gn[:10])
    with pytest.raises(ValueError, match="occ_labels"):
        mesh_metrics(m, gp, gn, occ_points=np.zeros((3, 3)), occ_labels=np.zeros(2, bool))
    with pytest.raises(TypeError, match="pred_mesh"):
        mesh_metrics(42, gp, gn)
    with pytest.raises(ValueError, match="gt_points"):
        mesh_metrics(m, np.zeros((0, 3)), np.zeros((0, 3)))


def test_report_scale_is_the_papers():
    assert CHAMFER_L1_REPORT_SCALE == 10.0
