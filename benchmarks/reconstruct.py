#!/usr/bin/env python
"""Reconstruction quality on real data and speed, hnf3d beside Open3D's screened Poisson, in one run.

    PYTHONPATH=. python benchmarks/reconstruct.py [--quick] [--refine N] [--checkpoint default] [--out PATH]

Quality (needs ../shared/data/real; cases without it are skipped and listed):
- each real mesh in meshes/: normalised as the protocol does (bounding-box centre, largest side 1), 3000 surface
  points sampled (seed 0) with Gaussian noise sigma 0.005 as input; ground truth: 100k points and normals sampled
  on the mesh;
- each real scan with a ground-truth mesh: the Stanford bunny range scan bun000 and PCL's bun0.pcd (ground truth
  bunny_libigl.off, same frame) and the ABC scan (its 03_meshes mesh); scan and mesh are put in the unit box by
  the mesh's normalisation; the scan is given as is (all its points);
- scans simulated from each real mesh (hnf3d.data.scan.simulate_scan, the scanner model of tools/simulate_scan.py,
  on the mesh in the unit box; SIMULATED: one view, three views with noise 1% of the size, six views with a part
  of radius 0.2 missing), scored against the whole mesh.
Methods: hnf3d without refinement, hnf3d with --refine N steps, and (--ablation M, default 100) M steps from the
field's prediction and M steps from the untrained theta_0 (what the learned prior adds), Poisson (Open3D, depth 8,
normals estimated from 30 neighbours and oriented by Open3D's consistent tangent planes), without and with density
trimming (the vertices below the POISSON_TRIM quantile of Poisson's density dropped, as Open3D's tutorial does);
"beats Poisson" compares with the better of the two on each input. The refined hnf3d mesh is also scored trimmed
(`reconstruct(trim=TRIM_DISTANCE)`: the faces farther than hnf3d.pipeline.trim.TRIM_DISTANCE from every point
dropped, an open mesh), and "at its best" compares the better of hnf3d's two with the better of Poisson's two.
Each hnf3d row keeps its seconds per stage. Metrics (hnf3d.eval.metrics, ONet protocol): Chamfer-L1 (unscaled),
normal consistency, F@1% (and F@1.5%, F@2%), and F@1%'s precision and recall (which of surface where there is
none, or truth the surface misses, holds an input back); IoU is not used: several ground-truth meshes are not
watertight.

Seed spread (--seeds K, default 4): every input on which hnf3d at its best is behind Poisson at its best is
refined again with seeds 1 .. K-1 (seed 0 is its row): refinement's random queries, batches and subsampling move
F@1% by about 0.01-0.03 on some inputs, so a gap smaller than that is a tie, and one wider on every seed is not.

ShapeNet (shapenet_onet/, two objects in ONet's frame): 3000 points of pointcloud.npz (seed 0) + noise 0.005 for the
point-cloud model (one pass, refined) and Poisson; every img_choy2016 view for the image model (--image-checkpoint);
ground truth pointcloud.npz's points and normals, as the protocol scores ShapeNet.

Speed: 3k, 100k and 1M points (sampled on the bunny, noise 0.005 of its size, in millimetres) at 128^3 and 256^3:
seconds per stage (hnf3d's own timings) and in total, and the peak resident memory over the process's level
before the case (a thread samples /proc/self/statm every 2 ms: torch's allocations are invisible to tracemalloc).
Poisson runs on the same inputs in the same process, so each speed figure has its ratio.

Degenerate input (collinear, coplanar, a handful of points): tools/reconstruct.py --refine 300 on each, its exit
code, stderr lines and seconds (the process's start included).

Extraction: analytic sphere, torus and box occupancy fields extracted densely and hierarchically at 128^3 and
256^3: points evaluated (the ratio), seconds, and whether the two meshes are identical.
JSON: benchmarks/results/real.json (--quick: real-quick.json, git-ignored).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import environment, format_table, write_json_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
POISSON_TRIM = 0.01  # density quantile of the trimmed Poisson row (Open3D's surface reconstruction tutorial)
# simulated scans of the real meshes: (name, views, noise as a fraction of the size, missing radius / size)
SIMULATED = (("1 view", 1, 0.002, 0.0), ("3 views, noise 1%", 3, 0.01, 0.0), ("6 views, part missing", 6, 0.002, 0.2))
METRICS = ("chamfer_l1", "normal_consistency", "fscore@0.01", "fscore@0.015", "fscore@0.02", "precision@0.01",
           "recall@0.01")


class PeakRSS:
    """Peak resident set size (bytes) above the level at entry, sampled by a thread (Linux /proc)."""

    def __init__(self, interval: float = 0.002):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        gc.collect()
        self.base = self.rss()
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2 ** 20


def poisson(points: np.ndarray, depth: int = 8, density_quantile: float | None = None):
    """Open3D screened Poisson with estimated, consistently oriented normals: (trimesh.Trimesh, timings)."""
    from hnf3d.eval.poisson import poisson_baseline

    return poisson_baseline(points, depth=depth, density_quantile=density_quantile)


def run_degenerate() -> list[dict]:
    """tools/reconstruct.py --refine 300 on degenerate point clouds: exit code, stderr lines, seconds."""
    import subprocess
    import tempfile

    t = np.linspace(0.0, 1.0, 500)
    uv = np.random.default_rng(0).random((500, 2))
    clouds = {"collinear": np.stack([t, 2 * t, 3 * t], 1), "coplanar": np.c_[uv, uv.sum(1)],
              "five points": np.random.default_rng(0).random((5, 3))}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, pts in clouds.items():
            src, out = Path(tmp) / "in.xyz", Path(tmp) / "out.ply"
            np.savetxt(src, pts)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, str(ROOT / "tools" / "reconstruct.py"), "--pc", str(src), "--out",
                                   str(out), "--refine", "300"], capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            err = [line for line in proc.stderr.splitlines() if line.strip()]
            # the message names the input file: recorded as <tmp>/in.xyz (results carry no machine's paths)
            rows.append({"input": name, "exit_code": proc.returncode, "stderr_lines": len(err),
                         "message": err[-1].replace(tmp, "<tmp>") if err else "", "seconds": seconds,
                         "output_written": out.exists()})
            print(f"  {name}: exit {proc.returncode} in {seconds:.2f} s: {rows[-1]['message']}", flush=True)
    return rows


def quality_cases(quick: bool) -> tuple[list[dict], list[str]]:
    """[{name, kind, input (N,3), gt_points, gt_normals}] in the unit box, and the names of skipped cases."""
    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.io import load_mesh, load_point_cloud
    from hnf3d.ops import sample_surface

    cases, skipped = [], []
    if not REAL.is_dir():
        return cases, [f"all: {REAL} not found"]

    def gt_of(mesh_path):
        mesh = load_mesh(mesh_path)
        v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
        norm = unit_box_normalization(v)
        v = norm.apply(v)
        s = sample_surface(v, f, 100_000, seed=1)
        return v, f, norm, s.points.cpu().numpy(), s.normals.cpu().numpy()

    meshes = sorted((REAL / "meshes").glob("*"))
    if quick:
        meshes = [m for m in meshes if "knight" in m.name]
    for path in meshes:
        v, f, _, gp, gn = gt_of(path)
        s = sample_surface(v, f, 3000, seed=0).points.cpu().numpy()
        noisy = s + np.random.default_rng(0).normal(0.0, 0.005, s.shape)
        cases.append({"name": path.stem, "kind": "mesh, 3000 pts, noise 0.005", "input": noisy,
                      "gt_points": gp, "gt_normals": gn})
    if quick:
        return cases, skipped
    scans = [("bunny_rangescan_bun000", "scans/stanford_bunny_rangescan_bun000.ply", "meshes/bunny_libigl.off"),
             ("pcl_bun0", "scans/pcl_bun0.pcd", "meshes/bunny_libigl.off")]
    for name, scan, mesh in scans:
        _, _, norm, gp, gn = gt_of(REAL / mesh)
        pts = load_point_cloud(REAL / scan).points
        cases.append({"name": name, "kind": f"real scan, {len(pts)} pts", "input": norm.apply(pts),
                      "gt_points": gp, "gt_normals": gn})
    import trimesh

    from hnf3d.data.scan import simulate_scan

    for path in meshes:
        v, f, _, gp, gn = gt_of(path)
        for label, views, noise, missing in SIMULATED:
            scan = simulate_scan(trimesh.Trimesh(v, f, process=False), views=views, noise=noise, missing=missing, seed=0,
                                 max_points=20_000).astype(np.float64)
            cases.append({"name": f"{path.stem}, {label}", "kind": f"simulated scan, {len(scan)} pts",
                          "input": scan, "gt_points": gp, "gt_normals": gn})
    abc_mesh = next((REAL / "abc" / "03_meshes").glob("*.ply"), None)
    abc_pts = next((REAL / "abc" / "04_pts").glob("*.npy"), None)
    if abc_mesh and abc_pts:
        _, _, norm, gp, gn = gt_of(abc_mesh)
        pts = np.load(abc_pts, allow_pickle=False).astype(np.float64)[:, :3]
        cases.append({"name": "abc_scan", "kind": f"simulated noisy scan, {len(pts)} pts",
                      "input": norm.apply(pts), "gt_points": gp, "gt_normals": gn})
    else:
        skipped.append("abc_scan: files missing")
    return cases, skipped


def trimmed_mesh(mesh, points: np.ndarray):
    """(the refined `mesh` trimmed at TRIM_DISTANCE as reconstruct(..., trim=TRIM_DISTANCE) returns it, seconds)."""
    from hnf3d.pipeline.trim import TRIM_DISTANCE, trim_reconstruction

    t0 = time.perf_counter()
    out, _ = trim_reconstruction(mesh, points, TRIM_DISTANCE)
    return out, time.perf_counter() - t0


def _pick_best(row: dict, refined: str) -> None:
    """Name the better of Poisson's rows (untrimmed, trimmed) and of hnf3d's refined rows (watertight, trimmed)
    on F@1%: the issue-14 comparison is between the two, each at its best for the input."""
    row["poisson_best"] = max(("poisson", "poisson_trim"), key=lambda k: row[k]["fscore@0.01"])
    row["refined_best"] = max((refined, f"{refined}_trim"), key=lambda k: row[k]["fscore@0.01"])


def run_quality(rec, cases, refine: int, ablation: int = 0) -> list[dict]:
    """Per case: one pass, `refine` refinement steps, Poisson; with ablation > 0 also `ablation` steps from the
    prediction and from theta_0 (what the learned prior adds to refinement)."""
    from hnf3d.eval.metrics import mesh_metrics

    rows = []
    for case in cases:
        row = {"name": case["name"], "kind": case["kind"]}
        runs = {"hnf3d": lambda: rec.reconstruct(case["input"]),
                f"hnf3d_refine{refine}": lambda: rec.reconstruct(case["input"], refine_steps=refine),
                "poisson": lambda: poisson(case["input"])[0],
                "poisson_trim": lambda: poisson(case["input"], density_quantile=POISSON_TRIM)[0]}
        if ablation:
            runs[f"hnf3d_refine{ablation}_prediction"] = lambda: rec.reconstruct(case["input"], refine_steps=ablation)
            runs[f"hnf3d_refine{ablation}_theta0"] = lambda: rec.reconstruct(case["input"], refine_steps=ablation,
                                                                             refine_init="theta0")
        meshes = {}
        for method, fn in runs.items():
            t0 = time.perf_counter()
            meshes[method] = mesh = fn()
            seconds = time.perf_counter() - t0
            m = mesh_metrics(mesh, case["gt_points"], case["gt_normals"], seed=0)
            row[method] = {"seconds": seconds, "faces": int(len(mesh.faces)),
                           "watertight": bool(mesh.is_watertight), **{k: float(m[k]) for k in METRICS}}
            if "hnf3d" in mesh.metadata:
                row[method]["stages"] = mesh.metadata["hnf3d"]["timings"]
                row[method]["messages"] = mesh.metadata["hnf3d"]["messages"]
        refined = f"hnf3d_refine{refine}"
        trimmed, seconds = trimmed_mesh(meshes[refined], case["input"])
        m = mesh_metrics(trimmed, case["gt_points"], case["gt_normals"], seed=0)
        row[f"{refined}_trim"] = {"seconds": row[refined]["seconds"] + seconds, "faces": int(len(trimmed.faces)),
                                  "watertight": bool(trimmed.is_watertight), **{k: float(m[k]) for k in METRICS}}
        _pick_best(row, refined)
        print(f"  {case['name']}: F@1% hnf3d {row['hnf3d']['fscore@0.01']:.3f}, refined "
              f"{row[refined]['fscore@0.01']:.3f}, trimmed {row[f'{refined}_trim']['fscore@0.01']:.3f}; Poisson "
              f"{row['poisson']['fscore@0.01']:.3f}, trimmed {row['poisson_trim']['fscore@0.01']:.3f}", flush=True)
        rows.append(row)
    return rows


def behind_best_poisson(rows: list[dict]) -> list[dict]:
    """The rows on which hnf3d at its best (refined_best) is behind Poisson at its best (poisson_best)."""
    return [r for r in rows if r[r["refined_best"]]["fscore@0.01"] < r[r["poisson_best"]]["fscore@0.01"]]


def run_seed_spread(rec, cases: list[dict], rows: list[dict], refine: int, seeds: int) -> dict:
    """{name: {seeds, F@1% refined and trimmed per seed, Poisson's best F@1%}} for each row of `rows` (those
    behind_best_poisson gives); seed 0's figures are the row's, seeds 1 .. seeds-1 are refined again from the case
    of that name in `cases`."""
    from hnf3d.eval.metrics import mesh_metrics

    refined = f"hnf3d_refine{refine}"
    by_name = {c["name"]: c for c in cases}
    out = {}
    for row in rows:
        case = by_name[row["name"]]
        spread = {"seeds": list(range(seeds)), "refined": [row[refined]["fscore@0.01"]],
                  "refined_trim": [row[f"{refined}_trim"]["fscore@0.01"]],
                  "poisson_best": row[row["poisson_best"]]["fscore@0.01"]}
        for seed in range(1, seeds):
            mesh = rec.reconstruct(case["input"], refine_steps=refine, seed=seed)
            for key, m in (("refined", mesh), ("refined_trim", trimmed_mesh(mesh, case["input"])[0])):
                f1 = mesh_metrics(m, case["gt_points"], case["gt_normals"], seed=0)["fscore@0.01"]
                spread[key].append(float(f1))
        print(f"  {row['name']}: refined {np.round(spread['refined'], 3).tolist()}, trimmed "
              f"{np.round(spread['refined_trim'], 3).tolist()}, Poisson {spread['poisson_best']:.3f}", flush=True)
        out[row["name"]] = spread
    return out


def shapenet_cases() -> tuple[list[dict], list[str]]:
    """The real ShapeNet objects of shapenet_onet/ in ONet's canonical frame: [{name, input (3000, 3) points of
    pointcloud.npz (seed 0) + noise 0.005, views (the img_choy2016 renders), gt_points, gt_normals}]."""
    root = REAL / "shapenet_onet"
    objects = sorted(p.parent for p in root.glob("*/*/pointcloud.npz")) if root.is_dir() else []
    if not objects:
        return [], [f"shapenet: {root} has no <synset>/<id>/pointcloud.npz"]
    cases = []
    for obj in objects:
        with np.load(obj / "pointcloud.npz", allow_pickle=False) as d:
            gp, gn = d["points"].astype(np.float64), d["normals"].astype(np.float64)
        rng = np.random.default_rng(0)
        noisy = gp[rng.choice(len(gp), 3000, replace=False)] + rng.normal(0.0, 0.005, (3000, 3))
        cases.append({"name": f"{obj.parent.name}/{obj.name}", "input": noisy, "gt_points": gp, "gt_normals": gn,
                      "views": sorted((obj / "img_choy2016").glob("*.jpg"))})
    return cases, []


def run_shapenet(rec, image_rec, cases, refine: int) -> list[dict]:
    """Per ShapeNet object: F@1% (and the other METRICS) of the point-cloud model in one pass and refined, of
    Poisson, and of the image model on every view (mean and min over the views: the canonical frame is ONet's, so
    a prediction turned the wrong way scores low)."""
    from hnf3d.eval.metrics import mesh_metrics

    def score(mesh, case):
        m = mesh_metrics(mesh, case["gt_points"], case["gt_normals"], seed=0)
        return {k: float(m[k]) for k in METRICS}

    rows = []
    refined = f"hnf3d_refine{refine}"
    for case in cases:
        mesh = rec.reconstruct(case["input"], refine_steps=refine)
        row = {"name": case["name"], "hnf3d": score(rec.reconstruct(case["input"]), case),
               refined: score(mesh, case), f"{refined}_trim": score(trimmed_mesh(mesh, case["input"])[0], case),
               "poisson": score(poisson(case["input"])[0], case),
               "poisson_trim": score(poisson(case["input"], density_quantile=POISSON_TRIM)[0], case)}
        _pick_best(row, refined)
        if image_rec is not None and case["views"]:
            views = [score(image_rec.reconstruct_image(v), case) for v in case["views"]]
            f1 = [v["fscore@0.01"] for v in views]
            row["image"] = {"views": len(views), "fscore@0.01_mean": float(np.mean(f1)),
                            "fscore@0.01_min": float(np.min(f1)), "fscore@0.01_per_view": f1}
        print(f"  {case['name']}: F@1% hnf3d {row['hnf3d']['fscore@0.01']:.3f}, refined "
              f"{row[f'hnf3d_refine{refine}']['fscore@0.01']:.3f}, Poisson {row['poisson']['fscore@0.01']:.3f}"
              + (f", image mean over {row['image']['views']} views {row['image']['fscore@0.01_mean']:.3f}"
                 if "image" in row else ""), flush=True)
        rows.append(row)
    return rows


def run_speed(rec, sizes, resolutions) -> list[dict]:
    from hnf3d.io import load_mesh
    from hnf3d.ops import sample_surface

    if (REAL / "meshes" / "bunny_libigl.off").is_file():
        mesh = load_mesh(REAL / "meshes" / "bunny_libigl.off")
        source = "bunny_libigl.off"
    else:
        import trimesh

        mesh, source = trimesh.creation.torus(0.3, 0.1), "trimesh torus"
    v = np.asarray(mesh.vertices) * 1000.0  # millimetres: the pipeline must not care about units
    f = np.asarray(mesh.faces)
    size = float((v.max(0) - v.min(0)).max())
    rows = []
    for n in sizes:
        s = sample_surface(v, f, n, seed=0).points.cpu().numpy().astype(np.float64)
        pts = s + np.random.default_rng(0).normal(0.0, 0.005 * size, s.shape)
        for res in resolutions:
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                mesh_h = rec.reconstruct(pts, resolution=res)
                total = time.perf_counter() - t0
            row = {"points": n, "resolution": res, "source": source,
                   "hnf3d": {"seconds": total, "stages": mesh_h.metadata["hnf3d"]["timings"],
                             "peak_mib": mem.mib, "faces": int(len(mesh_h.faces)),
                             "evaluated_points": mesh_h.metadata["extraction"]["evaluated_points"]}}
            rows.append(row)
            print(f"  {n} points, {res}^3: hnf3d {total:.2f} s, {mem.mib:.0f} MiB", flush=True)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            mesh_p, stages = poisson(pts)
            total = time.perf_counter() - t0
        for row in rows:
            if row["points"] == n:
                row["poisson_depth8"] = {"seconds": total, "stages": stages, "peak_mib": mem.mib,
                                         "faces": int(len(mesh_p.faces))}
                row["speedup_vs_poisson"] = total / row["hnf3d"]["seconds"]
        print(f"  {n} points: Poisson depth 8 {total:.2f} s, {mem.mib:.0f} MiB", flush=True)
    return rows


def run_extraction(resolutions) -> list[dict]:
    """Hierarchical vs dense extraction of analytic occupancy fields: points evaluated, seconds, same mesh?"""
    from hnf3d.pipeline.extraction import extract_mesh

    def sphere(p):
        return 40.0 * (0.35 - np.linalg.norm(p, axis=1))

    def torus(p):
        q = np.sqrt(p[:, 0] ** 2 + p[:, 2] ** 2) - 0.3
        return 40.0 * (0.1 - np.sqrt(q ** 2 + p[:, 1] ** 2))

    def box(p):
        d = np.abs(p) - np.array([0.3, 0.2, 0.25])
        return -40.0 * (np.linalg.norm(np.maximum(d, 0), axis=1) + np.minimum(d.max(1), 0))

    rows = []
    for name, fn in (("sphere", sphere), ("torus", torus), ("box", box)):
        for res in resolutions:
            out = {}
            for mode in ("dense", "hierarchical"):
                t0 = time.perf_counter()
                mesh = extract_mesh(fn, resolution_0=32, upsampling_steps=int(np.log2(res // 32)), mode=mode)
                out[mode] = (mesh, time.perf_counter() - t0)
            (md, td), (mh, th) = out["dense"], out["hierarchical"]
            same = bool(np.array_equal(md.faces, mh.faces) and np.array_equal(md.vertices, mh.vertices))
            rows.append({"field": name, "resolution": res, "dense_points": md.metadata["extraction"]["evaluated_points"],
                         "hierarchical_points": mh.metadata["extraction"]["evaluated_points"],
                         "points_ratio": mh.metadata["extraction"]["evaluated_points"]
                         / md.metadata["extraction"]["evaluated_points"],
                         "dense_s": td, "hierarchical_s": th, "same_mesh": same,
                         "watertight": bool(mh.is_watertight)})
            print(f"  {name} {res}^3: hierarchical evaluates {rows[-1]['points_ratio']:.3f} of the points, "
                  f"{td:.2f} s dense vs {th:.2f} s, same mesh {same}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one mesh, 3k points at 128^3 only")
    ap.add_argument("--refine", type=int, default=300, help="refinement steps of the refined hnf3d row")
    ap.add_argument("--ablation", type=int, default=100,
                    help="refinement steps of the prior ablation rows, from the prediction and from theta_0 "
                         "(0: skip them)")
    ap.add_argument("--seeds", type=int, default=4,
                    help="seeds of the seed spread of the inputs hnf3d is behind on (1: no spread)")
    ap.add_argument("--checkpoint", default="default")
    ap.add_argument("--image-checkpoint", default="default-image",
                    help="image model of the ShapeNet rows ('' to skip them)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds: expected at least 1, got {args.seeds}")

    import torch

    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.pipeline.trim import TRIM_DISTANCE

    torch.manual_seed(0)
    rec = Reconstructor.load(args.checkpoint, device=args.device)
    # warm-up (lazy imports, the allocator, autograd's first backward): the first refined case would otherwise pay
    # about 0.8 s that no later call does
    rec.reconstruct(np.random.default_rng(0).normal(size=(3000, 3)), refine_steps=5)
    cases, skipped = quality_cases(args.quick)
    print(f"quality: {len(cases)} cases", flush=True)
    quality = run_quality(rec, cases, args.refine, args.ablation)
    sn_cases, sn_skipped = ([], ["shapenet: --quick"]) if args.quick else shapenet_cases()
    skipped += sn_skipped
    print(f"shapenet: {len(sn_cases)} objects", flush=True)
    image_rec = Reconstructor.load(args.image_checkpoint, device=args.device) if args.image_checkpoint else None
    shapenet = run_shapenet(rec, image_rec, sn_cases, args.refine)
    print("seed spread:", flush=True)
    every = quality + shapenet
    behind_best = behind_best_poisson(every)  # hnf3d at its best behind Poisson at its best
    best_behind = [r["name"] for r in behind_best]
    seed_spread = run_seed_spread(rec, cases + sn_cases, behind_best, args.refine, args.seeds)
    print("extraction:", flush=True)
    extraction = run_extraction([128] if args.quick else [128, 256])
    print("speed:", flush=True)
    speed = run_speed(rec, [3000] if args.quick else [3000, 100_000, 1_000_000],
                      [128] if args.quick else [128, 256])
    print("degenerate input:", flush=True)
    degenerate = [] if args.quick else run_degenerate()
    refined = f"hnf3d_refine{args.refine}"
    wins = sum(r[refined]["fscore@0.01"] > r["poisson"]["fscore@0.01"] for r in quality)
    behind = [r["name"] for r in every if r[refined]["fscore@0.01"] < r[r["poisson_best"]]["fscore@0.01"]]
    small = [r for r in quality if r["kind"] == "mesh, 3000 pts, noise 0.005"]
    refine_s = float(np.mean([r[refined]["seconds"] for r in small])) if small else None
    poisson_s = float(np.mean([r["poisson"]["seconds"] for r in small])) if small else None
    by_name = {r["name"]: r[refined]["fscore@0.01"] for r in quality}
    best_by_name = {r["name"]: r[r["refined_best"]]["fscore@0.01"] for r in quality}
    fast = next((r for r in speed if r["points"] == 3000 and r["resolution"] == 128), None)
    mean = {m: float(np.mean([r[m]["fscore@0.01"] for r in quality])) if quality else None
            for m in (quality[0] if quality else {}) if isinstance(quality[0].get(m), dict)}
    meshes = [r for r in quality if r["kind"].startswith("mesh")]
    summary = {
        "mean_f1": mean,
        "mean_f1_meshes": {m: float(np.mean([r[m]["fscore@0.01"] for r in meshes])) for m in mean} if meshes else {},
        "min_f1_meshes": {m: float(np.min([r[m]["fscore@0.01"] for r in meshes])) for m in mean} if meshes else {},
        "shapenet_f1": {r["name"]: {"hnf3d": r["hnf3d"]["fscore@0.01"], "refined": r[refined]["fscore@0.01"],
                                    "poisson": r["poisson"]["fscore@0.01"],
                                    "image_mean": r["image"]["fscore@0.01_mean"] if "image" in r else None}
                        for r in shapenet},
        "refined_beats_poisson_f1": f"{wins} of {len(quality)}",
        "refined_beats_poisson_on_half": bool(quality) and wins * 2 >= len(quality),
        # issue 14's acceptance: against the better Poisson (with or without trimming) on every input
        "refined_behind_best_poisson": behind,
        "refined_at_least_best_poisson_everywhere": bool(every) and not behind,
        # the same with hnf3d at its best too: the refined mesh watertight or trimmed (TRIM_DISTANCE)
        "trim_distance": TRIM_DISTANCE,
        "refined_best_behind_best_poisson": best_behind,
        "refined_best_at_least_best_poisson": f"{len(every) - len(best_behind)} of {len(every)}",
        # of those behind: still behind on every seed (seed_spread), or at least Poisson's best on some seed
        "behind_on_every_seed": [n for n, s in seed_spread.items()
                                 if max(s["refined"] + s["refined_trim"]) < s["poisson_best"]],
        "behind_within_seed_spread": [n for n, s in seed_spread.items()
                                      if max(s["refined"] + s["refined_trim"]) >= s["poisson_best"]],
        "refined_at_least_best_poisson": f"{len(every) - len(behind)} of {len(every)}",
        "refine_seconds_3k": refine_s,
        "refine_to_poisson_time_ratio_3k": refine_s / poisson_s if small else None,
        "refine_within_3s_3k": bool(small) and refine_s <= 3.0,
        "abc_scan_refined_f1": by_name.get("abc_scan"),
        "bunny_rangescan_refined_f1": by_name.get("bunny_rangescan_bun000"),
        "abc_scan_refined_best_f1": best_by_name.get("abc_scan"),
        "bunny_rangescan_refined_best_f1": best_by_name.get("bunny_rangescan_bun000"),
        "degenerate_fail_fast": bool(degenerate) and all(d["exit_code"] == 2 and d["stderr_lines"] == 1
                                                          and d["seconds"] < 5.0 and not d["output_written"]
                                                          for d in degenerate),
        "seconds_3k_128": fast and fast["hnf3d"]["seconds"],
        "under_1s_3k_128": bool(fast) and fast["hnf3d"]["seconds"] < 1.0,
        "faster_than_poisson_3k_128": bool(fast) and fast["speedup_vs_poisson"] > 1.0,
    }
    record = {"benchmark": "reconstruct", "quick": args.quick, "checkpoint": rec.source, "model": rec.info,
              "refine_steps": args.refine, "ablation_steps": args.ablation, "poisson_trim_quantile": POISSON_TRIM,
              "environment": environment(args.device, ("torch", "open3d", "numpy")),
              "image_checkpoint": image_rec.source if image_rec is not None else None,
              "seeds": args.seeds, "skipped": skipped, "summary": summary, "quality": quality, "shapenet": shapenet,
              "seed_spread": seed_spread, "speed": speed,
              "extraction": extraction, "degenerate": degenerate}
    out = args.out or ROOT / "benchmarks" / "results" / ("real-quick.json" if args.quick else "real.json")
    write_json_atomic(out, record)
    print(format_table([[r["name"], *(f"{r[m]['fscore@0.01']:.3f}" for m in ("hnf3d", refined, "poisson")),
                         *(f"{10 * r[m]['chamfer_l1']:.3f}" for m in ("hnf3d", refined, "poisson"))]
                        for r in quality],
                       ["shape", "F@1% hnf3d", "F@1% refined", "F@1% Poisson", "CD-L1x10 hnf3d",
                        "CD-L1x10 refined", "CD-L1x10 Poisson"]))
    print(format_table([[r["points"], r["resolution"], f"{r['hnf3d']['seconds']:.2f}",
                         f"{r['poisson_depth8']['seconds']:.2f}", f"{r['speedup_vs_poisson']:.1f}x",
                         f"{r['hnf3d']['peak_mib']:.0f}", f"{r['poisson_depth8']['peak_mib']:.0f}"] for r in speed],
                       ["points", "grid", "hnf3d s", "Poisson s", "speed-up", "hnf3d MiB", "Poisson MiB"]))
    print(summary)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
