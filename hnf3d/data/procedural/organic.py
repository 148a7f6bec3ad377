"""Organic SDF families: `blob` (smooth unions of ellipsoids) and `tube` (swept, sometimes branching tubes).

Each `make_<family>(rng) -> SDFShape` draws its parameters from `rng` in a fixed order (part of the determinism
contract) and builds the solid from hnf3d.data.procedural.sdf nodes in a canonical frame of size about 1 (lengths
below are in that frame), then rotates it uniformly at random. Every part overlaps an earlier one, so the solid is
one piece; the docstrings give the parameter ranges and the thinnest feature, which `params["min_feature"]`
records per shape.
"""
from __future__ import annotations

import numpy as np

from ._common import _u
from .sdf import Capsule, Ellipsoid, RoundCone, SDFShape, SmoothUnion, Transformed, Union, random_rotation

__all__ = ["make_blob", "make_tube"]


def _direction(rng: np.random.Generator) -> np.ndarray:
    """A unit vector uniform on the sphere (3 draws)."""
    v = rng.normal(size=3)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def make_blob(rng: np.random.Generator) -> SDFShape:
    """A blob: 2-8 ellipsoids joined by a smooth union.

    Parameters (U(a, b): uniform): count U{2..8}; blend radius k U(0.02, 0.12); the first ellipsoid at the origin,
    radii U(0.12, 0.28) per axis; each next one is centred inside a random earlier one (its centre moved U(0.5, 1)
    of the way to that one's surface along a random direction), radii U(0.04, 0.22) per axis, raised to at least
    1/3 of the largest (aspect <= 3); each a sphere with p = 0.3; random orientations. Thinnest feature: twice
    the smallest radius, >= 0.08 (the blob spans about 0.4-1.6).
    """
    n = int(rng.integers(2, 9))
    k = _u(rng, 0.02, 0.12)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (centre, R, radii)
    for i in range(n):
        lo, hi = (0.12, 0.28) if i == 0 else (0.04, 0.22)
        radii = rng.uniform(lo, hi, size=3)
        if rng.random() < 0.3:
            radii[:] = radii[0]
        radii = np.maximum(radii, radii.max() / 3)
        R = random_rotation(rng)
        if i == 0:
            centre = np.zeros(3)
        else:
            pc, pR, pr = parts[int(rng.integers(len(parts)))]
            u = _direction(rng)
            reach = 1.0 / float(np.linalg.norm((pR.T @ u) / pr))  # the parent's surface along u
            centre = pc + u * reach * _u(rng, 0.5, 1.0)
        parts.append((centre, R, radii))
    nodes = [Transformed(Ellipsoid(r), R, c) for c, R, r in parts]
    root = nodes[0] if n == 1 else SmoothUnion(nodes, k)
    min_feature = 2 * min(float(r.min()) for _, _, r in parts)
    return SDFShape("blob", Transformed(root, random_rotation(rng)),
                    {"ellipsoids": n, "k": k, "min_feature": min_feature})


def _walk(rng: np.random.Generator, start: np.ndarray, heading: np.ndarray, steps: int, ball: float,
          turn: float) -> np.ndarray:
    """A random walk of `steps` steps of U(0.15, 0.3) from `start`, turning up to `turn` radians per step, kept
    inside the ball |p| <= ball (a step leaving it is reflected back toward the centre). (steps + 1, 3)."""
    pts = [np.asarray(start, dtype=np.float64)]
    d = heading / np.linalg.norm(heading)
    for _ in range(steps):
        # turn d by a random angle about a random axis perpendicular to it
        axis = np.cross(d, _direction(rng))
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
        a = _u(rng, 0.0, turn)
        d = d * np.cos(a) + np.cross(axis, d) * np.sin(a)
        step = _u(rng, 0.15, 0.3)
        nxt = pts[-1] + d * step
        if np.linalg.norm(nxt) > ball:  # reflect the heading toward the centre
            inward = -pts[-1] / max(float(np.linalg.norm(pts[-1])), 1e-12)
            d = d - 2 * min(float(d @ inward), 0.0) * inward
            d = 0.5 * d + 0.5 * inward
            d /= np.linalg.norm(d)
            nxt = pts[-1] + d * step
            nxt *= min(1.0, ball / max(float(np.linalg.norm(nxt)), 1e-12))
        pts.append(nxt)
    return np.array(pts)


def _catmull_rom(ctrl: np.ndarray, spacing: float) -> np.ndarray:
    """A Catmull-Rom curve through the control points, sampled every ~spacing along each span. (M, 3)."""
    c = np.concatenate([2 * ctrl[:1] - ctrl[1:2], ctrl, 2 * ctrl[-1:] - ctrl[-2:-1]])
    out = [ctrl[0]]
    for i in range(1, len(c) - 2):
        p0, p1, p2, p3 = c[i - 1], c[i], c[i + 1], c[i + 2]
        m = max(1, int(np.ceil(np.linalg.norm(p2 - p1) / spacing)))
        t = (np.arange(1, m + 1) / m)[:, None]
        out.extend(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    return np.array(out)


def _segments(points: np.ndarray, radii: np.ndarray) -> list:
    """Round cones (capsules where the radius is constant) along a polyline; a plain union of them has no seams:
    each joint is the shared end ball."""
    segs = []
    for a, b, r1, r2 in zip(points[:-1], points[1:], radii[:-1], radii[1:]):
        length = float(np.linalg.norm(b - a))
        if length < 1e-9:
            continue
        if 1e-9 < abs(r1 - r2) < 0.9 * length:
            segs.append(RoundCone(a, b, r1, r2))
        else:
            segs.append(Capsule(a, b, max(r1, r2)))
    return segs


def make_tube(rng: np.random.Generator) -> SDFShape:
    """A swept tube along a random smooth path inside the ball of radius 0.45, sometimes branching.

    Parameters (U(a, b): uniform): radius r U(0.015, 0.08); main path: a random walk of U{3..6} steps of
    U(0.15, 0.3) turning up to 70 deg, from a point within 0.25 of the centre, through which a Catmull-Rom curve
    is sampled every clip(2 r, 0.05, 0.12); the radius tapers linearly from r U(0.7, 1.3) to r U(0.7, 1.3),
    never below 0.015; round cones along it. Branches: 0 (p = 0.45), 1 (0.35) or 2 (0.2), each from an interior
    point of the main path, U{2..4} steps, radius U(0.5, 1) of the main radius there (>= 0.015), joined by a
    fillet: the smooth union (k = U(0.5, 1.5) x its radius) of the 4 main segments at the junction and the
    branch's first 3, in a plain union with all the segments. Thinnest feature: the smallest diameter, >= 0.03 (the tube
    spans at most about 1.06).
    """
    r = _u(rng, 0.015, 0.08)
    steps = int(rng.integers(3, 7))
    start = _direction(rng) * _u(rng, 0.0, 0.25)
    ctrl = _walk(rng, start, _direction(rng), steps, 0.45, np.radians(70))
    spacing = float(np.clip(2 * r, 0.05, 0.12))
    path = _catmull_rom(ctrl, spacing)
    r0, r1 = r * _u(rng, 0.7, 1.3), r * _u(rng, 0.7, 1.3)
    radii = np.maximum(np.linspace(r0, r1, len(path)), 0.015)
    segments = _segments(path, radii)
    parts: list = list(segments)
    n_branch = int(rng.choice(3, p=[0.45, 0.35, 0.2]))
    smallest = float(radii.min())
    for _ in range(n_branch):
        j = int(rng.integers(1, len(path) - 1))
        rb = max(0.015, float(radii[j]) * _u(rng, 0.5, 1.0))
        tangent = path[j + 1] - path[j - 1]
        heading = np.cross(tangent, _direction(rng))
        if np.linalg.norm(heading) < 1e-9:
            heading = _direction(rng)
        bctrl = _walk(rng, path[j], heading, int(rng.integers(2, 5)), 0.45, np.radians(50))
        bpath = _catmull_rom(bctrl, float(np.clip(2 * rb, 0.05, 0.12)))
        branch = _segments(bpath, np.full(len(bpath), rb))
        parts += branch
        # the fillet: the main segments at the junction smooth-unioned with the branch's first ones; a plain
        # union with everything else keeps the rest of both tubes as they are
        k = rb * _u(rng, 0.5, 1.5)
        main_near = segments[max(0, j - 2):j + 2]
        parts.append(SmoothUnion([main_near[0] if len(main_near) == 1 else Union(main_near),
                                  branch[0] if len(branch) < 3 else Union(branch[:3])], k))
        smallest = min(smallest, rb)
    root = Union(parts) if len(parts) > 1 else parts[0]
    return SDFShape("tube", Transformed(root, random_rotation(rng)),
                    {"radius": r, "segments": root.primitives(), "branches": n_branch,
                     "min_feature": 2 * smallest})
