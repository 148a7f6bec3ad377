"""Build an Occupancy Networks data set (docs/protocol.md layout) from a folder of meshes.

    hnf3d-build-dataset --meshes MESHES --out DATA [--category NAME] [--views 24] [--workers N]
                        [--seed 0] [--val 0.1] [--test 0.2] [--no-render] [--no-surface]
    python tools/build_dataset.py ...          # the same, from a clone without installing

MESHES: mesh files (OBJ/OFF/PLY/STL/GLB/GLTF) directly inside go to category 'default' (or --category), each
subfolder is a category (ShapeNet style <synset>/<id>/.../model.obj works). Resumable: rerun the same command and
finished objects are skipped. Unreadable or degenerate meshes are skipped and logged to DATA/build_log.txt.
Exit code: 0 when at least one object is built or present, 1 when every mesh failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import os

from ._common import ArgumentError, Parser, check_input_dir, check_output_dir, command, console_script

PROG = "build_dataset"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--meshes", required=True, help="folder of meshes (subfolders = categories)")
    p.add_argument("--out", required=True, help="output folder (ONet layout)")
    p.add_argument("--category", default=None,
                   help="put every mesh in this category (default: subfolder names, 'default' for a flat folder)")
    p.add_argument("--views", type=int, default=24, help="rendered views per object (default 24)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: os.cpu_count())")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and the splits, >= 0 (default 0)")
    p.add_argument("--val", type=float, default=0.1, help="validation fraction (default 0.1)")
    p.add_argument("--test", type=float, default=0.2, help="test fraction (default 0.2)")
    p.add_argument("--points", type=int, default=100_000, help="uniform and surface points per object")
    p.add_argument("--no-render", action="store_true", help="skip img_choy2016 (views and cameras)")
    p.add_argument("--no-surface", action="store_true", help="skip points_surface.npz (near-surface points)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .._checks import check_int
    from ..data.build import build_dataset, check_fractions, discover

    meshes = check_input_dir("--meshes", args.meshes)
    out = check_output_dir("--out", args.out, inputs=[meshes])
    check_int("--views", args.views, min_value=0)
    if args.workers is not None:
        check_int("--workers", args.workers, min_value=1)
    check_int("--points", args.points, min_value=1)
    check_int("--seed", args.seed, min_value=0)
    if args.category is not None and (not args.category or "/" in args.category or args.category.startswith(".")):
        raise ArgumentError(f"--category: not a usable folder name: {args.category!r}")
    message = check_fractions(args.val, args.test)
    if message:
        raise ArgumentError(message)
    items = discover(meshes, args.category)
    if not items:
        raise ArgumentError(f"--meshes: no mesh files (.obj .off .ply .stl .glb .gltf) found in {meshes}")

    summary = build_dataset(meshes, out, items=items, n_views=0 if args.no_render else args.views,
                            workers=args.workers or os.cpu_count(), seed=args.seed, val=args.val, test=args.test,
                            near_surface=not args.no_surface, n_points=args.points, n_surface=args.points,
                            progress=not args.quiet)
    print(summary.line())
    if summary.built:
        per = {k: v / len(summary.built) for k, v in summary.timings.items()}
        print("mean seconds per built object: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    return 0 if (summary.built or summary.finished) else 1


entrypoint = console_script(main)
