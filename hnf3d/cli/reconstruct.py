"""Reconstruct a watertight mesh from a point cloud or a single image (hnf3d.pipeline.reconstructor.Reconstructor).

    hnf3d-reconstruct --pc scan.ply                                 # -> scan_hnf3d.ply, in the scan's units
    python tools/reconstruct.py --pc scan.ply                       # the same, from a clone without installing
    python tools/reconstruct.py --pc scan.pcd --refine 0 --out mesh.obj --preview mesh.png   # field only, < 1 s
    python tools/reconstruct.py --pc scan.ply --trim                # open where the scan saw nothing
    python tools/reconstruct.py --image photo.png                   # -> photo_hnf3d.ply, in the unit box

Point clouds: any format hnf3d.io reads (.ply, .pcd, .xyz, .txt, .pts, .npy, .npz). Meshes given as --pc
(.obj .off .stl .glb .gltf, and a .ply that has faces) are sampled (their vertices are not a fair sample of the
surface). Point clouds are refined by default (300 test-time steps, a few seconds: the mesh follows the scan);
--refine 0 gives the field's one-pass prediction (under a second for 3000 points at 128^3). The default models
ship in hnf3d/pretrained/ (see their model cards). Timing of each stage goes to stderr. Every argument, input
and output path is checked before the work starts; output files are written atomically, and --out may not be
the input file.
Exit code: 0 on success; 2 on a bad argument or input (one line naming it, no output file); 1 when the
reconstruction comes out empty.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from ..pipeline.trim import TRIM_DISTANCE
from ._common import (ArgumentError, Parser, check_input_file, check_output_file, check_resolution, command,
                      console_script)

PROG = "reconstruct"
MESH_SAMPLES = 100_000  # points sampled from a mesh given as --pc
DEFAULT_REFINE = 300  # refinement steps for --pc unless --refine says otherwise


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pc", metavar="FILE", help="input point cloud (or mesh, sampled)")
    src.add_argument("--image", metavar="FILE", help="input image (single view of one object)")
    p.add_argument("--out", metavar="FILE", help="output mesh: .ply .obj .off .stl .glb (default: "
                                                 "<input>_hnf3d.ply next to the input)")
    p.add_argument("--resolution", type=int, default=128, help="extraction grid cells per side, 32 x 2^k "
                                                               "(default 128)")
    p.add_argument("--refine", type=int, default=None, metavar="N",
                   help=f"test-time refinement steps for point clouds (default {DEFAULT_REFINE}: the mesh follows "
                        f"the scan; 0: the field's prediction alone, fastest)")
    p.add_argument("--refine-init", choices=("prediction", "theta0"), default="prediction",
                   help="where refinement starts: the field's prediction (default) or the untrained theta_0 (the "
                        "ablation that shows what the learned prior adds)")
    p.add_argument("--threshold", type=float, default=None,
                   help="occupancy probability of the surface (default: the model's, 0.5 after refinement)")
    p.add_argument("--normalize", choices=("bbox", "spacing"), default="bbox",
                   help="bbox: fit the bounding box to the unit box (objects, default); spacing: scale by point "
                        "spacing (POCO; scenes, large partial scans)")
    p.add_argument("--trim", type=float, nargs="?", const=TRIM_DISTANCE, default=None, metavar="D",
                   help=f"drop the faces farther than D from every point (a fraction of the object's size with "
                        f"--normalize bbox; --trim alone: {TRIM_DISTANCE:g}): the mesh covers only what the scan "
                        f"saw and is open elsewhere (default: watertight)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--checkpoint", default=None,
                   help="model checkpoint (default: the shipped 'default' or 'default-image')")
    p.add_argument("--preview", metavar="PNG", help="also write a shaded picture of the mesh")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice, >= 0 (default 0)")
    p.add_argument("--quiet", action="store_true", help="no messages except errors")
    return p


def _check(args) -> tuple[Path, Path, int]:
    """Check every argument and path before any work: (input, output, refinement steps); ArgumentError or
    ValueError naming the argument otherwise."""
    from .._checks import check_device, check_float, check_int
    from ..io import MESH_READ_EXTENSIONS, MESH_WRITE_EXTENSIONS, POINT_CLOUD_READ_EXTENSIONS

    check_int("--seed", args.seed, min_value=0)
    if args.refine is not None:
        check_int("--refine", args.refine, min_value=0)
    if args.image is not None and args.refine:
        raise ArgumentError("--refine: refinement needs a point cloud; it does not apply to --image")
    refine = (DEFAULT_REFINE if args.refine is None else args.refine) if args.pc is not None else 0
    if args.trim is not None:
        if args.image is not None:
            raise ArgumentError("--trim: trimming needs a point cloud; it does not apply to --image")
        check_float("--trim", args.trim, min_value=0.0, open_interval=True)
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise ArgumentError(f"--threshold: expected a probability in (0, 1), got {args.threshold}")
    check_resolution("--resolution", args.resolution)
    check_device("--device", args.device)
    flag = "--pc" if args.pc is not None else "--image"
    src = check_input_file(flag, args.pc if args.pc is not None else args.image)
    if args.pc is not None:
        ext = src.suffix.lower()
        known = sorted(set(POINT_CLOUD_READ_EXTENSIONS) | set(MESH_READ_EXTENSIONS))
        if ext not in known:
            raise ArgumentError(f"--pc {src}: unknown file type {ext or '(none)'!r}; expected one of "
                                f"{', '.join(known)}")
    out = check_output_file("--out", args.out if args.out is not None else src.with_name(src.stem + "_hnf3d.ply"),
                            MESH_WRITE_EXTENSIONS, inputs=[src])
    if args.preview is not None:
        check_output_file("--preview", args.preview, {".png"}, inputs=[src, out])
    return src, out, refine


def _read_points(path: Path, seed: int):
    """(points (N, 3), normals (N, 3) or None, messages) from a point-cloud file, or samples of a mesh file
    (a mesh-only format, or a .ply with faces). Dropped NaN/Inf rows come back as messages, not warnings."""
    from ..io import NonFiniteWarning, load_mesh, load_point_cloud
    from ..io.mesh import is_mesh_file

    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonFiniteWarning)
        if is_mesh_file(path):
            from ..ops import sample_surface

            mesh = load_mesh(path)
            s = sample_surface(mesh.vertices, mesh.faces, MESH_SAMPLES, seed=seed)
            points, normals = s.points.cpu().numpy(), None
            messages.append(f"{path}: a mesh; sampled {MESH_SAMPLES} points from its surface")
        else:
            cloud = load_point_cloud(path)
            points, normals = cloud.points, cloud.normals
    notices = [str(w.message) for w in caught if issubclass(w.category, NonFiniteWarning)]
    return points, normals, notices + messages


@command(PROG)
def main(argv=None) -> int:
    t_start = time.perf_counter()
    args = _parser().parse_args(argv)
    src, out, refine = _check(args)

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"{PROG}: {msg}", file=sys.stderr)

    # the input is read before the model is loaded: a bad file is reported at once
    t0 = time.perf_counter()
    if args.pc is not None:
        points, normals, messages = _read_points(src, args.seed)
        for m in messages:
            say(m)
    else:
        from ..io.image import read_image

        image = read_image(src)
    t_read = time.perf_counter() - t0

    from ..pipeline.reconstructor import Reconstructor

    t0 = time.perf_counter()
    rec = Reconstructor.load(args.checkpoint or ("default-image" if args.image is not None else "default"),
                             device=args.device)
    t_load = time.perf_counter() - t0
    if args.pc is not None:
        try:
            mesh = rec.reconstruct(points, normals, resolution=args.resolution, refine_steps=refine,
                                   refine_init=args.refine_init, trim=args.trim,
                                   threshold=args.threshold, seed=args.seed, normalize=args.normalize)
        except ValueError as exc:  # the cleaning's verdict on the points (too few, collinear, ...) names the file
            if str(exc).startswith("points: "):
                raise ArgumentError(f"--pc {src}: {str(exc)[len('points: '):]}") from None
            raise
        for m in mesh.metadata["hnf3d"]["messages"]:
            say(m)
    else:
        mesh = rec.reconstruct_image(image, resolution=args.resolution, threshold=args.threshold)

    if len(mesh.faces) == 0:
        print(f"{PROG}: error: the reconstruction is empty (no occupancy above the threshold "
              f"{mesh.metadata['hnf3d']['threshold']}); try a lower --threshold or --refine", file=sys.stderr)
        return 1

    from ..io import save_mesh

    timings = {"load_model": t_load, "read": t_read, **mesh.metadata["hnf3d"]["timings"]}
    picture = None
    if args.preview:
        from ..vis.preview import render_preview

        t0 = time.perf_counter()
        picture = render_preview(mesh, up=(0.0, 1.0, 0.0))
        timings["preview"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_mesh(mesh, out)
    if picture is not None:
        from ..vis.preview import write_png

        write_png(picture, args.preview)
    timings["write"] = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    say(" | ".join(f"{k} {v:.2f} s" for k, v in timings.items()) + f" | total {total:.2f} s")
    say(f"wrote {out}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, watertight "
        f"{mesh.is_watertight}" + (f"; preview {args.preview}" if args.preview else ""))
    return 0


entrypoint = console_script(main)
