"""Write procedural ShapeNet-like meshes (hnf3d.data.procedural) to a folder, one subfolder per category.

    hnf3d-make-shapes --out DIR [--categories chair,table,...] [--per-category 50] [--seed 0]
                      [--format obj|ply|off] [--quiet]
    python tools/make_shapes.py ...            # the same, from a clone without installing

Writes DIR/<category>/<category>_<i:04d>.<format> for i = 0 .. N-1 with atomic saves (hnf3d.io.save_mesh).
Deterministic: file i of a category is make_shape(category, seed * 2**32 + i), so the same arguments always give
the same bytes, and --seed 0 file i is make_shape(category, i). Existing files are overwritten.
The output is meant as input to tools/build_dataset.py (--meshes DIR), which normalises and labels it.
Exit code: 0 on success, 2 on bad arguments (a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import sys
import time

from ._common import ArgumentError, Parser, check_output_dir, command, console_script

PROG = "make_shapes"
FORMATS = ("obj", "ply", "off")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--categories", default=None,
                   help="comma-separated categories (default: all of hnf3d.data.procedural.CATEGORIES)")
    p.add_argument("--per-category", type=int, default=50, help="shapes per category (default 50)")
    p.add_argument("--seed", type=int, default=0, help="base seed, >= 0 (default 0)")
    p.add_argument("--format", default="obj", help="mesh file format: obj, ply or off (default obj)")
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


def _categories(text: str | None) -> list[str]:
    from ..data.procedural import CATEGORIES

    if text is None:
        return list(CATEGORIES)
    categories = [c.strip() for c in text.split(",") if c.strip()]
    if not categories:
        raise ArgumentError("--categories: empty list")
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise ArgumentError(f"--categories: unknown category {unknown[0]!r} (known: {', '.join(CATEGORIES)})")
    return list(dict.fromkeys(categories))  # drop repeats, keep order


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .._checks import check_int
    from ..data.procedural import make_shape
    from ..io import save_mesh

    categories = _categories(args.categories)
    n = check_int("--per-category", args.per_category, min_value=1)
    check_int("--seed", args.seed, min_value=0)
    fmt = args.format.lower().lstrip(".")
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


entrypoint = console_script(main)
