"""Write procedural ShapeNet-like meshes (hnf3d.data.procedural) to a folder, one subfolder per category, or
build a data set of analytic SDF shapes straight in the Occupancy Networks layout.

    hnf3d-make-shapes --out DIR [--categories chair,table,...] [--per-category 50] [--seed 0]
                      [--format obj|ply|off] [--quiet]
    hnf3d-make-shapes --onet DATA [--families blob,tube,plate,mechanical,csg] [--count-per-family 100]
                      [--seed 0] [--workers N] [--val 0.1] [--test 0.2] [--views 0] [--points 100000]
                      [--no-surface] [--quiet]
    python tools/make_shapes.py ...            # the same, from a clone without installing

--out: writes DIR/<category>/<category>_<i:04d>.<format> for i = 0 .. N-1 with atomic saves
(hnf3d.io.save_mesh). Deterministic: file i of a category is make_shape(category, seed * 2**32 + i), so the same
arguments always give the same bytes, and --seed 0 file i is make_shape(category, i). Existing files are
overwritten. The output is meant as input to tools/build_dataset.py (--meshes DIR), which normalises and labels it.

--onet: builds DATA/<family>/<family>_<i:05d>/ (points.npz, points_surface.npz, pointcloud.npz; img_choy2016 with
--views > 0) from make_sdf_shape(family, seed * 2**32 + i), labels from the exact SDF
(hnf3d.data.build_sdf.build_sdf_dataset), with split lists per family (--val / --test, the rest train),
metadata.yaml and DATA/build_log.txt. Parallel (--workers, default: all cores) and resumable: finished objects
(their .done marker) are skipped, so rerunning the command after an interruption completes the set.
Exit code: 0 on success (--onet: at least one object built or present), 1 when every --onet object failed, 2 on
bad arguments (a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import sys
import time

from ._common import ArgumentError, Parser, check_output_dir, command, console_script

PROG = "make_shapes"
FORMATS = ("obj", "ply", "off")


# the options of each mode, refused in the other (as given on the command line: None = not given)
MESH_OPTIONS = ("categories", "per_category", "format")
ONET_OPTIONS = ("families", "count_per_family", "workers", "val", "test", "views", "points", "no_surface")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="output folder of mesh files (created if missing)")
    p.add_argument("--onet", default=None, help="output folder of an ONet-layout data set of SDF shapes")
    p.add_argument("--categories", default=None,
                   help="--out: comma-separated categories (default: all of hnf3d.data.procedural.CATEGORIES)")
    p.add_argument("--per-category", type=int, default=None, help="--out: shapes per category (default 50)")
    p.add_argument("--format", default=None, help="--out: mesh file format: obj, ply or off (default obj)")
    p.add_argument("--families", default=None,
                   help="--onet: comma-separated SDF families (default: all of hnf3d.data.procedural.SDF_FAMILIES)")
    p.add_argument("--count-per-family", type=int, default=None, help="--onet: shapes per family (default 100)")
    p.add_argument("--workers", type=int, default=None, help="--onet: parallel processes (default: os.cpu_count())")
    p.add_argument("--val", type=float, default=None, help="--onet: validation fraction (default 0.1)")
    p.add_argument("--test", type=float, default=None, help="--onet: test fraction (default 0.2)")
    p.add_argument("--views", type=int, default=None, help="--onet: rendered views per object (default 0)")
    p.add_argument("--points", type=int, default=None,
                   help="--onet: uniform, surface and near-surface points per object (default 100000)")
    p.add_argument("--no-surface", action="store_true", default=None,
                   help="--onet: skip points_surface.npz (near-surface points)")
    p.add_argument("--seed", type=int, default=0, help="base seed, >= 0 (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _progress(total: int, quiet: bool):
    """A tqdm bar on stderr when tqdm is available, else None (plain per-category prints are used)."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=PROG, unit="shape", file=sys.stderr)


def _names(flag: str, what: str, text: str | None, known) -> list[str]:
    """The comma-separated names of `text` (default: all of `known`), checked against `known` (`what`: one name's
    kind, for the message)."""
    if text is None:
        return list(known)
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise ArgumentError(f"{flag}: empty list")
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ArgumentError(f"{flag}: unknown {what} {unknown[0]!r} (known: {', '.join(known)})")
    return list(dict.fromkeys(names))  # drop repeats, keep order


def _categories(text: str | None) -> list[str]:
    from ..data.procedural import CATEGORIES

    return _names("--categories", "category", text, CATEGORIES)


def _refuse(args, options, mode: str) -> None:
    for name in options:
        if getattr(args, name) is not None:
            raise ArgumentError(f"--{name.replace('_', '-')}: only with {mode}")


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if (args.out is None) == (args.onet is None):
        raise ArgumentError("--out or --onet: give exactly one (mesh files, or an ONet data set of SDF shapes)")
    if args.onet is not None:
        _refuse(args, MESH_OPTIONS, "--out")
        return _onet(args)
    _refuse(args, ONET_OPTIONS, "--onet")
    from .._checks import check_int
    from ..data.procedural import make_shape
    from ..io import save_mesh

    categories = _categories(args.categories)
    n = check_int("--per-category", 50 if args.per_category is None else args.per_category, min_value=1)
    check_int("--seed", args.seed, min_value=0)
    fmt = (args.format or "obj").lower().lstrip(".")
    if fmt not in FORMATS:
        raise ArgumentError(f"--format: expected one of {', '.join(FORMATS)}, got {args.format!r}")
    out = check_output_dir("--out", args.out)
    try:
        for category in categories:
            (out / category).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArgumentError(f"--out: cannot create {out}: {exc.strerror or exc}") from None

    bar = _progress(n * len(categories), args.quiet)
    start = time.perf_counter()
    faces = 0
    try:
        for category in categories:
            for i in range(n):
                mesh = make_shape(category, args.seed * 2**32 + i)
                save_mesh(mesh, out / category / f"{category}_{i:04d}.{fmt}")
                faces += len(mesh.faces)
                if bar is not None:
                    bar.update(1)
            if bar is None and not args.quiet:
                print(f"{PROG}: {category}: {n} shapes", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    total = n * len(categories)
    print(f"{PROG}: wrote {total} shapes ({len(categories)} categories x {n}, {fmt}, seed {args.seed}, "
          f"{faces / total:.0f} faces on average) to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _onet(args) -> int:
    """--onet: the SDF families as an ONet-layout data set (hnf3d.data.build_sdf.build_sdf_dataset)."""
    import os

    from .._checks import check_int
    from ..data.build import check_fractions
    from ..data.procedural import SDF_FAMILIES

    families = _names("--families", "family", args.families, SDF_FAMILIES)
    count = check_int("--count-per-family", 100 if args.count_per_family is None else args.count_per_family,
                      min_value=1)
    check_int("--seed", args.seed, min_value=0)
    workers = (os.cpu_count() or 1) if args.workers is None else check_int("--workers", args.workers, min_value=1)
    views = check_int("--views", 0 if args.views is None else args.views, min_value=0)
    points = check_int("--points", 100_000 if args.points is None else args.points, min_value=1)
    val = 0.1 if args.val is None else args.val
    test = 0.2 if args.test is None else args.test
    message = check_fractions(val, test)
    if message:
        raise ArgumentError(message)
    out = check_output_dir("--onet", args.onet)

    from ..data.build_sdf import build_sdf_dataset

    start = time.perf_counter()
    summary = build_sdf_dataset(out, families, count, seed=args.seed, workers=workers, val=val, test=test,
                                n_views=views, near_surface=not args.no_surface, n_points=points, n_surface=points,
                                progress=not args.quiet)
    print(summary.line())
    if summary.built:
        per = {k: v / len(summary.built) for k, v in summary.timings.items()}
        print("mean seconds per built object (one worker): " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    print(f"{PROG}: {len(summary.built)} built, {len(summary.finished)} already there ({len(families)} families x "
          f"{count}, seed {args.seed}, {workers} worker(s)) in {out}, {time.perf_counter() - start:.1f} s")
    return 0 if (summary.built or summary.finished) else 1


entrypoint = console_script(main)
