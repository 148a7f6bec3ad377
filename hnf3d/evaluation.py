"""Score a Reconstructor on a split of an ONet-layout data set with the ONet/ConvONet protocol (docs/protocol.md).

Inputs follow the protocol: 3000 points of pointcloud.npz with Gaussian noise sigma 0.005 (drawn by the data
set from its seed, so every method sees the same inputs), or view 000 of img_choy2016. Meshes are extracted
with MISE from 32^3 to `resolution`^3 and scored by hnf3d.metrics.mesh_metrics against the 100k points and
normals of pointcloud.npz, with IoU on the 100k points of points.npz. Aggregation: per class, then the mean of the
class means (not the mean over all objects).
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Optional

import numpy as np

__all__ = ["METRIC_KEYS", "class_means", "evaluate_model"]

METRIC_KEYS = ("iou", "chamfer_l1", "normal_consistency", "fscore@0.01")


def _ground_truth(root: str, category: str, model: str) -> dict:
    from .data.shapenet import load_npz  # the data set's checked npz reader (names the file on errors)

    folder = os.path.join(root, category, model)
    pc = load_npz(os.path.join(folder, "pointcloud.npz"), ("points", "normals"))
    gt = {"points": np.asarray(pc["points"], np.float32), "normals": np.asarray(pc["normals"], np.float32)}
    pts_file = os.path.join(folder, "points.npz")
    if os.path.isfile(pts_file):
        occ = load_npz(pts_file, ("points", "occupancies"))
        pts = np.asarray(occ["points"], np.float32)
        gt["occ_points"] = pts
        gt["occ_labels"] = np.unpackbits(np.asarray(occ["occupancies"]))[: len(pts)].astype(bool)
    return gt


def evaluate_model(rec, root: str, *, split: str = "test", categories=None, resolution: int = 128,
                   threshold: Optional[float] = None, refine_steps: int = 0, seed: int = 0,
                   limit: Optional[int] = None, progress: bool = False) -> dict:
    """Per-object metrics and the mean of class means of `rec` (a hnf3d.Reconstructor) on `split` of `root`.

    Returns {"objects": [{"category", "model", "iou", "chamfer_l1", ..., "seconds"}], "classes": {cat: means},
    "mean": mean of class means, "settings": {...}}. limit: at most this many objects per category."""
    from .data.shapenet import ShapeNetDataset
    from .metrics import mesh_metrics

    cfg = rec.config.data
    ds = ShapeNetDataset(root, split=split, categories=categories, input_type=rec.kind,
                         n_input_points=3000, input_noise=0.005, n_query_points=None, img_size=cfg.img_size,
                         view=0 if rec.kind == "image" else None, seed=seed)
    per_cat: dict = defaultdict(int)
    rows = []
    indices = range(len(ds))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"evaluate {split}", unit="obj")
    for i in indices:
        item = ds[i]
        cat, model = item["category"], item["model"]
        if limit is not None and per_cat[cat] >= limit:
            continue
        per_cat[cat] += 1
        t0 = time.perf_counter()
        if rec.kind == "image":
            mesh = rec.reconstruct_image(item["inputs"], resolution=resolution, threshold=threshold)
        else:
            mesh = rec.reconstruct(item["inputs"].numpy(), resolution=resolution, threshold=threshold,
                                   refine_steps=refine_steps, seed=seed)
        seconds = time.perf_counter() - t0
        gt = _ground_truth(root, cat, model)
        occ = {"occ_points": gt["occ_points"], "occ_labels": gt["occ_labels"]} if "occ_points" in gt else {}
        m = mesh_metrics(mesh, gt["points"], gt["normals"], seed=seed, **occ)
        rows.append({"category": cat, "model": model, "seconds": seconds, "faces": int(len(mesh.faces)),
                     **{k: float(v) for k, v in m.items()}})
    classes, mean = class_means(rows)
    return {"objects": rows, "classes": classes, "mean": mean,
            "settings": {"split": split, "resolution": resolution, "threshold": threshold,
                         "refine_steps": refine_steps, "seed": seed, "input": rec.kind,
                         "n_input_points": 3000, "input_noise": 0.005, "view": 0}}


def class_means(rows: list) -> tuple[dict, dict]:
    """({category: {metric: mean over its objects}}, {metric: mean of the class means}) of per-object rows."""
    by_cat: dict = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    keys = [k for k in rows[0] if k not in ("category", "model")] if rows else []
    classes = {c: {k: float(np.mean([r[k] for r in rs])) for k in keys} | {"n": len(rs)}
               for c, rs in sorted(by_cat.items())}
    mean = {k: float(np.mean([classes[c][k] for c in classes])) for k in keys}
    return classes, mean
