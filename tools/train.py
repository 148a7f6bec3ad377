#!/usr/bin/env python
"""Train a hypernetwork field (hnf3d.training.trainer).

    python tools/train.py --config configs/synthetic_pc.yaml [--resume] [--out DIR] [--max-steps N]
                          [--set section.key=value ...] [--quiet]
    torchrun --nproc_per_node N tools/train.py --config ...      # DDP (gloo on CPU, NCCL on CUDA)

--out defaults to training.out_dir of the config. --resume continues exactly from DIR/last.safetensors.
Exit code: 0 on success, 2 on a bad argument, config or checkpoint (a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hnf3d.cli._common import ArgumentError, Parser  # noqa: E402

PROG = "train"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="YAML experiment config")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument("--out", default=None, help="output folder (default: training.out_dir)")
    p.add_argument("--max-steps", type=int, default=None, help="override training.max_steps")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. training.lr=3e-4 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
    except ArgumentError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    from hnf3d.config import ConfigError, load_config
    from hnf3d.io.checkpoint import CheckpointError

    overrides = list(args.overrides)
    if args.max_steps is not None:
        overrides.append(f"training.max_steps={args.max_steps}")
    try:
        cfg = load_config(args.config, overrides)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    from hnf3d.training.trainer import Trainer

    try:
        # set-up errors (bad checkpoint, missing data or weights, a config the data cannot satisfy) are the user's
        trainer = Trainer(cfg, args.out, resume=args.resume, progress=not args.quiet)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = trainer.train()
    except (CheckpointError, FileNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        trainer.close()
    if trainer.is_main and not args.quiet:
        best = result["best_iou"]
        print(f"{PROG}: step {result['step']}, loss {result['loss']:.4g}"
              + (f", best val IoU {best:.4f}" if best is not None else "") + f", checkpoint {result['last']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
