"""The surface of an SDFShape (hnf3d.data.procedural.sdf): narrow-band marching cubes, area-weighted samples
projected onto the exact zero set, normals from the SDF's gradient, the tight bounding box.

`extract_surface(shape, resolution)`: grid spacing h = (the solid's largest side, estimated on a 24^3 grid) /
resolution. The grid is cut into blocks of 4^3 cells; the SDF is evaluated (float32) at the block corners and
centres, and a block can hold surface only when no corner has |f| > the block diagonal and the centre has
|f| <= half of it (f is 1-Lipschitz: such a value proves the whole block lies on one side). Only those blocks are
evaluated at full resolution and given to skimage's marching cubes (its mask), the rest take their block's sign:
typically 10-15% of the nodes are evaluated. The mesh is closed and outward-oriented (faces flipped when its signed
volume is negative).

`sample_surface(shape, mesh, n, rng)`: n area-weighted samples on the mesh, moved onto the zero set (`project`):
a secant step along the interpolated marching-cubes normal, then one Newton step x -= f(x) g / |g|^2 with the
finite-difference gradient g on a tetrahedron of 4 points (eps = 1e-4 L; the 4 values' mean is f, accurate to
O(eps^2)); normals = g / |g|. All of it in float32 (absolute error ~1e-6 on shapes of size ~1): a sample whose
|f| at the end exceeds `tol` times the largest side L is dropped and drawn again, so every returned point has
|f| <= tol * L (1e-4 L by default; float16 storage rounds by up to 2.4e-4 of a unit box).
`occupancy(shape, points)`: the inside test, float32 first and float64 again near the surface: float64's sign.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sdf import SDFShape

__all__ = ["SurfaceMesh", "extract_surface", "surface_draw", "sample_surface", "sdf_gradient", "project",
           "tight_bounds", "occupancy"]

BLOCK = 4
#: the 4 corners of a regular tetrahedron (the finite-difference stencil; they sum to zero)
_TETRA = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], dtype=np.float64)


@dataclass
class SurfaceMesh:
    """A closed, outward-oriented triangle mesh of an SDF's zero set (world units).

    vertices (V, 3) float64, faces (F, 3) int64, normals (V, 3) float64 unit (marching cubes' gradient normals),
    h: the grid spacing, evaluated: how many grid nodes were evaluated, nodes: the grid's node count."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    h: float
    evaluated: int
    nodes: int
    cdf: np.ndarray | None = None  # cumulative face areas, filled by surface_draw


def _grid_values(shape: SDFShape, origin: np.ndarray, h: float, counts) -> np.ndarray:
    """f (float32) on the node grid origin + h * (i, j, k), i < counts[0] ... as a (nx, ny, nz) array."""
    axes = [(origin[i] + h * np.arange(counts[i])).astype(np.float32) for i in range(3)]
    P = np.stack(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)
    return shape.evaluate(P).reshape(tuple(counts))


def _estimate_box(shape: SDFShape, cells: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A box around the solid, tighter than the shape's conservative bounds: the cells of a cells^3 grid that are
    not provably outside (no corner with f > the cell diagonal)."""
    lo, hi = (np.asarray(b, dtype=np.float64) for b in shape.bounds)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
        raise ValueError(f"{shape.name}: the shape's bounds are not a finite box: {lo}, {hi}")
    step = float((hi - lo).max()) / cells
    lo = lo - step
    counts = np.ceil((hi + step - lo) / step).astype(int) + 1
    f = _grid_values(shape, lo, step, counts)
    diag = step * np.sqrt(3) * (1 + 1e-4) + 1e-6
    corners = [f[i:f.shape[0] - 1 + i, j:f.shape[1] - 1 + j, k:f.shape[2] - 1 + k]
               for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    outside = np.zeros(corners[0].shape, dtype=bool)
    for c in corners:
        outside |= c > diag
    idx = np.argwhere(~outside)
    if idx.size == 0:
        raise ValueError(f"{shape.name}: the SDF is positive everywhere in its bounds (empty solid)")
    return lo + idx.min(0) * step, lo + (idx.max(0) + 1) * step


def extract_surface(shape: SDFShape, resolution: int = 128) -> SurfaceMesh:
    """Marching cubes of the shape's SDF on a narrow band (module docstring); about `resolution` cells along the
    solid's largest side. Raises ValueError when the solid is empty."""
    from skimage.measure import marching_cubes

    lo, hi = _estimate_box(shape)
    h = float((hi - lo).max()) / resolution
    blocks = np.ceil((hi - lo) / (BLOCK * h)).astype(int) + 2  # one block of margin on each side
    origin = (lo + hi) / 2 - blocks * BLOCK * h / 2
    corner = _grid_values(shape, origin, BLOCK * h, blocks + 1)
    diag = BLOCK * h * np.sqrt(3) * (1 + 1e-4) + 1e-6
    far = np.abs(corner) > diag
    bx, by, bz = blocks
    band = np.ones(tuple(blocks), dtype=bool)
    sign = np.zeros(tuple(blocks), dtype=np.float32)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                c = corner[i:bx + i, j:by + j, k:bz + k]
                fc = far[i:bx + i, j:by + j, k:bz + k]
                band &= ~fc
                sign = np.where(fc, np.sign(c), sign)  # every far corner of a block has the block's sign
    # the block centres rule out more: a ball of radius |f| > half the diagonal around the centre covers the block
    centre = _grid_values(shape, origin + BLOCK * h / 2, BLOCK * h, blocks)
    far_centre = np.abs(centre) > diag / 2
    band &= ~far_centre
    sign = np.where(far_centre, np.sign(centre), sign)
    n = blocks * BLOCK + 1
    B = (bx, BLOCK, by, BLOCK, bz, BLOCK)  # the cells as (block, cell within the block) on each axis

    def by_block(a: np.ndarray, values: np.ndarray) -> None:  # a[:-1, :-1, :-1] <- each block's value
        a[:-1, :-1, :-1].reshape(B)[...] = values[:, None, :, None, :, None]

    # the band cells (a cell named by its lowest corner)
    cells = np.zeros(tuple(n), dtype=bool)
    by_block(cells, band)
    # nodes outside the band take the sign of an adjacent cell (every far block's closed cell has its sign)
    vol = np.empty(tuple(n), dtype=np.float32)
    by_block(vol, sign * np.float32(2 * BLOCK * h))
    vol[-1, :, :] = vol[-2, :, :]
    vol[:, -1, :] = vol[:, -2, :]
    vol[:, :, -1] = vol[:, :, -2]
    # the nodes to evaluate: the corners of the band cells; they are marching cubes' mask too (it visits a cell
    # only when its corners are in the mask: the cells alone would leave holes at the band's edge)
    mask = cells.copy()
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                if i or j or k:
                    mask[i:, j:, k:] |= cells[:n[0] - i, :n[1] - j, :n[2] - k]
    idx = np.nonzero(mask)
    P = np.stack([(origin[a] + h * idx[a]).astype(np.float32) for a in range(3)])
    vol[idx] = shape.evaluate(P) if P.shape[1] else 0
    if not ((vol < 0).any() and (vol > 0).any()):
        raise ValueError(f"{shape.name}: no surface found (the solid is empty or fills the grid)")
    verts, faces, normals, _ = marching_cubes(vol, 0.0, spacing=(h, h, h), mask=mask, gradient_direction="ascent")
    verts = verts.astype(np.float64) + origin
    faces = faces.astype(np.int64)
    tri = np.take(verts, faces, axis=0)
    if np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() < 0:
        faces = faces[:, ::-1].copy()
    norms = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals.astype(np.float64) / np.maximum(norms, 1e-12)
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.einsum("ij,ij->", np.take(normals, faces[:, 0], axis=0), face_normals) < 0:
        normals = -normals
    return SurfaceMesh(verts, faces, normals, h, int(P.shape[1]) + int(np.prod(blocks + 1)) + int(np.prod(blocks)),
                       int(np.prod(n)))


def sdf_gradient(shape: SDFShape, x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(value (N,), gradient (N, 3)) of the SDF at x (N, 3), float64 results from float32 work: the 4 tetrahedron
    corners x + eps * t_i are evaluated; value = their mean (O(eps^2) accurate), gradient = sum t_i f_i / (4 eps)."""
    n = x.shape[0]
    P = np.empty((3, 4 * n), dtype=np.float32)
    for i, t in enumerate(_TETRA):
        P[:, i * n:(i + 1) * n] = (x + eps * t).T
    f = shape.evaluate(P).astype(np.float64).reshape(4, n)
    grad = np.einsum("ki,kn->ni", _TETRA, f) * (1.0 / (4 * eps))
    return f.mean(0), grad


def _f32(shape: SDFShape, x: np.ndarray) -> np.ndarray:
    """The SDF at x (N, 3) evaluated in float32, as float64 (absolute error ~1e-6 for shapes of size ~1)."""
    return shape.evaluate(np.ascontiguousarray(x.T, dtype=np.float32)).astype(np.float64)


def project(shape: SDFShape, x: np.ndarray, hint: np.ndarray, size: float) -> tuple[np.ndarray, ...]:
    """Move points x (N, 3) near the surface onto it: a secant step along `hint` (N, 3) (approximate unit
    normals, e.g. marching cubes'), then a Newton step x -= f g / |g|^2 with the tetrahedron gradient g
    (`sdf_gradient`, eps = 1e-4 size). Returns (points (N, 3), unit normals (N, 3): g / |g|, |f| (N,) at the
    points, float32 evaluation)."""
    n = x.shape[0]
    delta = 1e-3 * size
    both = _f32(shape, np.concatenate([x, x + delta * hint]))
    f0, slope = both[:n], (both[n:] - both[:n]) / delta
    slope = np.where(slope > 0.05, slope, 1.0)  # a bad hint: fall back to a unit slope, the Newton step fixes it
    x = x - (f0 / slope)[:, None] * hint
    v, g = sdf_gradient(shape, x, 1e-4 * size)
    g2 = np.maximum(np.einsum("ij,ij->i", g, g), 1e-12)
    x -= (v / g2)[:, None] * g
    normals = g / np.sqrt(g2)[:, None]
    return x, normals, np.abs(_f32(shape, x))


def _face_cdf(mesh: SurfaceMesh) -> np.ndarray:
    """The cumulative (doubled) face areas of the mesh, computed once."""
    if mesh.cdf is None:
        v, f = mesh.vertices, mesh.faces
        a, b, c = (np.take(v, f[:, i], axis=0) for i in range(3))
        e1, e2 = b - a, c - a
        cx = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
        cy = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
        cz = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        mesh.cdf = np.cumsum(np.sqrt(cx * cx + cy * cy + cz * cz))
    return mesh.cdf


def surface_draw(mesh: SurfaceMesh, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n area-weighted points on the mesh (n, 3) and their interpolated vertex normals (n, 3), not normalised."""
    cdf = _face_cdf(mesh)
    u = rng.random(n) * cdf[-1]
    order = np.argsort(u)  # sorted queries make the search cache-friendly; results go back in draw order
    face = np.empty(n, dtype=np.int64)
    face[order] = np.searchsorted(cdf, u[order], side="right")
    np.minimum(face, len(cdf) - 1, out=face)
    r1 = np.sqrt(rng.random(n))
    r2 = rng.random(n)
    w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)  # barycentric weights (n, 3)
    corner = np.take(mesh.faces, face, axis=0)  # np.take: much faster than fancy indexing rows
    pts = np.zeros((n, 3))
    nrm = np.zeros((n, 3))
    for i in range(3):
        wi = w[:, i:i + 1]
        pts += wi * np.take(mesh.vertices, corner[:, i], axis=0)
        nrm += wi * np.take(mesh.normals, corner[:, i], axis=0)
    return pts, nrm


def _size(mesh: SurfaceMesh) -> float:
    return float((mesh.vertices.max(0) - mesh.vertices.min(0)).max())


def sample_surface(shape: SDFShape, mesh: SurfaceMesh, n: int, rng: np.random.Generator, *,
                   tol: float = 1e-4, max_rounds: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """n points on the zero set (|f| <= tol * L, L the mesh's largest side) and their unit normals, (n, 3) float64
    each: area-weighted on the mesh, then projected (`project`). Raises ValueError when too few samples converge."""
    size = _size(mesh)
    got_p, got_n, have = [], [], 0
    for _ in range(max_rounds):
        want = n - have
        if want <= 0:
            break
        x, hint = surface_draw(mesh, int(want * 1.01) + 16, rng)
        hint /= np.maximum(np.linalg.norm(hint, axis=1, keepdims=True), 1e-12)
        p, nrm, res = project(shape, x, hint, size)
        ok = res <= tol * size
        got_p.append(p[ok])
        got_n.append(nrm[ok])
        have += int(ok.sum())
    if have < n:
        raise ValueError(f"{shape.name}: only {have} of {n} surface samples converged onto the zero set")
    return np.concatenate(got_p)[:n], np.concatenate(got_n)[:n]


def tight_bounds(shape: SDFShape, mesh: SurfaceMesh, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The solid's bounding box: the extremes of the projected surface samples and of the mesh vertices within
    two grid cells of the mesh's extremes (projected too)."""
    v = mesh.vertices
    vlo, vhi = v.min(0), v.max(0)
    near = ((v < vlo + 2 * mesh.h) | (v > vhi - 2 * mesh.h)).any(1)
    size = _size(mesh)
    p, _, res = project(shape, v[near], mesh.normals[near], size)
    p = p[res <= 1e-4 * size]
    pts = np.concatenate([samples, p]) if len(p) else samples
    return pts.min(0), pts.max(0)


def occupancy(shape: SDFShape, points: np.ndarray, margin: float = 1e-4) -> np.ndarray:
    """Exact inside test f < 0 for points (N, 3): float32 first, float64 again where |f32| < margin (float32's
    error is orders of magnitude below it), so the result equals float64's sign at a third of the cost. (N,)."""
    p = np.asarray(points, dtype=np.float64)
    f = shape.evaluate(np.ascontiguousarray(p.T, dtype=np.float32))
    inside = f < 0
    close = np.flatnonzero(np.abs(f) < margin)
    if close.size:
        inside[close] = shape.evaluate(np.ascontiguousarray(p[close].T)) < 0
    return inside
