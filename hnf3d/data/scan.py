"""Simulated depth-camera scans of a mesh: a point cloud that looks like a real user's scan.

`simulate_scan(mesh, views=6, resolution=96, noise=0.002, seed=0)` places `views` pinhole depth cameras on a ring
around the mesh, slightly above it (y is up, as in hnf3d.data.procedural; elevations alternate 15 and 35 degrees,
azimuths evenly spread with a small seeded jitter), each looking at the centre of the bounding box with a field of
view that just covers the bounding sphere. Each camera casts resolution x resolution rays (hnf3d.ops.cast_rays);
misses (t = inf) and grazing hits (|cos| between ray and face normal < 0.1, which real sensors also lose) are
dropped, and the range along the ray gets Gaussian noise of std `noise` x the largest side of the bounding box.
The result is what a scan really is: points only (no normals), denser on surfaces facing the cameras, with holes
where no camera looks (under a seat, inside a cabinet).

Deterministic by `seed`: every ray gets its own noise draw and its own random subsampling key whether it hits or
not, so a ray that flips between hit and miss (a different Embree build, a grazing edge) changes one point, never
the whole cloud. With `max_points`, the hits with the smallest keys are kept, in scan order.
Points are in the mesh's own frame and units; tools/simulate_scan.py scales and offsets them to real-world units.
"""
from __future__ import annotations

import numpy as np

GRAZING_COS = 0.1  # hits whose |cos(ray, face normal)| is below this are dropped (a sensor loses them too)
ELEVATIONS_DEG = (15.0, 35.0)  # ring cameras alternate between these heights above the centre
DISTANCE = 2.5  # camera distance from the centre, in bounding-sphere radii


def camera_rays(center: np.ndarray, radius: float, views: int, resolution: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions (views * resolution**2, 3) float64 of the ring of pinhole cameras."""
    dist = DISTANCE * radius
    half_fov = np.arcsin(min(1.0, 1.0 / DISTANCE)) * 1.05  # the bounding sphere plus a small margin
    extent = np.tan(half_fov)
    u = (np.arange(resolution) + 0.5) / resolution * 2.0 - 1.0  # pixel centres on [-1, 1]
    px, py = np.meshgrid(u * extent, -u * extent)  # image rows top to bottom
    phase = rng.uniform(0.0, 2.0 * np.pi)
    jitter = rng.uniform(-0.15, 0.15, size=views) * (2.0 * np.pi / views)
    origins, directions = [], []
    up_world = np.array([0.0, 1.0, 0.0])
    for k in range(views):
        az = phase + 2.0 * np.pi * k / views + jitter[k]
        el = np.deg2rad(ELEVATIONS_DEG[k % len(ELEVATIONS_DEG)])
        eye = center + dist * np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        forward = (center - eye) / np.linalg.norm(center - eye)
        right = np.cross(forward, up_world)
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        d = forward[None, :] + px.reshape(-1, 1) * right[None, :] + py.reshape(-1, 1) * up[None, :]
        directions.append(d / np.linalg.norm(d, axis=1, keepdims=True))
        origins.append(np.broadcast_to(eye, d.shape))
    return np.concatenate(origins), np.concatenate(directions)


def simulate_scan(mesh, *, views: int = 6, resolution: int = 96, noise: float = 0.002, seed: int = 0,
                  max_points: int | None = None, missing: float = 0.0) -> np.ndarray:
    """Scan `mesh` (a trimesh.Trimesh, or anything with .vertices and .faces) with virtual depth cameras.

    views >= 1 cameras of resolution x resolution rays (resolution >= 1); noise >= 0: range noise std as a
    fraction of the largest side of the mesh's bounding box; seed >= 0; max_points: keep at most this many hits
    (a seeded random subset, in scan order); missing >= 0: the hits within missing x the largest side of one
    hit (chosen by the seed) are dropped, a part the scanner never saw (a hole or a lost side), before the
    subsetting. Returns points (N, 3) float32 in the mesh's frame; N may be 0.
    """
    from hnf3d.ops import cast_rays

    if int(views) < 1:
        raise ValueError(f"views: expected >= 1, got {views}")
    if int(resolution) < 1:
        raise ValueError(f"resolution: expected >= 1, got {resolution}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a finite value >= 0, got {noise}")
    if int(seed) < 0:
        raise ValueError(f"seed: expected >= 0, got {seed}")
    if not np.isfinite(missing) or missing < 0:
        raise ValueError(f"missing: expected a finite value >= 0, got {missing}")
    if max_points is not None and int(max_points) < 1:
        raise ValueError(f"max_points: expected >= 1, got {max_points}")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(vertices) == 0 or len(faces) == 0:
        raise ValueError("mesh: empty (no vertices or no faces)")
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    size = float((hi - lo).max())
    if not size > 0:
        raise ValueError("mesh: degenerate bounding box (all vertices coincide)")
    center = (lo + hi) / 2.0
    radius = float(np.linalg.norm(hi - lo)) / 2.0

    rng = np.random.default_rng([int(seed), 0x5CA9])
    origins, directions = camera_rays(center, radius, int(views), int(resolution), rng)
    n_rays = len(origins)
    range_noise = rng.standard_normal(n_rays) * (noise * size)  # one draw per ray, hit or not
    keys = rng.random(n_rays)  # subsampling key per ray

    # rays relative to the centre: float32 keeps full precision near the object whatever the mesh's offset
    hits = cast_rays((vertices - center).astype(np.float32), faces, (origins - center).astype(np.float32),
                     directions.astype(np.float32))
    t = hits.t_hit.numpy().astype(np.float64)
    cos = np.abs((hits.normal.numpy().astype(np.float64) * directions).sum(axis=1))
    keep = np.isfinite(t) & (cos >= GRAZING_COS)
    if missing > 0 and keep.any():  # drawn after every other draw: missing=0 gives the scans it always gave
        hit = origins[keep] + directions[keep] * t[keep, None]
        centre_hit = hit[rng.integers(len(hit))]
        gone = np.zeros_like(keep)
        gone[keep] = np.linalg.norm(hit - centre_hit, axis=1) < missing * size
        keep &= ~gone
    idx = np.flatnonzero(keep)
    if max_points is not None and len(idx) > int(max_points):
        chosen = np.argsort(keys[idx], kind="stable")[: int(max_points)]
        idx = np.sort(idx[chosen])
    r = t[idx] + range_noise[idx]
    points = origins[idx] + directions[idx] * r[:, None]
    return points.astype(np.float32)


__all__ = ["simulate_scan", "camera_rays"]
