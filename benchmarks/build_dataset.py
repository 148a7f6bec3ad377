"""Data-set building throughput: seconds per object on one core, split into sampling, labelling and rendering.

One object = hnf3d.data.build.build_object with the ONet defaults: 100k uniform points labelled (points.npz),
100k near-surface points labelled (points_surface.npz), 100k surface samples (pointcloud.npz) and 24 renders of
137 x 137 (2 x 2 supersampled) with cameras.npz, written to disk. Target: under 1 s per object per core.

The process is pinned to one CPU (os.sched_setaffinity, where available) and torch to one thread, so the figure is
per core (Open3D's Embree would otherwise spread over every core). Meshes: a procedural torus of ~10k faces
and a procedural multi-part car (always) and, when ../shared/data/real is present, the real fandisk (watertight,
13k faces) and spot (open) meshes.
Peers on the torus, same run (ratio = hnf3d / peer): labelling against trimesh's ray-parity `contains`,
surface sampling against trimesh.sample, rendering against the same renderer supersampling every pixel.

    PYTHONPATH=. python benchmarks/build_dataset.py [--repeats 3] [--out benchmarks/results/build_dataset.json]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks._harness` and hnf3d importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._harness import environment, format_table, write_json_atomic  # noqa: E402

PHASES = ("load", "sample", "label", "render", "write", "total")
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "meshes"


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def _torus_mesh(path: Path) -> int:
    import trimesh

    mesh = trimesh.creation.torus(major_radius=1.0, minor_radius=0.35, major_sections=100, minor_sections=50)
    mesh.export(path)
    return len(mesh.faces)


def bench_mesh(path: Path, repeats: int, workdir: Path) -> dict:
    from hnf3d.data.build import build_object
    from hnf3d.io import load_mesh

    faces = len(load_mesh(path).faces)
    warm = build_object(path, workdir / f"{path.stem}_warm", seed=0)
    runs = []
    for r in range(repeats):
        runs.append(build_object(path, workdir / f"{path.stem}_{r}", seed=r + 1))
    median = {k: statistics.median(run[k] for run in runs) for k in PHASES}
    return {"mesh": path.name, "faces": faces, "warmup_s": warm["total"], "median_s": median,
            "objects_per_s_per_core": 1.0 / median["total"], "runs": runs}


def _best_of(fn, n: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_peers(path: Path) -> dict:
    """Each phase's work against its usual peer on the same normalised mesh, best of 3 (ratio = hnf3d / peer):
    labelling 100k uniform points (trimesh's ray-parity contains), sampling 100k surface points
    (trimesh.sample.sample_surface), 24 anti-aliased views (the same renderer supersampling every pixel)."""
    import trimesh

    from hnf3d.ops import occupancy, sample_surface, sample_uniform
    from hnf3d.vis.render import onet_cameras, render_views

    mesh = trimesh.load(path, process=False)
    mesh.apply_translation(-mesh.bounds.mean(0))
    mesh.apply_scale(1.0 / (mesh.bounds[1] - mesh.bounds[0]).max())
    v, f = np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces)
    q = sample_uniform(100_000, seed=0).numpy()
    k, w = onet_cameras(24, seed=0, diagonal=float(np.linalg.norm(v.max(0) - v.min(0))))
    out = {}
    pairs = {
        "label_100k": (lambda: occupancy(v, f, q), lambda: mesh.contains(q.astype(np.float64)),
                       "trimesh.Trimesh.contains"),
        "surface_100k": (lambda: sample_surface(v, f, 100_000, seed=0), lambda: trimesh.sample.sample_surface(
            mesh, 100_000), "trimesh.sample.sample_surface"),
        "render_24_views": (lambda: render_views(v, f, k, w), lambda: render_views(v, f, k, w, adaptive=False),
                            "render_views(adaptive=False): 2x2 rays in every pixel"),
    }
    for name, (ours, peer, peer_name) in pairs.items():
        try:
            t_ours, t_peer = _best_of(ours), _best_of(peer)
            out[name] = {"hnf3d_s": t_ours, "peer": peer_name, "peer_s": t_peer, "ratio": t_ours / t_peer}
        except Exception as exc:  # noqa: BLE001 - a missing peer is reported, not fatal
            out[name] = {"peer": peer_name, "error": f"{type(exc).__name__}: {exc}"}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "build_dataset.json"))
    args = ap.parse_args(argv)

    pinned = _pin_one_core()
    import torch

    torch.set_num_threads(1)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        torus = work / "torus_10k.obj"
        _torus_mesh(torus)
        # a procedural multi-part car (the synthetic training set's kind: overlapping closed parts, so the
        # exposed-surface sampling tests every sample) beside the single-part and real meshes
        from hnf3d.data.procedural import make_shape

        car = work / "procedural_car.obj"
        make_shape("car", 0).export(car)
        meshes = [torus, car] + [REAL / n for n in ("fandisk.obj", "spot.obj") if (REAL / n).is_file()]
        for path in meshes:
            results.append(bench_mesh(path, args.repeats, work))
            print(f"{path.name}: {results[-1]['median_s']['total']:.3f} s per object", file=sys.stderr)
        peers = bench_peers(torus)

    rows = [[r["mesh"], r["faces"]] + [f"{r['median_s'][k]:.3f}" for k in PHASES] +
            [f"{r['objects_per_s_per_core']:.2f}"] for r in results]
    print(format_table(rows, ["mesh", "faces", *[f"{k} s" for k in PHASES], "obj/s/core"]))
    peer_rows = [[name, f"{p.get('hnf3d_s', float('nan')):.3f}", p["peer"], f"{p.get('peer_s', float('nan')):.3f}",
                  f"{p.get('ratio', float('nan')):.2f}"] for name, p in peers.items()]
    print(format_table(peer_rows, ["torus, one core", "hnf3d s", "peer", "peer s", "ratio"]))
    report = {
        "benchmark": "build_dataset",
        "what": "hnf3d.data.build.build_object per object, ONet defaults (100k uniform + 100k near-surface "
                "labels, 100k surface samples, 24 views 137x137 supersample 2), one core",
        "target_s_per_object_per_core": 1.0,
        "pinning": pinned,
        "repeats": args.repeats,
        "results": results,
        "peers": peers,
        "environment": environment("cpu", ["torch", "numpy", "open3d", "trimesh", "PIL"]),
    }
    path = write_json_atomic(args.out, report)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
