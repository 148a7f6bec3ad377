"""Simulate a real user's depth scan of a procedural shape or a mesh and write it as a point cloud (points only).

    python tools/simulate_scan.py --out FILE [--shape chair | --mesh FILE] [--seed 0] [--views 6]
                                  [--resolution 96] [--noise 0.002] [--missing 0] [--size 800]
                                  [--offset 1200,-300,2500] [--max-points 20000] [--quiet]
    hnf3d-simulate-scan ...                    # the same, installed

The shape is hnf3d.data.procedural.make_shape(--shape, --seed); --views pinhole depth cameras on a ring slightly
above it (y up) cast --resolution x --resolution rays each (hnf3d.data.scan.simulate_scan, hnf3d.ops.cast_rays);
misses and grazing hits are dropped and the range gets Gaussian noise of std --noise x the object's size; with
--missing r the hits within r x the object's size of one hit (chosen by the seed) are dropped too, a part the
scanner never saw. --mesh FILE scans that mesh (any format hnf3d.io reads) instead, and the scan stays in the
mesh's frame and units unless --size or --offset is given. For a procedural shape the
hits are scaled so that the object's largest side is --size output units (millimetres by convention) and its
bounding-box centre is moved to --offset, so the scan is NOT in the unit box, like a real one; at most
--max-points of them are kept (a seeded random subset). Written atomically by hnf3d.io.save_point_cloud in any
format it writes (.ply recommended: binary float32). Deterministic: the same arguments give the same bytes.
A negative first offset needs the = form: --offset=-100,0,0.
Exit code: 0 on success, 2 on bad arguments (a one-line message on stderr; no output file is written).
"""
from __future__ import annotations

import argparse
import math

from ._common import ArgumentError, Parser, check_output_file, command, console_script

PROG = "simulate_scan"
DEFAULT_OFFSET = "1200,-300,2500"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default=None, help="procedural category (default chair)")
    p.add_argument("--mesh", default=None, help="scan this mesh file instead of a procedural shape")
    p.add_argument("--seed", type=int, default=0, help="shape and scan seed, >= 0 (default 0)")
    p.add_argument("--out", required=True, help="output point cloud (.ply, .xyz, .txt, .npy, .npz); folder must exist")
    p.add_argument("--views", type=int, default=6, help="number of depth cameras, >= 1 (default 6)")
    p.add_argument("--resolution", type=int, default=96, help="rays per camera side, >= 1 (default 96)")
    p.add_argument("--noise", type=float, default=0.002,
                   help="range noise std as a fraction of the object's size, >= 0 (default 0.002)")
    p.add_argument("--missing", type=float, default=0.0,
                   help="radius, as a fraction of the object's size, of the part the scanner never saw, >= 0 "
                        "(default 0)")
    p.add_argument("--size", type=float, default=None,
                   help="largest side of the object in output units, > 0 (default 800 (millimetres) for a "
                        "procedural shape, the mesh's own for --mesh)")
    p.add_argument("--offset", default=None,
                   help=f"X,Y,Z of the object's bounding-box centre in output units (default {DEFAULT_OFFSET} for a "
                        "procedural shape, the mesh's own for --mesh)")
    p.add_argument("--max-points", type=int, default=20000,
                   help="keep at most this many points, a seeded random subset (default 20000)")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    return p


def _parse_offset(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(s) for s in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ArgumentError(f"--offset: expected three finite numbers X,Y,Z, got {text!r}")
    return values  # type: ignore[return-value]


def _check(args):
    """Check every argument before any work: (offset (3 floats) or None for the mesh's own frame, size in output
    units or None for the mesh's own)."""
    from .._checks import check_int
    from ..data.procedural import CATEGORIES
    from ._common import check_input_file

    if args.mesh is not None:
        if args.shape is not None:
            raise ArgumentError("--shape, --mesh: give one of them")
        check_input_file("--mesh", args.mesh)
    elif (args.shape or "chair") not in CATEGORIES:
        raise ArgumentError(f"--shape: unknown category {args.shape!r} (known: {', '.join(CATEGORIES)})")
    for name in ("views", "resolution", "max_points"):
        check_int(f"--{name.replace('_', '-')}", getattr(args, name), min_value=1)
    check_int("--seed", args.seed, min_value=0)
    if not (math.isfinite(args.noise) and args.noise >= 0):
        raise ArgumentError(f"--noise: expected a finite value >= 0, got {args.noise}")
    if not (math.isfinite(args.missing) and args.missing >= 0):
        raise ArgumentError(f"--missing: expected a finite value >= 0, got {args.missing}")
    if args.size is not None and not (math.isfinite(args.size) and args.size > 0):
        raise ArgumentError(f"--size: expected a finite value > 0, got {args.size}")
    own_frame = args.mesh is not None and args.size is None and args.offset is None
    offset = None if own_frame else _parse_offset(args.offset or DEFAULT_OFFSET)
    size = args.size if args.size is not None or args.mesh is not None else 800.0
    from ..io import POINT_CLOUD_WRITE_EXTENSIONS

    check_output_file("--out", args.out, POINT_CLOUD_WRITE_EXTENSIONS)
    return offset, size


def scan_points(shape, seed: int, *, views: int, resolution: int, noise: float, size, offset, max_points: int,
                missing: float = 0.0):
    """The tool's points (N, 3) float32: the simulated scan of `shape` (a procedural category or a mesh) scaled to
    `size` units (None: the mesh's own) and centred at `offset` (None: the mesh's own frame, size ignored)."""
    import numpy as np

    from ..data.procedural import make_shape
    from ..data.scan import simulate_scan

    mesh = make_shape(shape, seed) if isinstance(shape, str) else shape
    pts = simulate_scan(mesh, views=views, resolution=resolution, noise=noise, seed=seed, max_points=max_points,
                        missing=missing)
    if offset is None:
        return pts.astype(np.float32)
    lo, hi = np.asarray(mesh.vertices).min(0), np.asarray(mesh.vertices).max(0)
    size = float((hi - lo).max()) if size is None else size
    scale = size / float((hi - lo).max())
    out = (pts.astype(np.float64) - (lo + hi) / 2.0) * scale + np.asarray(offset, dtype=np.float64)
    return out.astype(np.float32)


@command(PROG)
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    offset, size = _check(args)
    from ..io import load_mesh, save_point_cloud

    if args.mesh is not None:
        shape = load_mesh(args.mesh)
    else:
        shape = args.shape or "chair"
    points = scan_points(shape, args.seed, views=args.views, resolution=args.resolution, noise=args.noise,
                         size=size, offset=offset, max_points=args.max_points, missing=args.missing)
    if len(points) == 0:
        raise ArgumentError("no camera ray hit the shape (raise --resolution)")
    save_point_cloud(points, args.out)
    if not args.quiet:
        lo, hi = points.min(axis=0), points.max(axis=0)
        fmt = lambda v: "(" + ", ".join(f"{x:.1f}" for x in v) + ")"  # noqa: E731
        what = args.mesh if args.mesh is not None else f"{args.shape or 'chair'} seed {args.seed}"
        print(f"{PROG}: wrote {len(points)} points ({what}, {args.views} views x "
              f"{args.resolution}^2 rays, noise {args.noise:g}) to {args.out}; bbox {fmt(lo)} .. {fmt(hi)}, "
              f"size {fmt(hi - lo)}")
    return 0


entrypoint = console_script(main)
