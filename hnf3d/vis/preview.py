"""Shaded PNG previews of a mesh, for people who would rather look than read (`tools/reconstruct.py --preview`).

The image is ray cast with the project's own op, `hnf3d.ops.cast_rays`: one ray per pixel centre from a
perspective camera (35 degree field of view) placed on the direction `view` from the centre of the mesh's bounding
box, looking at that centre, at the distance where the whole bounding sphere (about the box centre) fits with a
margin. Camera convention: `up` is the world's up axis and is shown upwards in the image; it defaults to +y, as in
ShapeNet; pass up=(0, 0, 1) for z-up scans. The mesh is first normalised (centre at the origin, bounding-sphere
radius 1), so the picture does not depend on the mesh's position or scale.

Shading: ambient plus two directional lights (a key light just above and right of the camera, and a dimmer fill
from the other side), Lambertian with |n . l| (two-sided, so open or inconsistently oriented meshes look right),
on each face's geometric normal. Output is deterministic: the same mesh gives the same bytes.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch

from ..io.mesh import mesh_arrays
from .render import look_at

FOV_DEG = 35.0
MARGIN = 1.1  # the bounding sphere fills 1 / MARGIN of the half field of view
AMBIENT, KEY, FILL = 0.2, 0.8, 0.35  # light intensities; their sum may exceed 1, the result is clipped


def _unit(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected 3 finite numbers, got {v!r}")
    n = float(np.linalg.norm(a))
    if n == 0.0:
        raise ValueError(f"{name}: the direction has zero length")
    return a / n


def render_preview(mesh, *, size: int = 512, view: tuple[float, float, float] = (1.0, 0.8, 1.6),
                   up: tuple = (0.0, 1.0, 0.0), color=(176, 196, 222), background=(255, 255, 255)) -> np.ndarray:
    """(size, size, 3) uint8 image of the mesh seen from direction `view` (camera position relative to the mesh's
    bounding-box centre, normalised), perspective camera with a 35 degree field of view, framed so the whole
    bounding sphere is visible. Shading: ambient + key light near the camera + fill light, two-sided Lambert on the
    faces' geometric normals; `color` and `background` are RGB in 0..255.

    mesh: trimesh.Trimesh or (vertices (V, 3), faces (F, 3)). An empty mesh (no faces) gives an image of the
    background only. Raises ValueError for size < 16 or > 4096, or a view direction of zero length / parallel to up.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 16 <= size <= 4096:
        raise ValueError(f"size: expected an integer in [16, 4096], got {size!r}")
    size = int(size)
    view_dir, up_dir = _unit(view, "view"), _unit(up, "up")
    right, down, forward = look_at(view_dir, np.zeros(3), up_dir)
    rot = np.stack([right, -down, forward])  # rows: right, up in the image, forward
    base = np.asarray(color, dtype=np.float64).reshape(3)
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[...] = np.clip(np.round(np.asarray(background, dtype=np.float64).reshape(3)), 0, 255).astype(np.uint8)
    vertices, faces = mesh_arrays(mesh)
    if faces.shape[0] == 0:
        return image

    # normalise: bounding-box centre to the origin, bounding sphere (about that centre) to radius 1
    used = vertices[np.unique(faces)]
    centre = (used.min(axis=0) + used.max(axis=0)) / 2
    radius = float(np.linalg.norm(used - centre, axis=1).max()) or 1.0
    v = (vertices - centre) / radius

    half = math.radians(FOV_DEG) / 2
    eye = view_dir * MARGIN / math.sin(half)
    # pixel (row i, column j) centre at (j + 0.5, i + 0.5); row 0 is the top of the image
    s = (np.arange(size, dtype=np.float64) + 0.5) / size * 2 - 1
    x = s[None, :] * math.tan(half)
    y = -s[:, None] * math.tan(half)
    dirs = rot[2] + x[..., None] * rot[0] + y[..., None] * rot[1]  # (size, size, 3)
    dirs = dirs.reshape(-1, 3)
    origins = np.broadcast_to(eye, dirs.shape)

    from ..ops import cast_rays

    hits = cast_rays(torch.from_numpy(v), torch.from_numpy(faces), torch.from_numpy(np.ascontiguousarray(origins)),
                     torch.from_numpy(dirs))
    hit = np.isfinite(hits.t_hit.numpy())
    n = hits.normal.numpy().astype(np.float64)[hit]

    # lights in the camera frame: the key above-right of the camera, the fill from the left and slightly below
    key = _unit(-rot[2] + 1.0 * rot[1] + 0.6 * rot[0], "key light")
    fill = _unit(-0.5 * rot[2] - 0.2 * rot[1] - 0.9 * rot[0], "fill light")
    shade = AMBIENT + KEY * np.abs(n @ key) + FILL * np.abs(n @ fill)
    lit = np.clip(np.round(base[None, :] * np.minimum(shade, 1.0)[:, None]), 0, 255).astype(np.uint8)
    image.reshape(-1, 3)[hit] = lit
    return image


def save_preview(mesh, path, **kwargs) -> None:
    """render_preview(mesh, **kwargs), then write it as a PNG to `path` atomically (temp file, fsync, rename).

    Raises ValueError when `path` does not end in .png, FileNotFoundError (naming it) when its folder is missing;
    in either case no file is written.
    """
    if not os.fspath(path).lower().endswith(".png"):
        raise ValueError(f"{os.fspath(path)}: a preview is a PNG image, the path must end in .png")
    from ..io.atomic import check_output_path

    check_output_path(path)  # fail on a missing folder before spending time on rendering
    write_png(render_preview(mesh, **kwargs), path)


def write_png(image: np.ndarray, path) -> None:
    """Write an (H, W, 3) uint8 image as a PNG atomically (temp file, fsync, rename)."""
    from PIL import Image

    from ..io import atomic_write

    with atomic_write(path) as f:
        Image.fromarray(image).save(f, format="PNG")
