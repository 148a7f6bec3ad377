"""Build an Occupancy Networks data set from any folder of meshes (docs/protocol.md, docs/design.md section 4).

Per object (`build_object`), in the object's normalised frame (bounding-box centre at the origin, largest side 1;
world = p * scale + loc, as ONet's sample_mesh.py):

    points.npz          n_points uniform points in [-(1+padding)/2, (1+padding)/2]^3, float16; occupancies =
                        np.packbits(inside) of those float16-rounded points (hnf3d.ops.occupancy, method 'auto':
                        robust on open or non-watertight meshes); loc (3,) float32, scale () float32
    points_surface.npz  (optional) n_surface surface samples + N(0, sigma^2) noise, same keys as points.npz
    pointcloud.npz      n_points area-weighted surface samples: points, normals float16; loc, scale
    img_choy2016/       000.jpg ... 137 x 137 renders + cameras.npz (camera_mat_i, world_mat_i; hnf3d.vis.render)

Degenerate labels (`check_labels`): an object whose uniform labels do not describe a solid is refused with
DegenerateMeshError, so the data-set builder reports and skips it like an unreadable file. Refused: less than
MIN_VOLUME_FRACTION (0.01%) of the uniform points inside the object's volume, or more than half of the points
beyond the mesh's bounding box labelled inside (the labelling failed). The shell that 'robust' labelling gives open
surfaces is not volume: for those meshes only the enclosed points count, so a lone triangle or an open sheet (0.3-0.6%
of the points inside, all of it shell, none enclosed) is refused. Measured (100k points): procedural shapes have
0.057% (a glider) to 38% inside, the raw ShapeNet bench (thin slats, a triangle soup) 0.37% inside of which 0.19%
enclosed, ModelNet's chair soup 0.62% / 0.17%; an inside-fraction cut alone cannot separate these from a lone
triangle, an enclosed-volume cut can. With few points (--points 3000) a very thin object may get no inside point at
all: such labels teach nothing and are refused as well.

Crash safety: every file is written atomically into a hidden sibling folder `.<id>.tmp-<pid>-<n>`, the completion
marker `.done` is written last, and only then is the folder renamed to `<id>`. A folder without the marker is
never treated as finished (`is_complete`), so an interrupted build is redone on resume.

The data-set level (`build_dataset`: discovery, parallel workers, resume, split lists, metadata.yaml, log) backs
the CLI hnf3d.cli.build_dataset (tools/build_dataset.py). The writers (`points_npz`, `npz_bytes`, `write_object`,
`render_object`) and the data-set machinery (`run_jobs`, `write_splits`, `write_metadata`, `log_line`) are shared
with hnf3d.data.build_sdf, which writes analytic SDF shapes in the same layout. An existing metadata.yaml in the output folder is kept
and extended; one that cannot be read as a YAML mapping is refused (ValueError naming it) before any object is
built, never replaced.
"""
from __future__ import annotations

import io
import itertools
import json
import math
import os
import shutil
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .metadata import read_metadata

MARKER = ".done"
IMG_DIR = "img_choy2016"
LOG_NAME = "build_log.txt"
SPLITS = ("train", "val", "test")

#: Labels whose share of uniform points inside the object's volume is below this are degenerate (module docstring).
MIN_VOLUME_FRACTION = 1e-4
#: Beyond the normalised bounding box [-0.5, 0.5]^3 by more than this, no point can be inside: twice the robust
#: labelling's shell (1/256 of the largest side, hnf3d.ops.occupancy) covers the shell and float16 rounding.
BOX_MARGIN = 2.0 / 256

# ONet's 13 ShapeNet classes: names for metadata.yaml when the category folders are synset ids.
SHAPENET_NAMES = {
    "02691156": "airplane", "02828884": "bench", "02933112": "cabinet", "02958343": "car", "03001627": "chair",
    "03211117": "display", "03636649": "lamp", "03691459": "loudspeaker", "04090263": "rifle", "04256520": "sofa",
    "04379243": "table", "04401088": "telephone", "04530566": "vessel",
}


class DegenerateMeshError(ValueError):
    """The mesh cannot be normalised or sampled (no faces, zero area, zero extent, non-finite vertices), or its
    occupancy labels do not describe a solid (`check_labels`)."""


# ----------------------------------------------------------------------------------------------------------------
# one object
# ----------------------------------------------------------------------------------------------------------------

def normalize_mesh(vertices, faces, name: str = "mesh") -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Check the mesh and normalise it. Returns (normalised vertices float64, faces int64, loc (3,), scale).

    Raises DegenerateMeshError (naming `name`) for no faces, non-finite vertices, zero extent or zero area.
    """
    from .normalization import unit_box_normalization

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[0] == 0 or f.shape[1] != 3:
        raise DegenerateMeshError(f"{name}: degenerate mesh: no triangle faces (faces shape {f.shape})")
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise DegenerateMeshError(f"{name}: degenerate mesh: no vertices (shape {v.shape})")
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise DegenerateMeshError(f"{name}: faces reference vertices that do not exist")
    used = v[np.unique(f)]
    if not np.isfinite(used).all():
        raise DegenerateMeshError(f"{name}: degenerate mesh: non-finite vertex coordinates")
    try:
        norm = unit_box_normalization(used)
    except ValueError as exc:
        raise DegenerateMeshError(f"{name}: degenerate mesh: zero extent ({exc})") from exc
    vn = (v - norm.loc) / norm.scale
    tri = vn[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    if not area > 1e-12:
        raise DegenerateMeshError(f"{name}: degenerate mesh: zero surface area (all {f.shape[0]} faces degenerate)")
    return vn, f, norm.loc, float(norm.scale)


def npz_bytes(**arrays) -> bytes:
    """The bytes of an uncompressed .npz archive of `arrays` (what np.savez writes)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (hnf3d.io.atomic_write: a temporary file renamed into place)."""
    from ..io import atomic_write

    with atomic_write(path) as handle:
        handle.write(data)


def _labels(v32: np.ndarray, f: np.ndarray, points: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(float16 points (N, 3), inside (N,) bool): float32 points cast to float16 first, the rounded points labelled
    with `method` ('winding' | 'robust', from hnf3d.ops.choose_method: what method='auto' picks, chosen once)."""
    from ..ops import occupancy

    p16 = points.astype(np.float16)
    inside = occupancy(v32, f, p16.astype(np.float32), method=method).cpu().numpy().astype(bool)
    return p16, inside


def points_npz(p16: np.ndarray, inside: np.ndarray, loc, scale) -> bytes:
    """points.npz / points_surface.npz: float16 points (N, 3), occupancies np.packbits(inside), loc, scale."""
    return npz_bytes(points=p16, occupancies=np.packbits(inside), loc=loc, scale=scale)


def check_labels(v32: np.ndarray, f: np.ndarray, points: np.ndarray, inside: np.ndarray, method: str,
                 name: str = "mesh") -> None:
    """Refuse labels that do not describe a solid (module docstring): raise DegenerateMeshError naming `name`.

    v32: (V, 3) float32 normalised vertices; f: (F, 3) faces; points: (N, 3) the uniform points (normalised
    frame); inside: (N,) bool, their labels by `method`.
    """
    from ..ops import occupancy

    n = int(inside.size)
    if n == 0:  # n_points=0: no labels, nothing to judge
        return
    share = float(inside.mean())
    volume = share
    if method == "robust":
        # only enclosed points are volume (the rest is the shell around open surfaces); enclosed points are a
        # subset of the inside ones, so testing those alone is cheap
        enclosed = occupancy(v32, f, points[inside], method="robust", shell=0.0).cpu().numpy()
        volume = float(enclosed.sum()) / n
    if volume < MIN_VOLUME_FRACTION:
        what = ("all of it the shell around open surfaces, no enclosed volume" if method == "robust" and share > 0
                else "nothing inside")
        raise DegenerateMeshError(
            f"{name}: degenerate labels: {share:.2%} of the {n} uniform points inside ({what}; at least "
            f"{MIN_VOLUME_FRACTION:.2%} must lie in the object's volume)")
    beyond = (np.abs(points) > 0.5 + BOX_MARGIN).any(1)
    if beyond.any() and inside[beyond].mean() > 0.5:
        raise DegenerateMeshError(
            f"{name}: degenerate labels: {share:.2%} of the {n} uniform points inside, and {inside[beyond].mean():.0%} "
            "of those beyond the mesh's bounding box (the inside/outside labelling failed)")


def is_complete(obj_dir) -> bool:
    """True when `obj_dir` holds a finished object (its completion marker exists)."""
    return (Path(obj_dir) / MARKER).is_file()


_tmp_counter = itertools.count()


def build_object(mesh_path, out_dir, *, n_points: int = 100_000, n_surface: int = 100_000, padding: float = 0.1,
                 near_surface: bool = True, sigma: float = 0.01, n_views: int = 24, img_size: int = 137,
                 supersample: int = 2, seed: int = 0) -> dict:
    """Process one mesh into the ONet object folder `out_dir` (created; an unfinished one is replaced).

    n_points: uniform points (points.npz) and surface points (pointcloud.npz); n_surface: near-surface points
    (points_surface.npz, written when near_surface); n_views: rendered views (0: no img_choy2016 folder).
    Deterministic given seed. Returns a dict of timings in seconds (load, sample, label, render, write, total).
    Raises FileNotFoundError, hnf3d.io.FileFormatError (unreadable file), DegenerateMeshError (a degenerate mesh
    or degenerate labels, `check_labels`), before anything is written.
    """
    import torch

    from ..io import load_mesh
    from ..ops import choose_method, sample_exposed_surface, sample_near_surface, sample_uniform

    for name, value in (("n_points", n_points), ("n_surface", n_surface), ("n_views", n_views)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    if not padding >= 0:
        raise ValueError(f"padding: expected >= 0, got {padding!r}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    mesh_path = Path(mesh_path)
    out_dir = Path(out_dir)
    mesh = load_mesh(mesh_path)
    vn, f, loc64, scale64 = normalize_mesh(mesh.vertices, mesh.faces, str(mesh_path))
    loc = loc64.astype(np.float32)
    scale = np.float32(scale64)
    t1 = time.perf_counter()
    timings["load"] = t1 - t0

    seeds = np.random.SeedSequence(int(seed)).generate_state(4)
    vt = torch.from_numpy(vn)
    ft = torch.from_numpy(f)
    uniform = sample_uniform(int(n_points), half_extent=(1.0 + padding) / 2, seed=int(seeds[0])).numpy()
    # only the surface that bounds the solid: faces of overlapping parts buried inside others are not surface
    surf = sample_exposed_surface(vt, ft, int(n_points), seed=int(seeds[1]))
    near = (sample_near_surface(vt, ft, int(n_surface), sigma=sigma, seed=int(seeds[2])).numpy()
            if near_surface else None)
    t2 = time.perf_counter()
    timings["sample"] = t2 - t1

    files: dict[str, bytes] = {}
    v32 = vn.astype(np.float32)
    method = choose_method(v32, f)
    p16, inside = _labels(v32, f, uniform, method)
    check_labels(v32, f, p16.astype(np.float32), inside, method, str(mesh_path))
    files["points.npz"] = points_npz(p16, inside, loc, scale)
    if near is not None:
        files["points_surface.npz"] = points_npz(*_labels(v32, f, near, method), loc, scale)
    t3 = time.perf_counter()
    timings["label"] = t3 - t2
    files["pointcloud.npz"] = npz_bytes(points=surf.points.numpy().astype(np.float16),
                                        normals=surf.normals.numpy().astype(np.float16), loc=loc, scale=scale)

    images, cameras = render_object(vn, f, loc64, scale64, int(n_views), int(seeds[3]), img_size=int(img_size),
                                    supersample=supersample)
    t4 = time.perf_counter()
    timings["render"] = t4 - t3

    info = {"mesh": str(mesh_path), "seed": int(seed), "loc": loc64.tolist(), "scale": scale64,
            "n_points": int(n_points), "n_surface": int(n_surface) if near is not None else 0,
            "n_views": int(n_views)}
    write_object(out_dir, files, images, cameras, info, timings, t0)
    return timings


def render_object(vn: np.ndarray, f: np.ndarray, loc64: np.ndarray, scale64: float, n_views: int, seed: int, *,
                  img_size: int = 137, supersample: int = 2) -> tuple[list[bytes], dict[str, np.ndarray]]:
    """The img_choy2016 views of a normalised mesh (vn (V, 3), f (F, 3); world = vn * scale64 + loc64): n_views
    JPEG images (hnf3d.vis.render, cameras and the object's colour from `seed`) and the cameras.npz arrays
    (camera_mat_i, world_mat_i). n_views = 0: ([], {}).

    The colour: ShapeNet's renders show textured objects (brown wood, grey metal, white plastic), so each object
    gets a random grey level in [70, 230] tinted by up to +-20% per channel, never white; an image model trained
    on one fixed colour reads colour as shape."""
    from ..vis.render import onet_cameras, render_views

    images: list[bytes] = []
    cameras: dict[str, np.ndarray] = {}
    if not n_views:
        return images, cameras
    from PIL import Image

    used = vn[np.unique(f)]
    diagonal = float(np.linalg.norm(used.max(0) - used.min(0)))
    cams, worlds = onet_cameras(int(n_views), int(seed), loc=loc64, scale=scale64, diagonal=diagonal,
                                size=int(img_size))
    rng = np.random.default_rng([int(seed), 1])  # the cameras draw from default_rng(seed): a separate stream
    base_color = np.clip(rng.uniform(70.0, 230.0) * (1.0 + rng.uniform(-0.2, 0.2, 3)), 10.0, 240.0)
    rgb = render_views(vn * scale64 + loc64, f, cams, worlds, int(img_size), supersample=supersample,
                       base_color=base_color)
    for i in range(int(n_views)):
        buf = io.BytesIO()
        Image.fromarray(rgb[i]).save(buf, format="JPEG", quality=95)
        images.append(buf.getvalue())
        cameras[f"camera_mat_{i}"] = cams[i]
        cameras[f"world_mat_{i}"] = worlds[i]
    return images, cameras


def write_object(out_dir, files: dict[str, bytes], images: list[bytes], cameras: dict[str, np.ndarray],
                 info: dict, timings: dict[str, float], t0: float) -> None:
    """Write one finished object folder crash-safely (module docstring): `files` (name -> bytes) and, when there are
    images, img_choy2016/000.jpg ... + cameras.npz go into a hidden sibling folder, then the marker (the JSON of
    `info` plus the timings, which get 'write' and 'total' = now - t0), then the folder is renamed to out_dir
    (an unfinished earlier out_dir is replaced)."""
    t4 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{next(_tmp_counter)}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for name, data in files.items():
            write_atomic(tmp / name, data)
        if images:
            (tmp / IMG_DIR).mkdir()
            for i, data in enumerate(images):
                write_atomic(tmp / IMG_DIR / f"{i:03d}.jpg", data)
            write_atomic(tmp / IMG_DIR / "cameras.npz", npz_bytes(**cameras))
        timings["write"] = time.perf_counter() - t4
        timings["total"] = time.perf_counter() - t0
        write_atomic(tmp / MARKER, json.dumps(dict(info, timings=timings), indent=1).encode())
        if out_dir.exists():  # an unfinished earlier attempt (finished ones are skipped by the caller)
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------------------------------------------
# a data set
# ----------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeshItem:
    category: str
    model_id: str
    path: Path


def _mesh_files(folder: Path) -> list[Path]:
    from ..io import MESH_READ_EXTENSIONS

    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in MESH_READ_EXTENSIONS:
                found.append(Path(root) / name)
    return found


def _ids_for(folder: Path, files: list[Path]) -> list[tuple[str, Path]]:
    """Model ids for the mesh files under one category folder: a file directly in it -> its stem; a subfolder
    holding one mesh (ShapeNet's <id>/models/model_normalized.obj) -> the subfolder name; several meshes in one
    subfolder -> their relative paths joined with '_'. Clashes get the extension appended."""
    groups: dict[str, list[Path]] = {}
    for p in files:
        rel = p.relative_to(folder)
        key = rel.parts[0] if len(rel.parts) > 1 else ""
        groups.setdefault(key, []).append(p)
    named: list[tuple[str, Path]] = []
    for key, paths in groups.items():
        for p in paths:
            rel = p.relative_to(folder)
            if key and len(paths) == 1:
                named.append((key, p))
            else:
                named.append(("_".join(rel.with_suffix("").parts), p))
    counts: dict[str, int] = {}
    for name, _ in named:
        counts[name] = counts.get(name, 0) + 1
    out = [(f"{name}_{p.suffix.lower()[1:]}" if counts[name] > 1 else name, p) for name, p in named]
    return sorted(out)


def discover(meshes_dir, category: str | None = None) -> list[MeshItem]:
    """The meshes to build. category=None: each subfolder is a category (its name), meshes directly in
    meshes_dir go to 'default'; a category name: every mesh found (recursively) goes to it."""
    root = Path(meshes_dir)
    items: list[MeshItem] = []
    if category is not None:
        return [MeshItem(category, mid, p) for mid, p in _ids_for(root, _mesh_files(root))]
    top = [p for p in _mesh_files(root) if p.parent == root]
    items += [MeshItem("default", mid, p) for mid, p in _ids_for(root, top)]
    for sub in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        items += [MeshItem(sub.name, mid, p) for mid, p in _ids_for(sub, _mesh_files(sub))]
    return items


def object_seed(seed: int, category: str, model_id: str) -> int:
    """Per-object seed: independent of the order and the number of workers."""
    return (int(seed) * 1_000_003 + zlib.crc32(f"{category}/{model_id}".encode())) % (2**63)


def split_ids(ids, seed: int, val: float, test: float) -> dict[str, list[str]]:
    """Deterministic split: sorted ids, a permutation from default_rng(seed); test first, then val, rest train.
    Each returned list is sorted."""
    ids = sorted(ids)
    n = len(ids)
    n_test = int(round(test * n))
    n_val = int(round(val * n))
    if n and n_test + n_val >= n:  # keep at least one training object
        n_test = min(n_test, n - 1)
        n_val = min(n_val, n - 1 - n_test)
    perm = np.random.default_rng(int(seed)).permutation(n)
    chosen = [ids[i] for i in perm]
    return {"test": sorted(chosen[:n_test]), "val": sorted(chosen[n_test:n_test + n_val]),
            "train": sorted(chosen[n_test + n_val:])}


def init_worker(torch_threads: bool = True) -> None:
    """Pool initializer: one thread per worker process (torch_threads: import torch and set its threads too)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if torch_threads:
        import torch

        torch.set_num_threads(1)


def _build_one(job: tuple) -> tuple:
    """Worker: (key, label, fn, args, kwargs) -> (key, label, 'built', fn(*args, **kwargs) = timings) or
    (key, label, 'failed', reason)."""
    key, label, fn, args, kwargs = job
    try:
        return key, label, "built", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any bad object is reported and skipped, never fatal
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        if not isinstance(exc, (OSError, ValueError)):
            reason += " | " + traceback.format_exc(limit=3).replace("\n", " | ")
        return key, label, "failed", reason


@dataclass
class BuildSummary:
    built: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        text = f"built {len(self.built)}, skipped-finished {len(self.finished)}, failed {len(self.failed)}"
        if self.failed:
            text += ": " + "; ".join(f"{k}: {v}" for k, v in sorted(self.failed.items()))
        return text


def log_line(out: Path, message: str) -> None:
    """Append a time-stamped line to out/build_log.txt."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(out / LOG_NAME, "a", encoding="utf-8") as log:
        log.write(f"{stamp} {message}\n")


def clean_stale(cat_dir: Path, model_id: str) -> None:
    """Remove the hidden temporary folders an interrupted build of `model_id` left in cat_dir."""
    if cat_dir.is_dir():
        for stale in cat_dir.glob(f".{model_id}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


def write_metadata(out: Path, meta: dict, categories: list[str]) -> None:
    """metadata.yaml: `meta` (the file's earlier content) plus an entry for each new category."""
    import yaml

    meta = dict(meta)
    for cat in categories:
        meta.setdefault(cat, {"id": cat, "name": SHAPENET_NAMES.get(cat, cat)})
    write_atomic(out / "metadata.yaml", yaml.safe_dump(meta, sort_keys=True).encode())


def run_jobs(out: Path, jobs: list[tuple], summary: BuildSummary, *, workers: int, progress: bool, desc: str,
             torch_threads: bool = True) -> None:
    """Run build jobs (key, label, fn, args, kwargs), fn(*args, **kwargs) -> timings dict, in `workers` spawned
    processes (or here for one worker or one job), in any order. Built keys and summed timings go to `summary`;
    a failure is counted there, logged to out/build_log.txt and reported on stderr as 'FAILED key (label): why'."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="obj", disable=not progress or not jobs, file=sys.stderr)

    def handle(result: tuple) -> None:
        key, label, status, payload = result
        if status == "built":
            summary.built.append(key)
            for k, v in payload.items():
                summary.timings[k] = summary.timings.get(k, 0.0) + v
        else:
            summary.failed[key] = payload
            message = f"FAILED {key} ({label}): {payload}"
            log_line(out, message)
            tqdm.write(f"{desc}: {message}", file=sys.stderr)
        bar.update(1)

    try:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                handle(_build_one(job))
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            with ctx.Pool(min(workers, len(jobs)), initializer=init_worker, initargs=(torch_threads,)) as pool:
                for result in pool.imap_unordered(_build_one, jobs):
                    handle(result)
    finally:
        bar.close()


def write_splits(out: Path, ids_by_category: dict[str, list[str]], seed: int, val: float, test: float) -> None:
    """out/<category>/{train,val,test}.lst for each category's finished ids (`split_ids`, seeded by seed +
    crc32(category))."""
    for cat, ids in ids_by_category.items():
        splits = split_ids(ids, seed + zlib.crc32(cat.encode()), val, test)
        for name in SPLITS:
            write_atomic(out / cat / f"{name}.lst", "".join(f"{i}\n" for i in splits[name]).encode())


def build_dataset(meshes_dir, out_dir, *, category: str | None = None, n_views: int = 24, workers: int | None = None,
                  seed: int = 0, val: float = 0.1, test: float = 0.2, near_surface: bool = True,
                  n_points: int = 100_000, n_surface: int = 100_000, supersample: int = 2, progress: bool = True,
                  items: list[MeshItem] | None = None) -> BuildSummary:
    """Build (or resume) the ONet layout in out_dir from the meshes under meshes_dir (see `discover`).

    Finished objects are skipped; failures (unreadable files, degenerate meshes or labels) are logged to
    out_dir/build_log.txt and stderr and counted. metadata.yaml and the split lists cover every finished object of
    the discovered meshes. Raises ValueError before any work when out_dir holds a metadata.yaml that is not a YAML
    mapping (`read_metadata`).
    """
    out = Path(out_dir)
    meta = read_metadata(out / "metadata.yaml")  # refuse a user's unreadable file before building anything
    out.mkdir(parents=True, exist_ok=True)
    if items is None:
        items = discover(meshes_dir, category)
    workers = max(1, int(workers or os.cpu_count() or 1))
    kwargs = dict(n_points=n_points, n_surface=n_surface, near_surface=near_surface, n_views=n_views,
                  supersample=supersample)
    summary = BuildSummary()
    jobs = []
    for item in items:
        key = f"{item.category}/{item.model_id}"
        obj_dir = out / item.category / item.model_id
        if is_complete(obj_dir):
            summary.finished.append(key)
            continue
        clean_stale(obj_dir.parent, item.model_id)
        jobs.append((key, str(item.path), build_object, (item.path, obj_dir),
                     dict(kwargs, seed=object_seed(seed, item.category, item.model_id))))
    log_line(out, f"start: {len(items)} meshes from {meshes_dir}, {len(summary.finished)} already finished, "
                  f"{len(jobs)} to build, {workers} worker(s)")
    run_jobs(out, jobs, summary, workers=workers, progress=progress, desc="build_dataset")

    done = set(summary.built) | set(summary.finished)
    categories = sorted({item.category for item in items if f"{item.category}/{item.model_id}" in done})
    write_splits(out, {cat: [item.model_id for item in items if item.category == cat
                             and f"{cat}/{item.model_id}" in done] for cat in categories}, seed, val, test)
    if categories:
        write_metadata(out, meta, categories)
    log_line(out, "summary: " + summary.line())
    return summary


def check_fractions(val: float, test: float) -> str | None:
    """An error message when the split fractions are invalid, else None."""
    for name, x in (("--val", val), ("--test", test)):
        if not (math.isfinite(x) and 0 <= x < 1):
            return f"{name}: expected a fraction in [0, 1), got {x}"
    if val + test >= 1:
        return f"--val + --test: must leave some training objects, got {val} + {test} >= 1"
    return None
