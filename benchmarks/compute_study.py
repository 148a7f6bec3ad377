#!/usr/bin/env python
"""The compute study of issue 6: quality on the validation split against total training compute, per objective.

The seed paper's headline is that gradient matching reaches the quality of a hypernetwork trained on per-shape
fitted weights (`weights`) at several times less total compute, the per-shape fitting included. This script
trains every objective with the same architecture (the shipped models' configs), keeps model snapshots at a few
step budgets (training.keep_steps), scores each snapshot with the ONet protocol on the validation split
(hnf3d.eval.protocol.evaluate_model: 3000 noisy points or view 000, MISE 32 -> 128, 100k samples) and writes one
JSON per input kind plus a plot:

    PYTHONPATH=. python benchmarks/compute_study.py fit                       # weights' targets (once, both inputs)
    PYTHONPATH=. python benchmarks/compute_study.py train --input pointcloud --method gm_A   # one per method
    PYTHONPATH=. python benchmarks/compute_study.py evaluate --input pointcloud --method gm_A  # optional, cached
    PYTHONPATH=. python benchmarks/compute_study.py report --input pointcloud # -> results/compute-study-*.json

Stages are separate commands so two trainings can run side by side (one thread each on a 2-core machine:
`--threads 1`, the setting every figure here was measured with). Compute is counted two ways:

- seconds: each objective's seconds per training step, measured side by side in the report's process
  (`step_seconds`: interleaved rounds, median; data loading and validation left out) times the steps, plus,
  for `weights`, the fitting's measured seconds per shape and step times shapes times fitting steps. The runs'
  own wall clocks are kept too (logged_*), but they depend on whatever else the shared machine ran meanwhile;
- FLOPs: one real training step counted with torch.utils.flop_counter's formulas (`FlopCount`: matrix
  products, convolutions and attention, forward and backward) times the steps, plus the fitting's FLOP estimate
  (hnf3d.training.fitting) for `weights`.

The claim check (`claim` in the JSON): q = the best validation IoU `weights` reaches over its snapshots; C_w the
total compute of that snapshot; C_gm the compute at which gradient matching (variant A; of GM_A_RUNS the run that
gets there first) reaches q, interpolated linearly in log-compute between snapshots. The claim holds here when
C_gm exists and C_w / C_gm >= 2 ("several times").
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks._flops import FlopCount  # noqa: E402
from benchmarks._harness import environment, write_json_atomic  # noqa: E402

DATA = "datasets/synthetic"
RUNS = "runs/study"
FIT_FILE = f"{RUNS}/fit/weights.safetensors"
RESULTS = REPO / "benchmarks" / "results"

# Per input kind: the base config (the shipped model's architecture), the training length and the budgets kept.
INPUTS = {
    "pointcloud": {"config": "configs/default_pc.yaml", "steps": 1500, "budgets": [250, 500, 1000, 1500]},
    "image": {"config": "configs/default_img.yaml", "steps": 1000, "budgets": [250, 500, 1000]},
}
# Per objective: the settings each was chosen with (docs/gradient_matching.md, benchmarks/results/overfit.json).
METHODS = {
    "direct": ["objective.kind=direct", "training.lr=5e-4"],
    "gm_A": ["objective.kind=gradient_matching", "objective.variant=A", "objective.step_rule=sgd", "objective.eta=1.0",
             "objective.t_sampling=sqrt", "objective.normalize_loss=true", "training.lr=3e-4"],
    "gm_B": ["objective.kind=gradient_matching", "objective.variant=B", "objective.step_rule=sgd", "objective.eta=1.0",
             "objective.t_sampling=sqrt", "objective.normalize_loss=true", "training.lr=3e-4"],
    "weights": ["objective.kind=weights", f"objective.weights_path={FIT_FILE}", "training.lr=5e-4"],
    # gm_A at lr 3e-4 diverged after ~800 steps on the full training set (task loss at the sampled t 0.14 -> 129,
    # docs/benchmarks.md); the lesson "lower the field's lr as T grows" gives this second run
    "gm_A_lr1e-4": ["objective.kind=gradient_matching", "objective.variant=A", "objective.step_rule=sgd",
                    "objective.eta=1.0", "objective.t_sampling=sqrt", "objective.normalize_loss=true",
                    "training.lr=1e-4"],
}
# The study's curves per input (gm_B is in the comparison table only; the image runs came after the point-cloud
# ones and use only the objectives' chosen settings)
STUDY_METHODS = {"pointcloud": ("direct", "gm_A", "gm_A_lr1e-4", "weights"), "image": ("direct", "gm_A", "weights")}
GM_A_RUNS = ("gm_A", "gm_A_lr1e-4")  # the claim takes the gradient-matching A run that does best
# tools/fit_shapes.py for the `weights` targets: the task network of the configs above (64-64-64, 4 octaves).
FIT_ARGS = ["--steps", "300", "--lr", "1e-3", "--batch-points", "2048", "--n-query-points", "4096",
            "--hidden", "64,64,64", "--n-frequencies", "4", "--chunk", "64", "--split", "train", "--seed", "0",
            "--theta0-seed", "0"]
METRICS = ("iou", "fscore@0.01", "chamfer_l1", "normal_consistency")


def run_dir(input_kind: str, method: str) -> str:
    return f"{RUNS}/{input_kind}-{method}"


def overrides(input_kind: str, method: str) -> list[str]:
    """The --set overrides of one study run (on top of INPUTS[input_kind]['config'])."""
    spec = INPUTS[input_kind]
    budgets = ",".join(str(b) for b in spec["budgets"])
    return [*METHODS[method], f"training.max_steps={spec['steps']}", f"training.keep_steps=[{budgets}]",
            f"data.path={DATA}"]


def train_command(input_kind: str, method: str) -> list[str]:
    cmd = ["tools/train.py", "--config", INPUTS[input_kind]["config"], "--out", run_dir(input_kind, method),
           "--quiet"]
    for s in overrides(input_kind, method):
        cmd += ["--set", s]
    return cmd


def fit_command() -> list[str]:
    return ["tools/fit_shapes.py", "--data", DATA, "--out", FIT_FILE, *FIT_ARGS]


def _run(cmd: list[str], threads: int) -> int:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    print("compute_study: " + " ".join(["python", *cmd]), file=sys.stderr)
    return subprocess.run([sys.executable, *cmd], cwd=REPO, env=env).returncode


# ----------------------------------------------------------------------------------------------------- compute


def study_config(input_kind: str, method: str):
    """The resolved Config of one study run, with absolute data paths (so it loads from any folder)."""
    from hnf3d.config import load_config

    sets = [*overrides(input_kind, method), f"data.path={REPO / DATA}"]
    if method == "weights":
        sets.append(f"objective.weights_path={REPO / FIT_FILE}")
    return load_config(str(REPO / INPUTS[input_kind]["config"]), overrides=sets)


def _trainer(cfg, out_dir: str):
    """A Trainer of `cfg` on the CPU with one thread of work per step (the study's setting), writing to out_dir."""
    import dataclasses

    from hnf3d.training.trainer import Trainer

    cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, keep_steps=[], validate_every=0,
                                                                device="cpu"))
    return Trainer(cfg, out_dir=out_dir, progress=False)


def first_batch(trainer) -> dict:
    """The first cfg.training.batch_size shapes of the training split, collated as the trainer's loader does."""
    from hnf3d.data.transforms import collate

    return collate([trainer.train_set[i] for i in range(trainer.cfg.training.batch_size)])


def step_flops(cfg) -> float:
    """FLOPs of one real training step (forward and backward of the objective; the Adam update is not counted)
    of the run `cfg` describes, counted by `FlopCount` on the first batch of its training split."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(cfg, tmp)
        try:
            batch = first_batch(trainer)
            with FlopCount() as counter:
                trainer.train_step(batch)
        finally:
            trainer.close()
    return float(counter.total)


def step_seconds(input_kind: str, methods, repeats: int = 15) -> dict:
    """Seconds per training step of each method, and per shape and step of the per-shape fitting, measured side
    by side in this process (benchmarks._harness.time_interleaved: alternating rounds, median), so that a load
    that comes and goes on the machine hits every method alike. Data loading and validation are left out."""
    from benchmarks._harness import time_interleaved
    from hnf3d.data import ShapeNetDataset
    from hnf3d.models import TaskNetwork
    from hnf3d.training.fitting import fit_task_networks

    fns, trainers = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for m in methods:
                trainer = _trainer(study_config(input_kind, m), f"{tmp}/{m}")
                trainers.append(trainer)
                batch = first_batch(trainer)
                fns[m] = (lambda tr, b: lambda: tr.train_step(b))(trainer, batch)
            # one fitting chunk as tools/fit_shapes.py runs it (FIT_ARGS), 2 steps per call
            opt = dict(zip(FIT_ARGS[::2], FIT_ARGS[1::2]))
            chunk = int(opt["--chunk"])
            ds = ShapeNetDataset(str(REPO / DATA), split="train", n_input_points=1,
                                 n_query_points=int(opt["--n-query-points"]), img_size=None, seed=0)
            items = [ds[i] for i in range(chunk)]
            x = torch.stack([it["points"] for it in items]).float()
            occ = torch.stack([it["points.occ"] for it in items]).float()
            task = TaskNetwork(n_frequencies=int(opt["--n-frequencies"]),
                               hidden=tuple(int(h) for h in opt["--hidden"].split(",")))
            theta_0 = task.theta_0(int(opt["--theta0-seed"]))
            fns["fit"] = lambda: fit_task_networks(task, theta_0, x, occ, steps=2, lr=float(opt["--lr"]),
                                                   batch_points=int(opt["--batch-points"]), seed=0)
            res = time_interleaved(fns, repeats=repeats)
        finally:
            for trainer in trainers:
                trainer.close()
    for name, timing in res.items():
        if timing.error:
            raise RuntimeError(f"timing {name}: {timing.error}")
    out = {m: res[m].median_s for m in methods}
    out["fit_per_shape_step"] = res["fit"].median_s / (2 * chunk)
    return out


def interpolate_compute(points: list[dict], key: str, target: float, compute: str) -> float | None:
    """The compute at which the curve (sorted by compute) first reaches `target` in `key`, interpolated linearly in
    log-compute between the two snapshots around the crossing; None when it never does."""
    prev = None
    for p in sorted(points, key=lambda p: p[compute]):
        if p[key] >= target:
            if prev is None or prev[key] >= target or p[key] == target:
                return p[compute]
            f = (target - prev[key]) / (p[key] - prev[key])
            return math.exp(math.log(prev[compute]) + f * (math.log(p[compute]) - math.log(prev[compute])))
        prev = p
    return None


def claim(methods: dict) -> dict:
    """The paper's claim on these curves (module docstring), in seconds and in FLOPs."""
    out = {}
    w, direct = methods.get("weights"), methods.get("direct")
    gms = {m: methods[m] for m in GM_A_RUNS if m in methods}
    if not (w and gms):
        return {"status": "incomplete: needs the weights and a gradient matching A curve"}
    # the baseline's quality: its best snapshot (the earliest of equals), at that snapshot's compute
    best_w = max(sorted(w["points"], key=lambda p: p["step"]), key=lambda p: p["iou"])
    target = best_w["iou"]

    def rank(item):  # the run reaching the target soonest; failing that, the best IoU
        c = interpolate_compute(item[1]["points"], "iou", target, "total_seconds")
        return (0, c) if c is not None else (1, -max(p["iou"] for p in item[1]["points"]))

    gm_name, gm = min(gms.items(), key=rank)
    out["gm_A_run"] = gm_name
    out["weights_best_iou"] = target
    out["weights_best_step"] = best_w["step"]
    out["gm_A_best_iou"] = max(p["iou"] for p in gm["points"])
    if direct:
        out["direct_best_iou"] = max(p["iou"] for p in direct["points"])
    for compute in ("total_seconds", "total_flops"):
        c_w = best_w[compute]
        c_gm = interpolate_compute(gm["points"], "iou", target, compute)
        out[compute] = {"weights_total": c_w, "weights_fit_share": best_w[compute.replace("total", "fit")] / c_w,
                        "gm_A_to_reach_weights_iou": c_gm,
                        "ratio_weights_over_gm_A": None if c_gm is None else c_w / c_gm}
    # the highest quality both reach, and what each spent to first get there: "by how much" below the bar too
    q = min(out["gm_A_best_iou"], target)
    out["common"] = {"iou": q}
    for compute in ("total_seconds", "total_flops"):
        c_w = interpolate_compute(w["points"], "iou", q, compute)
        c_gm = interpolate_compute(gm["points"], "iou", q, compute)
        out["common"][compute] = {"weights": c_w, "gm_A": c_gm, "ratio_weights_over_gm_A": c_w / c_gm}
    common = (f"; at the highest validation IoU both reach ({q:.3f}) the weights baseline spends "
              f"{out['common']['total_seconds']['ratio_weights_over_gm_A']:.2f}x the seconds of gradient "
              f"matching A ({out['common']['total_flops']['ratio_weights_over_gm_A']:.2f}x the FLOPs)")
    ratio = out["total_seconds"]["ratio_weights_over_gm_A"]
    if ratio is None:
        out["holds"] = False
        out["statement"] = (f"does not hold at these budgets: gradient matching A ({gm_name}) reaches "
                            f"validation IoU {out['gm_A_best_iou']:.3f} at best, below the {target:.3f} of the "
                            f"weights baseline" + common)
    else:
        out["holds"] = ratio >= 2.0
        out["statement"] = (f"{'holds' if ratio >= 2.0 else 'does not hold (under 2x)'}: gradient matching A "
                            f"({gm_name}) reaches the weights baseline's validation IoU {target:.3f} at "
                            f"{ratio:.2f}x less total compute in seconds "
                            f"({out['total_flops']['ratio_weights_over_gm_A'] or float('nan'):.2f}x in FLOPs)")
    return out


# ----------------------------------------------------------------------------------------------------- report


def evaluate_snapshots(input_kind: str, method: str, threads: int = 1) -> dict:
    """Score every kept snapshot of one run on the validation split (cached per object under runs/study/
    eval-cache, so the report stage reuses this work): {step: (checkpoint metadata, evaluate_model result)}."""
    import torch

    from hnf3d.eval.protocol import evaluate_model
    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.training import load_checkpoint

    torch.set_num_threads(threads)
    folder = REPO / run_dir(input_kind, method)
    out = {}
    for step in INPUTS[input_kind]["budgets"]:
        path = folder / f"step_{step:06d}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: snapshot missing; run: python {' '.join(train_command(input_kind, method))}")
        rec = Reconstructor.load(str(path), device="cpu")
        res = evaluate_model(rec, str(REPO / DATA), split="val", resolution=128,
                             cache_dir=REPO / RUNS / "eval-cache" / f"{input_kind}-{method}-{step}")
        out[step] = (load_checkpoint(path)[1], res)
    return out


def log_summary(log_csv: Path, window: int = 250) -> list[dict]:
    """The trainer's log.csv in windows of `window` steps: median loss and task loss (for gradient matching, the
    task loss at the sampled t: a divergence of the trajectory shows there first) and the largest teacher step
    norm."""
    import csv
    import statistics

    with open(log_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for lo in range(0, len(rows), window):
        chunk = rows[lo:lo + window]

        def col(k):
            return [float(r[k]) for r in chunk if r.get(k) not in (None, "")]

        entry = {"first_step": int(chunk[0]["step"]), "last_step": int(chunk[-1]["step"]),
                 "loss_median": statistics.median(col("loss"))}
        if col("task_loss"):
            entry["task_loss_median"] = statistics.median(col("task_loss"))
        if col("step_norm"):
            entry["step_norm_max"] = max(col("step_norm"))
        out.append(entry)
    return out


def evaluate_run(input_kind: str, method: str, threads: int, fit: dict | None, timing: dict) -> dict:
    """The curve of (compute, validation quality) points of one run, one per kept snapshot.

    seconds: `timing` (step_seconds: measured side by side) x steps, plus for `weights` the fitting's measured
    seconds per shape and step x shapes x fitting steps. The trainer's logged wall seconds (and fit_shapes') are
    kept as logged_*: they include data loading and validation, and whatever else the machine ran meanwhile."""
    sets = overrides(input_kind, method)
    per_step = step_flops(study_config(input_kind, method))
    is_w = method == "weights"
    fit_seconds = timing["fit_per_shape_step"] * fit["shapes"] * fit["steps"] if is_w else 0.0
    fit_flops = float(fit["flops"]) if is_w else 0.0
    points, objects = [], None
    for step, (meta, res) in evaluate_snapshots(input_kind, method, threads).items():
        objects = len(res["objects"])
        train_seconds = timing[method] * step
        points.append({"step": step, "train_seconds": train_seconds, "fit_seconds": fit_seconds,
                       "total_seconds": train_seconds + fit_seconds, "train_flops": per_step * step,
                       "fit_flops": fit_flops, "total_flops": per_step * step + fit_flops,
                       "logged_train_seconds": float(meta["extra"]["seconds"]),
                       "logged_fit_seconds": float(fit["wall_seconds"]) if is_w else 0.0,
                       "trainer_val_iou": meta["extra"].get("val_iou"),
                       **{k: float(res["mean"][k]) for k in METRICS}})
        print(f"compute_study: {input_kind}-{method} step {step}: IoU {points[-1]['iou']:.3f}, "
              f"F@1% {points[-1]['fscore@0.01']:.3f}, {points[-1]['total_seconds']:.0f} s", file=sys.stderr)
    return {"overrides": sets, "command": "python " + " ".join(train_command(input_kind, method)),
            "flops_per_step": per_step, "seconds_per_step": timing[method], "objects": objects, "points": points,
            "log": log_summary(REPO / run_dir(input_kind, method) / "log.csv")}


def plot(doc: dict, path: Path) -> None:
    """IoU and F@1% against total compute (seconds and FLOPs, log scale), one line per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    styles = {"gm_A": ("tab:blue", "o", "gradient matching A, lr 3e-4"),
              "gm_A_lr1e-4": ("tab:cyan", "o", "gradient matching A, lr 1e-4"), "direct": ("tab:green", "s", "direct"),
              "weights": ("tab:red", "^", "weights (fitting included)")}
    for row, (key, label) in enumerate((("iou", "IoU (val)"), ("fscore@0.01", "F@1% (val)"))):
        for col, (compute, xlabel) in enumerate((("total_seconds", "total training compute [s, 1 CPU thread]"),
                                                 ("total_flops", "total training compute [FLOPs]"))):
            ax = axes[row][col]
            for method, run in doc["methods"].items():
                color, marker, name = styles.get(method, ("gray", "x", method))
                pts = sorted(run["points"], key=lambda p: p[compute])
                ax.plot([p[compute] for p in pts], [p[key] for p in pts], color=color, marker=marker, label=name)
                if method == "weights":  # where the fitting alone already puts the baseline
                    ax.axvline(pts[0][compute.replace("total", "fit")], color=color, ls=":", lw=1)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Compute study, {doc['input']} input, synthetic set validation split "
                 f"({doc['objects']} objects); dotted: weights' fitting cost")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def report(input_kind: str, threads: int) -> Path:
    from hnf3d.training import load_checkpoint

    fit = None
    fit_path = REPO / FIT_FILE
    if fit_path.is_file():
        fit = load_checkpoint(fit_path)[1]["fit_shapes"]["compute"]
    if fit is None:
        raise FileNotFoundError(f"{fit_path}: fitted weights missing; run: python {' '.join(fit_command())}")
    fit = {**fit, "steps": int(FIT_ARGS[FIT_ARGS.index("--steps") + 1])}
    torch.set_num_threads(threads)
    timing = step_seconds(input_kind, STUDY_METHODS[input_kind])
    methods = {m: evaluate_run(input_kind, m, threads, fit, timing) for m in STUDY_METHODS[input_kind]}
    doc = {"benchmark": "compute_study", "input": input_kind, "data": DATA, "split": "val",
           "objects": max(run["objects"] for run in methods.values()),
           "protocol": "hnf3d.eval.protocol.evaluate_model: ONet inputs, MISE 32->128, 100k samples, mean of class means",
           "compute": {"seconds": "seconds per training step measured side by side in one process (median of "
                                  "interleaved rounds, %d thread(s)) x steps, + for weights the fitting's measured "
                                  "seconds per shape-step x shapes x steps; logged_*: the runs' own wall clocks"
                                  % threads,
                       "flops": "one training step counted with torch.utils.flop_counter's formulas x steps (+ fit_shapes' estimate)"},
           "timing": timing, "fit": fit, "fit_command": "python " + " ".join(fit_command()), "methods": methods,
           "claim": claim(methods), "environment": environment("cpu", ["torch", "numpy", "trimesh"])}
    out = RESULTS / f"compute-study-{input_kind}.json"
    write_json_atomic(out, doc)
    plot(doc, REPO / "docs" / f"compute_study_{input_kind}.png")
    print(f"compute_study: wrote {out}; {doc['claim'].get('statement', doc['claim'].get('status'))}",
          file=sys.stderr)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="compute_study", description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=("fit", "train", "evaluate", "report", "commands"))
    p.add_argument("--input", choices=tuple(INPUTS), default="pointcloud")
    p.add_argument("--method", choices=tuple(METHODS), default=None, help="train: the objective to train")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    args = p.parse_args(argv)
    if args.stage == "fit":
        return _run(fit_command(), args.threads)
    if args.stage == "train":
        if args.method is None:
            p.error("train needs --method")
        if args.method == "weights" and not (REPO / FIT_FILE).is_file():
            p.error(f"--method weights: {FIT_FILE} missing; run the 'fit' stage first")
        return _run(train_command(args.input, args.method), args.threads)
    if args.stage == "evaluate":  # optional: score one run's snapshots now (report reuses the cache)
        if args.method is None:
            p.error("evaluate needs --method")
        try:
            evaluate_snapshots(args.input, args.method, args.threads)
        except FileNotFoundError as exc:
            print(f"compute_study: error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.stage == "commands":  # every training command, for docs and for running lanes by hand
        print("python " + " ".join(fit_command()))
        for kind in INPUTS:
            for method in METHODS:
                print("python " + " ".join(train_command(kind, method)))
        return 0
    try:
        report(args.input, args.threads)
    except FileNotFoundError as exc:
        print(f"compute_study: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
