"""Rendering of views in the Occupancy Networks ("img_choy2016") camera convention.

Convention (read from ONet's data and checked on real ShapeNet samples, tests/test_render.py):

    uv ~ K (R (p * scale + loc) + t)        K = camera_mat (3, 3), [R | t] = world_mat (3, 4)

p are the normalised points of points.npz / pointcloud.npz, so the world matrix acts on UN-normalised (world)
points. K holds pixel intrinsics: f = 149.84375 and principal point c = 68.5 for a 137 x 137 image. u = x / z is
the image column, v = y / z the row, both in pixel units with the pixel (row i, column j) covering
[j, j + 1) x [i, i + 1): its centre is (j + 0.5, i + 0.5). Camera axes: x to the right, y down, z forward (the
viewing direction); world +y is up (ShapeNet), so row 1 of R has a negative y component.

Viewpoints follow Choy et al. (3D-R2N2), as in ONet's data: azimuth all around the object, elevation 25-30
degrees, the camera looking at the bounding-box centre, at 1.15-1.65 bounding-box diagonals from it. (Measured on
the 48 cameras.npz views of the real ShapeNet objects in ../shared/data/real: their world frame scales every
object to a unit bounding-box diagonal, and the eye sits 1.15-1.64 units from the centre; so an object fills the
image as much as it does in ONet's data, which matters to an image model trained on our renders.)
"""
from __future__ import annotations

import math

import numpy as np
import torch

ONET_IMG_SIZE = 137
ONET_FOCAL = 149.84375
ONET_CENTER = 68.5
ELEVATION_RANGE_DEG = (25.0, 30.0)
DISTANCE_RANGE = (1.15, 1.65)  # eye to bounding-box centre, in bounding-box diagonals (module docstring)


def onet_intrinsics(size: int = ONET_IMG_SIZE) -> np.ndarray:
    """ONet's 3x3 pixel intrinsics, scaled to a size x size image (f = 149.84375, c = 68.5 at 137)."""
    s = size / ONET_IMG_SIZE
    return np.array([[ONET_FOCAL * s, 0.0, ONET_CENTER * s],
                     [0.0, ONET_FOCAL * s, ONET_CENTER * s],
                     [0.0, 0.0, 1.0]], dtype=np.float64)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """World -> camera rotation R (3, 3), rows: right, down, forward (the OpenCV camera axes), for a camera at `eye`
    looking at `target` with world direction `up` (default +y, ShapeNet's) appearing up in the image. The one
    camera helper of the package: the ONet views and the previews both use it. Raises ValueError when the viewing
    direction is parallel to `up` (the roll is undefined)."""
    forward = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, np.float64))
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise ValueError(f"look_at: the viewing direction {tuple(np.round(forward, 6))} is parallel to up "
                         f"{tuple(up)}; the camera roll is undefined")
    right /= norm
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def onet_cameras(n_views: int = 24, seed: int | None = None, *, loc=(0.0, 0.0, 0.0), scale: float = 1.0,
                 diagonal: float = math.sqrt(3), size: int = ONET_IMG_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Cameras for `n_views` views of an object normalised by (loc, scale) (world = p * scale + loc).

    seed=None: a fixed schedule (azimuths evenly spaced from 0, elevations alternating over the 25-30 degree range,
    distance at the middle of DISTANCE_RANGE). With a seed: azimuth i uniform in its own 360/n sector, elevation
    uniform in [25, 30] degrees, distance uniform in DISTANCE_RANGE, all drawn from numpy's default_rng(seed).
    diagonal: the bounding-box diagonal of the normalised object (largest side 1; sqrt(3) for the unit cube); the
    distances are multiples of it. Returns (camera_mats (V, 3, 3), world_mats (V, 3, 4)), float64.
    """
    if isinstance(n_views, bool) or int(n_views) != n_views or n_views < 0:
        raise ValueError(f"n_views: expected a non-negative integer, got {n_views!r}")
    n = int(n_views)
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale: expected a positive finite number, got {scale!r}")
    if not (diagonal > 0 and math.isfinite(diagonal)):
        raise ValueError(f"diagonal: expected a positive finite number, got {diagonal!r}")
    loc = np.asarray(loc, np.float64).reshape(3)
    k = onet_intrinsics(size)
    lo_el, hi_el = ELEVATION_RANGE_DEG
    if seed is None:
        az = np.arange(n) * (360.0 / max(n, 1))
        el = np.where(np.arange(n) % 2 == 0, lo_el + 1.0, hi_el - 1.0)
        dist = np.full(n, sum(DISTANCE_RANGE) / 2)
    else:
        rng = np.random.default_rng(seed)
        az = (np.arange(n) + rng.random(n)) * (360.0 / max(n, 1))
        el = rng.uniform(lo_el, hi_el, n)
        dist = rng.uniform(*DISTANCE_RANGE, n)
    dist = dist * diagonal  # normalised units
    cams = np.repeat(k[None], n, axis=0)
    worlds = np.zeros((n, 3, 4))
    for i in range(n):
        a, e = math.radians(az[i]), math.radians(el[i])
        direction = np.array([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)])
        eye = loc + scale * dist[i] * direction
        rot = look_at(eye, loc)
        worlds[i, :, :3] = rot
        worlds[i, :, 3] = -rot @ eye
    return cams, worlds


def project(points: np.ndarray, camera_mat: np.ndarray, world_mat: np.ndarray) -> np.ndarray:
    """World points (N, 3) -> pixel coordinates (N, 2) as (u = column, v = row), continuous (pixel j spans [j, j+1))."""
    p = np.asarray(points, np.float64)
    cam = p @ np.asarray(world_mat, np.float64)[:, :3].T + np.asarray(world_mat, np.float64)[:, 3]
    x = cam @ np.asarray(camera_mat, np.float64).T
    return x[:, :2] / x[:, 2:3]


def camera_rays(camera_mat: np.ndarray, world_mat: np.ndarray, size: int,
                supersample: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Primary rays through a regular grid of supersample x supersample points inside every pixel (the pixel
    centre when supersample = 1), ordered (row, column, sub-row, sub-column).

    Returns (origin (3,), unit directions (size*size*supersample^2, 3)) in world units.
    """
    k = np.asarray(camera_mat, np.float64)
    w = np.asarray(world_mat, np.float64)
    rot, t = w[:, :3], w[:, 3]
    eye = -rot.T @ t
    ss = int(supersample)
    sub = (np.arange(ss) + 0.5) / ss
    rows = (np.arange(size)[:, None] + sub[None, :]).ravel()  # (size*ss,) in row-major pixel order
    jj, ii = np.meshgrid(rows, rows)  # jj: column coordinate u, ii: row coordinate v
    # reorder (row, sub-row, column, sub-column) -> (row, column, sub-row, sub-column)
    jj = jj.reshape(size, ss, size, ss).transpose(0, 2, 1, 3).ravel()
    ii = ii.reshape(size, ss, size, ss).transpose(0, 2, 1, 3).ravel()
    pix = np.stack([jj, ii, np.ones_like(jj)], axis=1)
    d = pix @ np.linalg.inv(k).T @ rot  # camera -> world: R^T d for each row
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return eye, d


LIGHT_CAM = np.array([-0.4, -0.6, -0.7])  # towards the light, camera frame: upper left, in front of the object
AMBIENT = 0.3
BASE_COLOR = np.array([180.0, 185.0, 200.0])  # light blue-grey: never white, even fully lit


def _shade(normals: np.ndarray, dirs: np.ndarray, light: np.ndarray, base_color: np.ndarray) -> np.ndarray:
    """Lambertian + ambient colour (M, 3) float32 for hits: normals flipped to face the ray's origin."""
    facing = np.einsum("rj,rj->r", normals, dirs)
    lambert = np.einsum("rj,rj->r", normals, light)
    lambert = np.clip(np.where(facing > 0, -lambert, lambert), 0.0, 1.0)
    shade = AMBIENT + (1.0 - AMBIENT) * lambert
    return shade[:, None].astype(np.float32) * np.asarray(base_color, np.float32)


def _image_rect(points: np.ndarray, camera_mat: np.ndarray, world_mat: np.ndarray, size: int) -> tuple[int, ...]:
    """Pixel rows/columns (r0, r1, c0, c1), inclusive, that can see `points` (a bounding box's corners); the
    whole image when a point is at or behind the camera plane."""
    cam = points @ world_mat[:, :3].T + world_mat[:, 3]
    if (cam[:, 2] <= 1e-9).any():
        return 0, size - 1, 0, size - 1
    x = cam @ camera_mat.T
    u, v = x[:, 0] / x[:, 2], x[:, 1] / x[:, 2]
    clamp = lambda a: int(min(max(a, 0), size - 1))  # noqa: E731
    return (clamp(math.floor(v.min()) - 1), clamp(math.floor(v.max()) + 1),
            clamp(math.floor(u.min()) - 1), clamp(math.floor(u.max()) + 1))


def render_views(vertices, faces, camera_mats: np.ndarray, world_mats: np.ndarray, size: int = ONET_IMG_SIZE,
                 *, supersample: int = 2, adaptive: bool = True, backend: str = "auto",
                 base_color=BASE_COLOR) -> np.ndarray:
    """Render the mesh (vertices in world units, the frame the world matrices act on) from V cameras.

    Ray casting with hnf3d.ops.cast_rays; Lambertian shading from a light fixed in the camera frame plus ambient,
    the normal flipped to face the camera; white (255) background; the surface's colour fully lit is `base_color`
    (RGB in 0-255; keep it below white). Anti-aliasing (ONet's Blender renders have
    soft silhouettes): supersample x supersample rays per pixel, averaged. adaptive=True (default) casts one ray
    through each pixel centre inside the object's projected bounding box, then supersamples only the pixels on
    a silhouette (hit/miss differs from a 4-neighbour): about 8x fewer rays than adaptive=False, which
    supersamples every pixel. All views go through one cast_rays call per pass.
    camera_mats: (V, 3, 3); world_mats: (V, 3, 4). Returns (V, size, size, 3) uint8.
    """
    from ..ops import cast_rays

    cams = np.asarray(camera_mats, np.float64).reshape(-1, 3, 3)
    worlds = np.asarray(world_mats, np.float64).reshape(-1, 3, 4)
    if cams.shape[0] != worlds.shape[0]:
        raise ValueError(f"camera_mats/world_mats: {cams.shape[0]} and {worlds.shape[0]} views")
    if isinstance(supersample, bool) or int(supersample) != supersample or supersample < 1:
        raise ValueError(f"supersample: expected a positive integer, got {supersample!r}")
    ss = int(supersample)
    base = np.asarray(base_color, np.float64)
    if base.shape != (3,) or not (np.isfinite(base).all() and (base >= 0).all() and (base < 255).all()):
        raise ValueError(f"base_color: expected 3 values in [0, 255), got {base_color!r}")
    n_views = cams.shape[0]
    if n_views == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise ValueError(f"vertices: expected a non-empty (V, 3) array, got shape {v.shape}")
    lo, hi = v.min(0), v.max(0)
    centre = (lo + hi) / 2  # cast in a frame near the object: float32 precision relative to it
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
    vt = torch.from_numpy((v - centre).astype(np.float32))
    ft = torch.as_tensor(np.asarray(faces, dtype=np.int64))
    rots = worlds[:, :, :3].astype(np.float32)
    eyes = (np.einsum("vji,vj->vi", worlds[:, :, :3], -worlds[:, :, 3]) - centre).astype(np.float32)  # -R^T t
    light_cam = LIGHT_CAM / np.linalg.norm(LIGHT_CAM)
    lights = np.einsum("vij,i->vj", worlds[:, :, :3], light_cam).astype(np.float32)  # R^T l: world frame

    cache: dict[tuple, np.ndarray] = {}

    def directions(k: np.ndarray, sub: int) -> np.ndarray:  # (size*size, sub*sub, 3) unit, camera frame
        key = (k.tobytes(), sub)
        if key not in cache:
            cache[key] = camera_rays(k, _IDENTITY_POSE, size, sub)[1].astype(np.float32).reshape(size * size, -1, 3)
        return cache[key]

    def trace(view: np.ndarray, d: np.ndarray) -> np.ndarray:  # (M,), (M, 3) -> colours (M, 3); 255 on a miss
        hits = cast_rays(vt, ft, torch.from_numpy(np.ascontiguousarray(eyes[view])), torch.from_numpy(d),
                         backend=backend)
        colour = np.full((d.shape[0], 3), 255.0, np.float32)
        idx = np.flatnonzero(np.isfinite(hits.t_hit.numpy()))
        colour[idx] = _shade(hits.normal.numpy()[idx], d[idx], lights[view[idx]], base)
        return colour

    img = np.full((n_views, size * size, 3), 255.0, np.float32)
    if adaptive or ss == 1:
        views, pixels = [], []
        for i in range(n_views):
            r0, r1, c0, c1 = _image_rect(corners, cams[i], worlds[i], size)
            rr, cc = np.meshgrid(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1), indexing="ij")
            pixels.append((rr * size + cc).ravel())
            views.append(np.full(pixels[-1].size, i))
        view, pix = np.concatenate(views), np.concatenate(pixels)
        d = np.empty((pix.size, 3), np.float32)
        for i in range(n_views):
            sel = view == i
            d[sel] = directions(cams[i], 1)[pix[sel], 0] @ rots[i]  # R^T d per row
        img[view, pix] = trace(view, d)
        if ss > 1:
            hit = (img[..., 0] < 255).reshape(n_views, size, size)
            edge = np.zeros_like(hit)
            edge[:, 1:] |= hit[:, 1:] != hit[:, :-1]
            edge[:, :-1] |= hit[:, 1:] != hit[:, :-1]
            edge[:, :, 1:] |= hit[:, :, 1:] != hit[:, :, :-1]
            edge[:, :, :-1] |= hit[:, :, 1:] != hit[:, :, :-1]
            view, pix = np.nonzero(edge.reshape(n_views, -1))
        else:
            view = pix = np.zeros(0, np.int64)
    else:
        view = np.repeat(np.arange(n_views), size * size)
        pix = np.tile(np.arange(size * size), n_views)
    if view.size:
        m = ss * ss
        d = np.empty((view.size, m, 3), np.float32)
        for i in np.unique(view):
            sel = view == i
            d[sel] = directions(cams[i], ss)[pix[sel]] @ rots[i]
        colour = trace(np.repeat(view, m), d.reshape(-1, 3)).reshape(-1, m, 3).mean(axis=1)
        img[view, pix] = colour
    return np.clip(np.rint(img), 0, 255).astype(np.uint8).reshape(n_views, size, size, 3)


def render_view(vertices, faces, camera_mat: np.ndarray, world_mat: np.ndarray, size: int = ONET_IMG_SIZE,
                *, supersample: int = 2, adaptive: bool = True, backend: str = "auto") -> np.ndarray:
    """One view (render_views with a single camera). Returns (size, size, 3) uint8, white background."""
    return render_views(vertices, faces, np.asarray(camera_mat)[None], np.asarray(world_mat)[None], size,
                        supersample=supersample, adaptive=adaptive, backend=backend)[0]


_IDENTITY_POSE = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)
