"""Compare the learned trajectory Phi(t, c) with the real optimiser's trajectory ("teacher") on training shapes.

    python tools/trajectory.py --checkpoint RUN/best.safetensors [--shapes 4] [--points N] [--every K]
                               [--out traj.json] [--device cpu]
    hnf3d-trajectory ...                       # the same, installed

For the first --shapes items of the training split (config inside the checkpoint), c = encoder(inputs); the
teacher starts at theta_0 and takes T = field.T steps of the objective's rule,
theta <- theta - eta * step(g, step_rule), g the per-sample gradient of the task loss on the item's query points
(the first --points of them; default all): exactly the update gradient matching imitates. All shapes run batched.
At t = 0, K, 2K, ..., T (and T itself) it reports the absolute distance ||Phi(t,c) - theta_teacher(t)||, the
relative distance (divided by ||theta_teacher(t) - theta_0||; null at t = 0 where that is 0), the IoU of
Phi(t, c) and of theta_teacher(t) on the query points (logit > 0 vs labels), and both task losses; per shape and
averaged over shapes. Prints a table, writes JSON atomically (hnf3d.io.atomic_write).
Exit 0 on success, 2 on bad arguments or a bad checkpoint (a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ._common import Parser, check_input_file, check_output_file, command, console_script

PROG = "trajectory"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="trainer checkpoint (.safetensors)")
    p.add_argument("--shapes", type=int, default=4, help="first training shapes to use (default 4)")
    p.add_argument("--points", type=int, default=None, help="query points per shape (default: all of the item's)")
    p.add_argument("--every", type=int, default=None, help="report every K steps (default max(1, T // 20))")
    p.add_argument("--out", default=None, help="JSON output (default: traj.json beside the checkpoint)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no table")
    return p


def _load(path: str, device):
    """(cfg, model) from a trainer checkpoint; raises CheckpointError / ValueError on a bad one."""
    from ..models.build import load_trained_model

    cfg, model, _ = load_trained_model(path)
    return cfg, model.to(device)


def _ious(logits, occ):
    import torch

    pred = logits > 0
    inter = (pred & occ).sum(1).double()
    union = (pred | occ).sum(1).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def run(args) -> dict:
    import torch

    from ..data.transforms import collate
    from ..training.objectives import per_sample_gradients, step, task_loss_per_sample
    from ..training.trainer import build_datasets

    device = torch.device(args.device)
    cfg, model = _load(args.checkpoint, device)
    T = int(model.field.T)
    every = args.every if args.every is not None else max(1, T // 20)
    train_set, _ = build_datasets(cfg)
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(0)
    n = min(args.shapes, len(train_set))
    if n < 1:
        raise ValueError(f"{cfg.data.path}: the training split is empty")
    batch = collate([train_set[i] for i in range(n)])
    x = batch["points"].to(device)
    occ = batch["points.occ"].to(device) > 0.5
    if args.points is not None:
        x, occ = x[:, :args.points], occ[:, :args.points]
    names = [f"{batch.get('category', [''] * n)[i]}/{batch.get('model', [str(i)] * n)[i]}" for i in range(n)]
    eta, rule = float(cfg.objective.eta), cfg.objective.step_rule
    task = model.task_net
    ts = sorted(set(list(range(0, T + 1, every)) + [T]))
    with torch.no_grad():
        c = model.encoder(batch["inputs"].to(device))
        theta0 = model.field.theta_0.unsqueeze(0).expand(n, -1).clone()
        teacher = theta0.clone()
        rows = []
        for t in range(T + 1):
            if t in ts:
                phi = model.field(torch.full((n,), float(t), device=device, dtype=theta0.dtype), c)
                dist = torch.linalg.vector_norm(phi - teacher, dim=1)
                moved = torch.linalg.vector_norm(teacher - theta0, dim=1)
                rel = [float(d / m) if m > 0 else None for d, m in zip(dist, moved)]
                iou_phi, iou_teacher = _ious(task(x, phi), occ), _ious(task(x, teacher), occ)
                loss_phi = task_loss_per_sample(task, phi, x, occ)
                loss_teacher = task_loss_per_sample(task, teacher, x, occ)
                rel_known = [r for r in rel if r is not None]
                rows.append({
                    "t": t,
                    "dist_abs": float(dist.mean()), "dist_rel": (sum(rel_known) / len(rel_known)
                                                                 if rel_known else None),
                    "iou_phi": float(iou_phi.mean()), "iou_teacher": float(iou_teacher.mean()),
                    "loss_phi": float(loss_phi.mean()), "loss_teacher": float(loss_teacher.mean()),
                    "per_shape": {"dist_abs": dist.tolist(), "dist_rel": rel, "iou_phi": iou_phi.tolist(),
                                  "iou_teacher": iou_teacher.tolist(), "loss_phi": loss_phi.tolist(),
                                  "loss_teacher": loss_teacher.tolist()},
                })
            if t < T:
                g = per_sample_gradients(task, teacher, x, occ)
                teacher = teacher - eta * step(g, rule)
    return {"checkpoint": str(args.checkpoint), "T": T, "every": every, "eta": eta, "step_rule": rule,
            "n_points": int(x.shape[1]), "shapes": names, "rows": rows}


def _write_json(path: Path, data: dict) -> None:
    from ..io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        fh.write(json.dumps(data, indent=1, allow_nan=True).encode("utf-8"))


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def _check(args) -> Path:
    """Check every argument and the output path before any work: the output path."""
    from .._checks import check_device, check_int

    for name in ("shapes", "points", "every"):
        if getattr(args, name) is not None:
            check_int(f"--{name}", getattr(args, name), min_value=1)
    check_device("--device", args.device)
    from ..io.checkpoint import checkpoint_path

    ckpt = check_input_file("--checkpoint", checkpoint_path(args.checkpoint) if args.checkpoint else "")
    out = args.out if args.out else ckpt.with_name("traj.json")
    return check_output_file("--out", out, inputs=[ckpt], new_folder=True)  # the folder is made when writing


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    out = _check(args)
    try:
        result = run(args)
    except KeyError as exc:  # a checkpoint or data item without an expected entry
        raise ValueError(f"--checkpoint {args.checkpoint}: missing entry {exc}") from None
    _write_json(out, result)
    if not args.quiet:
        print(f"{'t':>6} {'dist_abs':>10} {'dist_rel':>10} {'iou_phi':>8} {'iou_tch':>8} {'loss_phi':>10} "
              f"{'loss_tch':>10}")
        for r in result["rows"]:
            print(f"{r['t']:>6} {_fmt(r['dist_abs']):>10} {_fmt(r['dist_rel']):>10} {_fmt(r['iou_phi']):>8} "
                  f"{_fmt(r['iou_teacher']):>8} {_fmt(r['loss_phi']):>10} {_fmt(r['loss_teacher']):>10}")
        print(f"wrote {out}")
    return 0


entrypoint = console_script(main)
