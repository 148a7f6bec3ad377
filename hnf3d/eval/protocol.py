"""Score a reconstruction method on a split of an ONet-layout data set with the ONet/ConvONet protocol
(docs/protocol.md).

Inputs follow the protocol: 3000 points of pointcloud.npz with Gaussian noise sigma 0.005 (drawn by the data
set from its seed, so every method sees the same inputs), or view 000 of img_choy2016. Meshes are extracted
with MISE from 32^3 to `resolution`^3 and scored by hnf3d.eval.metrics.mesh_metrics against the 100k points and
normals of pointcloud.npz, with IoU on the 100k points of points.npz. Aggregation: per class, then the mean of the
class means (not the mean over all objects).

- `evaluate_model`: a hnf3d.Reconstructor;
- `evaluate_objects`: any method, given as a function item -> mesh (tools/evaluate.py scores meshes from a folder
  and the Open3D Poisson baseline with it), with an optional per-object result cache;

Input randomness: the noisy inputs of an object are drawn from (seed, its index in the split over ALL categories),
so they do not change when `categories` or `limit` select a subset.
"""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np

__all__ = ["METRIC_KEYS", "class_means", "evaluate_model", "evaluate_objects",
           "protocol_dataset"]

METRIC_KEYS = ("iou", "chamfer_l1", "normal_consistency", "fscore@0.01")

#: protocol inputs (docs/protocol.md, the ConvONet point-cloud setting)
N_INPUT_POINTS = 3000
INPUT_NOISE = 0.005
#: bump when the cached per-object results change meaning
CACHE_VERSION = 1


def _ground_truth(root: str, category: str, model: str) -> dict:
    from ..data.shapenet import load_npz  # the data set's checked npz reader (names the file on errors)

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


def protocol_dataset(root: str, *, split: str = "test", categories=None, input_type: str = "pointcloud",
                     img_size: Optional[int] = 224, seed: int = 0):
    """(ShapeNetDataset over all categories with the protocol's inputs, the selected category ids).

    The data set covers every category so that an object's index, hence its noisy input, does not depend on the
    selection; `categories` (ids or names) is validated and returned as ids."""
    from ..data.shapenet import ShapeNetDataset

    kw = dict(split=split, input_type=input_type, n_input_points=N_INPUT_POINTS, input_noise=INPUT_NOISE,
              n_query_points=None, img_size=img_size, view=0 if input_type in ("img", "image") else None, seed=seed)
    selected = ShapeNetDataset(root, categories=categories, **kw)
    try:
        ds = ShapeNetDataset(root, categories=None, **kw) if categories is not None else selected
    except (FileNotFoundError, ValueError):  # another category lacks the split list: index within the selection
        ds = selected
    return ds, list(selected.categories)


def _fingerprint(path) -> dict:
    st = os.stat(path)
    return {"path": os.path.abspath(os.fspath(path)), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read_cache(file: Path, key: dict) -> Optional[dict]:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("row"), dict):
        return None
    return data["row"]


def _write_cache(file: Path, key: dict, row: dict) -> None:
    from ..io import atomic_write

    file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(file) as f:
        f.write(json.dumps({"key": key, "row": row}, indent=1, allow_nan=True).encode())


def evaluate_objects(produce: Callable, root: str, *, split: str = "test", categories=None,
                     input_type: str = "pointcloud", img_size: Optional[int] = 224, seed: int = 0,
                     limit: Optional[int] = None, progress: bool = False, cache_dir=None,
                     cache_key: Optional[dict] = None, object_key: Optional[Callable] = None,
                     warn: Optional[Callable[[str], None]] = None) -> dict:
    """Score the meshes of any method on `split` of `root` (module docstring).

    produce(item) -> (mesh or None, status): item is a ShapeNetDataset item (protocol inputs); mesh a
    trimesh.Trimesh or (vertices, faces) in the normalised frame; None (an empty mesh, ONet's policy: worst values)
    with a status other than "ok" ("missing", "failed: ...") that is reported through `warn` and in the result.
    cache_dir: when given, each object's row is stored atomically in cache_dir/<category>/<model>.json together
    with cache_key (+ the object's index and object_key(item)); a later call reuses it only when they match.
    Returns {"objects": rows, "classes", "mean", "reused": n, "computed": n, "problems": [{category, model, status}]}.
    """
    from .metrics import empty_mesh_metrics, mesh_metrics

    ds, cats = protocol_dataset(root, split=split, categories=categories, input_type=input_type,
                                img_size=img_size, seed=seed)
    wanted = set(cats)
    per_cat: dict = defaultdict(int)
    todo = []
    for i, (cat, model) in enumerate(ds.models):
        if cat not in wanted or (limit is not None and per_cat[cat] >= limit):
            continue
        per_cat[cat] += 1
        todo.append((i, cat, model))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"evaluate {split}", unit="obj")
    rows, problems = [], []
    reused = 0
    try:
        for i, cat, model in todo:
            key = file = None
            if cache_dir is not None:
                key = {"version": CACHE_VERSION, **(cache_key or {}), "category": cat, "model": model,
                       "input_index": i}
                file = Path(cache_dir) / cat / f"{model}.json"
            item = None
            if key is not None and object_key is not None:
                item = ds[i]
                key["object"] = object_key(item)
            row = _read_cache(file, key) if key is not None else None
            if row is not None:
                reused += 1
            else:
                item = ds[i] if item is None else item
                t0 = time.perf_counter()
                mesh, status = produce(item)
                seconds = time.perf_counter() - t0
                gt = _ground_truth(root, cat, model)
                occ = ({"occ_points": gt["occ_points"], "occ_labels": gt["occ_labels"]}
                       if "occ_points" in gt else {})
                if mesh is None:
                    m = empty_mesh_metrics(with_iou=bool(occ))
                    faces = 0
                else:
                    m = mesh_metrics(mesh, gt["points"], gt["normals"], seed=seed, **occ)
                    faces = int(len(mesh.faces)) if hasattr(mesh, "faces") else int(len(mesh[1]))
                    if faces == 0 and status == "ok":
                        status = "empty"
                row = {"category": cat, "model": model, "status": status, "seconds": seconds, "faces": faces,
                       **{k: float(v) for k, v in m.items()}}
                if key is not None:
                    _write_cache(file, key, row)
            if row.get("status", "ok") != "ok":
                problems.append({"category": cat, "model": model, "status": row["status"]})
                if warn is not None:
                    warn(f"{cat}/{model}: {row['status']} -> scored as an empty mesh (ONet policy: worst values)")
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    classes, mean = class_means(rows)
    return {"objects": rows, "classes": classes, "mean": mean, "reused": reused, "computed": len(rows) - reused,
            "problems": problems}


def evaluate_model(rec, root: str, *, split: str = "test", categories=None, resolution: int = 128,
                   threshold: Optional[float] = None, refine_steps: int = 0, seed: int = 0,
                   limit: Optional[int] = None, progress: bool = False, cache_dir=None,
                   warn: Optional[Callable[[str], None]] = None) -> dict:
    """Per-object metrics and the mean of class means of `rec` (a hnf3d.Reconstructor) on `split` of `root`.

    Returns {"objects": [{"category", "model", "iou", "chamfer_l1", ..., "seconds"}], "classes": {cat: means},
    "mean": mean of class means, "settings": {...}} (+ "reused", "computed", "problems": see evaluate_objects).
    limit: at most this many objects per category. cache_dir: a per-object result cache (evaluate_objects)."""
    cfg = rec.config.data

    def produce(item):
        if rec.kind == "image":
            mesh = rec.reconstruct_image(item["inputs"], resolution=resolution, threshold=threshold)
        else:
            mesh = rec.reconstruct(item["inputs"].numpy(), resolution=resolution, threshold=threshold,
                                   refine_steps=refine_steps, seed=seed)
        return mesh, "ok"

    settings = {"split": split, "resolution": resolution, "threshold": threshold, "refine_steps": refine_steps,
                "seed": seed, "input": rec.kind, "n_input_points": N_INPUT_POINTS, "input_noise": INPUT_NOISE,
                "view": 0}
    key = None
    if cache_dir is not None:
        source = getattr(rec, "source", None)
        checkpoint = _fingerprint(source) if source and os.path.isfile(source) else str(source)
        key = {"method": "model", "checkpoint": checkpoint,
               **{k: settings[k] for k in ("resolution", "threshold", "refine_steps", "seed", "input")}}
    out = evaluate_objects(produce, root, split=split, categories=categories, input_type=rec.kind,
                           img_size=cfg.img_size, seed=seed, limit=limit, progress=progress, cache_dir=cache_dir,
                           cache_key=key, warn=warn)
    out["settings"] = settings
    return out


def _is_metric(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def class_means(rows: list) -> tuple[dict, dict]:
    """({category: {metric: mean over its objects}}, {metric: mean of the class means}) of per-object rows.

    Numeric fields only (category, model and text fields such as status are skipped); a metric missing from some
    rows (e.g. iou where a model has no points.npz) is averaged over the rows / classes that have it."""
    by_cat: dict = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    keys: list = []
    for r in rows:
        keys += [k for k, v in r.items() if k not in ("category", "model") and _is_metric(v) and k not in keys]
    classes = {}
    for c, rs in sorted(by_cat.items()):
        classes[c] = {k: float(np.mean([r[k] for r in rs if k in r])) for k in keys
                      if any(k in r for r in rs)} | {"n": len(rs)}
    mean = {k: float(np.mean([classes[c][k] for c in classes if k in classes[c]])) for k in keys}
    return classes, mean
