"""hnf3d.ops against the peer libraries, at realistic sizes, in one run.

For every op and size, the same inputs (numpy float32 points, int64 faces, as a user holds them) go to:
- the dispatch: hnf3d.ops.<op>(..., backend='auto'), which on CPU tensors calls the fastest measured library;
- the peers: trimesh (Embree), Open3D RaycastingScene (Embree), point-cloud-utils, scipy cKDTree, pykdtree,
  each called end to end as its user would (building its tree or scene from the arrays, converting dtypes);
- the exact torch reference, hnf3d.ops.<op>(..., backend='torch'), where it fits the time budget.
Each is warmed once and timed as the median of several interleaved repeats. Reported per op and size: every
time, its ratio to the fastest peer, how far its answer is from the dispatch's, and, where one exists, from an
independent truth (the smooth torus the meshes approximate; exact surface moments for sampling): a fast wrong
answer shows. The acceptance check: the dispatch is within LIMIT (1.2x) of the fastest peer, as a ratio of
median times; the per-round paired ratio and the ratio of minima stand beside it, since on a shared machine
other processes' load moves every time (and OpenMP-threaded torch code far more than the rest).

    PYTHONPATH=. python benchmarks/ops.py                  # all ops, full sizes -> benchmarks/results/ops-cpu.json
    PYTHONPATH=. python benchmarks/ops.py --quick          # small sizes, 1 repeat -> results/ops-cpu-quick.json
    PYTHONPATH=. python benchmarks/ops.py --ops knn,occupancy --check   # exit 1 when a dispatch ratio > 1.2
    PYTHONPATH=. python benchmarks/ops.py --device cuda    # hnf3d on the GPU (Triton); CPU peers on numpy

Rows with role 'context' (a peer timed on a query subset and scaled, or a related computation with no
like-for-like peer) and 'reference' never count as the fastest peer.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script: make `benchmarks._harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _harness as H  # noqa: E402
from hnf3d import ops  # noqa: E402
from hnf3d._optional import OptionalDependencyError, require  # noqa: E402

#: acceptance: dispatch time / fastest peer time
LIMIT = 1.2

DISPATCH, PEER, REFERENCE, CONTEXT = "dispatch", "peer", "reference", "context"

PEER_MODULES = ["scipy", "trimesh", "embreex", "open3d", "point_cloud_utils", "pykdtree", "triton"]

OPS = ("occupancy", "winding_number", "closest_point", "knn", "cast_rays", "point_cloud_winding_number",
       "sample_surface", "robust_occupancy")


# ------------------------------------------------------------------------------------------------ definitions


@dataclass
class Impl:
    """One implementation in a case.

    fn: the timed call. view: canonical numpy outputs from fn's result (outside the timing).
    rows: it answers only the first `rows` queries (its time is scaled by n / rows in the ratio column).
    scalable: for slow references, fn of a query count; the runner probes it and picks the count that fits
    the reference budget (then `rows` is set from that).
    """

    name: str
    role: str
    fn: Callable[[], Any] | None
    view: Callable[[Any], dict[str, np.ndarray]]
    rows: int | None = None
    scalable: Callable[[int], Any] | None = None
    note: str = ""


@dataclass
class Case:
    op: str
    label: str
    size: dict[str, int]
    n: int  # queries (or samples) of the full case: the unit rows are scaled to
    impls: list[Impl]
    #: (dispatch view, impl view, rows) -> metrics of agreement with the dispatch; None: no pointwise answer
    compare: Callable[[dict, dict, int | None], dict[str, float]] | None
    checked: bool = True  # False: no like-for-like peer, time reported for information
    #: (impl view, rows) -> metrics against an independent truth (the analytic torus, exact surface moments)
    truth: Callable[[dict, int | None], dict[str, float]] | None = None
    results: dict[str, H.Timing] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------------- data


def torus(major_sections: int, minor_sections: int, major_radius: float = 0.35,
          minor_radius: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Closed, outward-oriented genus-1 mesh (not star-shaped: ray tests and trees get a real workout) with
    exactly 2 * major * minor faces, in [-0.5, 0.5]^2 x [-0.15, 0.15]. float32 vertices, int64 faces."""
    theta = 2 * np.pi * np.arange(major_sections) / major_sections
    phi = 2 * np.pi * np.arange(minor_sections) / minor_sections
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = major_radius + minor_radius * np.cos(p)
    v = np.stack([ring * np.cos(t), ring * np.sin(t), minor_radius * np.sin(p)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(major_sections), np.arange(minor_sections), indexing="ij")
    i1, j1 = (i + 1) % major_sections, (j + 1) % minor_sections
    a, b = i * minor_sections + j, i1 * minor_sections + j
    c, d = i1 * minor_sections + j1, i * minor_sections + j1
    f = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], -2).reshape(-1, 3)  # quad -> 2 triangles
    return np.ascontiguousarray(v, dtype=np.float32), np.ascontiguousarray(f, dtype=np.int64)


def uniform_in_box(n: int, lo: np.ndarray, hi: np.ndarray, seed: int, pad: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(lo - pad, hi + pad, size=(n, 3)).astype(np.float32)


def surface_samples(v: np.ndarray, f: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Area-weighted surface points with their face normals, and the total area (test data, not timed)."""
    rng = np.random.default_rng(seed)
    tri = v[f].astype(np.float64)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1)
    face = rng.choice(len(f), size=n, p=area2 / area2.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], 1)
    pts = (bary[:, :, None] * tri[face]).sum(1)
    nrm = cross[face] / area2[face, None]
    return pts.astype(np.float32), nrm.astype(np.float32), float(area2.sum() / 2)


def surface_moments(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and covariance of a point uniform on the surface (per triangle: E[x x^T] =
    (sum_i v_i v_i^T + s s^T) / 12 with s the corner sum)."""
    tri = v[f].astype(np.float64)
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
    w = area / area.sum()
    s = tri.sum(1)
    mean = (w[:, None] * s / 3).sum(0)
    second = (np.einsum("fij,fik->fjk", tri, tri) + np.einsum("fj,fk->fjk", s, s)) / 12
    cov = (w[:, None, None] * second).sum(0) - np.outer(mean, mean)
    return mean, cov


def torus_truth(q: np.ndarray, margin: float, major_radius: float = 0.35, minor_radius: float = 0.15):
    """Inside labels of the smooth torus the meshes approximate, and the mask of queries farther than `margin`
    from its surface, where every mesh (tessellation error <= 0.006 at 1k faces) must give the same label."""
    q = q.astype(np.float64)
    sdf = np.hypot(np.hypot(q[:, 0], q[:, 1]) - major_radius, q[:, 2]) - minor_radius
    return sdf < 0, np.abs(sdf) > margin


def truth_labels(q: np.ndarray, key: str, margin: float = 0.01):
    """Metric factory: fraction of the unambiguous queries an implementation labels as the smooth torus does.
    key 'inside' takes boolean labels, 'w' a winding number thresholded at |w| >= 0.5."""
    inside, clear = torus_truth(q, margin)

    def metric(view: dict, rows: int | None) -> dict[str, float]:
        lab = view["inside"] if key == "inside" else np.abs(view["w"]) >= 0.5
        ins, ok = _rows(inside, rows), _rows(clear, rows)
        return {"truth_agree": float((lab[ok] == ins[ok]).mean())}

    return metric


# ------------------------------------------------------------------------------------------------ peer calls


class _Missing:
    """Stands in for a peer library that does not import: using it raises, so that peer's row records the
    error and the run goes on with the others (a GPU machine may lack open3d, say)."""

    def __init__(self, name: str, exc: BaseException):
        self._name, self._exc = name, exc

    def __getattr__(self, attr: str):
        raise ModuleNotFoundError(f"{self._name} does not import: {type(self._exc).__name__}: {self._exc}")


def optional_import(name: str):
    """The peer module, imported through hnf3d._optional (cached; an OSError from a missing shared library, as
    open3d gives, counts as missing), or a _Missing stand-in carrying the reason and the install hint."""
    try:
        return require(name, f"the {name} peer of benchmarks/ops.py")
    except OptionalDependencyError as exc:
        return _Missing(name, exc)


def _o3d():
    return optional_import("open3d")


def o3d_scene(v: np.ndarray, f: np.ndarray):
    o3d = _o3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v), o3d.core.Tensor(f.astype(np.uint32)))
    return scene


def o3d_occupancy(v, f, q, nsamples: int) -> np.ndarray:
    return o3d_scene(v, f).compute_occupancy(_o3d().core.Tensor(q), nsamples=nsamples).numpy() > 0.5


def o3d_closest(v, f, q):
    ans = o3d_scene(v, f).compute_closest_points(_o3d().core.Tensor(q))
    point = ans["points"].numpy()
    return np.linalg.norm(point - q, axis=1), point, ans["primitive_ids"].numpy()


def o3d_cast(v, f, o, d):
    ans = o3d_scene(v, f).cast_rays(_o3d().core.Tensor(np.concatenate([o, d], axis=1)))
    return ans["t_hit"].numpy(), ans["primitive_ids"].numpy(), ans["primitive_normals"].numpy()


def pcu_closest(v, f, q):
    pcu = optional_import("point_cloud_utils")
    d, fid, bc = pcu.closest_points_on_mesh(q, v, f)
    return d, pcu.interpolate_barycentric_coords(f, fid, bc, v), fid


def trimesh_mesh(v, f):
    return optional_import("trimesh").Trimesh(v, f, process=False)


# ------------------------------------------------------------------------------------------------ comparisons


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _rows(a: np.ndarray, rows: int | None) -> np.ndarray:
    return a if rows is None else a[:rows]


def cmp_labels(ref, got, rows):
    return {"agree": float((_rows(ref["inside"], rows) == got["inside"]).mean())}


def cmp_scalar_field(ref, got, rows):
    a, b = _rows(ref["w"], rows).astype(np.float64), got["w"].astype(np.float64)
    diff = np.abs(a - b)
    return {"max_abs_diff": float(diff.max()), "frac_diff_gt_1e-2": float((diff > 1e-2).mean()),
            "label_agree": float(((np.abs(a) >= 0.5) == (np.abs(b) >= 0.5)).mean())}


def cmp_distance(ref, got, rows):
    diff = np.abs(_rows(ref["distance"], rows).astype(np.float64) - got["distance"])
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}


def cmp_knn(ref, got, rows):
    diff = np.abs(_rows(ref["distance"], rows).astype(np.float64) - got["distance"])
    return {"max_abs_diff": float(diff.max()), "index_agree": float((_rows(ref["index"], rows) == got["index"]).mean())}


def cmp_rays(ref, got, rows):
    hit_a, hit_b = _rows(ref["face"], rows) >= 0, got["face"] >= 0
    out = {"hit_agree": float((hit_a == hit_b).mean()),
           "face_agree": float((_rows(ref["face"], rows) == got["face"]).mean())}
    if "t" in got:
        both = hit_a & hit_b
        out["max_abs_diff_t"] = float(np.abs(_rows(ref["t"], rows)[both] - got["t"][both]).max()) if both.any() else 0.0
    return out


def cmp_moments(mean: np.ndarray, cov: np.ndarray):
    """Sampling has no pointwise answer: compare each sampler's mean and covariance with the exact moments."""

    def compare(got, _rows_):
        p = got["points"].astype(np.float64)
        return {"mean_err": float(np.abs(p.mean(0) - mean).max()), "cov_err": float(np.abs(np.cov(p.T) - cov).max())}

    return compare


# ------------------------------------------------------------------------------------------------------ cases


@dataclass
class Sizes:
    queries: int
    meshes: list[tuple[int, int]]  # torus (major, minor) sections: faces = 2 * major * minor
    knn_points: int
    knn_k: tuple[int, ...]
    cloud_points: list[int]
    samples: int
    scaled_rows: int  # queries for peers too slow for the full set (timed on a subset and scaled)


FULL = Sizes(queries=100_000, meshes=[(32, 16), (100, 50), (320, 160)], knn_points=100_000, knn_k=(1, 8),
             cloud_points=[10_000, 100_000], samples=100_000, scaled_rows=1_000)
QUICK = Sizes(queries=10_000, meshes=[(32, 16)], knn_points=10_000, knn_k=(1, 8), cloud_points=[2_000],
              samples=10_000, scaled_rows=200)


def hnf_inputs(device: str, *arrays: np.ndarray):
    """hnf3d gets the numpy arrays on CPU (the conversion is part of its cost, as for the peers); on a GPU run it
    gets tensors already on the device, as a GPU training loop holds them."""
    if device == "cpu":
        return arrays
    return tuple(torch.from_numpy(a).to(device) for a in arrays)


def mesh_cases(op: str, sizes: Sizes, device: str) -> list[Case]:
    return [_mesh_case(op, major, minor, sizes, device) for major, minor in sizes.meshes]


def _mesh_case(op: str, major: int, minor: int, sizes: Sizes, device: str) -> Case:
    """One case per function call, so the lambdas below close over this mesh's arrays."""
    pcu, trimesh = optional_import("point_cloud_utils"), optional_import("trimesh")

    v, f = torus(major, minor)
    q = uniform_in_box(sizes.queries, v.min(0), v.max(0), seed=0)
    hv, hf, hq = hnf_inputs(device, v, f, q)
    nq, nf = len(q), len(f)
    small = nf <= 2_000  # the torch reference (Q x F brute force) only at the smallest mesh
    size = {"faces": nf, "queries": nq}
    label = f"{nf} faces x {nq} q"
    sub = sizes.scaled_rows
    if op == "occupancy":
        view = lambda x: {"inside": _np(x).astype(bool)}  # noqa: E731
        impls = [
            Impl("hnf3d.occupancy(auto)", DISPATCH, lambda: ops.occupancy(hv, hf, hq), view),
            Impl("trimesh.contains (embree)", PEER, lambda: trimesh_mesh(v, f).contains(q), view),
            Impl("open3d compute_occupancy ns=1", PEER, lambda: o3d_occupancy(v, f, q, 1), view),
            Impl("open3d compute_occupancy ns=3", PEER, lambda: o3d_occupancy(v, f, q, 3), view,
                 note="majority of 3 rays: the robust peer"),
            Impl("pcu fast winding >= 0.5", PEER,
                 lambda: pcu.triangle_soup_fast_winding_number(v, f, q) >= 0.5, view),
        ]
        return Case(op, label, size, nq, impls, cmp_labels, truth=truth_labels(q, "inside"))
    elif op == "winding_number":
        view = lambda x: {"w": _np(x)}  # noqa: E731
        impls = [
            Impl("hnf3d.winding_number(auto)", DISPATCH, lambda: ops.winding_number(hv, hf, hq), view),
            Impl("pcu triangle_soup_fast_winding_number", PEER,
                 lambda: pcu.triangle_soup_fast_winding_number(v, f, q), view),
        ]
        if small:
            impls.append(Impl("hnf3d.winding_number(torch)", REFERENCE, None, view,
                              scalable=lambda r: ops.winding_number(hv, hf, hq[:r], backend="torch")))
        return Case(op, label, size, nq, impls, cmp_scalar_field, truth=truth_labels(q, "w"))
    elif op == "closest_point":
        view = lambda x: {"distance": _np(x[0])}  # noqa: E731
        impls = [
            Impl("hnf3d.closest_point(auto)", DISPATCH, lambda: ops.closest_point(hv, hf, hq), view),
            Impl("open3d compute_closest_points", PEER, lambda: o3d_closest(v, f, q), view),
            Impl("pcu closest_points_on_mesh", PEER, lambda: pcu_closest(v, f, q), view),
            Impl("trimesh.proximity.closest_point", CONTEXT,
                 lambda: trimesh.proximity.closest_point(trimesh_mesh(v, f), q[:sub]),
                 lambda x: {"distance": x[1]}, rows=sub, note=f"timed on {sub} queries, scaled"),
        ]
        if small:
            impls.append(Impl("hnf3d.closest_point(torch)", REFERENCE, None, view,
                              scalable=lambda r: ops.closest_point(hv, hf, hq[:r], backend="torch")))
        return Case(op, label, size, nq, impls, cmp_distance)
    elif op == "cast_rays":
        # origins on a sphere around the mesh, aimed at points in the inner box: most rays hit
        rng = np.random.default_rng(1)
        o = rng.normal(size=(nq, 3))
        o = (o / np.linalg.norm(o, axis=1, keepdims=True)).astype(np.float32)
        target = uniform_in_box(nq, 0.8 * v.min(0), 0.8 * v.max(0), seed=2, pad=0.0)
        d = target - o
        d = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
        ho, hd = hnf_inputs(device, o, d)
        size = {"faces": nf, "rays": nq}
        label = f"{nf} faces x {nq} rays"
        view = lambda x: {"t": _np(x.t_hit), "face": _np(x.face_index)}  # noqa: E731
        impls = [
            Impl("hnf3d.cast_rays(auto)", DISPATCH, lambda: ops.cast_rays(hv, hf, ho, hd), view),
            Impl("open3d cast_rays", PEER, lambda: o3d_cast(v, f, o, d),
                 lambda x: {"t": x[0], "face": np.where(np.isfinite(x[0]), x[1].astype(np.int64), -1)}),
            Impl("trimesh intersects_first (embree)", PEER,
                 lambda: trimesh_mesh(v, f).ray.intersects_first(o, d), lambda x: {"face": np.asarray(x)}),
            Impl("pcu ray_mesh_intersection", PEER, lambda: pcu.ray_mesh_intersection(v, f, o, d),
                 lambda x: {"t": x[2], "face": x[0]}),
        ]
        if small:
            impls.append(Impl("hnf3d.cast_rays(torch)", REFERENCE, None, view,
                              scalable=lambda r: ops.cast_rays(hv, hf, ho[:r], hd[:r], backend="torch")))
        return Case(op, label, size, nq, impls, cmp_rays)
    elif op == "sample_surface":
        ns = sizes.samples
        mean, cov = surface_moments(v, f)
        size = {"faces": nf, "samples": ns}
        label = f"{nf} faces -> {ns} samples"

        def pcu_sample(v=v, f=f):
            fid, bc = pcu.sample_mesh_random(v, f, ns, random_seed=1)
            return pcu.interpolate_barycentric_coords(f, fid, bc, v), fid

        impls = [
            Impl("hnf3d.sample_surface", DISPATCH, lambda: ops.sample_surface(hv, hf, ns, seed=0),
                 lambda x: {"points": _np(x.points)}),
            Impl("trimesh.sample.sample_surface", PEER,
                 lambda: trimesh.sample.sample_surface(trimesh_mesh(v, f), ns, seed=0),
                 lambda x: {"points": x[0]}),
            Impl("pcu sample_mesh_random + interpolate", PEER, pcu_sample, lambda x: {"points": x[0]}),
        ]
        return Case(op, label, size, ns, impls, None, truth=cmp_moments(mean, cov))
    elif op == "robust_occupancy":
        view = lambda x: {"inside": _np(x).astype(bool)}  # noqa: E731
        impls = [
            Impl("hnf3d.occupancy(method='robust')", DISPATCH, lambda: ops.occupancy(hv, hf, hq, method="robust"),
                 view, note="24-ray enclosure + shell; no like-for-like peer"),
            Impl("open3d compute_occupancy ns=3", CONTEXT, lambda: o3d_occupancy(v, f, q, 3), view,
                 note="ray parity, for scale"),
        ]
        return Case(op, label, size, nq, impls, cmp_labels, checked=False, truth=truth_labels(q, "inside"))
    raise ValueError(f"op: no mesh case for {op!r}")


def knn_cases(sizes: Sizes, device: str) -> list[Case]:
    pcu = optional_import("point_cloud_utils")
    kdtree = optional_import("pykdtree.kdtree")
    from scipy.spatial import cKDTree  # scipy is a required dependency of hnf3d

    v, f = torus(320, 160)
    n = sizes.knn_points
    ref, _, _ = surface_samples(v, f, n, seed=3)
    qry, _, _ = surface_samples(v, f, n, seed=4)
    qry = (qry + np.random.default_rng(5).normal(scale=0.01, size=qry.shape)).astype(np.float32)  # near-surface
    href, hqry = hnf_inputs(device, ref, qry)
    cases = []
    for k in sizes.knn_k:
        view = lambda x, k=k: {"distance": _np(x[0]).reshape(-1, k), "index": _np(x[1]).reshape(-1, k)}  # noqa: E731
        impls = [
            Impl("hnf3d.knn(auto)", DISPATCH, lambda k=k: ops.knn(href, hqry, k), view),
            Impl("pykdtree", PEER, lambda k=k: kdtree.KDTree(ref).query(qry, k=k), view),
            Impl("scipy cKDTree(workers=-1)", PEER, lambda k=k: cKDTree(ref).query(qry, k=k, workers=-1), view),
            Impl("pcu k_nearest_neighbors", PEER, lambda k=k: pcu.k_nearest_neighbors(qry, ref, k), view),
            Impl("hnf3d.knn(torch)", REFERENCE, None, view,
                 scalable=lambda r, k=k: ops.knn(href, hqry[:r], k, backend="torch")),
        ]
        cases.append(Case("knn", f"{n} x {n}, k={k}", {"reference": n, "queries": n, "k": k}, n, impls, cmp_knn))
    return cases


def cloud_cases(sizes: Sizes, device: str) -> list[Case]:
    pcu = optional_import("point_cloud_utils")

    v, f = torus(320, 160)
    q = uniform_in_box(sizes.queries, v.min(0), v.max(0), seed=0)
    cases = []
    for npts in sizes.cloud_points:
        p, nrm, area = surface_samples(v, f, npts, seed=6)
        a = np.full(npts, area / npts, dtype=np.float32)
        hp, hn, hq, ha = hnf_inputs(device, p, nrm, q, a)
        view = lambda x: {"w": _np(x)}  # noqa: E731
        impls = [
            Impl("hnf3d.point_cloud_winding_number(auto)", DISPATCH,
                 lambda hp=hp, hn=hn, hq=hq, ha=ha: ops.point_cloud_winding_number(hp, hn, hq, areas=ha), view),
            Impl("pcu point_cloud_fast_winding_number", PEER,
                 lambda p=p, nrm=nrm, a=a: pcu.point_cloud_fast_winding_number(p, nrm, a, q), view),
        ]
        if npts <= 20_000:
            impls.append(Impl("hnf3d.point_cloud_winding_number(torch)", REFERENCE, None, view,
                              scalable=lambda r, hp=hp, hn=hn, hq=hq, ha=ha: ops.point_cloud_winding_number(
                                  hp, hn, hq[:r], areas=ha, backend="torch")))
        cases.append(Case("point_cloud_winding_number", f"{npts} points x {len(q)} q",
                          {"points": npts, "queries": len(q)}, len(q), impls, cmp_scalar_field,
                          truth=truth_labels(q, "w", margin=0.02)))
    return cases


def build_cases(names: list[str], sizes: Sizes, device: str) -> list[Case]:
    cases: list[Case] = []
    for name in names:
        if name == "knn":
            cases += knn_cases(sizes, device)
        elif name == "point_cloud_winding_number":
            cases += cloud_cases(sizes, device)
        else:
            cases += mesh_cases(name, sizes, device)
    return cases


# ------------------------------------------------------------------------------------------------------ runner


def run_reference(impl: Impl, n: int, budget_s: float, sync) -> tuple[H.Timing, int]:
    """Probe the brute-force reference on a few queries, then time it once on as many as fit `budget_s`."""
    probe = min(n, 1_000)
    t = H.time_once(lambda: impl.scalable(probe), sync)
    if t.error:
        return t, probe
    per_row = t.median_s / probe
    rows = n if per_row * n <= budget_s else max(probe, int(budget_s / per_row) // 1_000 * 1_000)
    if rows == probe:
        return t, rows
    return H.time_once(lambda: impl.scalable(rows), sync), rows


def run_case(case: Case, *, repeats: int | None, budget_s: float, ref_budget_s: float, sync) -> None:
    timed = {i.name: i.fn for i in case.impls if i.scalable is None}
    case.results = H.time_interleaved(timed, repeats=repeats, budget_s=budget_s,
                                      min_repeats=repeats or 3, max_repeats=repeats or 11, sync=sync)
    for impl in case.impls:
        if impl.scalable is not None:
            case.results[impl.name], rows = run_reference(impl, case.n, ref_budget_s, sync)
            if rows < case.n:
                impl.rows = rows
                impl.note = f"timed once on {rows} queries (brute force over budget at full size), scaled"
            else:
                impl.note = "timed once (brute force)"


def case_report(case: Case) -> tuple[list[dict], dict | None]:
    """Result rows of a case and its acceptance check."""
    res = case.results
    disp = next(i for i in case.impls if i.role == DISPATCH)

    def normalised(impl: Impl) -> float:
        t = res[impl.name]
        return t.median_s * (case.n / impl.rows if impl.rows else 1.0)

    peers = {i.name: normalised(i) for i in case.impls
             if i.role == PEER and res[i.name].error is None and i.rows is None}
    fastest = min(peers, key=peers.get) if peers else None
    fastest_s = peers[fastest] if fastest else math.nan

    disp_view = None
    if res[disp.name].error is None:
        disp_view = disp.view(res[disp.name].output)
    rows = []
    for impl in case.impls:
        t = res[impl.name]
        row: dict[str, Any] = {"op": case.op, "size": case.size, "size_label": case.label, "impl": impl.name,
                               "role": impl.role}
        if t.error:
            row["error"] = t.error
            rows.append(row)
            continue
        norm = normalised(impl)
        row.update({
            "median_s": H.finite_or_none(t.median_s), "min_s": H.finite_or_none(t.min_s),
            "repeats": len(t.times_s), "times_s": [H.finite_or_none(x) for x in t.times_s],
        })
        if impl.rows:
            row["timed_queries"] = impl.rows
            row["scaled_s"] = H.finite_or_none(norm)
        row["ratio_to_fastest_peer"] = H.finite_or_none(norm / fastest_s, 4) if fastest else None
        if impl.note:
            row["note"] = impl.note
        view = impl.view(t.output)
        if case.compare is not None and impl.role != DISPATCH and disp_view is not None:
            row["agreement_with_dispatch"] = {k: H.finite_or_none(x) for k, x in
                                              case.compare(disp_view, view, impl.rows).items()}
        if case.truth is not None:
            row["agreement_with_truth"] = {k: H.finite_or_none(x) for k, x in case.truth(view, impl.rows).items()}
        t.output = None  # free the arrays
        rows.append(row)

    if not case.checked:
        return rows, None
    check: dict[str, Any] = {"op": case.op, "size": case.size, "size_label": case.label, "limit": LIMIT,
                             "dispatch": disp.name}
    if res[disp.name].error:
        check.update({"dispatch_s": None, "pass": False, "reason": f"dispatch failed: {res[disp.name].error}"})
    elif not fastest:
        check.update({"dispatch_s": H.finite_or_none(res[disp.name].median_s), "pass": None,
                      "reason": "no peer ran"})
    else:
        d, p = res[disp.name], res[fastest]
        ratio = d.median_s / fastest_s
        check.update({
            "dispatch_s": H.finite_or_none(d.median_s), "fastest_peer": fastest,
            "fastest_peer_s": H.finite_or_none(fastest_s), "ratio": H.finite_or_none(ratio, 4),
            # noise diagnostics: on a loaded machine these differ from `ratio`; `pass` uses `ratio` (medians)
            "ratio_of_minima": H.finite_or_none(d.min_s / p.min_s, 4),
            "ratio_paired": H.finite_or_none(H.paired_ratio(d.times_s, p.times_s), 4),
            "ratios_to_peers": {k: H.finite_or_none(d.median_s / s, 4) for k, s in peers.items()},
            "pass": bool(ratio <= LIMIT),
        })
    return rows, check


def _agreement_text(row: dict) -> str:
    a = {**(row.get("agreement_with_dispatch") or {}), **(row.get("agreement_with_truth") or {})}
    short = {"agree": "agree", "max_abs_diff": "maxdiff", "frac_diff_gt_1e-2": ">1e-2", "label_agree": "label",
             "mean_abs_diff": "meandiff", "index_agree": "idx", "hit_agree": "hit", "face_agree": "face",
             "max_abs_diff_t": "maxdt", "mean_err": "mean_err", "cov_err": "cov_err", "truth_agree": "truth"}
    return " ".join(f"{short.get(k, k)}={v:.3g}" for k, v in a.items() if v is not None)


def print_report(rows: list[dict], checks: list[dict]) -> None:
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["op"], r["size_label"], r["impl"], r["role"], "ERROR", "", r["error"][:80]])
            continue
        ms = r["median_s"] * 1e3
        t = f"{ms:.1f}" + (f" ({r['scaled_s'] * 1e3:.0f}*)" if "scaled_s" in r else "")
        ratio = "" if r["ratio_to_fastest_peer"] is None else f"{r['ratio_to_fastest_peer']:.2f}x"
        table.append([r["op"], r["size_label"], r["impl"], r["role"], t, ratio, _agreement_text(r)])
    print(H.format_table(table, ["op", "size", "impl", "role", "ms", "vs fastest peer", "agreement"],
                         align="lllllrl"))
    print("(*: timed on fewer queries, scaled to the full size. agreement: with the dispatch's answer; 'truth': "
          "labels of the smooth torus on queries >= 0.01 from its surface (0.02 for point clouds); "
          "mean_err/cov_err: against the exact surface moments)\n")
    ctable = []
    for c in checks:
        if c["pass"] is None or c.get("fastest_peer") is None:
            ctable.append([c["op"], c["size_label"], "", "", "", "SKIP" if c["pass"] is None else "FAIL",
                           c.get("reason", "")])
            continue
        ctable.append([c["op"], c["size_label"], f"{c['dispatch_s'] * 1e3:.1f}", c["fastest_peer"],
                       f"{c['fastest_peer_s'] * 1e3:.1f}", f"{c['ratio']:.2f}x", "PASS" if c["pass"] else "FAIL",
                       _x(c.get("ratio_paired")), _x(c.get("ratio_of_minima"))])
    print(f"Acceptance: dispatch (backend='auto') within {LIMIT}x of the fastest peer (ratio of median times; "
          "'paired' and 'of minima' show how much of it is noise)")
    print(H.format_table(ctable, ["op", "size", "dispatch ms", "fastest peer", "peer ms", "ratio", "check",
                                  "paired", "of minima"], align="llrlrrlrr"))


def _x(r: float | None) -> str:
    return "" if r is None else f"{r:.2f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repeat (smoke test)")
    ap.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of: {', '.join(OPS)}")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when a dispatch is over {LIMIT}x the fastest peer")
    ap.add_argument("--device", default="cpu", help="where hnf3d's inputs live: cpu (default) or cuda[:i]")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/ops-<device>.json)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default: 3-11 by budget)")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds of timed rounds aimed at per case")
    ap.add_argument("--ref-budget", type=float, default=None,
                    help="seconds allowed for one torch-reference call (default 20, --quick 2)")
    ap.add_argument("--skip", default="",
                    help="comma-separated substrings: leave out the peers/references whose name contains one "
                         "(e.g. 'pcu k_nearest': pcu 0.34's knn segfaulted at 100k x 100k on a 16-core machine)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads before the run (default: torch's own choice, as a user gets)")
    args = ap.parse_args(argv)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)

    names = [s.strip() for s in args.ops.split(",") if s.strip()]
    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    unknown = [s for s in names if s not in OPS]
    if unknown:
        ap.error(f"--ops: unknown {unknown}; expected names from {list(OPS)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: torch sees no CUDA device")
    sizes = QUICK if args.quick else FULL
    repeats = 1 if args.quick and args.repeats is None else args.repeats
    ref_budget = args.ref_budget if args.ref_budget is not None else (2.0 if args.quick else 20.0)
    sync = H.synchronizer(args.device)

    t_start = time.perf_counter()
    env = H.environment(args.device, PEER_MODULES)
    print(f"hnf3d.ops benchmark on {env['device_name']} ({env['cpu']}, torch threads {env['threads']}, "
          f"load {env.get('loadavg_start')})", flush=True)
    busy = env.get("loadavg_start", [0.0])[0] > 0.5 * (os.cpu_count() or 1)
    if busy:
        print(f"warning: the machine is busy (load {env['loadavg_start'][0]} on {os.cpu_count()} CPUs): times "
              "vary and OpenMP-threaded torch code suffers most; compare the 'paired' ratios", flush=True)
    for mod in ("open3d", "trimesh", "point_cloud_utils", "pykdtree.kdtree", "scipy.spatial"):
        optional_import(mod)  # import outside any timing

    rows, checks = [], []
    for name in names:
        for case in build_cases([name], sizes, args.device):
            case.impls = [i for i in case.impls if i.role == DISPATCH or not any(x in i.name for x in skip)]
            t0 = time.perf_counter()
            run_case(case, repeats=repeats, budget_s=args.budget, ref_budget_s=ref_budget, sync=sync)
            case_rows, check = case_report(case)
            rows += case_rows
            if check:
                checks.append(check)
            d = next(r for r in case_rows if r["role"] == DISPATCH)
            verdict = "" if check is None else f"ratio {check.get('ratio')} {'PASS' if check['pass'] else 'FAIL'}"
            print(f"  {case.op:28s} {case.label:32s} dispatch {d.get('median_s', 'ERR')} s  {verdict}"
                  f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
            case.results.clear()

    env["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    total = time.perf_counter() - t_start
    report = {**env, "busy_at_start": busy, "limit": LIMIT, "quick": bool(args.quick), "ops": names, "skipped": skip,
              "total_s": round(total, 1),
              "results": rows, "checks": checks,
              "all_pass": all(c["pass"] is not False for c in checks)}
    # only a full run of every op replaces the recorded results; smoke and partial runs go beside them (git-ignored)
    tag = "-quick" if args.quick else ("-partial" if names != list(OPS) else "")
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / f"ops-{env['device']}{tag}.json"
    H.write_json_atomic(out, report)
    print()
    print_report(rows, checks)
    if args.quick:
        print("\n--quick: small sizes and one repeat, so fixed costs dominate and ratios are noisy; the 1.2x "
              "acceptance check is meant for full runs (no flags)")
    print(f"\ntotal {total:.0f} s; wrote {out}")
    failed = [c for c in checks if c["pass"] is False]
    if args.check and failed:
        print(f"--check: {len(failed)} of {len(checks)} checks over {LIMIT}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
