"""Fit one task network per training shape from theta_0 (the `weights` baseline's targets) and save them.

    python tools/fit_shapes.py --data DIR --out FILE.safetensors [--steps 1000] [--lr 1e-3] [--optimizer adam]
                               [--batch-points 2048] [--n-query-points 4096] [--split train] [--seed 0]
                               [--theta0-seed 0] [--hidden 128,128,128] [--n-frequencies 4] [--chunk 64]
                               [--config CONFIG.yaml] [--near-surface-fraction 0.5]
    hnf3d-fit-shapes ...                       # the same, installed

DIR is a mesh folder (hnf3d.data.MeshFolderDataset: queries sampled and labelled once, with --seed) or a data set
in the Occupancy Networks layout (hnf3d.data.ShapeNetDataset, its points.npz queries subsampled to
--n-query-points, --near-surface-fraction of them from points_surface.npz). Shapes are fitted in parallel, --chunk
at a time (hnf3d.training.fitting.fit_task_networks). The task network is the MLP of --hidden / --n-frequencies,
or, with --config, the one that experiment config describes (e.g. configs/local_pc.yaml's triplane).

The output (hnf3d.io.checkpoint format, safetensors) holds the tensors 'theta_star' (S, P) and 'theta_0'
(P,), and metadata 'fit_shapes' = {models: [{category, model}] in row order, task_network config, layout, steps,
lr, optimizer, batch_points, seeds, compute: {wall_seconds, cpu_seconds, flops, ... summed over chunks}}.
Exit code 0 on success, 2 on bad arguments or data (a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from ._common import (ArgumentError, Parser, check_input_dir, check_input_file, check_output_file, command,
                      console_script)

PROG = "fit_shapes"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="mesh folder or ONet-layout data set")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--split", default=None, help="split list name (default: all files / ONet 'train')")
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps per shape (default 1000)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--batch-points", type=int, default=2048, help="query points per shape per step (default 2048)")
    p.add_argument("--n-query-points", type=int, default=4096, help="fixed query points per shape (default 4096)")
    p.add_argument("--seed", type=int, default=0, help="data sampling and point-subsample seed (default 0)")
    p.add_argument("--theta0-seed", type=int, default=0, help="seed of theta_0 (default 0)")
    p.add_argument("--hidden", default=None, help="task network hidden sizes (default 128,128,128)")
    p.add_argument("--n-frequencies", type=int, default=None, help="positional-encoding octaves (default 4)")
    p.add_argument("--config", default=None, help="take the task network from this experiment config instead")
    p.add_argument("--near-surface-fraction", type=float, default=0.0,
                   help="ONet-layout data: share of the queries drawn near the surface (default 0)")
    p.add_argument("--chunk", type=int, default=64, help="shapes fitted at once (default 64)")
    p.add_argument("--quiet", action="store_true")
    return p


def _dataset(args):
    from ..data import MeshFolderDataset, ShapeNetDataset
    from ..io import MESH_READ_EXTENSIONS

    root = args.data

    def has_meshes(folder):
        return any(os.path.splitext(n)[1].lower() in MESH_READ_EXTENSIONS for n in os.listdir(folder))

    subdirs = [os.path.join(root, d) for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]
    if has_meshes(root) or any(has_meshes(d) for d in subdirs):
        return MeshFolderDataset(root, split=args.split, n_input_points=1, n_query_points=args.n_query_points,
                                 seed=args.seed)
    return ShapeNetDataset(root, split=args.split or "train", n_input_points=1,
                           n_query_points=args.n_query_points, img_size=None, seed=args.seed,
                           near_surface_fraction=args.near_surface_fraction)


def _task_network(args):
    """The task network to fit: the config's (--config) or the MLP of --hidden / --n-frequencies."""
    if args.config is not None:
        if args.hidden is not None or args.n_frequencies is not None:
            raise ArgumentError("--config: the task network comes from the config; drop --hidden / --n-frequencies")
        from ..config import load_config
        from ..models.build import build_task_network

        return build_task_network(load_config(str(check_input_file("--config", args.config))))
    from ..models import TaskNetwork

    hidden_text = args.hidden if args.hidden is not None else "128,128,128"
    try:
        hidden = tuple(int(h) for h in hidden_text.split(","))
    except ValueError:
        raise ArgumentError(f"--hidden: expected comma-separated integers, got {hidden_text!r}") from None
    if not all(h >= 1 for h in hidden):
        raise ArgumentError(f"--hidden: expected sizes >= 1, got {hidden_text!r}")
    return TaskNetwork(n_frequencies=4 if args.n_frequencies is None else args.n_frequencies, hidden=hidden)


def _check(args):
    """Check every argument and the output path before any work: the task network to fit."""
    from .._checks import check_float, check_int

    check_input_dir("--data", args.data)
    check_int("--steps", args.steps, min_value=0)
    for name in ("batch_points", "n_query_points", "chunk", "n_frequencies"):
        if getattr(args, name) is not None:
            check_int(f"--{name.replace('_', '-')}", getattr(args, name), min_value=1)
    for name in ("seed", "theta0_seed"):
        check_int(f"--{name.replace('_', '-')}", getattr(args, name), min_value=0)
    check_float("--lr", args.lr, min_value=0.0, open_interval=True)
    check_float("--near-surface-fraction", args.near_surface_fraction, min_value=0.0, max_value=1.0)
    task = _task_network(args)
    from ..io.checkpoint import checkpoint_path

    # where save_checkpoint writes: a folder gets checkpoint.safetensors, a name without the suffix gets it
    out = check_output_file("--out", checkpoint_path(args.out) if args.out else "", new_folder=True)
    out.parent.mkdir(parents=True, exist_ok=True)  # now, before the (long) fitting, not after it
    return task


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    task = _check(args)
    import torch

    from ..io.checkpoint import save_checkpoint
    from ..training.fitting import fit_task_networks

    ds = _dataset(args)
    if len(ds) == 0:
        raise ArgumentError(f"--data {args.data}: no shapes found")
    theta_0 = task.theta_0(args.theta0_seed)
    thetas, models = [], []
    total = {"wall_seconds": 0.0, "cpu_seconds": 0.0, "flops": 0.0}
    last: dict = {}
    t0 = time.perf_counter()
    for start in range(0, len(ds), args.chunk):
        items = [ds[i] for i in range(start, min(start + args.chunk, len(ds)))]
        if any("points" not in it for it in items):
            bad = next(it for it in items if "points" not in it)
            raise ArgumentError(f"--data: model {bad['category']}/{bad['model']} has no query points")
        x = torch.stack([it["points"] for it in items]).float()
        occ = torch.stack([it["points.occ"] for it in items]).float()
        th, last = fit_task_networks(task, theta_0, x, occ, steps=args.steps, lr=args.lr,
                                     optimizer=args.optimizer, batch_points=args.batch_points,
                                     seed=[args.seed * 1_000_003 + start + i for i in range(len(items))])
        for k in total:
            total[k] += last[k]
        thetas.append(th)
        models.extend({"category": it["category"], "model": it["model"]} for it in items)
        if not args.quiet:
            print(f"{PROG}: {len(models)}/{len(ds)} shapes fitted ({time.perf_counter() - t0:.1f} s, "
                  f"final loss {last['final_loss']:.4f})", file=sys.stderr)
    compute = {**{k: v for k, v in last.items() if k not in total and k != "final_loss"}, **total,
               "shapes": len(models)}
    meta = {"fit_shapes": {
        "models": models, "task_network": task.config(), "layout": task.param_layout().to_dict(),
        "theta0_seed": args.theta0_seed, "steps": args.steps, "lr": args.lr, "optimizer": args.optimizer,
        "batch_points": args.batch_points, "n_query_points": args.n_query_points,
        "near_surface_fraction": args.near_surface_fraction, "seed": args.seed,
        "data": os.path.abspath(args.data), "compute": compute}}
    out = save_checkpoint(args.out, tensors={"theta_star": torch.cat(thetas), "theta_0": theta_0},
                          metadata=meta)
    if not args.quiet:
        print(f"{PROG}: wrote {out} ({len(models)} shapes, {compute['wall_seconds']:.1f} s, "
              f"{compute['flops']:.3g} FLOPs)", file=sys.stderr)
    return 0


entrypoint = console_script(main)
