#!/usr/bin/env python
"""Overfitting experiment: can each objective fit Phi(T, c) to 8 procedural shapes from point-cloud input?

    PYTHONPATH=. python benchmarks/overfit.py [--configs direct,gm_A_eta1_T1000_lr3e-4_2k,...] [--threads 1]
                                              [--steps N] [--out benchmarks/results/overfit.json]

Data: one shape of each of 8 procedural categories (seed 0), normalised to the unit box; per shape 16,384 fixed
training queries (half uniform in [-0.55, 0.55]^3, half near the surface, sigma 0.01), 512 exposed-surface input
points, and 20,000 separate uniform evaluation points; labels from hnf3d.ops.occupancy. Model: ResnetPointNet
(c_dim 64, hidden 64, 3 blocks) -> HyperNetField (width 64, depth 2, heads 4) -> TaskNetwork (hidden 64x3).
Each step: all 8 shapes, a fresh subsample of `points` queries per shape, one Adam step on encoder + field.
Reported: IoU of the task network at Phi(T, c) on the evaluation points (logit > 0), mean over the 8 shapes,
and for gradient matching the IoU of the "teacher": the real optimiser (same eta and step rule) run from
theta_0 for T steps on the same queries (hnf3d.training.fitting.fit_task_networks).
Writes JSON (one record per configuration) and prints a table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

CATEGORIES = ("chair", "table", "bench", "lamp", "airplane", "car", "sofa", "cabinet")


@dataclass(frozen=True)
class Config:
    name: str
    objective: str = "direct"       # 'direct' | 'gm'
    variant: str = "A"
    eta: float = 1.0
    T: int = 50
    step_rule: str = "sgd"
    t_sampling: str = "sqrt"
    lr: float = 1e-3
    steps: int = 300
    points: int = 1024
    seed: int = 0


def _cfgs() -> dict[str, Config]:
    out = [Config("direct", "direct", lr=1e-3, steps=1500)]
    for T, eta in ((50, 1.0), (200, 1.0), (1000, 1.0), (200, 3.0), (200, 10.0)):
        out.append(Config(f"gm_A_eta{eta:g}_T{T}", "gm", "A", eta, T, steps=1200, lr=1e-3))
    out.append(Config("gm_A_eta1_T1000_lr3e-4", "gm", "A", 1.0, 1000, steps=1200, lr=3e-4))
    out.append(Config("gm_A_eta1_T1000_lr3e-4_2k", "gm", "A", 1.0, 1000, steps=2000, lr=3e-4))
    out.append(Config("gm_B_eta1_T1000", "gm", "B", 1.0, 1000, steps=1200, lr=1e-3))
    out.append(Config("gm_B_eta1_T1000_lr3e-4_2k", "gm", "B", 1.0, 1000, steps=2000, lr=3e-4))
    return {c.name: c for c in out}


CONFIGS = _cfgs()

# The settings tests/training/test_overfit.py runs, and the IoU each must reach (docs/gradient_matching.md).
# The targets: direct >= 0.85, gradient matching >= 0.75 (measured: 0.892 and 0.878).
CHOSEN = {"direct": "direct", "gm": "gm_A_eta1_T1000_lr3e-4_2k"}
TARGETS = {"direct": 0.85, "gm": 0.75}
DEFAULT_RUN = ("direct", "gm_A_eta1_T1000_lr3e-4_2k", "gm_B_eta1_T1000_lr3e-4_2k")


def make_data(n_query: int = 16384, n_input: int = 512, n_eval: int = 20000, seed: int = 0) -> dict:
    """The fixed 8-shape data set as tensors: inputs (8, n_input, 3), x (8, n_query, 3), occ, x_eval, occ_eval."""
    from hnf3d.data.procedural import make_shape
    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.ops import occupancy, sample_exposed_surface, sample_near_surface, sample_uniform

    inputs, xs, occs, xe, oe = [], [], [], [], []
    for i, cat in enumerate(CATEGORIES):
        mesh = make_shape(cat, seed)
        v = np.asarray(mesh.vertices, dtype=np.float64)
        f = np.asarray(mesh.faces, dtype=np.int64)
        v = unit_box_normalization(v).apply(v)
        s = 1000 * (seed + 1) + 10 * i
        inputs.append(sample_exposed_surface(v, f, n_input, seed=s).points.float())
        q = torch.cat([sample_uniform(n_query // 2, half_extent=0.55, seed=s + 1),
                       sample_near_surface(v, f, n_query - n_query // 2, sigma=0.01, seed=s + 2).float()], 0)
        xs.append(q)
        occs.append(occupancy(v, f, q).float().cpu())
        e = sample_uniform(n_eval, half_extent=0.55, seed=s + 3)
        xe.append(e)
        oe.append(occupancy(v, f, e).float().cpu())
    return {"inputs": torch.stack(inputs), "x": torch.stack(xs), "occ": torch.stack(occs),
            "x_eval": torch.stack(xe), "occ_eval": torch.stack(oe)}


def iou(task_net, theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor) -> list[float]:
    """Per-shape IoU of {f(x; theta_s) > 0} against occ > 0.5."""
    with torch.no_grad():
        pred = task_net(x, theta) > 0
    gt = occ > 0.5
    inter = (pred & gt).sum(1).double()
    union = (pred | gt).sum(1).double()
    return (inter / union.clamp_min(1)).tolist()


def build(cfg: Config, seed: int):
    from hnf3d.models import HyperNetField, ResnetPointNet, TaskNetwork
    torch.manual_seed(seed)
    task = TaskNetwork(hidden=(64, 64, 64))
    theta_0 = task.theta_0(seed)
    enc = ResnetPointNet(c_dim=64, hidden=64, n_blocks=3)
    field = HyperNetField(task.param_layout(), theta_0, c_dim=64, T=cfg.T, width=64, depth=2, heads=4)
    return task, theta_0, enc, field


def teacher_run(task, theta_0, data, T, eta, step_rule, points, seed) -> torch.Tensor:
    """The real optimiser the field imitates: T steps theta <- theta - eta * step(g) from theta_0, per shape,
    a fresh subsample of `points` queries per step (the same step rules as the gradient-matching targets)."""
    from hnf3d.training.objectives import per_sample_gradients, step
    S, N = data["x"].shape[:2]
    rows = torch.arange(S).unsqueeze(1)
    gen = torch.Generator().manual_seed(seed + 2)
    th = theta_0.expand(S, -1).clone()
    for _ in range(T):
        idx = torch.rand(S, N, generator=gen).argsort(dim=1)[:, :points]
        g = per_sample_gradients(task, th, data["x"][rows, idx], data["occ"][rows, idx])
        th = th - eta * step(g, step_rule)
    return th


def run(cfg: Config, data: dict, *, teacher: bool = True, log_every: int = 0) -> dict:
    """Train one configuration; return its record (IoUs, seconds, ...). Seeded and deterministic."""
    from hnf3d.training.objectives import direct_loss, gradient_matching_loss

    torch.manual_seed(cfg.seed)
    task, theta_0, enc, field = build(cfg, cfg.seed)
    params = list(enc.parameters()) + list(field.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    S, N = data["x"].shape[:2]
    rows = torch.arange(S).unsqueeze(1)
    history = []
    t0 = time.perf_counter()
    for it in range(cfg.steps):
        idx = torch.rand(S, N, generator=gen).argsort(dim=1)[:, :cfg.points]
        xb, ob = data["x"][rows, idx], data["occ"][rows, idx]
        c = enc(data["inputs"])
        if cfg.objective == "direct":
            loss, stats = direct_loss(field, task, c, xb, ob)
        else:
            loss, stats = gradient_matching_loss(field, task, c, xb, ob, variant=cfg.variant, eta=cfg.eta,
                                                 t_sampling=cfg.t_sampling, step_rule=cfg.step_rule,
                                                 normalize_loss=True, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (it % log_every == 0 or it == cfg.steps - 1):
            history.append((it, float(stats["loss"]), float(stats["task_loss"])))
            print(f"  [{cfg.name}] step {it} loss {history[-1][1]:.4f} task {history[-1][2]:.4f}",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        c = enc(data["inputs"])
        theta_T = field(torch.full((S,), float(cfg.T)), c)
    ious = iou(task, theta_T, data["x_eval"], data["occ_eval"])
    rec = {**asdict(cfg), "iou": float(np.mean(ious)), "iou_per_shape": ious, "seconds": seconds,
           "iou_theta_0": float(np.mean(iou(task, theta_0.expand(S, -1), data["x_eval"], data["occ_eval"]))),
           "history": history}
    if teacher and cfg.objective == "gm":
        th = teacher_run(task, theta_0, data, cfg.T, cfg.eta, cfg.step_rule, cfg.points, cfg.seed)
        rec["teacher_iou"] = float(np.mean(iou(task, th, data["x_eval"], data["occ_eval"])))
    return rec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default=",".join(DEFAULT_RUN),
                   help=f"comma-separated names (default: {','.join(DEFAULT_RUN)}); known: {','.join(CONFIGS)}")
    p.add_argument("--steps", type=int, default=None, help="override the number of field updates")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "overfit.json"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seeds", default=None,
                   help="comma-separated seeds of the field and of t (default: each config's own); every config "
                        "runs once per seed (the acceptance test averages seeds 0, 1, 2)")
    p.add_argument("--no-teacher", action="store_true", help="skip the real optimiser's run (teacher IoU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"overfit: unknown configs {unknown}; known: {list(CONFIGS)}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    data = make_data()
    print(f"data: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    records = []
    seeds = None if args.seeds is None else [int(x) for x in args.seeds.split(",") if x]
    for n in names:
        for seed in seeds or [CONFIGS[n].seed]:
            cfg = replace(CONFIGS[n], seed=seed)
            cfg = cfg if args.steps is None else replace(cfg, steps=args.steps)
            rec = run(cfg, data, teacher=not args.no_teacher, log_every=args.log_every)
            records.append(rec)
            print(f"{n:>22}  seed {seed}  IoU {rec['iou']:.3f}  teacher {rec.get('teacher_iou', float('nan')):.3f}  "
                  f"steps {cfg.steps}  {rec['seconds']:.1f} s", flush=True)
    print("\n| config | objective | variant | eta | T | steps | IoU Phi(T,c) | teacher IoU | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in records:
        tch = f"{r['teacher_iou']:.3f}" if "teacher_iou" in r else "-"
        print(f"| {r['name']} | {r['objective']} | {r['variant'] if r['objective'] == 'gm' else '-'} | "
              f"{r['eta']:g} | {r['T']} | {r['steps']} | {r['iou']:.3f} | {tch} | {r['seconds']:.1f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "overfit", "threads": torch.get_num_threads(),
                               "records": records}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
