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

Three studies (--field): 'global' (the default: the transformer field over the MLP task network, on
datasets/synthetic, the figures above), 'local' (issue 13: the local U-Net field over the triplane task network
of configs/local_pc.yaml, on the SDF families of datasets/sdf, runs under runs/study_local, JSON
compute-study-local-pointcloud.json) and 'local_img' (the same for configs/local_img.yaml's image network on
datasets/synthetic120, runs under runs/study_local_img). The local studies score each budget by the trainer's own
validation IoU (every validation shape, 2,048 uniform points each, logged in the run's log.csv at that step)
instead of meshing every object: the MISE + 100k-sample protocol costs more CPU than the local runs themselves.
Their gradient-matching runs take configs/local_pc_gm.yaml's settings (a test keeps the two equal). The train
stage resumes a run that has a last checkpoint.
"""
from __future__ import annotations

import argparse
import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Study:
    """One compute study: its runs, data and how snapshots are scored (module docstring)."""

    name: str
    data: str               # the data set every run of the study trains and validates on
    runs: str               # folder of the runs
    inputs: dict            # input kind -> {'config', 'steps', 'budgets'}
    methods: dict           # objective -> --set overrides on the input's config
    curves: dict            # input kind -> the objectives of its curves
    gm_runs: tuple          # the gradient-matching runs the claim may take
    fit_args: list          # tools/fit_shapes.py arguments besides --data / --out
    scoring: str            # 'protocol' (evaluate_model on val) | 'trainer' (the trainer's validation IoU)
    extra_sets: tuple = ()  # overrides of every run of the study

    @property
    def fit_file(self) -> str:
        return f"{self.runs}/fit/weights.safetensors"

    def results_name(self, input_kind: str) -> str:
        return f"compute-study-{input_kind}" if self.name == "global" else f"compute-study-{self.name}-{input_kind}"


GLOBAL = Study(name="global", data=DATA, runs=RUNS, inputs=INPUTS, methods=METHODS, curves=STUDY_METHODS,
               gm_runs=GM_A_RUNS, fit_args=FIT_ARGS, scoring="protocol")

# The local field (issue 13): configs/local_pc.yaml's network on datasets/sdf. direct keeps its chosen settings
# (lr 5e-4, cosine); gm is configs/local_pc_gm.yaml, chosen by benchmarks/gm_ablation.py on runs of this length: the
# study links that run (runs/study_local/pointcloud-gm -> runs/gm_ablation/k1, same resolved config);
# weights regresses triplanes fitted per shape (fit_args: 100 Adam steps at lr 1e-2 on 50,000 queries, half near the
# surface as the training draws them: on 8 training shapes, IoU on 20,000 other points 0.88, where 4,096 queries give
# 0.45 at 100-300 steps and any lr in 1e-3..3e-2: a free triplane needs many points to generalise). Validation every
# 250 steps, so every budget's snapshot carries its IoU; the Phi(T, c) probe every 100.
LOCAL_GM = ["objective.kind=gradient_matching", "objective.variant=A", "objective.step_rule=sgd", "objective.eta=1.0",
            "objective.t_sampling=sqrt", "objective.normalize_loss=true", "objective.k_steps=1",
            "training.lr=1e-4", "training.lr_schedule=constant"]


def local_study(name: str, input_kind: str, config: str, data: str) -> Study:
    """A study of the local family: `config`'s network on `data`, 1,500 steps, the three objectives at the settings
    above, the weights' triplanes fitted with the same arguments, scored by the trainer's validation IoU."""
    runs = f"runs/study_{name}"
    return Study(
        name=name, data=data, runs=runs,
        inputs={input_kind: {"config": config, "steps": 1500, "budgets": [250, 500, 1000, 1500]}},
        methods={"direct": ["objective.kind=direct", "training.lr=5e-4", "training.lr_schedule=cosine"],
                 "gm": LOCAL_GM,
                 "weights": ["objective.kind=weights", f"objective.weights_path={runs}/fit/weights.safetensors",
                             "training.lr=5e-4", "training.lr_schedule=cosine"]},
        curves={input_kind: ("direct", "gm", "weights")}, gm_runs=("gm",),
        fit_args=["--config", config, "--steps", "100", "--lr", "1e-2", "--batch-points", "2048",
                  "--n-query-points", "50000", "--near-surface-fraction", "0.5", "--chunk", "64", "--split", "train",
                  "--seed", "0", "--theta0-seed", "0"],
        scoring="trainer", extra_sets=("training.validate_every=250", "training.probe_every=100"))


LOCAL = local_study("local", "pointcloud", "configs/local_pc.yaml", "datasets/sdf")
# The same for single images: configs/local_img.yaml's network on datasets/synthetic120 (the shipped local image
# model's data), gradient matching at the point-cloud study's chosen settings.
LOCAL_IMG = local_study("local_img", "image", "configs/local_img.yaml", "datasets/synthetic120")
STUDIES = {"global": GLOBAL, "local": LOCAL, "local_img": LOCAL_IMG}


def run_dir(input_kind: str, method: str, study: Study = GLOBAL) -> str:
    return f"{study.runs}/{input_kind}-{method}"


def overrides(input_kind: str, method: str, study: Study = GLOBAL) -> list[str]:
    """The --set overrides of one study run (on top of study.inputs[input_kind]['config'])."""
    spec = study.inputs[input_kind]
    budgets = ",".join(str(b) for b in spec["budgets"])
    return [*study.methods[method], f"training.max_steps={spec['steps']}", f"training.keep_steps=[{budgets}]",
            f"data.path={study.data}", *study.extra_sets]


def train_command(input_kind: str, method: str, study: Study = GLOBAL) -> list[str]:
    cmd = ["tools/train.py", "--config", study.inputs[input_kind]["config"], "--out",
           run_dir(input_kind, method, study), "--quiet"]
    for s in overrides(input_kind, method, study):
        cmd += ["--set", s]
    return cmd


def fit_command(study: Study = GLOBAL) -> list[str]:
    return ["tools/fit_shapes.py", "--data", study.data, "--out", study.fit_file, *study.fit_args]


def _run(cmd: list[str], threads: int) -> int:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    print("compute_study: " + " ".join(["python", *cmd]), file=sys.stderr)
    return subprocess.run([sys.executable, *cmd], cwd=REPO, env=env).returncode


# ----------------------------------------------------------------------------------------------------- compute


def study_config(input_kind: str, method: str, study: Study = GLOBAL):
    """The resolved Config of one study run, with absolute data paths (so it loads from any folder)."""
    from hnf3d.config import load_config

    sets = [*overrides(input_kind, method, study), f"data.path={REPO / study.data}"]
    if method == "weights":
        sets.append(f"objective.weights_path={REPO / study.fit_file}")
    return load_config(str(REPO / study.inputs[input_kind]["config"]), overrides=sets)


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


def step_seconds(input_kind: str, methods, repeats: int = 15, study: Study = GLOBAL) -> dict:
    """Seconds per training step of each method, and per shape and step of the per-shape fitting, measured side
    by side in this process (benchmarks._harness.time_interleaved: alternating rounds, median), so that a load
    that comes and goes on the machine hits every method alike. Data loading and validation are left out."""
    from benchmarks._harness import time_interleaved
    from hnf3d.data import ShapeNetDataset
    from hnf3d.training.fitting import fit_task_networks

    fns, trainers = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for m in methods:
                trainer = _trainer(study_config(input_kind, m, study), f"{tmp}/{m}")
                trainers.append(trainer)
                batch = first_batch(trainer)
                fns[m] = (lambda tr, b: lambda: tr.train_step(b))(trainer, batch)
            # one fitting chunk as tools/fit_shapes.py runs it (study.fit_args), 2 steps per call
            opt = dict(zip(study.fit_args[::2], study.fit_args[1::2]))
            chunk = int(opt["--chunk"])
            ds = ShapeNetDataset(str(REPO / study.data), split="train", n_input_points=1,
                                 n_query_points=int(opt["--n-query-points"]), img_size=None, seed=0,
                                 near_surface_fraction=float(opt.get("--near-surface-fraction", 0.0)))
            items = [ds[i] for i in range(chunk)]
            x = torch.stack([it["points"] for it in items]).float()
            occ = torch.stack([it["points.occ"] for it in items]).float()
            task = _fit_task_network(opt)
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


def _fit_task_network(opt: dict):
    """The task network tools/fit_shapes.py fits for these arguments (--config's, else the --hidden MLP)."""
    if "--config" in opt:
        from hnf3d.config import load_config
        from hnf3d.models.build import build_task_network

        return build_task_network(load_config(str(REPO / opt["--config"])))
    from hnf3d.models import TaskNetwork

    return TaskNetwork(n_frequencies=int(opt["--n-frequencies"]), hidden=tuple(int(h) for h in opt["--hidden"].split(",")))


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


def claim(methods: dict, gm_runs: tuple = GM_A_RUNS) -> dict:
    """The paper's claim on these curves (module docstring), in seconds and in FLOPs. gm_runs: the
    gradient-matching runs it may take (the one reaching the bar first)."""
    out = {}
    w, direct = methods.get("weights"), methods.get("direct")
    gms = {m: methods[m] for m in gm_runs if m in methods}
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


def matched_steps(methods: dict, gm_runs: tuple) -> dict:
    """Per budget, the validation IoU of each objective and gradient matching's gaps to direct and weights; and
    whether the task loss of Phi(T, c) on the probe batch fell in every logged window of each gm run."""
    rows = {}
    for name, run in methods.items():
        for p in run["points"]:
            rows.setdefault(p["step"], {})[name] = p["iou"]
    out = {"per_step": {str(step): row for step, row in sorted(rows.items())}}
    for gm in gm_runs:
        if gm not in methods:
            continue
        last = max(rows)
        for other in ("direct", "weights"):
            if other in rows[last]:
                out[f"{gm}_minus_{other}_at_{last}"] = rows[last][gm] - rows[last][other]
        out[f"{gm}_task_loss_at_T_falls_every_window"] = falls_every_window(methods[gm]["log"])
    return out


# ----------------------------------------------------------------------------------------------------- report


def evaluate_snapshots(input_kind: str, method: str, threads: int = 1, study: Study = GLOBAL) -> dict:
    """Score every kept snapshot of one run on the validation split: {step: (checkpoint metadata, result)}, result
    {'mean': {metric: value}, 'objects': n}. Scoring 'protocol': evaluate_model on each kept snapshot (cached per
    object under <runs>/eval-cache, so the report stage reuses this work); 'trainer': the validation IoU the
    trainer logged at each budget (IoU only; no snapshots needed)."""
    import torch

    from hnf3d.eval.protocol import evaluate_model
    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.training import load_checkpoint

    torch.set_num_threads(threads)
    folder = REPO / run_dir(input_kind, method, study)
    if study.scoring == "trainer":
        return _logged_scores(folder / "log.csv", input_kind, method, study)
    out = {}
    for step in study.inputs[input_kind]["budgets"]:
        path = folder / f"step_{step:06d}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: snapshot missing; run: python "
                                    f"{' '.join(train_command(input_kind, method, study))}")
        meta = load_checkpoint(path)[1]
        rec = Reconstructor.load(str(path), device="cpu")
        res = evaluate_model(rec, str(REPO / study.data), split="val", resolution=128,
                             cache_dir=REPO / study.runs / "eval-cache" / f"{input_kind}-{method}-{step}")
        out[step] = (meta, {"mean": res["mean"], "objects": len(res["objects"])})
    return out


def _logged_scores(log_csv: Path, input_kind: str, method: str, study: Study) -> dict:
    """Scoring 'trainer': per budget, the validation IoU and the seconds the run logged at that step (log.csv),
    in evaluate_snapshots' form."""
    import csv

    if not log_csv.is_file():
        raise FileNotFoundError(f"{log_csv}: missing; run: python {' '.join(train_command(input_kind, method, study))}")
    with open(log_csv, newline="") as fh:
        rows = {int(r["step"]): r for r in csv.DictReader(fh)}
    objects = _val_objects(input_kind, study)
    out = {}
    for step in study.inputs[input_kind]["budgets"]:
        row = rows.get(step)
        if row is None or not row.get("val_iou"):
            raise FileNotFoundError(f"{log_csv}: no validation IoU at step {step} (the run is shorter, or "
                                    "training.validate_every does not divide the budget)")
        meta = {"extra": {"seconds": float(row["seconds"]), "val_iou": float(row["val_iou"])}}
        out[step] = (meta, {"mean": {"iou": float(row["val_iou"])}, "objects": objects})
    return out


def _val_objects(input_kind: str, study: Study) -> int:
    """Number of shapes in the validation split of the study's data."""
    from hnf3d.data import ShapeNetDataset

    return len(ShapeNetDataset(str(REPO / study.data), split="val", n_input_points=1, n_query_points=1,
                               img_size=None))


def log_summary(log_csv: Path, window: int = 250) -> list[dict]:
    """The trainer's log.csv in windows of `window` steps: median loss and task loss (for gradient matching, the
    task loss at the sampled t: a divergence of the trajectory shows there first), the largest teacher step
    norm and, where the run probed (training.probe_every), the median task loss and IoU of Phi(T, c) on the fixed
    validation batch and the updates the divergence guard skipped."""
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
        if col("probe_task_loss"):
            entry["probe_task_loss_median"] = statistics.median(col("probe_task_loss"))
            entry["probe_iou_median"] = statistics.median(col("probe_iou"))
        if col("skipped"):
            entry["skipped"] = int(max(col("skipped")))
        out.append(entry)
    return out


def falls_every_window(log: list[dict], key: str = "probe_task_loss_median") -> bool | None:
    """Whether `key` is lower in every window of a `log_summary` than in the window before (None: not logged)."""
    values = [w[key] for w in log if key in w]
    if len(values) < 2:
        return None
    return all(b < a for a, b in zip(values, values[1:]))


def evaluate_run(input_kind: str, method: str, threads: int, fit: dict | None, timing: dict,
                 study: Study = GLOBAL) -> dict:
    """The curve of (compute, validation quality) points of one run, one per kept snapshot.

    seconds: `timing` (step_seconds: measured side by side) x steps, plus for `weights` the fitting's measured
    seconds per shape and step x shapes x fitting steps. The trainer's logged wall seconds (and fit_shapes') are
    kept as logged_*: they include data loading and validation, and whatever else the machine ran meanwhile."""
    sets = overrides(input_kind, method, study)
    per_step = step_flops(study_config(input_kind, method, study))
    is_w = method == "weights"
    fit_seconds = timing["fit_per_shape_step"] * fit["shapes"] * fit["steps"] if is_w else 0.0
    fit_flops = float(fit["flops"]) if is_w else 0.0
    points, objects = [], None
    for step, (meta, res) in evaluate_snapshots(input_kind, method, threads, study).items():
        objects = res["objects"]
        train_seconds = timing[method] * step
        points.append({"step": step, "train_seconds": train_seconds, "fit_seconds": fit_seconds,
                       "total_seconds": train_seconds + fit_seconds, "train_flops": per_step * step,
                       "fit_flops": fit_flops, "total_flops": per_step * step + fit_flops,
                       "logged_train_seconds": float(meta["extra"]["seconds"]),
                       "logged_fit_seconds": float(fit["wall_seconds"]) if is_w else 0.0,
                       "trainer_val_iou": meta["extra"].get("val_iou"),
                       **{k: float(res["mean"][k]) for k in METRICS if k in res["mean"]}})
        print(f"compute_study: {input_kind}-{method} step {step}: IoU {points[-1]['iou']:.3f}, "
              f"{points[-1]['total_seconds']:.0f} s", file=sys.stderr)
    folder = REPO / run_dir(input_kind, method, study)
    # where the run really is: a study may link a run made by another benchmark with the same resolved config
    # (the local study's gm run is benchmarks/gm_ablation.py's chosen one)
    return {"overrides": sets, "command": "python " + " ".join(train_command(input_kind, method, study)),
            "run_dir": os.path.relpath(os.path.realpath(folder), os.path.realpath(REPO)),
            "flops_per_step": per_step, "seconds_per_step": timing[method], "objects": objects, "points": points,
            "log": log_summary(REPO / run_dir(input_kind, method, study) / "log.csv")}


def plot(doc: dict, path: Path) -> None:
    """IoU and F@1% against total compute (seconds and FLOPs, log scale), one line per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = [(k, label) for k, label in (("iou", "IoU (val)"), ("fscore@0.01", "F@1% (val)"))
            if all(k in p for run in doc["methods"].values() for p in run["points"])]
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 3.5 * len(rows) + 0.5), constrained_layout=True,
                             squeeze=False)
    styles = {"gm_A": ("tab:blue", "o", "gradient matching A, lr 3e-4"),
              "gm_A_lr1e-4": ("tab:cyan", "o", "gradient matching A, lr 1e-4"), "direct": ("tab:green", "s", "direct"),
              "weights": ("tab:red", "^", "weights (fitting included)"),
              "gm": ("tab:blue", "o", "gradient matching A (configs/local_pc_gm.yaml)")}
    for row, (key, label) in enumerate(rows):
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
    fig.suptitle(f"Compute study ({doc.get('field', 'global')} field), {doc['input']} input, {doc['data']} "
                 f"validation split ({doc['objects']} objects); dotted: weights' fitting cost")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def report(input_kind: str, threads: int, study: Study = GLOBAL) -> Path:
    from hnf3d.training import load_checkpoint

    fit = None
    fit_path = REPO / study.fit_file
    if fit_path.is_file():
        fit = load_checkpoint(fit_path)[1]["fit_shapes"]["compute"]
    if fit is None:
        raise FileNotFoundError(f"{fit_path}: fitted weights missing; run: python {' '.join(fit_command(study))}")
    fit = {**fit, "steps": int(study.fit_args[study.fit_args.index("--steps") + 1])}
    torch.set_num_threads(threads)
    curves = study.curves[input_kind]
    timing = step_seconds(input_kind, curves, study=study)
    methods = {m: evaluate_run(input_kind, m, threads, fit, timing, study) for m in curves}
    protocol = ("hnf3d.eval.protocol.evaluate_model: ONet inputs, MISE 32->128, 100k samples, mean of class means"
                if study.scoring == "protocol" else
                "the validation IoU the trainer logged at that step: every validation shape, its 2048 uniform "
                "points.npz queries, occupancy probability > training.threshold, mean over shapes")
    doc = {"benchmark": "compute_study", "field": study.name, "input": input_kind, "data": study.data,
           "split": "val", "objects": max(run["objects"] for run in methods.values()),
           "protocol": protocol,
           "compute": {"seconds": "seconds per training step measured side by side in one process (median of "
                                  "interleaved rounds, %d thread(s)) x steps, + for weights the fitting's measured "
                                  "seconds per shape-step x shapes x steps; logged_*: the runs' own wall clocks"
                                  % threads,
                       "flops": "one training step counted with torch.utils.flop_counter's formulas x steps (+ fit_shapes' estimate)"},
           "timing": timing, "fit": fit, "fit_command": "python " + " ".join(fit_command(study)),
           "methods": methods, "claim": claim(methods, study.gm_runs),
           "environment": environment("cpu", ["torch", "numpy", "trimesh"])}
    if study.name != "global":  # the matched-step comparison issue 13 asks for
        doc["matched"] = matched_steps(methods, study.gm_runs)
    out = RESULTS / f"{study.results_name(input_kind)}.json"
    write_json_atomic(out, doc)
    plot(doc, REPO / "docs" / f"{study.results_name(input_kind).replace('-', '_')}.png")
    print(f"compute_study: wrote {out}; {doc['claim'].get('statement', doc['claim'].get('status'))}",
          file=sys.stderr)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="compute_study", description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=("fit", "train", "evaluate", "report", "commands"))
    p.add_argument("--field", choices=tuple(STUDIES), default="global", help="which study (module docstring)")
    p.add_argument("--input", choices=("pointcloud", "image"), default=None,
                   help="input kind (default: the study's first)")
    p.add_argument("--method", default=None, help="train / evaluate: the objective (the study's METHODS)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    args = p.parse_args(argv)
    study = STUDIES[args.field]
    args.input = args.input or next(iter(study.inputs))
    if args.input not in study.inputs:
        p.error(f"--input {args.input}: the {study.name} study has {', '.join(study.inputs)}")
    if args.method is not None and args.method not in study.methods:
        p.error(f"--method {args.method}: the {study.name} study has {', '.join(study.methods)}")
    if args.stage == "fit":
        return _run(fit_command(study), args.threads)
    if args.stage == "train":
        if args.method is None:
            p.error("train needs --method")
        if args.method == "weights" and not (REPO / study.fit_file).is_file():
            p.error(f"--method weights: {study.fit_file} missing; run the 'fit' stage first")
        # a run interrupted (or cut by a session's end) continues from its last checkpoint
        resume = ["--resume"] if (REPO / run_dir(args.input, args.method, study) / "last.safetensors").is_file() else []
        return _run([*train_command(args.input, args.method, study), *resume], args.threads)
    if args.stage == "evaluate":  # optional: score one run's snapshots now (report reuses the cache)
        if args.method is None:
            p.error("evaluate needs --method")
        try:
            evaluate_snapshots(args.input, args.method, args.threads, study)
        except FileNotFoundError as exc:
            print(f"compute_study: error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.stage == "commands":  # every training command, for docs and for running lanes by hand
        print("python " + " ".join(fit_command(study)))
        for kind in study.inputs:
            for method in study.methods:
                print("python " + " ".join(train_command(kind, method, study)))
        return 0
    try:
        report(args.input, args.threads, study)
    except FileNotFoundError as exc:
        print(f"compute_study: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
