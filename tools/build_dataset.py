#!/usr/bin/env python
"""Build an Occupancy Networks data set (docs/protocol.md layout) from a folder of meshes.

    python tools/build_dataset.py --meshes MESHES --out DATA [--category NAME] [--views 24] [--workers N]
                                  [--seed 0] [--val 0.1] [--test 0.2] [--no-render] [--no-surface]

MESHES: mesh files (OBJ/OFF/PLY/STL/GLB/GLTF) directly inside go to category 'default' (or --category), each
subfolder is a category (ShapeNet style <synset>/<id>/.../model.obj works). Resumable: rerun the same command and
finished objects are skipped. Unreadable or degenerate meshes are skipped and logged to DATA/build_log.txt.
Exit code: 0 when at least one object is built or present, 1 when every mesh failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build_dataset", description=__doc__.split("\n\n")[0])
    p.add_argument("--meshes", required=True, help="folder of meshes (subfolders = categories)")
    p.add_argument("--out", required=True, help="output folder (ONet layout)")
    p.add_argument("--category", default=None,
                   help="put every mesh in this category (default: subfolder names, 'default' for a flat folder)")
    p.add_argument("--views", type=int, default=24, help="rendered views per object (default 24)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: os.cpu_count())")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val", type=float, default=0.1, help="validation fraction (default 0.1)")
    p.add_argument("--test", type=float, default=0.2, help="test fraction (default 0.2)")
    p.add_argument("--points", type=int, default=100_000, help="uniform and surface points per object")
    p.add_argument("--no-render", action="store_true", help="skip img_choy2016 (views and cameras)")
    p.add_argument("--no-surface", action="store_true", help="skip points_surface.npz (near-surface points)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _error(message: str) -> int:
    print(f"build_dataset: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    from hnf3d.data.build import build_dataset, check_fractions, discover

    meshes = Path(args.meshes)
    if not meshes.is_dir():
        return _error(f"--meshes: directory not found: {meshes}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _error(f"--out: exists and is not a directory: {out}")
    if args.views < 0:
        return _error(f"--views: expected >= 0, got {args.views}")
    if args.workers is not None and args.workers < 1:
        return _error(f"--workers: expected >= 1, got {args.workers}")
    if args.points < 1:
        return _error(f"--points: expected >= 1, got {args.points}")
    if args.category is not None and (not args.category or "/" in args.category or args.category.startswith(".")):
        return _error(f"--category: not a usable folder name: {args.category!r}")
    message = check_fractions(args.val, args.test)
    if message:
        return _error(message)
    items = discover(meshes, args.category)
    if not items:
        return _error(f"--meshes: no mesh files (.obj .off .ply .stl .glb .gltf) found in {meshes}")

    summary = build_dataset(meshes, out, items=items, n_views=0 if args.no_render else args.views,
                            workers=args.workers or os.cpu_count(), seed=args.seed, val=args.val, test=args.test,
                            near_surface=not args.no_surface, n_points=args.points, n_surface=args.points,
                            progress=not args.quiet)
    print(summary.line())
    if summary.built:
        per = {k: v / len(summary.built) for k, v in summary.timings.items()}
        print("mean seconds per built object: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    return 0 if (summary.built or summary.finished) else 1


if __name__ == "__main__":
    sys.exit(main())
