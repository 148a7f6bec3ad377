"""Turn a training checkpoint into a shipped model: weights only, its config, and a model card with test metrics.

    python tools/export_model.py --checkpoint runs/default_pc/best.safetensors --name pointcloud \
        --data datasets/synthetic [--out-dir hnf3d/pretrained] [--limit N]
    hnf3d-export-model ...                     # the same, installed

Writes OUT_DIR/NAME.safetensors (model weights + the config and layout in the header; no optimizer or RNG
state), OUT_DIR/NAME.yaml (the resolved config), OUT_DIR/NAME.md (the model card: training data, objective,
steps, compute, metrics on the test split) and benchmarks/results/model-NAME.json (the metrics, per object).
Exit code 0, or 2 with a one-line message for a bad argument, checkpoint or data folder.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from .._checks import check_float, check_int
from ._common import (ArgumentError, Parser, check_input_dir, check_input_file, check_output_dir, check_output_file,
                      check_resolution, command, console_script)

PROG = "export_model"
ROOT = Path(__file__).resolve().parents[2]  # the repository (benchmarks/ lives there)
PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="training checkpoint (.safetensors of tools/train.py)")
    p.add_argument("--name", required=True, help="model name: pointcloud, image, ...")
    p.add_argument("--data", required=True, help="ONet-layout data set the model was trained on (test split)")
    p.add_argument("--out-dir", default=str(PRETRAINED), help="folder of the shipped model (default: "
                                                                 "hnf3d/pretrained)")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"),
                   help="folder of the metrics record model-NAME.json (default: benchmarks/results)")
    p.add_argument("--limit", type=int, default=None, help="test objects per category (default: all)")
    p.add_argument("--resolution", type=int, default=128, help="final MISE grid, 32 x 2^k (default 128)")
    p.add_argument("--threshold", type=float, default=None,
                   help="occupancy probability of the extracted surface, stored as the shipped model's "
                        "eval.threshold (default: the training config's)")
    p.add_argument("--refine-orient", choices=("tree", "field"), default=None,
                   help="how refinement orients a scan's normals, stored as eval.refine_orient (default: the "
                        "training config's)")
    p.add_argument("--refine-denoise-sides", choices=("on", "off"), default=None,
                   help="whether the smoothing's fits may keep to each point's side of the predicted surface, "
                        "stored as eval.refine_denoise_sides (default: the training config's)")
    for key, (kind, what) in REFINE_FLAGS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=kind, default=None,
                       help=f"{what}, stored as the shipped model's eval.{key} (default: the training config's)")
    p.add_argument("--refine-sigmas", type=float, nargs="+", default=None, metavar="SIGMA",
                   help="spreads of refinement's near-surface queries, stored as the shipped model's "
                        "eval.refine_sigmas (default: the training config's)")
    return p


# the numeric refinement settings a shipped model can be given (limits: reconstructor.REFINE_LIMITS)
REFINE_FLAGS = {"refine_lr": (float, "learning rate of test-time refinement"),
                "refine_prior": (float, "weight of refinement's pull towards the prediction"),
                "refine_shell": (float, "half-thickness labelled inside around a scan's points during refinement"),
                "refine_confidence": (float, "winding-number margin below which refinement drops a label, in "
                                             "[0, 0.45]"),
                "refine_surface": (float, "weight of refinement's points-on-the-boundary term"),
                "refine_roughness": (float, "weight of refinement's roughness term on the feature planes (a "
                                            "triplane task network only)"),
                "refine_roughness_scale": (float, "robust scale of the roughness term (0: squared second "
                                                  "differences)"),
                "refine_batch": (int, "labelled queries per refinement step"),
                "refine_denoise": (float, "radius of refinement's smoothing of the scan (0: none)"),
                "refine_denoise_k": (int, "most neighbours of each quadric fit of the smoothing"),
                "refine_denoise_noise": (float, "estimated scan noise below which the smoothing is skipped "
                                                "(0: always smooth)"),
                "refine_smooth": (float, "standard deviation of the Gaussian the refined logits are smoothed with "
                                         "before extraction (0: none)"),
                "refine_snap": (float, "radius within which the refined mesh's vertices move onto the scan (0: none)"),
                "refine_snap_k": (int, "most scan points of each quadric fit of the snap")}


def _split_counts(root: str, split: str) -> tuple[int, int]:
    """(objects, categories) listed in ROOT/<category>/<split>.lst."""
    lists = list(Path(root).glob(f"*/{split}.lst"))
    n = sum(len([x for x in f.read_text().split() if x]) for f in lists)
    return n, len(lists)


# the compute study of the local family for each input (benchmarks/compute_study.py --field local / local_img)
LOCAL_STUDY_RESULTS = {"pointcloud": "compute-study-local-pointcloud.json", "image": "compute-study-local_img-image.json"}


def _objective_evidence(cfg) -> str:
    """What the benchmarks say about the objectives, from their JSON: for a model of the local family the
    matched-step comparison of its input's local compute study (LOCAL_STUDY_RESULTS) when it exists, else the
    overfitting benchmark (benchmarks/results/overfit.json)."""
    local = ROOT / "benchmarks" / "results" / LOCAL_STUDY_RESULTS[cfg.data.input_type]
    if cfg.field.kind == "unet" and local.is_file():
        try:
            doc = json.loads(local.read_text())
            per_step = doc["matched"]["per_step"]
            last = max(per_step, key=int)
            names = {"gm": "gradient matching"}
            ious = ", ".join(f"{names.get(m, m)} {v:.3f}"
                             for m, v in sorted(per_step[last].items(), key=lambda kv: -kv[1]))
            return (f"validation IoU after {last} steps of each objective on the same network and data: {ious} "
                    f"({local.relative_to(ROOT)}; gradient matching within 0.01 of direct would have made it the "
                    f"shipped objective)")
        except (OSError, ValueError, KeyError) as exc:
            return f"({local.relative_to(ROOT)} unreadable: {exc})"
    path = ROOT / "benchmarks" / "results" / "overfit.json"
    try:
        records = json.loads(path.read_text())["records"]
        sys.path.insert(0, str(ROOT))
        from benchmarks.overfit import CHOSEN

        best = {kind: next(r for r in records if r["name"] == name and r.get("queries_per_shape") == 16384)
                for kind, name in CHOSEN.items()}
    except (OSError, ValueError, KeyError, StopIteration, ImportError) as exc:
        return f"(benchmarks/results/overfit.json unreadable: {exc})"
    return ", ".join(f"{r['name']} IoU {r['iou']:.3f}" for r in best.values()) + \
        " on the overfitting benchmark (benchmarks/results/overfit.json)"


def _load_name(name: str) -> str:
    """The shortest shipped name (hnf3d.pipeline.reconstructor.PRETRAINED) of the model file `name`, or its path."""
    from ..pipeline.reconstructor import PRETRAINED

    names = sorted((k for k, v in PRETRAINED.items() if v == name), key=len)
    return names[0] if names else f"hnf3d/pretrained/{name}.safetensors"


def _output(cfg) -> str:
    """What the field predicts, in words, for either model family."""
    tn = cfg.task_network
    if tn.kind == "triplane":
        return (f"the weights of a local task network: 3 feature planes of {tn.channels} x {tn.resolution} x "
                f"{tn.resolution} and a decoder MLP {tn.hidden} on their bilinear features and a positional "
                f"encoding (L={tn.n_frequencies})")
    return f"the weights of a task network (positional encoding L={tn.n_frequencies}, MLP {tn.hidden})"


def _architecture(cfg) -> str:
    e, f = cfg.encoder, cfg.field
    if f.kind == "unet":
        how = ("queried from the image's ResNet tokens by cross-attention" if e.kind == "local_resnet"
               else "pooled from the points' features")
        return (f"encoder `{e.kind}` (hidden {e.hidden}, {e.plane_channels}-channel planes {how}, global code "
                f"{e.c_dim}); field: a t-modulated 2D U-Net over the planes (width {f.width}, {f.depth} "
                f"resolutions, conditioning {f.cond_dim}) and an MLP head for the decoder")
    return (f"encoder `{e.kind}` (c_dim {e.c_dim}, hidden {e.hidden}); hypernetwork field width {f.width}, "
            f"depth {f.depth}, heads {f.heads}")


def _starting_weights(path) -> dict | None:
    """{'step', 'minutes'} of the checkpoint a fine-tuned model started from (training.init_from), read from its
    metadata; None when the model was not fine-tuned or that file is not here any more."""
    from ..io.checkpoint import load_checkpoint

    if not path:
        return None
    try:
        _, meta = load_checkpoint(path)
    except (OSError, ValueError):
        return None
    extra = meta.get("extra") or {}
    return {"step": meta.get("step"), "minutes": float(extra.get("seconds") or float("nan")) / 60}


def evaluation_settings(cfg) -> str:
    """The model card's sentence on a model's `eval` settings: threshold and test-time refinement."""
    ev = cfg.eval
    if cfg.data.input_type == "image":
        return f"surface at occupancy {ev.threshold}; no test-time refinement (an image has no points to fit)."
    orient = "the prediction (field)" if ev.refine_orient == "field" else "a spanning tree"
    smoothing = "no smoothing."
    if ev.refine_denoise:
        smoothing = (f"the scan first smoothed by quadric fits within {ev.refine_denoise:g} (at most "
                     f"{ev.refine_denoise_k} neighbours"
                     + (f"; only when its estimated noise is at least {ev.refine_denoise_noise:g}"
                        if ev.refine_denoise_noise else "")
                     + ("; a fit keeps to the point's side of the predicted surface where that fits far better"
                        if ev.refine_denoise_sides else "") + ").")
    return (f"surface at occupancy {ev.threshold}; test-time refinement with Adam lr {ev.refine_lr}, normals "
            f"oriented by {orient}, pull towards the prediction {ev.refine_prior:g}, shell around the points "
            f"labelled inside {ev.refine_shell:g}, "
            + (f"winding-number labels within {ev.refine_confidence:g} of 1/2 dropped, "
               if ev.refine_confidence else "")
            + f"surface term {ev.refine_surface:g}, "
            + (f"roughness term {ev.refine_roughness:g}"
               + (f" (robust, scale {ev.refine_roughness_scale:g})" if ev.refine_roughness_scale else "") + ", "
               if ev.refine_roughness else "")
            + f"{ev.refine_batch} queries per step, near-surface queries "
            f"spread by {', '.join(f'{x:g}' for x in ev.refine_sigmas)}, {smoothing}"
            + (f" The refined logits are smoothed by a Gaussian of {ev.refine_smooth:g} before extraction."
               if ev.refine_smooth else "")
            + (f" After extraction the mesh's vertices with scan points all around move onto quadric fits of "
               f"the points within {ev.refine_snap:g} (at most {ev.refine_snap_k} points)."
               if ev.refine_snap else ""))


def _card(name: str, cfg, meta: dict, metrics: dict, size_mb: float, ckpt: str, data: str) -> str:
    extra = meta["extra"]
    t = cfg.training
    o = cfg.objective
    objective = o.kind if o.kind != "gradient_matching" else f"gradient matching, variant {o.variant}"
    roots = [data] + list(cfg.data.extra_paths or [])  # extra_paths: further roots whose splits joined training
    counts = [_split_counts(r, cfg.data.train_split) for r in roots]
    n_train, n_cat = sum(n for n, _ in counts), sum(c for _, c in counts)
    sets = " + ".join(f"`{r}` ({n} shapes)" for r, (n, _) in zip(roots, counts)) if len(roots) > 1 else f"`{data}`"
    minutes = extra.get("seconds", float("nan")) / 60
    start, compute = _starting_weights(t.init_from), f"{minutes:.0f} min of training"
    if start is not None:  # a fine-tuned model: its compute includes the training of the weights it started from
        compute = (f"{minutes:.0f} min of fine-tuning after {start['minutes']:.0f} min of training the starting "
                   f"weights ({minutes + start['minutes']:.0f} min in all)")
    lines = [
        f"# Model card: `{name}` (hnf3d {cfg.data.input_type} model, {cfg.task_network.kind} task network)",
        "",
        f"- **File**: `hnf3d/pretrained/{name}.safetensors` ({size_mb:.1f} MB, safetensors; config in "
        f"`{name}.yaml`). Load with `hnf3d.Reconstructor.load(\"{_load_name(name)}\")`.",
        f"- **Input**: {'a single RGB image of one object (' + str(cfg.data.img_size) + ' px, white background)' if cfg.data.input_type == 'image' else 'a point cloud (3000 points seen by the encoder; any units: normalised to the unit box and back)'}.",
        f"- **Output**: {_output(cfg)} = Phi(T, c); a mesh by hierarchical extraction.",
        f"- **Architecture**: {_architecture(cfg)}, T = {cfg.field.T}.",
        f"- **Objective**: {objective}, the best one the project's benchmark shows: {_objective_evidence(cfg)}.",
        f"- **Training data**: the project's procedural synthetic set ({sets}, split "
        f"`{cfg.data.train_split}`: {n_train} shapes of {n_cat} categories; built by the commands in "
        f"datasets/README.md). No ShapeNet or other third-party data."
        + (f" {cfg.data.scan_fraction:.0%} of the training items get a simulated partial scan as input (1 to 6 "
           "views, range noise, sometimes a part missing: hnf3d.data.partial_scan, `data.scan_fraction`)."
           if cfg.data.scan_fraction else ""),
        f"- **Training**: `python tools/train.py --config configs/{cfg.name}.yaml` "
        f"(batch {t.batch_size}, lr {t.lr}, seed {t.seed}); this checkpoint is step **{meta['step']}** "
        f"(best validation IoU {extra.get('val_iou', float('nan')):.3f}, from `{ckpt}`)"
        + (f", fine-tuned from the weights of `{t.init_from}` (`training.init_from`; step {start['step']})."
           if start is not None else "."),
        f"- **Compute**: {compute} on a 2-core CPU "
        f"({platform.processor() or platform.machine()}, torch CPU build), no GPU.",
        f"- **Evaluation settings** (its `eval` config): {evaluation_settings(cfg)}",
        "",
        "## Metrics on the synthetic test split",
        "",
        f"ONet/ConvONet protocol (hnf3d.eval.protocol): {'view 000' if cfg.data.input_type == 'image' else '3000 input points, noise 0.005'}, "
        f"MISE 32 to {metrics['settings']['resolution']}, threshold {metrics['threshold']}, 100k samples; mean of "
        f"class means. Chamfer-L1 is printed x10 (as papers do); the JSON holds it unscaled. "
        f"Numbers: `benchmarks/results/model-{name}.json`, written by tools/export_model.py.",
        "",
        "| category | n | IoU | Chamfer-L1 x10 | normal consistency | F@1% |",
        "|---|---|---|---|---|---|",
    ]
    for cat, m in metrics["classes"].items():
        lines.append(f"| {cat} | {m['n']} | {m['iou']:.3f} | {10 * m['chamfer_l1']:.3f} | "
                     f"{m['normal_consistency']:.3f} | {m['fscore@0.01']:.3f} |")
    m = metrics["mean"]
    lines.append(f"| **mean of class means** | {len(metrics['objects'])} | **{m['iou']:.3f}** | "
                 f"**{10 * m['chamfer_l1']:.3f}** | **{m['normal_consistency']:.3f}** | **{m['fscore@0.01']:.3f}** |")
    lines += [
        "",
        "## Intended use and limits",
        "",
        f"- A small model, trained in {minutes + (start['minutes'] if start else 0):.0f} min on a 2-core CPU so that it "
        "can ship in the repository "
        "(< 25 MB): it knows the procedural categories, not real-world shape detail. "
        + ("Expect a coarse shape for an object unlike them; for a scan, the point-cloud model with test-time "
           "refinement (`--refine 300`) follows the points themselves."
           if cfg.data.input_type == "image" else
           "For scans unlike them, use test-time refinement (`--refine 300`), which fits the task network to the "
           "scan itself."),
        "- Not comparable with published ShapeNet numbers: different (synthetic) data. Train on ShapeNet with "
        "configs/shapenet_*.yaml for that.",
    ]
    return "\n".join(lines) + "\n"


def _check(args) -> tuple[Path, Path]:
    """Check every argument and output path before the evaluation: (out_dir, results)."""
    from ..io.checkpoint import checkpoint_path

    if args.threshold is not None:
        check_float("--threshold", args.threshold, min_value=0.0, max_value=1.0, open_interval=True)
    from ..pipeline.reconstructor import check_refine_setting, check_refine_sigmas

    for key in REFINE_FLAGS:
        if getattr(args, key) is not None:
            check_refine_setting(f"--{key.replace('_', '-')}", key, getattr(args, key))
    if args.refine_sigmas is not None:
        args.refine_sigmas = list(check_refine_sigmas("--refine-sigmas", args.refine_sigmas))

    ckpt = check_input_file("--checkpoint", checkpoint_path(args.checkpoint) if args.checkpoint else "")
    if not args.name or not args.name.replace("-", "_").replace(".", "_").isidentifier():
        raise ArgumentError(f"--name: expected a model name of letters, digits, '-', '_' (e.g. pointcloud), "
                            f"got {args.name!r}")
    if args.limit is not None:
        check_int("--limit", args.limit, min_value=1)
    check_resolution("--resolution", args.resolution)
    check_input_dir("--data", args.data)
    out_dir, results = Path(args.out_dir), Path(args.results)
    for flag, folder in (("--out-dir", out_dir), ("--results", results)):
        if not folder.is_dir():
            raise ArgumentError(f"{flag} {folder}: folder does not exist")
        check_output_dir(flag, folder)
    for suffix in (".safetensors", ".yaml", ".md"):  # the shipped model must not overwrite the training run
        check_output_file("--name", out_dir / f"{args.name}{suffix}", inputs=[ckpt])
    check_output_file("--name", results / f"model-{args.name}.json", inputs=[ckpt])
    return out_dir, results


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    out_dir, results = _check(args)

    from ..config import save_config
    from ..eval.protocol import evaluate_model
    from ..io import atomic_write
    from ..io.checkpoint import load_checkpoint, save_checkpoint
    from ..pipeline.reconstructor import Reconstructor

    tensors, meta = load_checkpoint(args.checkpoint)
    rec = Reconstructor.load(args.checkpoint, device="cpu")
    sides = None if args.refine_denoise_sides is None else args.refine_denoise_sides == "on"
    chosen = {"threshold": args.threshold, "refine_orient": args.refine_orient, "refine_sigmas": args.refine_sigmas,
              "refine_denoise_sides": sides,
              **{key: getattr(args, key) for key in REFINE_FLAGS}}
    if any(v is not None for v in chosen.values()):
        from ..config import config_from_dict, config_to_dict

        data = config_to_dict(rec.config)
        for key, value in chosen.items():
            if value is not None:
                data["eval"][key] = value
        rec.config = config_from_dict(data, source="--threshold / --refine-*")
        meta["extra"]["config"] = config_to_dict(rec.config)  # the shipped file's embedded config = its YAML
    metrics = evaluate_model(rec, args.data, split=rec.config.data.test_split, resolution=args.resolution,
                             limit=args.limit, progress=True)
    metrics["threshold"] = rec.config.eval.threshold
    weights = {k: v for k, v in tensors.items() if k.startswith("model.")}
    shipped_meta = {"step": meta["step"], "extra": {k: meta["extra"][k] for k in
                                                    ("config", "layout", "val_iou", "seconds", "best_iou")
                                                    if k in meta["extra"]},
                    "optimizer": None, "rng": {}}
    model_file = out_dir / f"{args.name}.safetensors"
    save_checkpoint(model_file, tensors=weights, metadata=shipped_meta)
    save_config(rec.config, out_dir / f"{args.name}.yaml")
    size_mb = model_file.stat().st_size / 1e6
    card = _card(args.name, rec.config, meta, metrics, size_mb, Path(args.checkpoint).as_posix(), args.data)
    with atomic_write(out_dir / f"{args.name}.md") as f:
        f.write(card.encode())
    record = {"model": args.name, "checkpoint": Path(args.checkpoint).as_posix(), "step": meta["step"],
              "size_mb": size_mb, "command": "python tools/export_model.py " + " ".join(argv or sys.argv[1:]),
              **metrics}
    with atomic_write(results / f"model-{args.name}.json") as f:
        f.write(json.dumps(record, indent=1).encode())
    m = metrics["mean"]
    print(f"{PROG}: {model_file} ({size_mb:.1f} MB), test IoU {m['iou']:.3f}, Chamfer-L1 x10 "
          f"{10 * m['chamfer_l1']:.3f}, NC {m['normal_consistency']:.3f}, F@1% {m['fscore@0.01']:.3f}")
    return 0


entrypoint = console_script(main)
