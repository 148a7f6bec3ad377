"""ShapeNet in the Occupancy Networks ("preprocessed ShapeNet") layout, as a torch Dataset.

Layout (docs/protocol.md)::

    ROOT/metadata.yaml                        {synset: {id: synset, name: "table"}}   (optional)
    ROOT/<synset>/<split>.lst                 one model id per line
    ROOT/<synset>/<id>/points.npz             points (N,3) float16, occupancies np.packbits(bool), loc, scale
    ROOT/<synset>/<id>/pointcloud.npz         points (N,3) float16, normals (N,3) float16, loc, scale
    ROOT/<synset>/<id>/img_choy2016/000.jpg.. + cameras.npz (camera_mat_i (3,3), world_mat_i (3,4))

Items are dicts:

- "inputs": (n_input_points, 3) float32 noisy surface points (input_type="pointcloud") or a (3, img_size,
  img_size) float32 RGB image in [0, 1] (input_type="img"/"image"), with "camera_mat" (3, 3) and "world_mat"
  (3, 4) float32 of the chosen view;
- "points" (n_query_points, 3) float32 and "points.occ" (n_query_points,) float32 in {0, 1}: ONLY when the model
  has a points file. The real ShapeNet samples shipped for tests have none, so these fields are optional; a batch
  mixing models with and without a points file cannot be collated (see skip_bad);
- "category" (synset id str), "model" (model id str), "idx" (int), "loc" (3,) and "scale" () float32 tensors:
  the normalisation, world = normalised * scale + loc (from points.npz, else pointcloud.npz, else 0 / 1).

Randomness: item i draws from numpy's default_rng([seed, epoch, i, field]) (see `set_epoch`), so items do not
depend on the DataLoader's worker count or order, and the inputs do not depend on whether a points file exists.
With persistent_workers=True, call set_epoch before the workers start (they hold a copy of the dataset).

Bad data: every problem raises an error whose message starts with the offending file (FileNotFoundError for a
missing file, ValueError for an unreadable zip, a missing key or a wrong shape). skip_bad=True checks at
construction, with cheap existence checks only, that each model has the files it needs (the input file(s), and the
points file when at least one model of the dataset has one); models that lack one are dropped, logged on the
'hnf3d.data' logger and listed in `skipped` as (category, model, reason). Files that exist but are corrupt still
raise at __getitem__: batches never shrink silently.
"""
from __future__ import annotations

import logging
import os
import zipfile
from collections import Counter
from typing import Any, Iterable

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from .metadata import read_metadata
from .transforms import add_noise, collate, item_rng, load_image, subsample_indices

__all__ = ["DatasetUnion", "ShapeNetDataset", "collate", "load_npz"]

logger = logging.getLogger("hnf3d.data")

INPUT_TYPES = ("pointcloud", "img")
#: noise added to float16 query points after the cast to float32 (ONet: "break symmetry")
POINTS_JITTER = 1e-4


def load_npz(path: str | os.PathLike, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """The arrays `keys` of an .npz file (allow_pickle=False). Errors name the file: FileNotFoundError when it is
    missing, ValueError when it is not a readable zip/npz or lacks a key."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("holds a single array (.npy), not an .npz archive")
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise KeyError(f"missing key(s) {missing}; the file has {sorted(data.files)}")
            return {k: np.asarray(data[k]) for k in keys}
    except KeyError as exc:
        raise ValueError(f"{path}: {exc.args[0]}") from exc
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{path}: cannot read as .npz: {type(exc).__name__}: {exc}") from exc


def _points_array(path: str, name: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise ValueError(f"{path}: {name!r} must be a non-empty (N, 3) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{path}: {name!r} must be numeric, got dtype {arr.dtype}")
    return arr


def _loc_scale(path: str, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    loc = np.asarray(data["loc"], dtype=np.float32)
    scale = np.asarray(data["scale"], dtype=np.float32)
    if loc.size != 3:
        raise ValueError(f"{path}: 'loc' must have 3 values, got shape {loc.shape}")
    if scale.size != 1:
        raise ValueError(f"{path}: 'scale' must be a scalar, got shape {scale.shape}")
    return loc.reshape(3), scale.reshape(())


class ShapeNetDataset(Dataset):
    """ShapeNet (ONet layout) with point-cloud or single-image inputs and occupancy-labelled query points.

    root: the dataset folder. split: 'train' | 'val' | 'test' | any name with ROOT/<synset>/<split>.lst files, or
    None for every model folder. categories: synset ids or names (from metadata.yaml); None = all.
    input_type: 'pointcloud' | 'img' ('image' is accepted). n_input_points / input_noise: input point cloud size and
    Gaussian noise sigma. n_query_points: query points per item (None = all). img_size: the image side after
    resizing (None = keep). view: None = a random view for split 'train', view 0 otherwise; an int fixes it.
    seed: base seed. points_file / pointcloud_file / img_folder: file names inside a model folder.
    skip_bad: drop models whose files are missing at construction (module docstring).
    near_surface_fraction: that share of the n_query_points comes from surface_points_file (points near the
    surface, the builder's points_surface.npz), the rest from points_file (uniform): sharper boundaries for
    training. 0 (the default, and ONet's protocol) reads points_file only.
    scan_fraction: that share of the items (point-cloud input only) gets a simulated partial scan as input
    (hnf3d.data.partial_scan: a few views, range noise, a part missing) instead of points all over the surface;
    such an item is then re-normalised as the Reconstructor normalises a user's scan (its points' bounding box
    to the unit box), its query points and loc/scale with it. 0 (the default, and ONet's protocol): never.
    """

    def __init__(self, root, split: str | None = "train", categories=None, input_type: str = "pointcloud",
                 n_input_points: int = 3000, input_noise: float = 0.005, n_query_points: int | None = 2048,
                 img_size: int | None = 224, view: int | None = None, seed: int = 0,
                 points_file: str = "points.npz", pointcloud_file: str = "pointcloud.npz",
                 img_folder: str = "img_choy2016", skip_bad: bool = False, near_surface_fraction: float = 0.0,
                 surface_points_file: str = "points_surface.npz", scan_fraction: float = 0.0):
        if input_type == "image":
            input_type = "img"
        if input_type not in INPUT_TYPES:
            raise ValueError(f"input_type: expected 'pointcloud' or 'img', got {input_type!r}")
        if n_input_points is None or n_input_points < 1:
            raise ValueError(f"n_input_points: expected a positive integer, got {n_input_points!r}")
        if not input_noise >= 0:
            raise ValueError(f"input_noise: expected >= 0, got {input_noise!r}")
        if n_query_points is not None and n_query_points < 1:
            raise ValueError(f"n_query_points: expected a positive integer or None, got {n_query_points!r}")
        if not 0.0 <= near_surface_fraction <= 1.0:
            raise ValueError(f"near_surface_fraction: expected a fraction in [0, 1], got {near_surface_fraction!r}")
        if near_surface_fraction and n_query_points is None:
            raise ValueError("near_surface_fraction: needs a number of query points (n_query_points), got None")
        if not 0.0 <= scan_fraction <= 1.0:
            raise ValueError(f"scan_fraction: expected a fraction in [0, 1], got {scan_fraction!r}")
        if scan_fraction and input_type != "pointcloud":
            raise ValueError("scan_fraction: simulated scans replace point-cloud inputs; this dataset gives images")
        if view is not None and view < 0:
            raise ValueError(f"view: expected a non-negative view index or None, got {view!r}")
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{self.root}: dataset folder not found")
        self.split = split
        self.input_type = input_type
        self.n_input_points = int(n_input_points)
        self.input_noise = float(input_noise)
        self.n_query_points = None if n_query_points is None else int(n_query_points)
        self.img_size = img_size
        self.view = view
        self.seed = int(seed)
        self.epoch = 0
        self.points_file = points_file
        self.near_surface_fraction = float(near_surface_fraction)
        self.surface_points_file = surface_points_file
        self.scan_fraction = float(scan_fraction)
        self.pointcloud_file = pointcloud_file
        self.img_folder = img_folder
        self.skip_bad = bool(skip_bad)

        self.metadata = self._read_metadata()
        self.categories = self._select_categories(categories)
        self.models: list[tuple[str, str]] = []  # (category, model id)
        for cat in self.categories:
            self.models.extend((cat, m) for m in self._model_ids(cat))
        self.skipped: list[tuple[str, str, str]] = []
        if self.skip_bad:
            self._drop_incomplete()

    # ---------------------------------------------------------------- index
    def _read_metadata(self) -> dict[str, dict[str, Any]]:
        path = os.path.join(self.root, "metadata.yaml")
        if not os.path.exists(path):
            cats = sorted(d for d in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, d)))
            return {c: {"id": c, "name": c} for c in cats}
        meta = read_metadata(path)
        out = {}
        for key, value in meta.items():
            value = value if isinstance(value, dict) else {}
            out[str(key)] = {"id": str(value.get("id", key)), "name": str(value.get("name", key))}
        return out

    def _select_categories(self, categories) -> list[str]:
        if categories is None:  # sorted synset ids: the index order does not depend on metadata.yaml's order
            return sorted(self.metadata.keys())
        if isinstance(categories, str):
            categories = [categories]
        by_name: dict[str, str] = {}
        for synset, info in self.metadata.items():
            by_name.setdefault(info["name"], synset)
            for part in info["name"].split(","):  # ShapeNet names like "table,tabular array"
                by_name.setdefault(part.strip(), synset)
        chosen = []
        for c in categories:
            c = str(c)
            synset = c if c in self.metadata else by_name.get(c)
            if synset is None:
                if os.path.isdir(os.path.join(self.root, c)):
                    synset = c  # a category folder that metadata.yaml does not list
                else:
                    known = ", ".join(f"{s} ({i['name']})" for s, i in self.metadata.items())
                    raise ValueError(f"{self.root}: unknown category {c!r}; available: {known or 'none'}")
            if synset not in chosen:
                chosen.append(synset)
        return chosen

    def _model_ids(self, cat: str) -> list[str]:
        cat_dir = os.path.join(self.root, cat)
        if not os.path.isdir(cat_dir):
            raise FileNotFoundError(f"{cat_dir}: category folder not found")
        if self.split is None:
            return sorted(d for d in os.listdir(cat_dir) if os.path.isdir(os.path.join(cat_dir, d)))
        lst = os.path.join(cat_dir, f"{self.split}.lst")
        if not os.path.isfile(lst):
            raise FileNotFoundError(f"{lst}: split list not found (pass split=None to use every model folder)")
        with open(lst, encoding="utf-8") as fh:
            return [line.strip() for line in fh if line.strip()]

    def _needed_files(self, cat: str, model: str) -> list[str]:
        d = os.path.join(self.root, cat, model)
        if self.input_type == "pointcloud":
            files = [os.path.join(d, self.pointcloud_file)]
        else:
            img_dir = os.path.join(d, self.img_folder)
            files = [os.path.join(img_dir, "cameras.npz")]
            if self._fixed_view() is not None:
                files.append(os.path.join(img_dir, "%03d.jpg" % self._fixed_view()))
        if self.near_surface_fraction:
            files.append(os.path.join(d, self.surface_points_file))
        return files

    def _drop_incomplete(self) -> None:
        need_points = any(os.path.isfile(self._points_path(c, m)) for c, m in self.models)
        kept = []
        for cat, model in self.models:
            files = self._needed_files(cat, model) + ([self._points_path(cat, model)] if need_points else [])
            missing = [f for f in files if not os.path.isfile(f)]
            if missing:
                reason = f"missing {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                logger.warning("skipping %s/%s: %s", cat, model, reason)
                self.skipped.append((cat, model, reason))
            else:
                kept.append((cat, model))
        self.models = kept

    def _points_path(self, cat: str, model: str) -> str:
        return os.path.join(self.root, cat, model, self.points_file)

    def _fixed_view(self) -> int | None:
        if self.view is not None:
            return int(self.view)
        return None if self.split == "train" else 0

    # ---------------------------------------------------------------- api
    def set_epoch(self, epoch: int) -> None:
        """Change the randomness of every item (item i of epoch e draws from default_rng([seed, e, i, field]))."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch: expected a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.models)

    def category_counts(self) -> dict[str, int]:
        counts = Counter(c for c, _ in self.models)
        return {c: counts.get(c, 0) for c in self.categories}

    def __repr__(self) -> str:
        per_cat = ", ".join(f"{c} ({self.metadata.get(c, {}).get('name', c)}): {n}"
                            for c, n in self.category_counts().items())
        skipped = f", skipped={len(self.skipped)}" if self.skip_bad else ""
        return (f"ShapeNetDataset(root={self.root!r}, split={self.split!r}, input_type={self.input_type!r}, "
                f"models={len(self)} [{per_cat}]{skipped})")

    def __getitem__(self, idx: int) -> dict[str, Any]:
        if isinstance(idx, torch.Tensor):
            idx = int(idx)
        n = len(self.models)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for a dataset of {n} models")
        idx = idx % n
        cat, model = self.models[idx]
        model_dir = os.path.join(self.root, cat, model)
        # one independent stream per field, so that e.g. the presence of a points file does not shift the inputs
        rng_points = item_rng(self.seed, self.epoch, idx, stream=0)
        rng_inputs = item_rng(self.seed, self.epoch, idx, stream=1)
        item: dict[str, Any] = {}
        loc = scale = None

        points_path = self._points_path(cat, model)
        if os.path.isfile(points_path):
            n_near = 0 if not self.near_surface_fraction else round(self.n_query_points * self.near_surface_fraction)
            count = None if self.n_query_points is None else self.n_query_points - n_near
            pts, occ, loc, scale = self._load_points(points_path, rng_points, count)
            if n_near:  # its own stream: the uniform points do not depend on the near-surface file
                near_path = os.path.join(model_dir, self.surface_points_file)
                near, near_occ, _, _ = self._load_points(near_path, item_rng(self.seed, self.epoch, idx, stream=2),
                                                         n_near)
                pts, occ = np.concatenate([pts, near]), np.concatenate([occ, near_occ])
            item["points"] = torch.from_numpy(pts)
            item["points.occ"] = torch.from_numpy(occ)

        if self.input_type == "pointcloud":
            inputs, pc_loc, pc_scale, surface = self._load_pointcloud(os.path.join(model_dir, self.pointcloud_file),
                                                                      rng_inputs)
            if loc is None:
                loc, scale = pc_loc, pc_scale
            if self.scan_fraction:  # its own stream: the other fields do not depend on it
                inputs, loc, scale = self._scan_like(item, surface, inputs, loc, scale,
                                                     item_rng(self.seed, self.epoch, idx, stream=3))
            item["inputs"] = torch.from_numpy(inputs)
        else:
            image, camera_mat, world_mat = self._load_view(os.path.join(model_dir, self.img_folder), rng_inputs)
            item["inputs"] = image
            item["camera_mat"] = torch.from_numpy(camera_mat)
            item["world_mat"] = torch.from_numpy(world_mat)
            if loc is None:
                pc_path = os.path.join(model_dir, self.pointcloud_file)
                if os.path.isfile(pc_path):
                    loc, scale = _loc_scale(pc_path, load_npz(pc_path, ("loc", "scale")))
        if loc is None:
            loc, scale = np.zeros(3, np.float32), np.ones((), np.float32)
        item["category"] = cat
        item["model"] = model
        item["idx"] = idx
        item["loc"] = torch.from_numpy(np.array(loc, dtype=np.float32))
        item["scale"] = torch.from_numpy(np.array(scale, dtype=np.float32))
        return item

    # ---------------------------------------------------------------- loaders
    def _load_points(self, path: str, rng: np.random.Generator, count: int | None):
        data = load_npz(path, ("points", "occupancies", "loc", "scale"))
        pts = _points_array(path, "points", data["points"])
        n = pts.shape[0]
        packed = data["occupancies"]
        if packed.dtype == np.uint8 and packed.ndim == 1:
            if packed.size * 8 < n:
                raise ValueError(f"{path}: 'occupancies' holds {packed.size * 8} packed bits for {n} points")
            occ = np.unpackbits(packed)[:n]
        elif packed.reshape(-1).size == n:  # unpacked labels (bool or 0/1), as some converters write them
            occ = packed.reshape(-1)
        else:
            raise ValueError(f"{path}: 'occupancies' must be np.packbits of {n} labels, got {packed.dtype} "
                             f"shape {packed.shape}")
        loc, scale = _loc_scale(path, data)
        sel = subsample_indices(rng, n, count)
        out = pts[sel].astype(np.float32)
        if pts.dtype == np.float16:
            out += (POINTS_JITTER * rng.standard_normal(out.shape)).astype(np.float32)
        return out, (occ[sel] != 0).astype(np.float32), loc, scale

    def _load_pointcloud(self, path: str, rng: np.random.Generator):
        data = load_npz(path, ("points", "loc", "scale"))
        pts = _points_array(path, "points", data["points"])
        loc, scale = _loc_scale(path, data)
        sel = subsample_indices(rng, pts.shape[0], self.n_input_points)
        return add_noise(pts[sel].astype(np.float32), self.input_noise, rng), loc, scale, pts

    def _scan_like(self, item: dict, surface: np.ndarray, inputs: np.ndarray, loc, scale, rng: np.random.Generator):
        """(inputs, loc, scale) of an item whose input becomes, with probability scan_fraction, a simulated scan of
        its dense surface sample `surface` (M, 3), re-normalised to its own bounding box like a user's scan;
        item["points"] (the query points) move with it. Otherwise (or when the scan sees too little) unchanged."""
        from .normalization import unit_box_normalization
        from .partial_scan import scan_like_input

        if rng.random() >= self.scan_fraction:
            return inputs, loc, scale
        scan = scan_like_input(surface, rng, self.n_input_points)
        if scan is None:
            return inputs, loc, scale
        norm = unit_box_normalization(scan)
        if "points" in item:
            item["points"] = torch.from_numpy(norm.apply(item["points"].numpy()).astype(np.float32))
        # world = unit * scale + loc and unit = new * norm.scale + norm.loc
        loc = np.asarray(loc, np.float64) + np.asarray(scale, np.float64) * norm.loc
        return norm.apply(scan).astype(np.float32), loc, float(scale) * norm.scale

    def _load_view(self, folder: str, rng: np.random.Generator):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: image folder not found")
        view = self._fixed_view()
        if view is None:
            n_views = sum(1 for f in os.listdir(folder) if f.lower().endswith(".jpg"))
            if n_views == 0:
                raise FileNotFoundError(f"{folder}: no .jpg views found")
            view = int(rng.integers(0, n_views))
        cams_path = os.path.join(folder, "cameras.npz")
        cams = load_npz(cams_path, (f"camera_mat_{view}", f"world_mat_{view}"))
        camera_mat = np.asarray(cams[f"camera_mat_{view}"], dtype=np.float32)
        world_mat = np.asarray(cams[f"world_mat_{view}"], dtype=np.float32)
        if camera_mat.shape != (3, 3):
            raise ValueError(f"{cams_path}: 'camera_mat_{view}' must be (3, 3), got {camera_mat.shape}")
        if world_mat.shape != (3, 4):
            raise ValueError(f"{cams_path}: 'world_mat_{view}' must be (3, 4), got {world_mat.shape}")
        image = load_image(os.path.join(folder, "%03d.jpg" % view), self.img_size)
        return image, camera_mat, world_mat


class DatasetUnion(ConcatDataset):
    """Several datasets read as one (e.g. the procedural SDF families and the ShapeNet-like furniture set):
    torch's ConcatDataset, plus `set_epoch` for every part and "idx" rewritten to the index in the union.

    Each part keeps its own seed, so give the parts different seeds (build_datasets uses seed + k) when their items
    must not share randomness.
    """

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        idx = int(idx)
        item = super().__getitem__(idx)
        item["idx"] = idx % len(self)
        return item
