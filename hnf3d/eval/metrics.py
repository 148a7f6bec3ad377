"""Mesh quality metrics, exactly as the ONet / ConvONet benchmark computes them (MeshEvaluator).

Definitions (docs/protocol.md; occupancy_networks im2mesh/eval.py, ConvONet src/eval.py):
- 100k points are sampled on the predicted mesh, area-weighted, each with the normal of its face;
  the ground truth is the 100k points + normals of pointcloud.npz.
- Nearest neighbours by Euclidean (unsquared) distance (a KD-tree on CPU, the Triton kernel on CUDA).
  completeness = mean d(GT -> pred), accuracy = mean d(pred -> GT);
  chamfer_l1 = 0.5 (completeness + accuracy)      <- papers print this x10; this function never scales it;
  chamfer_l2 = 0.5 (mean d^2 GT->pred + mean d^2 pred->GT);
  normal_consistency = 0.5 (mean |n_gt . n_pred| over GT->pred pairs + the same over pred->GT), normals
  normalised first, absolute value (orientation ignored);
  fscore@tau = 2 P R / (P + R), P = fraction of pred->GT distances <= tau, R = fraction of GT->pred <= tau
  (0 when P + R = 0); P and R themselves as precision@tau and recall@tau (not in the papers' tables; they say
  whether a low F-score is surface where there is none, or truth the surface misses).
- iou (only when occupancy points are given): the inside test of the predicted (watertight) mesh at those points
  against the labels, |A and B| / |A or B| (NaN when both are empty, as ONet's 0/0).
- Empty predicted mesh (no faces or zero area): ONet's policy, the worst values: completeness = accuracy = sqrt(3)
  (the diagonal of the unit cube), chamfer_l1 = sqrt(3), chamfer_l2 = 3, normal_consistency = -1, every F-score,
  precision and recall 0, iou 0. (NKSR reports NaN instead; we follow ONet so class means stay defined.)
Aggregation over a data set (mean of class means) lives in the evaluation code, not here.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..io.mesh import mesh_arrays
from ..ops import knn, occupancy, sample_surface
from ..ops._common import as_tensor, check_points

DEFAULT_THRESHOLDS = (0.01, 0.015, 0.02)

#: papers print Chamfer-L1 multiplied by this; apply it only when printing, and label the column
CHAMFER_L1_REPORT_SCALE = 10.0


def _threshold_key(tau: float, name: str = "fscore") -> str:
    return f"{name}@{tau:g}"


def empty_mesh_metrics(thresholds=DEFAULT_THRESHOLDS, with_iou: bool = False) -> dict:
    """ONet's values for an empty predicted mesh (see the module docstring)."""
    out = {
        "chamfer_l1": math.sqrt(3.0),
        "chamfer_l2": 3.0,
        "accuracy": math.sqrt(3.0),
        "completeness": math.sqrt(3.0),
        "normal_consistency": -1.0,
        **{_threshold_key(t, name): 0.0 for t in thresholds for name in ("fscore", "precision", "recall")},
    }
    if with_iou:
        out["iou"] = 0.0
    return out


def _directed(src_p, src_n, dst_p, dst_n) -> tuple[torch.Tensor, torch.Tensor]:
    """For each source point: distance to its nearest destination point and |n_src . n_dst| there."""
    nn = knn(dst_p, src_p, k=1)
    dist = nn.distance[:, 0]
    dot = (src_n * dst_n[nn.index[:, 0]]).sum(dim=1).abs()
    return dist, dot


def _unit(n: torch.Tensor) -> torch.Tensor:
    return n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)


def point_cloud_metrics(pred_points, pred_normals, gt_points, gt_normals, *,
                        thresholds=DEFAULT_THRESHOLDS) -> dict:
    """The distance/normal/F-score part of the protocol between two oriented point sets.

    pred_points, pred_normals: (M, 3); gt_points, gt_normals: (N, 3). Returns floats (keys as mesh_metrics).
    """
    gp = check_points(gt_points, "gt_points")
    gp = gp.float() if gp.dtype == torch.float16 else gp
    gn = _unit(check_points(gt_normals, "gt_normals", device=gp.device, dtype=gp.dtype))
    pp = check_points(pred_points, "pred_points", device=gp.device, dtype=gp.dtype)
    pn = _unit(check_points(pred_normals, "pred_normals", device=gp.device, dtype=gp.dtype))
    if gn.shape != gp.shape:
        raise ValueError(f"gt_normals: expected shape {tuple(gp.shape)} (one per point), got {tuple(gn.shape)}")
    if pn.shape != pp.shape:
        raise ValueError(f"pred_normals: expected shape {tuple(pp.shape)}, got {tuple(pn.shape)}")
    if gp.shape[0] == 0:
        raise ValueError("gt_points: the ground-truth point cloud is empty")
    if pp.shape[0] == 0:
        return empty_mesh_metrics(thresholds)

    d_comp, n_comp = _directed(gp, gn, pp, pn)  # GT -> pred
    d_acc, n_acc = _directed(pp, pn, gp, gn)  # pred -> GT
    completeness, accuracy = d_comp.double().mean().item(), d_acc.double().mean().item()
    out = {
        "chamfer_l1": 0.5 * (completeness + accuracy),
        "chamfer_l2": 0.5 * ((d_comp.double() ** 2).mean().item() + (d_acc.double() ** 2).mean().item()),
        "accuracy": accuracy,
        "completeness": completeness,
        "normal_consistency": 0.5 * (n_comp.double().mean().item() + n_acc.double().mean().item()),
    }
    for tau in thresholds:
        precision = (d_acc <= tau).double().mean().item()
        recall = (d_comp <= tau).double().mean().item()
        out[_threshold_key(tau)] = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        out[_threshold_key(tau, "precision")], out[_threshold_key(tau, "recall")] = precision, recall
    return out


def iou(pred_occ, gt_occ) -> float:
    """|A and B| / |A or B| of two boolean (or >= 0.5 thresholded) label arrays; NaN when both are empty."""
    a = as_tensor(pred_occ, "pred_occ").reshape(-1)
    b = as_tensor(gt_occ, "gt_occ", device=a.device).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"gt_occ: expected {a.shape[0]} labels (one per point), got {b.shape[0]}")
    a = a >= 0.5 if a.dtype != torch.bool else a
    b = b >= 0.5 if b.dtype != torch.bool else b
    union = (a | b).sum().item()
    return (a & b).sum().item() / union if union else float("nan")


def mesh_metrics(pred_mesh, gt_points, gt_normals, *, occ_points=None, occ_labels=None,
                 n_samples: int = 100_000, thresholds=DEFAULT_THRESHOLDS, seed: int = 0) -> dict:
    """Score a predicted mesh with the ONet/ConvONet protocol (module docstring).

    pred_mesh: trimesh.Trimesh or (vertices (V,3), faces (F,3)); gt_points, gt_normals: (N, 3) (float16 from
    pointcloud.npz is fine); occ_points: (Q, 3) and occ_labels: (Q,) bool (points.npz), optional, both or neither.
    Returns a dict of floats: chamfer_l1 (unscaled), chamfer_l2, accuracy, completeness, normal_consistency,
    fscore@0.01, fscore@0.015, fscore@0.02 (one per threshold), and iou when occupancy points are given.
    """
    if (occ_points is None) != (occ_labels is None):
        raise ValueError("occ_points and occ_labels: give both (for IoU) or neither")
    vertices, faces = mesh_arrays(pred_mesh, "pred_mesh")
    with_iou = occ_points is not None

    empty = len(faces) == 0 or len(vertices) == 0
    if not empty:
        tri = vertices[faces]
        empty = not np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum() > 0
    if empty:
        return empty_mesh_metrics(thresholds, with_iou)

    gp = check_points(gt_points, "gt_points")
    gp = gp.float() if gp.dtype == torch.float16 else gp
    v = torch.from_numpy(vertices).to(device=gp.device, dtype=gp.dtype)
    f = torch.from_numpy(faces).to(gp.device)
    samples = sample_surface(v, f, n_samples, seed=seed)
    out = point_cloud_metrics(samples.points, samples.normals, gp, gt_normals, thresholds=thresholds)
    if with_iou:
        q = check_points(occ_points, "occ_points", device=gp.device)
        q = q.float() if q.dtype == torch.float16 else q
        labels = as_tensor(occ_labels, "occ_labels", device=gp.device).reshape(-1)
        if labels.shape[0] != q.shape[0]:
            raise ValueError(f"occ_labels: expected {q.shape[0]} labels (one per occ point), got {labels.shape[0]}")
        out["iou"] = iou(occupancy(v.to(q.dtype), f, q), labels)
    return out
