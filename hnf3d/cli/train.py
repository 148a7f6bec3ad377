"""Train a hypernetwork field (hnf3d.training.trainer).

    hnf3d-train --config configs/synthetic_pc.yaml [--resume] [--out DIR] [--max-steps N]
                [--set section.key=value ...] [--quiet]
    python tools/train.py --config ...                           # the same, from a clone without installing
    torchrun --nproc_per_node N tools/train.py --config ...      # DDP (gloo on CPU, NCCL on CUDA)

--out defaults to training.out_dir of the config. --resume continues exactly from DIR/last.safetensors.
Exit code: 0 on success, 2 on a bad argument, config or checkpoint (a one-line message on stderr).
"""
from __future__ import annotations

import argparse

from ._common import Parser, check_input_file, check_output_dir, command, console_script

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


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ..config import load_config

    config = check_input_file("--config", args.config)
    overrides = list(args.overrides)
    if args.max_steps is not None:
        overrides.append(f"training.max_steps={args.max_steps}")
    cfg = load_config(config, overrides)
    check_output_dir("--out" if args.out is not None else f"training.out_dir of {config}",
                     args.out if args.out is not None else cfg.training.out_dir)

    from ..training.trainer import Trainer

    # set-up errors (bad checkpoint, missing data or weights, a config the data cannot satisfy) are the user's:
    # ValueError / OSError, one line through `command`
    trainer = Trainer(cfg, args.out, resume=args.resume, progress=not args.quiet)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    if trainer.is_main and not args.quiet:
        best = result["best_iou"]
        print(f"{PROG}: step {result['step']}, loss {result['loss']:.4g}"
              + (f", best val IoU {best:.4f}" if best is not None else "") + f", checkpoint {result['last']}")
    return 0


entrypoint = console_script(main)
