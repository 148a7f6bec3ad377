#!/usr/bin/env python
"""Reconstruct a watertight mesh from a point cloud or a single image (hnf3d.pipeline.reconstructor.Reconstructor).

    python tools/reconstruct.py --pc scan.ply                       # -> scan_hnf3d.ply, in the scan's units
    python tools/reconstruct.py --pc scan.pcd --refine 0 --out mesh.obj --preview mesh.png   # field only, < 1 s
    python tools/reconstruct.py --image photo.png                   # -> photo_hnf3d.ply, in the unit box

Point clouds: any format hnf3d.io reads (.ply, .pcd, .xyz, .txt, .pts, .npy, .npz). Meshes given as --pc are
sampled (their vertices are not a fair sample of the surface). Point clouds are refined by default
(300 test-time steps, a few seconds: the mesh follows the scan); --refine 0 gives the field's one-pass
prediction (under a second for 3000 points at 128^3). The default models ship in hnf3d/pretrained/
(see their model cards). Timing of each stage goes to stderr. Output files are written atomically.
Exit code: 0 on success; 2 on a bad argument or input (one line naming it, no output file); 1 when the
reconstruction comes out empty.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hnf3d.cli._common import ArgumentError, Parser  # noqa: E402

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
    p.add_argument("--threshold", type=float, default=None,
                   help="occupancy probability of the surface (default: the model's, 0.5 after refinement)")
    p.add_argument("--normalize", choices=("bbox", "spacing"), default="bbox",
                   help="bbox: fit the bounding box to the unit box (objects, default); spacing: scale by point "
                        "spacing (POCO; scenes, large partial scans)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--checkpoint", default=None,
                   help="model checkpoint (default: the shipped 'default' or 'default-image')")
    p.add_argument("--preview", metavar="PNG", help="also write a shaded picture of the mesh")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--quiet", action="store_true", help="no messages except errors")
    return p


def _read_points(path: Path, seed: int):
    """(points (N, 3), normals or None, messages) from a point-cloud file, or samples of a mesh file."""
    from hnf3d.io import MESH_READ_EXTENSIONS, POINT_CLOUD_READ_EXTENSIONS, NonFiniteWarning, load_mesh
    from hnf3d.io import load_point_cloud

    ext = path.suffix.lower()
    messages = []
    if ext in POINT_CLOUD_READ_EXTENSIONS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NonFiniteWarning)
            cloud = load_point_cloud(path)
        messages += [str(w.message) for w in caught if issubclass(w.category, NonFiniteWarning)]
        return cloud.points, cloud.normals, messages
    if ext in MESH_READ_EXTENSIONS:
        from hnf3d.ops import sample_surface

        mesh = load_mesh(path)
        s = sample_surface(mesh.vertices, mesh.faces, MESH_SAMPLES, seed=seed)
        messages.append(f"{path}: a mesh; sampled {MESH_SAMPLES} points from its surface")
        return s.points.cpu().numpy(), None, messages
    known = sorted(set(POINT_CLOUD_READ_EXTENSIONS) | set(MESH_READ_EXTENSIONS))
    raise ValueError(f"{path}: unknown file type {ext or '(none)'!r}; expected one of {', '.join(known)}")


def _check_output(path: Path, what: str, suffixes) -> None:
    if path.suffix.lower() not in suffixes:
        raise ArgumentError(f"{what} {path}: expected one of {', '.join(sorted(suffixes))}")
    if not path.parent.is_dir():
        raise ArgumentError(f"{what} {path}: folder {path.parent} does not exist")


def main(argv=None) -> int:
    t_start = time.perf_counter()
    try:
        args = _parser().parse_args(argv)
        src = Path(args.pc or args.image)
        out = Path(args.out) if args.out else src.with_name(src.stem + "_hnf3d.ply")
        from hnf3d.io import MESH_WRITE_EXTENSIONS

        _check_output(out, "--out", MESH_WRITE_EXTENSIONS)
        if args.preview:
            _check_output(Path(args.preview), "--preview", {".png"})
        if args.refine is not None and args.refine < 0:
            raise ArgumentError(f"--refine: expected an integer >= 0, got {args.refine}")
        if args.image and args.refine:
            raise ArgumentError("--refine: refinement needs a point cloud; it does not apply to --image")
        refine = (DEFAULT_REFINE if args.refine is None else args.refine) if args.pc else 0
        if args.threshold is not None and not 0.0 < args.threshold < 1.0:
            raise ArgumentError(f"--threshold: expected a probability in (0, 1), got {args.threshold}")
        if not src.is_file():
            raise ArgumentError(f"{'--pc' if args.pc else '--image'} {src}: file not found")
    except ArgumentError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"{PROG}: {msg}", file=sys.stderr)

    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.io.checkpoint import CheckpointError

    try:
        t0 = time.perf_counter()
        rec = Reconstructor.load(args.checkpoint or ("default-image" if args.image else "default"),
                                 device=args.device)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        if args.pc:
            points, normals, messages = _read_points(src, args.seed)
            t_read = time.perf_counter() - t0
            for m in messages:
                say(m)
            mesh = rec.reconstruct(points, normals, resolution=args.resolution, refine_steps=refine,
                                   threshold=args.threshold, seed=args.seed, normalize=args.normalize)
            for m in mesh.metadata["hnf3d"]["messages"]:
                say(m)
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(src) as img:
                    img.load()
                    image = img.copy()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
                raise ValueError(f"{src}: not a readable image ({type(exc).__name__})") from None
            t_read = time.perf_counter() - t0
            mesh = rec.reconstruct_image(image, resolution=args.resolution, threshold=args.threshold)
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    if len(mesh.faces) == 0:
        print(f"{PROG}: error: the reconstruction is empty (no occupancy above the threshold "
              f"{mesh.metadata['hnf3d']['threshold']}); try a lower --threshold or --refine", file=sys.stderr)
        return 1

    from hnf3d.io import save_mesh

    timings = {"load_model": t_load, "read": t_read, **mesh.metadata["hnf3d"]["timings"]}
    picture = None
    if args.preview:
        from hnf3d.vis.preview import render_preview

        t0 = time.perf_counter()
        picture = render_preview(mesh, up=(0.0, 1.0, 0.0))
        timings["preview"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_mesh(mesh, out)
    if picture is not None:
        from hnf3d.vis.preview import write_png

        write_png(picture, args.preview)
    timings["write"] = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    say(" | ".join(f"{k} {v:.2f} s" for k, v in timings.items()) + f" | total {total:.2f} s")
    say(f"wrote {out}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, watertight "
        f"{mesh.is_watertight}" + (f"; preview {args.preview}" if args.preview else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
