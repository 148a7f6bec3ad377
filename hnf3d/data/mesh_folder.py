"""A folder of meshes as an occupancy dataset, with query points and labels computed on the fly.

Layouts:

- flat: ROOT/*.obj|off|ply|stl|glb|gltf -> one category, "default" (optional split list ROOT/<split>.lst);
- per category: ROOT/<category>/*.<ext> (optional split lists ROOT/<category>/<split>.lst).
  Used when ROOT holds no mesh file directly.

A split list names file stems, one per line (blank lines ignored). split=None, or a category without the list,
uses every mesh file of the category.

Each item is normalised with ONet's convention (bounding-box centre at 0, largest side 1; "loc"/"scale" give
world = normalised * scale + loc) and has the same fields as hnf3d.data.shapenet.ShapeNetDataset:
"inputs" (n_input_points, 3) noisy surface samples, "points" (n_query_points, 3) and "points.occ"
(n_query_points,) float32 0/1 labels (the first n_query_points - round(n_query_points * near_surface_fraction)
uniform in the padded box [-0.5 - padding/2, 0.5 + padding/2]^3, then the near-surface ones: surface samples +
N(0, near_surface_sigma^2)), "category" (folder name or "default"), "model" (file stem), "idx", "loc", "scale".
n_query_points=None or 0 leaves "points"/"points.occ" out.

Labels come from hnf3d.ops.occupancy(method=occupancy_method). Items are deterministic given (seed, epoch, idx)
(set_epoch); the normalised meshes are cached in memory (cache_size of them, least recently used dropped).
A mesh that cannot be loaded raises at __getitem__ with an error that starts with the file's path; `validate()`
tries every file up front and returns (and logs) the bad ones.
"""
from __future__ import annotations

import logging
import os
from collections import Counter, OrderedDict
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .normalization import unit_box_normalization
from ..io import MESH_READ_EXTENSIONS, load_mesh
from ..ops import occupancy, sample_exposed_surface, sample_near_surface, sample_uniform
from .transforms import add_noise, collate, item_rng, torch_seed

__all__ = ["MeshFolderDataset", "collate"]

logger = logging.getLogger("hnf3d.data")

DEFAULT_CATEGORY = "default"


def _mesh_files(folder: str) -> list[str]:
    return sorted(f for f in os.listdir(folder)
                  if os.path.splitext(f)[1].lower() in MESH_READ_EXTENSIONS and os.path.isfile(os.path.join(folder, f)))


class MeshFolderDataset(Dataset):
    """Occupancy training items from a folder of meshes (module docstring).

    root: the folder. split: name of the split lists to use, or None for every file. categories: category folder
    names to keep (None = all). n_input_points / input_noise: input cloud size and its Gaussian noise sigma.
    n_query_points: query points per item. near_surface_fraction / near_surface_sigma: share and spread of the
    near-surface queries. padding: the uniform queries fill [-0.5 - padding/2, 0.5 + padding/2]^3 (ONet: 0.1).
    seed: base seed. occupancy_method: 'auto' | 'winding' | 'robust' (hnf3d.ops.occupancy).
    cache_size: number of normalised meshes kept in memory per process (0 disables the cache).
    """

    def __init__(self, root, split: str | None = None, categories=None, n_input_points: int = 3000,
                 input_noise: float = 0.005, n_query_points: int | None = 2048, near_surface_fraction: float = 0.5,
                 near_surface_sigma: float = 0.01, padding: float = 0.1, seed: int = 0,
                 occupancy_method: str = "auto", cache_size: int = 64):
        if n_input_points is None or n_input_points < 1:
            raise ValueError(f"n_input_points: expected a positive integer, got {n_input_points!r}")
        if not input_noise >= 0:
            raise ValueError(f"input_noise: expected >= 0, got {input_noise!r}")
        if n_query_points is not None and n_query_points < 0:
            raise ValueError(f"n_query_points: expected a non-negative integer or None, got {n_query_points!r}")
        if not 0 <= near_surface_fraction <= 1:
            raise ValueError(f"near_surface_fraction: expected a value in [0, 1], got {near_surface_fraction!r}")
        if not near_surface_sigma >= 0:
            raise ValueError(f"near_surface_sigma: expected >= 0, got {near_surface_sigma!r}")
        if not padding >= 0:
            raise ValueError(f"padding: expected >= 0, got {padding!r}")
        if occupancy_method not in ("auto", "winding", "robust"):
            raise ValueError(f"occupancy_method: expected 'auto', 'winding' or 'robust', got {occupancy_method!r}")
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{self.root}: mesh folder not found")
        self.split = split
        self.n_input_points = int(n_input_points)
        self.input_noise = float(input_noise)
        self.n_query_points = int(n_query_points or 0)
        self.near_surface_fraction = float(near_surface_fraction)
        self.near_surface_sigma = float(near_surface_sigma)
        self.padding = float(padding)
        self.seed = int(seed)
        self.epoch = 0
        self.occupancy_method = occupancy_method
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[int, tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]] = OrderedDict()

        flat = bool(_mesh_files(self.root))
        if flat:
            self.layout = "flat"
            folders = {DEFAULT_CATEGORY: self.root}
        else:
            self.layout = "categories"
            folders = {d: os.path.join(self.root, d) for d in sorted(os.listdir(self.root))
                       if os.path.isdir(os.path.join(self.root, d)) and _mesh_files(os.path.join(self.root, d))}
        if categories is not None:
            categories = [categories] if isinstance(categories, str) else [str(c) for c in categories]
            unknown = [c for c in categories if c not in folders]
            if unknown:
                raise ValueError(f"{self.root}: unknown categor{'y' if len(unknown) == 1 else 'ies'} {unknown}; "
                                 f"available: {sorted(folders)}")
            folders = {c: folders[c] for c in categories}
        self.categories = list(folders)
        self.files: list[tuple[str, str, str]] = []  # (category, stem, path)
        for cat, folder in folders.items():
            self.files.extend((cat, stem, path) for stem, path in self._select(folder))

    def _select(self, folder: str) -> list[tuple[str, str]]:
        by_stem: dict[str, str] = {}
        for name in _mesh_files(folder):
            stem = os.path.splitext(name)[0]
            if stem in by_stem:
                logger.warning("%s: several mesh files with the stem %r; using %s", folder, stem, by_stem[stem])
                continue
            by_stem[stem] = os.path.join(folder, name)
        if self.split is None:
            return list(by_stem.items())
        lst = os.path.join(folder, f"{self.split}.lst")
        if not os.path.isfile(lst):
            return list(by_stem.items())
        with open(lst, encoding="utf-8") as fh:
            stems = [line.strip() for line in fh if line.strip()]
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise FileNotFoundError(f"{lst}: lists {missing[:5]}{' ...' if len(missing) > 5 else ''} but "
                                    f"{folder} has no mesh file with that stem")
        return [(s, by_stem[s]) for s in stems]

    # ---------------------------------------------------------------- api
    def set_epoch(self, epoch: int) -> None:
        """Change the randomness of every item (item i of epoch e draws from default_rng([seed, e, i]))."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch: expected a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def category_counts(self) -> dict[str, int]:
        counts = Counter(c for c, _, _ in self.files)
        return {c: counts.get(c, 0) for c in self.categories}

    def __repr__(self) -> str:
        per_cat = ", ".join(f"{c}: {n}" for c, n in self.category_counts().items())
        return (f"MeshFolderDataset(root={self.root!r}, split={self.split!r}, layout={self.layout!r}, "
                f"meshes={len(self)} [{per_cat}])")

    def load(self, idx: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """The normalised mesh of item idx: vertices (V, 3) float32, faces (F, 3) int64, loc (3,), scale ()."""
        if idx in self._cache:
            self._cache.move_to_end(idx)
            return self._cache[idx]
        path = self.files[idx][2]
        mesh = load_mesh(path)  # FileNotFoundError / FileFormatError name the file
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        try:
            norm = unit_box_normalization(vertices)
        except ValueError as exc:
            raise ValueError(f"{path}: cannot normalise the mesh: {exc}") from exc
        area = np.linalg.norm(np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]],
                                       vertices[faces[:, 2]] - vertices[faces[:, 0]]), axis=1).sum()
        if not area > 0:
            raise ValueError(f"{path}: the mesh has zero surface area")
        entry = (torch.from_numpy(norm.apply(vertices).astype(np.float32)), torch.from_numpy(faces),
                 np.asarray(norm.loc, dtype=np.float32), np.asarray(norm.scale, dtype=np.float32))
        if self.cache_size > 0:
            self._cache[idx] = entry
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return entry

    def validate(self) -> list[tuple[str, str]]:
        """Load every mesh; return [(path, reason)] for those that fail (each also logged on 'hnf3d.data')."""
        bad = []
        for i, (_, _, path) in enumerate(self.files):
            try:
                self.load(i)
            except (OSError, ValueError) as exc:
                reason = str(exc)
                prefix = f"{path}: "
                reason = reason[len(prefix):] if reason.startswith(prefix) else reason
                logger.warning("bad mesh %s: %s", path, reason)
                bad.append((path, reason))
        return bad

    def __getitem__(self, idx: int) -> dict[str, Any]:
        if isinstance(idx, torch.Tensor):
            idx = int(idx)
        n = len(self.files)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for a dataset of {n} meshes")
        idx = idx % n
        cat, stem, path = self.files[idx]
        v, f, loc, scale = self.load(idx)
        rng = item_rng(self.seed, self.epoch, idx)
        item: dict[str, Any] = {}

        surface = sample_exposed_surface(v, f, self.n_input_points, seed=torch_seed(rng),
                                         method=self.occupancy_method).points.numpy()
        item["inputs"] = torch.from_numpy(add_noise(surface, self.input_noise, rng))

        if self.n_query_points > 0:
            n_near = int(round(self.n_query_points * self.near_surface_fraction))
            n_uniform = self.n_query_points - n_near
            uniform = sample_uniform(n_uniform, half_extent=0.5 + self.padding / 2, seed=torch_seed(rng))
            near = sample_near_surface(v, f, n_near, sigma=self.near_surface_sigma, seed=torch_seed(rng))
            queries = torch.cat([uniform, near.to(torch.float32)], 0)
            try:
                occ = occupancy(v, f, queries, method=self.occupancy_method)
            except ValueError as exc:
                raise ValueError(f"{path}: cannot label query points: {exc}") from exc
            item["points"] = queries.contiguous()
            item["points.occ"] = occ.to(torch.float32).cpu()
        item["category"] = cat
        item["model"] = stem
        item["idx"] = idx
        item["loc"] = torch.from_numpy(loc.copy())
        item["scale"] = torch.from_numpy(scale.copy())
        return item
