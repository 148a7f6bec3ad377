#!/usr/bin/env python
"""Write procedural ShapeNet-like meshes (hnf3d.data.procedural) to a folder, one subfolder per category.

    python tools/make_shapes.py --out DIR [--categories chair,table,...] [--per-category 50] [--seed 0]
                                [--format obj|ply|off] [--quiet]

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
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROG = "make_shapes"
FORMATS = ("obj", "ply", "off")


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) that main() turns into exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise _ArgumentError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--categories", default=None,
                   help="comma-separated categories (default: all of hnf3d.data.procedural.CATEGORIES)")
    p.add_argument("--per-category", type=int, default=50, help="shapes per category (default 50)")
    p.add_argument("--seed", type=int, default=0, help="base seed, >= 0 (default 0)")
    p.add_argument("--format", default="obj", help="mesh file format: obj, ply or off (default obj)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _progress(total: int, quiet: bool):
    """A tqdm bar on stderr when tqdm is available, else None (plain per-category prints are used)."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=PROG, unit="shape", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except _ArgumentError as exc:
        return _error(str(exc))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from hnf3d.data.procedural import CATEGORIES, make_shape
    from hnf3d.io import save_mesh

    if args.categories is None:
        categories = list(CATEGORIES)
    else:
        categories = [c.strip() for c in args.categories.split(",") if c.strip()]
        if not categories:
            return _error("--categories: empty list")
        unknown = [c for c in categories if c not in CATEGORIES]
        if unknown:
            return _error(f"--categories: unknown category {unknown[0]!r} (known: {', '.join(CATEGORIES)})")
        categories = list(dict.fromkeys(categories))  # drop repeats, keep order
    if args.per_category < 1:
        return _error(f"--per-category: expected >= 1, got {args.per_category}")
    if args.seed < 0:
        return _error(f"--seed: expected >= 0, got {args.seed}")
    fmt = args.format.lower().lstrip(".")
    if fmt not in FORMATS:
        return _error(f"--format: expected one of {', '.join(FORMATS)}, got {args.format!r}")
    out = Path(args.out)
    try:
        for category in categories:
            (out / category).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"--out: cannot create {out}: {exc.strerror or exc}")

    n = args.per_category
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


if __name__ == "__main__":
    sys.exit(main())
