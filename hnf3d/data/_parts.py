"""Closed, outward-oriented parametric parts for the procedural shapes (hnf3d.data.procedural).

Every function returns a new trimesh.Trimesh that is watertight, winding-consistent and has positive volume
(`_finish` flips the faces of any part built inside-out, for example by a mirroring transform). Parts are
never merged with booleans: overlapping parts are simply concatenated (`assemble`) and winding numbers label
their union.

Conventions: y is up, the floor is y = 0, x is the width (left-right) and +z is the front.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import trimesh

ArrayLike3 = Sequence[float] | np.ndarray
X_AXIS, Z_AXIS = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def _finish(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Plain float64/int64 arrays, no trimesh processing, outward orientation (positive volume)."""
    vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    out = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if out.volume < 0:
        out = trimesh.Trimesh(vertices=vertices, faces=np.ascontiguousarray(faces[:, ::-1]), process=False)
    return out


def transformed(mesh: trimesh.Trimesh, matrix: np.ndarray) -> trimesh.Trimesh:
    """A copy of `mesh` under a 4x4 affine transform (re-oriented outward if the transform mirrors)."""
    vertices = mesh.vertices @ matrix[:3, :3].T + matrix[:3, 3]
    return _finish(trimesh.Trimesh(vertices=vertices, faces=mesh.faces, process=False))


def rotation(axis: ArrayLike3, angle: float, pivot: ArrayLike3 = (0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 rotation by `angle` radians about `axis` through `pivot`."""
    return trimesh.transformations.rotation_matrix(float(angle), np.asarray(axis, float), np.asarray(pivot, float))


def mirror_x(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Mirror image across the plane x = 0."""
    return transformed(mesh, np.diag([-1.0, 1.0, 1.0, 1.0]))


def box(size: ArrayLike3, center: ArrayLike3 = (0.0, 0.0, 0.0), matrix: np.ndarray | None = None) -> trimesh.Trimesh:
    """Axis-aligned box of extents `size` centred at `center`, then optionally transformed by `matrix`."""
    mesh = trimesh.creation.box(extents=np.asarray(size, float))
    mesh.apply_translation(np.asarray(center, float))
    return transformed(mesh, matrix) if matrix is not None else _finish(mesh)


def box_between(lo: ArrayLike3, hi: ArrayLike3) -> trimesh.Trimesh:
    """Axis-aligned box spanning the corners `lo` and `hi`."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return box(np.abs(hi - lo), (lo + hi) / 2)


def beam(p0: ArrayLike3, p1: ArrayLike3, width: float, height: float,
         up: ArrayLike3 = (0.0, 1.0, 0.0)) -> trimesh.Trimesh:
    """A box of cross-section width x height whose axis runs from p0 to p1 (e.g. a slanted leg or spoke)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    d = axis / length
    u = np.asarray(up, float)
    if abs(float(d @ u)) > 0.99:
        u = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    side = np.cross(u, d)
    side /= np.linalg.norm(side)
    up2 = np.cross(d, side)
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = side, up2, d, (p0 + p1) / 2
    return box((width, height, length), matrix=matrix)


def cylinder(radius: float, p0: ArrayLike3, p1: ArrayLike3, sections: int = 20) -> trimesh.Trimesh:
    """Solid cylinder whose axis runs from p0 to p1."""
    segment = np.asarray([p0, p1], float)
    return _finish(trimesh.creation.cylinder(radius=float(radius), segment=segment, sections=sections))


def capsule(radius: float, p0: ArrayLike3, p1: ArrayLike3, count: tuple[int, int] = (12, 8)) -> trimesh.Trimesh:
    """Cylinder with hemispherical ends around the segment p0-p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    length = float(np.linalg.norm(p1 - p0))
    mesh = trimesh.creation.capsule(height=length, radius=float(radius), count=list(count))
    matrix = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], (p1 - p0) / length)
    matrix[:3, 3] = (p0 + p1) / 2
    return transformed(mesh, matrix)


def ellipsoid(radii: ArrayLike3, center: ArrayLike3, subdivisions: int = 2) -> trimesh.Trimesh:
    """Axis-aligned ellipsoid (a sphere when all radii are equal)."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    matrix = np.diag([*np.asarray(radii, float), 1.0])
    matrix[:3, 3] = np.asarray(center, float)
    return transformed(mesh, matrix)


def torus(major: float, minor: float, center: ArrayLike3, normal: ArrayLike3 = (0.0, 1.0, 0.0),
          sections: tuple[int, int] = (32, 10)) -> trimesh.Trimesh:
    """Ring of tube radius `minor` around a circle of radius `major` in the plane through `center` with `normal`."""
    mesh = trimesh.creation.torus(major_radius=float(major), minor_radius=float(minor),
                                  major_sections=sections[0], minor_sections=sections[1])
    n = np.asarray(normal, float)
    matrix = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], n / np.linalg.norm(n))
    matrix[:3, 3] = np.asarray(center, float)
    return transformed(mesh, matrix)


def loft(rings: Sequence[np.ndarray]) -> trimesh.Trimesh:
    """Closed solid through a sequence of rings (each (K, 3), same K, roughly planar and convex).

    Consecutive rings are joined by a band of triangles; the first and last rings are capped by a fan around
    their centroid. Works for prisms (two equal rings), frustums, fuselages, wings and car bodies.
    """
    rings = [np.asarray(r, float) for r in rings]
    k = rings[0].shape[0]
    vertices = np.concatenate(rings + [rings[0].mean(0, keepdims=True), rings[-1].mean(0, keepdims=True)])
    c0, c1 = len(rings) * k, len(rings) * k + 1
    j = np.arange(k)
    jn = (j + 1) % k
    faces = []
    for i in range(len(rings) - 1):
        a, b = i * k, (i + 1) * k
        faces.append(np.stack([a + j, a + jn, b + jn], 1))
        faces.append(np.stack([a + j, b + jn, b + j], 1))
    last = (len(rings) - 1) * k
    faces.append(np.stack([np.full(k, c0), jn, j], 1))
    faces.append(np.stack([np.full(k, c1), last + j, last + jn], 1))
    return _finish(trimesh.Trimesh(vertices=vertices, faces=np.concatenate(faces), process=False))


def ring(center: ArrayLike3, u: ArrayLike3, v: ArrayLike3, ru: float, rv: float, n: int = 20,
         power: float = 2.0) -> np.ndarray:
    """(n, 3) points on a superellipse |x/ru|^p + |y/rv|^p = 1 in the plane spanned by unit vectors u, v.

    power 2 is an ellipse; larger powers give rounded rectangles (still convex).
    """
    t = 2 * np.pi * (np.arange(n) + 0.5) / n
    c, s = np.cos(t), np.sin(t)
    x = np.sign(c) * np.abs(c) ** (2.0 / power) * ru
    y = np.sign(s) * np.abs(s) ** (2.0 / power) * rv
    return np.asarray(center, float) + np.outer(x, np.asarray(u, float)) + np.outer(y, np.asarray(v, float))


def frustum(r0: float, r1: float, p0: ArrayLike3, p1: ArrayLike3, sections: int = 24) -> trimesh.Trimesh:
    """Truncated cone with radius r0 at p0 and r1 at p1 (both > 0)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = (p1 - p0) / np.linalg.norm(p1 - p0)
    u = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    return loft([ring(p0, u, v, r0, r0, sections), ring(p1, u, v, r1, r1, sections)])


def dome(radius: float, height: float, base: ArrayLike3, up: float = 1.0, sections: int = 24,
         stacks: int = 6) -> trimesh.Trimesh:
    """Solid half-ellipsoid with a flat base disc of `radius` at `base`, bulging `height` along +y (up=1) or -y."""
    base = np.asarray(base, float)
    angles = np.linspace(0.0, 0.45 * np.pi, stacks)  # stop short of the pole: the last ring is capped flat
    rings = [ring(base + np.array([0.0, up * height * np.sin(a), 0.0]), X_AXIS, Z_AXIS, radius * np.cos(a),
                  radius * np.cos(a), sections) for a in angles]
    return loft(rings)


def assemble(parts: Sequence[trimesh.Trimesh]) -> trimesh.Trimesh:
    """Concatenate parts into one mesh (no boolean union, no vertex merging across parts)."""
    vertices, faces, offset = [], [], 0
    for part in parts:
        vertices.append(np.asarray(part.vertices, np.float64))
        faces.append(np.asarray(part.faces, np.int64) + offset)
        offset += len(part.vertices)
    return trimesh.Trimesh(vertices=np.concatenate(vertices), faces=np.concatenate(faces), process=False)
