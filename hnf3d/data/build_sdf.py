"""The SDF shape families (hnf3d.data.procedural.SDF_FAMILIES) written straight into the Occupancy Networks layout:
no mesh files in between, labels from the exact signed distance function.

Per object (`build_sdf_object`), the same files and formats as hnf3d.data.build.build_object, written by the same
helpers (the hidden temporary folder, the `.done` marker, the atomic rename), in ONet's normalised frame (the
solid's bounding-box centre at 0, largest side 1; world = p * scale + loc):

    points.npz          n_points uniform points in [-(1 + padding)/2, (1 + padding)/2]^3, float16; occupancies =
                        np.packbits(sdf < 0) of those float16-rounded points, from the SDF itself (float32, then
                        float64 where |f| < 1e-4: exactly float64's sign); loc (3,) float32, scale () float32
    points_surface.npz  (near_surface) n_surface marching-cubes surface samples + N(0, sigma^2) noise, same keys
    pointcloud.npz      n_points surface points: area-weighted on the marching-cubes mesh, projected onto the zero
                        set (|sdf| <= 1e-4 of the largest side), normals = the SDF's normalised gradient, float16
    img_choy2016/       (n_views > 0; default none) renders of the marching-cubes mesh, as build_object

The marching-cubes mesh (hnf3d.data.procedural.sdf_surface: narrow band, `resolution` cells along the largest side)
only places the surface samples and the renders; the bounding box comes from the projected samples. Before writing,
`check_solid` tests the solid: one piece (the mesh is one connected surface) and no part thinner than about
THIN (1.5%) of the largest side (points half that thickness inside the surface must be clearly inside). A shape that
fails is drawn again from the same generator (up to `attempts` times; the marker records which draw was kept), so
object i is always make_sdf_shape(family, seed_i) unless that one failed. Labels are then checked like a mesh's
(hnf3d.data.build.check_labels).

The data-set level (`build_sdf_dataset`: parallel workers, resume from the markers, 70/10/20 split lists per
family, metadata.yaml, build_log.txt) shares hnf3d.data.build's machinery and backs `hnf3d-make-shapes --onet`.
Object i of a family is <family>/<family>_<i:05d>, built from make_sdf_shape(family, seed * 2**32 + i).
Measured on one core (no renders, 100k points): see datasets/README.md.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .build import (
    BuildSummary,
    DegenerateMeshError,
    check_labels,
    clean_stale,
    is_complete,
    log_line,
    npz_bytes,
    points_npz,
    render_object,
    run_jobs,
    write_metadata,
    write_object,
    write_splits,
)
from .metadata import read_metadata

__all__ = ["THIN", "check_solid", "mesh_pieces", "build_sdf_object", "build_sdf_dataset", "sdf_model_id",
           "sdf_object_seed"]

#: the thinnest part a solid may have, as a fraction of its largest side
THIN = 0.015
#: share of the surface allowed on parts thinner than about THIN (sharp convex edges put a little there)
MAX_THIN_SHARE = 0.01
_PROBES = 4096


def _jsonable(value):
    """numpy scalars and arrays inside dicts and lists -> plain Python (for the marker's JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def mesh_pieces(vertices: np.ndarray, faces: np.ndarray, min_area: float = 0.0) -> int:
    """The number of connected pieces of a triangle mesh (vertices joined by its edges) whose area exceeds
    min_area."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(vertices)
    a = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    b = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    if count == 1:
        return 1
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return int((np.bincount(label[faces[:, 0]], weights=area, minlength=count) > min_area).sum())


def check_solid(shape, mesh, points: np.ndarray, normals: np.ndarray, size: float) -> str | None:
    """Why the shape is not one solid without thin parts, or None when it is (module docstring).

    mesh: its marching-cubes SurfaceMesh (pieces with less area than (4 cells)^2 are ignored: specks of
    cavities where tubes cross); points, normals: (N, 3) projected surface samples and unit normals;
    size: the solid's largest side. Thin: a point THIN/2 * size inside the surface along the normal whose SDF is
    above -0.2 of that depth (a wall of thickness T gives -(T - THIN/2 * size)), on more than MAX_THIN_SHARE of
    the samples."""
    # specks below (4 grid cells)^2 of area are ignored: a void smaller than a cell where tubes cross, say
    pieces = mesh_pieces(mesh.vertices, mesh.faces, (4 * mesh.h) ** 2)
    if pieces != 1:
        return f"{pieces} separate surface pieces (not one solid without cavities)"
    depth = THIN / 2 * size
    probe = points[:_PROBES] - depth * normals[:_PROBES]
    f = shape.evaluate(np.ascontiguousarray(probe.T, dtype=np.float32))
    share = float(np.mean(f > -0.2 * depth))
    if share > MAX_THIN_SHARE:
        return f"{share:.1%} of the surface on parts thinner than about {THIN:.1%} of the largest side"
    return None


def build_sdf_object(family: str, seed: int, out_dir, *, n_points: int = 100_000, n_surface: int = 100_000,
                     padding: float = 0.1, near_surface: bool = True, sigma: float = 0.01, n_views: int = 0,
                     img_size: int = 137, supersample: int = 2, resolution: int = 128, attempts: int = 8) -> dict:
    """Write make_sdf_shape(family, seed) (or a later draw, module docstring) as the ONet object folder out_dir.

    Deterministic given (family, seed). Returns timings in seconds (shape: draw, mesh and check; sample; label;
    render; write; total). Raises ValueError for bad arguments, DegenerateMeshError when no draw gives a valid
    solid or its labels are degenerate, before anything is written."""
    from .procedural import SDF_FAMILIES, rng_for
    from .procedural.sdf_surface import (
        extract_surface,
        occupancy,
        sample_surface,
        surface_draw,
        tight_bounds,
    )

    for name, value in (("n_points", n_points), ("n_surface", n_surface), ("n_views", n_views)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    if family not in SDF_FAMILIES:
        raise ValueError(f"unknown SDF family {family!r}; known: {', '.join(SDF_FAMILIES)}")
    if not padding >= 0:
        raise ValueError(f"padding: expected >= 0, got {padding!r}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    name = f"{family} seed {seed}"
    seeds = np.random.SeedSequence([int(seed), 7]).generate_state(4)
    sampler = np.random.default_rng(int(seeds[0]))
    rng = rng_for(family, seed)
    reasons = []
    for attempt in range(int(attempts)):
        shape = SDF_FAMILIES[family](rng)
        try:
            mesh = extract_surface(shape, resolution)
            points, normals = sample_surface(shape, mesh, max(int(n_points), _PROBES), sampler)
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        lo, hi = tight_bounds(shape, mesh, points)
        size = float((hi - lo).max())
        why = check_solid(shape, mesh, points, normals, size)
        if why is None:
            break
        reasons.append(why)
    else:
        raise DegenerateMeshError(f"{name}: no valid solid in {attempts} draws: " + "; ".join(reasons))
    points, normals = points[:int(n_points)], normals[:int(n_points)]
    loc64, scale64 = (lo + hi) / 2, size
    loc, scale = loc64.astype(np.float32), np.float32(scale64)
    t1 = time.perf_counter()
    timings["shape"] = t1 - t0

    half = (1.0 + padding) / 2
    uniform = sampler.uniform(-half, half, size=(int(n_points), 3))
    near = None
    if near_surface:
        base, _ = surface_draw(mesh, int(n_surface), sampler)
        near = (base - loc64) / scale64 + sampler.normal(scale=sigma, size=base.shape)
    t2 = time.perf_counter()
    timings["sample"] = t2 - t1

    def labels(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p16 = p.astype(np.float16)
        return p16, occupancy(shape, p16.astype(np.float64) * scale64 + loc64)

    files: dict[str, bytes] = {}
    vn = (mesh.vertices - loc64) / scale64
    p16, inside = labels(uniform)
    check_labels(vn.astype(np.float32), mesh.faces, p16.astype(np.float32), inside, "winding", name)
    files["points.npz"] = points_npz(p16, inside, loc, scale)
    if near is not None:
        files["points_surface.npz"] = points_npz(*labels(near), loc, scale)
    t3 = time.perf_counter()
    timings["label"] = t3 - t2
    files["pointcloud.npz"] = npz_bytes(points=((points - loc64) / scale64).astype(np.float16),
                                        normals=normals.astype(np.float16), loc=loc, scale=scale)
    images, cameras = render_object(vn, mesh.faces, loc64, scale64, int(n_views), int(seeds[1]),
                                    img_size=int(img_size), supersample=supersample)
    timings["render"] = time.perf_counter() - t3

    info = {"family": family, "seed": int(seed), "draw": attempt, "rejected": reasons,
            "params": _jsonable(shape.params), "loc": loc64.tolist(), "scale": scale64,
            "inside_fraction": float(inside.mean()) if inside.size else 0.0,
            "min_feature_ratio": float(shape.params.get("min_feature", np.nan)) / scale64,
            "n_points": int(n_points), "n_surface": int(n_surface) if near is not None else 0,
            "n_views": int(n_views), "grid_spacing": mesh.h / scale64}
    write_object(out_dir, files, images, cameras, info, timings, t0)
    return timings


def sdf_model_id(family: str, index: int) -> str:
    """The model id of object `index` of a family: '<family>_<index:05d>'."""
    return f"{family}_{int(index):05d}"


def sdf_object_seed(seed: int, index: int) -> int:
    """The make_sdf_shape seed of object `index` (as tools/make_shapes.py): seed * 2**32 + index."""
    return int(seed) * 2**32 + int(index)


def build_sdf_dataset(out_dir, families, count: int, *, seed: int = 0, workers: int | None = None, val: float = 0.1,
                      test: float = 0.2, n_views: int = 0, near_surface: bool = True, n_points: int = 100_000,
                      n_surface: int = 100_000, progress: bool = True) -> BuildSummary:
    """Build (or resume) `count` objects of each family in out_dir (ONet layout, categories = family names).

    Finished objects (with their marker) are skipped, so an interrupted build resumes; failures are logged to
    out_dir/build_log.txt and stderr and counted. Split lists (`val`/`test` fractions, the rest train) and
    metadata.yaml cover every finished object. Raises ValueError before any work for an unknown family or an
    out_dir/metadata.yaml that is not a YAML mapping."""
    import os

    from .procedural import SDF_FAMILIES

    families = list(dict.fromkeys(families))
    unknown = [f for f in families if f not in SDF_FAMILIES]
    if unknown or not families:
        raise ValueError(f"unknown SDF family {unknown[0]!r}; known: {', '.join(SDF_FAMILIES)}" if unknown
                         else "no SDF family given")
    out = Path(out_dir)
    meta = read_metadata(out / "metadata.yaml")
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, int(workers or os.cpu_count() or 1))
    kwargs = dict(n_points=n_points, n_surface=n_surface, near_surface=near_surface, n_views=n_views)
    summary = BuildSummary()
    jobs = []
    for family in families:
        for i in range(int(count)):
            model_id = sdf_model_id(family, i)
            key = f"{family}/{model_id}"
            obj_dir = out / family / model_id
            if is_complete(obj_dir):
                summary.finished.append(key)
                continue
            clean_stale(obj_dir.parent, model_id)
            s = sdf_object_seed(seed, i)
            jobs.append((key, f"seed {s}", build_sdf_object, (family, s, obj_dir), kwargs))
    log_line(out, f"start: {len(families)} SDF families x {count}, {len(summary.finished)} already finished, "
                  f"{len(jobs)} to build, {workers} worker(s)")
    run_jobs(out, jobs, summary, workers=workers, progress=progress, desc="make_shapes", torch_threads=False)
    done = set(summary.built) | set(summary.finished)
    ids = {f: [sdf_model_id(f, i) for i in range(int(count)) if f"{f}/{sdf_model_id(f, i)}" in done]
           for f in families}
    ids = {f: v for f, v in ids.items() if v}
    write_splits(out, ids, seed, val, test)
    if ids:
        write_metadata(out, meta, sorted(ids))
    log_line(out, "summary: " + summary.line())
    return summary
