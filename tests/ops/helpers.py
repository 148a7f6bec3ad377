"""Analytic shapes (with their exact inside test and distance) and independent geometric checks, shared by the
tests of hnf3d.ops.

Every polygonal shape comes with its facet `band`: a bound on how far the triangle mesh strays from the analytic
surface, so that a test compares the mesh ops with analytic truth only where the two must agree (away from the
band) and with a tolerance of `band` where a distance is compared.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import trimesh


class Shape(NamedTuple):
    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64, outward (right-hand rule)
    band: float  # max distance between the mesh and the analytic surface


def sphere(subdivisions: int = 2) -> Shape:
    """trimesh icosphere of radius 1: vertices on the unit sphere, faces are chords, so the mesh lies between
    radius 1 - band and 1 with band = 1 - (smallest distance from the centre to a face plane)."""
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    v = np.asarray(m.vertices, dtype=np.float64)
    f = np.asarray(m.faces, dtype=np.int64)
    plane = np.abs((m.face_normals * v[f[:, 0]]).sum(1))
    return Shape(v, f, float(1.0 - plane.min()))


BOX_HALF = np.array([0.4, 0.3, 0.2])  # a non-cubic box, so axis mix-ups show


def box(half: np.ndarray = BOX_HALF) -> Shape:
    """trimesh box centred at 0 with half-extents `half`: the mesh IS the analytic surface (band 0)."""
    m = trimesh.creation.box(extents=2 * np.asarray(half, dtype=np.float64))
    return Shape(np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64), 0.0)


def box_distance(q: np.ndarray, half: np.ndarray = BOX_HALF) -> np.ndarray:
    """Exact unsigned distance from q (N, 3) to the surface of the axis-aligned box [-half, half]."""
    a = np.abs(q) - half
    outside = np.linalg.norm(np.maximum(a, 0.0), axis=1)
    inside = -a.max(axis=1)  # distance to the nearest face from inside
    return np.where((a > 0).any(axis=1), outside, inside)


def box_inside(q: np.ndarray, half: np.ndarray = BOX_HALF) -> np.ndarray:
    return (np.abs(q) < half).all(axis=1)


TORUS_R, TORUS_r = 0.6, 0.25


def torus(major_sections: int = 24, minor_sections: int = 12, R: float = TORUS_R, r: float = TORUS_r) -> Shape:
    """trimesh torus around the z axis (vertices on the analytic surface). Each quad spans 2 pi / sections in both
    circle directions, so the facets stray from the surface by at most the sum of the two sagittas; doubled for
    the quad diagonals."""
    m = trimesh.creation.torus(major_radius=R, minor_radius=r, major_sections=major_sections,
                               minor_sections=minor_sections)
    sag = r * (1 - math.cos(math.pi / minor_sections)) + (R + r) * (1 - math.cos(math.pi / major_sections))
    return Shape(np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64), 2 * sag)


def torus_sdf(q: np.ndarray, R: float = TORUS_R, r: float = TORUS_r) -> np.ndarray:
    """Signed distance to the analytic torus, negative inside: inside iff (sqrt(x^2+y^2)-R)^2 + z^2 < r^2."""
    rho = np.hypot(q[:, 0], q[:, 1])
    return np.hypot(rho - R, q[:, 2]) - r


def two_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint triangles of areas 1 (face 0, in z=0) and 3 (face 1, in z=1)."""
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 1], [3, 0, 1], [0, 2, 1]], dtype=np.float64)
    f = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int64)
    return v, f


def face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def on_face(points: np.ndarray, v: np.ndarray, f: np.ndarray, face_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point and its face: (distance to the face's plane, smallest barycentric coordinate).

    A point lies on its face iff the first is ~0 and the second is >= ~0.
    """
    t = v[f[face_index]]  # (N, 3, 3)
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    n = np.cross(b - a, c - a)
    plane = np.abs(((points - a) * n).sum(1)) / np.linalg.norm(n, axis=1)
    # barycentrics from sub-triangle areas (signed along n)
    nn = (n * n).sum(1)
    wa = (np.cross(c - b, points - b) * n).sum(1) / nn
    wb = (np.cross(a - c, points - c) * n).sum(1) / nn
    wc = 1 - wa - wb
    return plane, np.minimum(np.minimum(wa, wb), wc)


def unit_vectors(n: int, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def load_normalised(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real mesh as (float64 vertices, int64 faces), moved and scaled so that its bounding box is centred at 0
    with largest side 1 (the ONet unit box); vertices and faces as stored (process=False)."""
    m = trimesh.load(str(path), force="mesh", process=False)
    v = np.asarray(m.vertices, dtype=np.float64)
    lo, hi = v.min(0), v.max(0)
    v = (v - (lo + hi) / 2) / (hi - lo).max()
    return v, np.asarray(m.faces, dtype=np.int64)


def as_np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
