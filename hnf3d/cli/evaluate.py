"""Benchmark a reconstruction method on an ONet-layout data set with the ONet/ConvONet protocol.

    hnf3d-evaluate --checkpoint default --data ROOT --split test                      # a hnf3d model
    python tools/evaluate.py --checkpoint default --data ROOT --split test            # the same, from a clone
    python tools/evaluate.py --checkpoint runs/x/best.safetensors --data ROOT --resolution 64 --limit 20
    python tools/evaluate.py --config configs/default_pc.yaml --data ROOT          # that config's trained run
    python tools/evaluate.py --meshes MESHDIR --data ROOT --split test                # any other method's meshes
    python tools/evaluate.py --baseline poisson --data ROOT --split test [--poisson-trim 0.05]

Exactly one method: --checkpoint (a checkpoint file or folder, 'default', 'default-image'), --config (the
trained run of that experiment config: training.out_dir/best.safetensors), --meshes or --baseline.

Protocol (docs/protocol.md): the inputs are 3000 points of pointcloud.npz with Gaussian noise sigma 0.005
(drawn from --seed and the object's index, so every method gets the same noisy points), or view 000 of
img_choy2016 for image models; meshes come from MISE 32^3 -> --resolution^3 and are scored by hnf3d.eval.metrics
(100k samples; Chamfer, accuracy, completeness, normal consistency, F-score at 1%, 1.5%, 2%) against
pointcloud.npz, with IoU on points.npz when it exists. Per-class means, then the mean of the class means.

--meshes MESHDIR layout: MESHDIR/<category>/<model_id>.ply (or .obj, .off, .stl, .glb, .gltf), one mesh per
object of the split, in the data set's normalised frame (ONet's: bounding-box centre at the origin, largest side
1; --mesh-frame world for meshes in the original units, world = normalised * scale + loc of points.npz). A
missing (or unreadable) mesh counts as an empty mesh, ONet's policy (Chamfer-L1 = accuracy = completeness =
sqrt(3), normal consistency -1, F-scores 0, IoU 0), and is reported.

--baseline poisson: Open3D screened Poisson (depth --poisson-depth, 8), normals from 30 neighbours oriented by
consistent tangent planes, on the same protocol inputs; --poisson-trim Q drops vertices whose Poisson density
is below the Q-quantile.

Output (--out, default eval/<name>-<split>/ in the current folder; <name>: the checkpoint name, 'meshes-<folder>'
or 'poisson[-trimQ]'):
    results.md     per-class table and a 'mean (of class means)' row; Chamfer-L1 printed x10 (labelled so)
    results.csv    one row per object, metrics unscaled
    results.json   method (for a model: its objective, input and training step), settings, per object, per
                   class, mean of class means, problems (missing meshes); --json FILE writes a copy to FILE
    cache/<category>/<model_id>.json   per-object results, written atomically after each object; a run with the
                   same method and settings (checkpoint or mesh file, resolution, threshold, refine, seed) reuses
                   them, so an interrupted run resumes; changed settings recompute.
The table is also printed. Exit code: 0; 2 on a bad argument, data folder, split or checkpoint (one line).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ._common import (ArgumentError, Parser, check_input_dir, check_input_file, check_output_dir, check_output_file,
                      check_resolution, command, console_script)

PROG = "evaluate"
MESH_EXTENSIONS = (".ply", ".obj", ".off", ".stl", ".glb", ".gltf")

def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    method = p.add_mutually_exclusive_group(required=True)
    method.add_argument("--checkpoint", metavar="CKPT", help="a model: checkpoint file or folder, 'default' or "
                                                              "'default-image'")
    method.add_argument("--config", metavar="YAML", help="the trained run of an experiment config: its "
                                                          "training.out_dir/best.safetensors")
    method.add_argument("--meshes", metavar="DIR", help="score the meshes DIR/<category>/<model_id>.{ply,obj,off}")
    method.add_argument("--baseline", choices=("poisson",), help="a classical baseline on the same inputs")
    p.add_argument("--data", required=True, metavar="ROOT", help="the data set (ONet layout)")
    p.add_argument("--split", default="test", help="split list name: ROOT/<category>/<split>.lst (default test)")
    p.add_argument("--out", metavar="DIR", help="output folder (default eval/<name>-<split>)")
    p.add_argument("--resolution", type=int, default=128, help="final MISE grid, 32 x 2^k (default 128)")
    p.add_argument("--threshold", type=float, default=None, help="occupancy probability of the surface "
                                                                 "(default: the model's)")
    p.add_argument("--refine", type=int, default=0, metavar="N", help="test-time refinement steps (default 0)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="at most N objects per category")
    p.add_argument("--categories", default=None, metavar="A,B", help="comma-separated category ids or names")
    p.add_argument("--seed", type=int, default=0, help="seed of the input noise and the metric sampling")
    p.add_argument("--mesh-frame", choices=("normalized", "world"), default="normalized",
                   help="--meshes: the frame of the meshes (default normalized)")
    p.add_argument("--poisson-depth", type=int, default=8, help="--baseline poisson: octree depth (default 8)")
    p.add_argument("--poisson-trim", type=float, default=None, metavar="Q",
                   help="--baseline poisson: drop vertices with density below this quantile (default: none)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write results.json's content to FILE "
                                                                "(e.g. benchmarks/results/eval-*.json)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages (the table is printed)")
    return p


def _check(args) -> list | None:
    """Validate the arguments (ArgumentError naming the first bad one); the selected categories."""
    from .._checks import check_device, check_int

    root = check_input_dir("--data", args.data)
    check_int("--seed", args.seed, min_value=0)
    check_device("--device", args.device)
    check_resolution("--resolution", args.resolution)
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise ArgumentError(f"--threshold: expected a probability in (0, 1), got {args.threshold}")
    if args.refine < 0:
        raise ArgumentError(f"--refine: expected an integer >= 0, got {args.refine}")
    if args.limit is not None and args.limit < 1:
        raise ArgumentError(f"--limit: expected an integer >= 1, got {args.limit}")
    if args.poisson_trim is not None and not 0.0 <= args.poisson_trim < 1.0:
        raise ArgumentError(f"--poisson-trim: expected a quantile in [0, 1), got {args.poisson_trim}")
    if args.poisson_depth < 1:
        raise ArgumentError(f"--poisson-depth: expected an integer >= 1, got {args.poisson_depth}")
    if not args.split or "/" in args.split or args.split.startswith("."):
        raise ArgumentError(f"--split: not a split name: {args.split!r}")
    if not any(p.is_file() for p in root.glob(f"*/{args.split}.lst")):
        raise ArgumentError(f"--split {args.split}: no split list <category>/{args.split}.lst in {root}")
    if args.json is not None:
        check_output_file("--json", args.json)
    if args.meshes is not None:
        check_input_dir("--meshes", args.meshes)
    if args.checkpoint is None and args.config is None:
        for name in ("threshold", "refine"):
            if getattr(args, name) not in (None, 0):
                raise ArgumentError(f"--{name}: applies to --checkpoint models only")
    if args.config is not None:  # resolve to the run's best checkpoint; from here on it is --checkpoint
        from ..config import ConfigError, load_config

        try:
            cfg = load_config(check_input_file("--config", args.config))
        except (ConfigError, OSError) as exc:
            raise ArgumentError(f"--config {args.config}: {exc}") from None
        best = Path(cfg.training.out_dir) / "best.safetensors"
        if not best.is_file():
            raise ArgumentError(f"--config {args.config}: no trained run: {best} not found (train it with "
                                f"tools/train.py --config {args.config})")
        args.checkpoint = str(best)
    if args.baseline == "poisson":
        from .._optional import INSTALL_HINTS, available

        if not available("open3d"):
            raise ArgumentError(f"--baseline poisson: needs open3d ({INSTALL_HINTS['open3d']})")
    cats = None
    if args.categories is not None:
        cats = [c.strip() for c in args.categories.split(",") if c.strip()]
        if not cats:
            raise ArgumentError(f"--categories: no category in {args.categories!r}")
    return cats


def _name(args) -> str:
    if args.checkpoint is not None:
        p = Path(args.checkpoint)
        if p.suffix == ".safetensors" and p.stem in ("best", "last", "final"):
            return p.parent.name or p.stem
        if p.suffix == ".safetensors" and p.stem.startswith("step_"):  # a training.keep_steps snapshot
            return f"{p.parent.name}-{p.stem}"
        return p.stem if p.suffix else p.name
    if args.meshes is not None:
        return f"meshes-{Path(args.meshes).resolve().name}"
    return "poisson" + (f"-trim{args.poisson_trim:g}" if args.poisson_trim else "") + \
        (f"-depth{args.poisson_depth}" if args.poisson_depth != 8 else "")


def _find_mesh(folder: Path, category: str, model: str) -> Path | None:
    for ext in MESH_EXTENSIONS:
        p = folder / category / f"{model}{ext}"
        if p.is_file():
            return p
    return None


def _write_text(path: Path, text: str) -> None:
    from ..io import atomic_write

    with atomic_write(path) as f:
        f.write(text.encode())


@command(PROG)
def main(argv=None) -> int:
    t_start = time.perf_counter()
    args = _parser().parse_args(argv)
    categories = _check(args)

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"{PROG}: {msg}", file=sys.stderr)

    warnings_seen: list = []

    def warn(msg: str) -> None:  # always shown: a missing mesh changes the numbers
        warnings_seen.append(msg)
        print(f"{PROG}: warning: {msg}", file=sys.stderr)

    from ..eval.poisson import poisson_baseline
    from ..eval.protocol import INPUT_NOISE, N_INPUT_POINTS, evaluate_model, evaluate_objects
    from ..eval.report import markdown_table, objects_csv

    name = _name(args)
    out = check_output_dir("--out", args.out if args.out else Path("eval") / f"{name}-{args.split}",
                           inputs=[args.data, args.meshes])
    cache = out / "cache"
    common = dict(split=args.split, categories=categories, seed=args.seed, limit=args.limit,
                  progress=not args.quiet, cache_dir=cache, warn=warn)
    settings = {"split": args.split, "seed": args.seed, "limit": args.limit, "categories": categories,
                "n_input_points": N_INPUT_POINTS, "input_noise": INPUT_NOISE, "metric_samples": 100_000}
    if args.checkpoint is not None:
        from ..pipeline.reconstructor import Reconstructor

        rec = Reconstructor.load(args.checkpoint, device=args.device)
        if rec.kind == "image" and args.refine:
            raise ArgumentError("--refine: refinement needs point clouds; this is an image model")
        obj = rec.config.objective
        method = {"method": "hnf3d", "checkpoint": args.checkpoint, "source": rec.source,
                  "model": {"objective": obj.kind, "variant": obj.variant if obj.kind == "gradient_matching"
                            else None, "input": rec.kind, "step": rec.info.get("step"),
                            "config": rec.config.name}}
        say(f"model {rec.source} ({rec.kind}), resolution {args.resolution}")
        result = evaluate_model(rec, str(args.data), resolution=args.resolution, threshold=args.threshold,
                                refine_steps=args.refine, **common)
        settings.update(result["settings"], threshold=args.threshold)
    elif args.meshes is not None:
        from ..io import load_mesh

        folder = Path(args.meshes)
        method = {"method": "meshes", "meshes": str(folder.resolve()), "mesh_frame": args.mesh_frame}

        def produce(item):
            path = _find_mesh(folder, item["category"], item["model"])
            if path is None:
                return None, f"missing ({folder}/{item['category']}/{item['model']}.{{ply,obj,off}})"
            try:
                mesh = load_mesh(path)
            except (OSError, ValueError) as exc:
                return None, f"unreadable ({exc})".replace("\n", " ")
            if args.mesh_frame == "world":
                mesh.vertices = (mesh.vertices - item["loc"].numpy()) / float(item["scale"])
            return mesh, "ok"

        def object_key(item):
            path = _find_mesh(folder, item["category"], item["model"])
            if path is None:
                return None
            st = path.stat()
            return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}

        key = {"method": "meshes", "folder": method["meshes"], "frame": args.mesh_frame, "seed": args.seed}
        result = evaluate_objects(produce, str(args.data), cache_key=key, object_key=object_key, **common)
    else:
        method = {"method": "poisson", "depth": args.poisson_depth, "trim_quantile": args.poisson_trim,
                  "normals": "30-NN PCA, consistent tangent plane orientation"}

        def produce(item):
            try:
                mesh, _ = poisson_baseline(item["inputs"].numpy(), depth=args.poisson_depth,
                                           density_quantile=args.poisson_trim)
            except RuntimeError as exc:  # Open3D failures: an empty mesh, reported
                return None, f"failed ({exc})".replace("\n", " ")
            return mesh, "ok"

        key = {"method": "poisson", "depth": args.poisson_depth, "trim": args.poisson_trim, "seed": args.seed}
        result = evaluate_objects(produce, str(args.data), cache_key=key, **common)
    if not result["objects"]:
        raise ArgumentError(f"--split {args.split}: no objects to evaluate in {args.data}")

    names = {}
    try:
        import yaml

        meta = yaml.safe_load((Path(args.data) / "metadata.yaml").read_text()) or {}
        names = {k: str(v.get("name", k)) for k, v in meta.items() if isinstance(v, dict)}
    except (OSError, ValueError, AttributeError, ImportError):
        pass
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(result, names)
    header = (f"# {name} on {Path(args.data).resolve().name} / {args.split}\n\n"
              f"Protocol: ONet/ConvONet (docs/protocol.md): {N_INPUT_POINTS} input points, noise {INPUT_NOISE}; "
              f"metrics on 100k samples; Chamfer-L1 printed x10 (results.csv / results.json: unscaled); "
              f"mean = mean of class means; empty or missing meshes scored with ONet's worst values.\n\n")
    _write_text(out / "results.md", header + table + "\n")
    _write_text(out / "results.csv", objects_csv(result["objects"]))
    doc = {"name": name, **method, "settings": settings, "mean": result["mean"], "classes": result["classes"],
           "objects": result["objects"], "problems": result["problems"], "chamfer_l1": "unscaled",
           "aggregation": "mean of class means", "reused": result["reused"], "computed": result["computed"]}
    _write_text(out / "results.json", json.dumps(doc, indent=1, allow_nan=True) + "\n")
    if args.json:
        _write_text(Path(args.json), json.dumps(doc, indent=1, allow_nan=True) + "\n")
    print(table)
    n = len(result["objects"])
    say(f"{n} objects: {result['computed']} computed, {result['reused']} reused from {cache}; "
        f"{len(result['problems'])} empty/missing; {time.perf_counter() - t_start:.1f} s; wrote {out}/results.md, "
        f"results.csv, results.json")
    return 0


entrypoint = console_script(main)
