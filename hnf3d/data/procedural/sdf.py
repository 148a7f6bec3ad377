"""Analytic signed distance functions (SDFs) in numpy: primitives, CSG operations, rigid transforms, SDFShape.

A node is a callable `node(P) -> (N,)` on points P of shape (3, N) (rows x, y, z: contiguous, so elementwise work
is fast), negative inside. It computes in P's dtype (float32 for meshing grids, float64 for labels); `bounds` is a
conservative axis-aligned box (lo (3,), hi (3,)) of the solid {f < 0} in the node's frame (+-inf: unbounded).

Invariants every node keeps (tests/data/test_sdf_shapes.py checks them):
- the SIGN is exact: f(p) < 0 exactly inside the solid the node describes;
- f is 1-Lipschitz, so |f(p)| <= the distance from p to the surface. Primitives are exact distances except
  `Ellipsoid` (a scaled bound, still exact in sign); min / max / the quadratic smooth min keep the property, and so
  does a rigid transform with a uniform scale (s * f(R^T (p - t) / s)). Callers use it to skip far-away work
  (`Union`'s culling, hnf3d.data.procedural.sdf_surface's narrow band): a point with |f| > r has no surface within r.

Primitives (local frame, centred at the origin unless they take end points): Sphere, Ellipsoid, RoundBox, Plate
(an extruded rounded rectangle), Cylinder (capped, optional edge rounding, axis z), Ring (a washer: a revolved
rectangle around z), Torus (around z), Cone (capped cone / frustum along z), Capsule (segment a-b), RoundCone
(tapered capsule), HalfSpace. Operations: Union (min; with many children culled per cell and capped far away),
SmoothUnion (quadratic smooth min, radius k), Subtract (max(a, -b)), SmoothSubtract, Intersect (max), Offset
(f - r: rounds), Transformed (rotation, translation, uniform scale). `SDFShape` wraps a root node with a name:
`sdf(points (N, 3)) -> (N,) float64`, `bounds`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

import numpy as np

__all__ = [
    "Node", "Sphere", "Ellipsoid", "RoundBox", "Plate", "Cylinder", "Ring", "Torus", "Cone", "Capsule", "RoundCone",
    "HalfSpace", "Union", "SmoothUnion", "Subtract", "SmoothSubtract", "Intersect", "Offset", "Transformed",
    "SDFShape", "random_rotation", "rotation_to", "place",
]

_INF = np.inf


def _col(v, P: np.ndarray) -> np.ndarray:
    """A (3,) vector as a (3, 1) column in P's dtype (so float32 work stays float32)."""
    return np.asarray(v, dtype=P.dtype).reshape(3, 1)


def _norm(P: np.ndarray) -> np.ndarray:
    return np.sqrt(P[0] * P[0] + P[1] * P[1] + P[2] * P[2])


def _box(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lo, dtype=np.float64).reshape(3), np.asarray(hi, dtype=np.float64).reshape(3)


def _box_fields(d0: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """Exact 2D distance to the quadrant {d0 <= 0, d1 <= 0} given the two signed slab distances."""
    outside = np.sqrt(np.maximum(d0, 0) ** 2 + np.maximum(d1, 0) ** 2)
    return outside + np.minimum(np.maximum(d0, d1), 0)


class Node:
    """An SDF node: `node(P (3, N)) -> (N,)` in P's dtype; `bounds` (lo, hi) conservative box of {f < 0}."""

    bounds: tuple[np.ndarray, np.ndarray]

    def __call__(self, P: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def primitives(self) -> int:
        """The number of primitives below this node (a cost measure)."""
        return 1


# ------------------------------------------------------------------------------------------------ primitives

class Sphere(Node):
    """Sphere of radius r at the origin (exact)."""

    def __init__(self, r: float):
        self.r = float(r)
        self.bounds = _box([-self.r] * 3, [self.r] * 3)

    def __call__(self, P):
        return _norm(P) - self.r


class Ellipsoid(Node):
    """Axis-aligned ellipsoid with radii (3,) at the origin: (|p / radii| - 1) * min(radii). Exact sign, a
    1-Lipschitz bound of the distance (exact along the shortest axis)."""

    def __init__(self, radii):
        self.radii = np.asarray(radii, dtype=np.float64).reshape(3)
        if not (self.radii > 0).all():
            raise ValueError(f"Ellipsoid: radii must be > 0, got {self.radii}")
        self.rmin = float(self.radii.min())
        self.bounds = _box(-self.radii, self.radii)

    def __call__(self, P):
        Q = P / _col(self.radii, P)
        return (_norm(Q) - 1) * self.rmin


class RoundBox(Node):
    """Box with half extents (3,) and edges rounded by r (0 <= r <= min half extent), at the origin (exact)."""

    def __init__(self, half, r: float = 0.0):
        self.half = np.asarray(half, dtype=np.float64).reshape(3)
        self.r = float(r)
        if not (self.half > 0).all() or not 0 <= self.r <= self.half.min():
            raise ValueError(f"RoundBox: need half extents > 0 and 0 <= r <= min(half), got {self.half}, {r}")
        self.bounds = _box(-self.half, self.half)

    def __call__(self, P):
        Q = np.abs(P) - _col(self.half - self.r, P)
        M = np.maximum(Q, 0)
        outside = _norm(M)
        inside = np.minimum(np.maximum(np.maximum(Q[0], Q[1]), Q[2]), 0)
        return outside + inside - self.r


class Cylinder(Node):
    """Capped cylinder along z: radius r, half height h, edges rounded by `round` (exact)."""

    def __init__(self, r: float, h: float, round: float = 0.0):
        self.r, self.h, self.round = float(r), float(h), float(round)
        if not (self.r > 0 and self.h > 0 and 0 <= self.round <= min(self.r, self.h)):
            raise ValueError(f"Cylinder: need r, h > 0 and 0 <= round <= min(r, h), got {r}, {h}, {round}")
        self.bounds = _box([-self.r, -self.r, -self.h], [self.r, self.r, self.h])

    def __call__(self, P):
        rho = np.sqrt(P[0] * P[0] + P[1] * P[1])
        return _box_fields(rho - (self.r - self.round), np.abs(P[2]) - (self.h - self.round)) - self.round


class Plate(Node):
    """A rounded rectangle in the xz plane (half extents hx, hz, corner radius rc) extruded along y by +-ht, its
    rims rounded by re (exact for re = 0, an exact-sign bound otherwise)."""

    def __init__(self, hx: float, hz: float, ht: float, rc: float = 0.0, re: float = 0.0):
        self.hx, self.hz, self.ht, self.rc, self.re = float(hx), float(hz), float(ht), float(rc), float(re)
        if not (self.hx > 0 and self.hz > 0 and self.ht > 0 and 0 <= self.rc <= min(self.hx, self.hz)
                and 0 <= self.re <= self.ht and self.re < min(self.hx, self.hz)):
            raise ValueError(f"Plate: bad dimensions {hx}, {hz}, {ht}, rc={rc}, re={re}")
        self.bounds = _box([-self.hx, -self.ht, -self.hz], [self.hx, self.ht, self.hz])

    def __call__(self, P):
        d2 = _box_fields(np.abs(P[0]) - (self.hx - self.rc), np.abs(P[2]) - (self.hz - self.rc)) - self.rc
        return _box_fields(d2 + self.re, np.abs(P[1]) - (self.ht - self.re)) - self.re


class Ring(Node):
    """Washer around z: radial distance from the z axis within R +- t, |z| <= h; edges rounded by `round` (exact:
    a revolved rectangle). R > t gives a hole through the middle."""

    def __init__(self, R: float, t: float, h: float, round: float = 0.0):
        self.R, self.t, self.h, self.round = float(R), float(t), float(h), float(round)
        if not (self.t > 0 and self.R >= self.t and self.h > 0 and 0 <= self.round <= min(self.t, self.h)):
            raise ValueError(f"Ring: need R >= t > 0, h > 0, 0 <= round <= min(t, h), got {R}, {t}, {h}, {round}")
        o = self.R + self.t
        self.bounds = _box([-o, -o, -self.h], [o, o, self.h])

    def __call__(self, P):
        rho = np.sqrt(P[0] * P[0] + P[1] * P[1])
        return _box_fields(np.abs(rho - self.R) - (self.t - self.round),
                           np.abs(P[2]) - (self.h - self.round)) - self.round


class Torus(Node):
    """Torus around z: major radius R, minor radius r < R (exact)."""

    def __init__(self, R: float, r: float):
        self.R, self.r = float(R), float(r)
        if not 0 < self.r < self.R:
            raise ValueError(f"Torus: need 0 < r < R, got R={R}, r={r}")
        o = self.R + self.r
        self.bounds = _box([-o, -o, -self.r], [o, o, self.r])

    def __call__(self, P):
        rho = np.sqrt(P[0] * P[0] + P[1] * P[1]) - self.R
        return np.sqrt(rho * rho + P[2] * P[2]) - self.r


class Cone(Node):
    """Capped cone (frustum) along z from z = -h (radius r1) to z = +h (radius r2); r2 = 0 is a cone (exact)."""

    def __init__(self, h: float, r1: float, r2: float):
        self.h, self.r1, self.r2 = float(h), float(r1), float(r2)
        if not (self.h > 0 and self.r1 >= 0 and self.r2 >= 0 and max(self.r1, self.r2) > 0):
            raise ValueError(f"Cone: need h > 0, radii >= 0 and one > 0, got {h}, {r1}, {r2}")
        o = max(self.r1, self.r2)
        self.bounds = _box([-o, -o, -self.h], [o, o, self.h])

    def __call__(self, P):
        h, r1, r2 = self.h, self.r1, self.r2
        qx = np.sqrt(P[0] * P[0] + P[1] * P[1])
        qy = P[2]
        k2x, k2y = r2 - r1, 2.0 * h
        f = P.dtype.type
        cax = qx - np.minimum(qx, np.where(qy < 0, f(r1), f(r2)))
        cay = np.abs(qy) - h
        t = np.clip(((r2 - qx) * k2x + (h - qy) * k2y) / (k2x * k2x + k2y * k2y), 0.0, 1.0)
        cbx = qx - r2 + k2x * t
        cby = qy - h + k2y * t
        s = np.where((cbx < 0) & (cay < 0), -1.0, 1.0).astype(P.dtype, copy=False)
        return s * np.sqrt(np.minimum(cax * cax + cay * cay, cbx * cbx + cby * cby))


class Capsule(Node):
    """Segment a-b swept by a ball of radius r (exact)."""

    def __init__(self, a, b, r: float):
        self.a = np.asarray(a, dtype=np.float64).reshape(3)
        self.b = np.asarray(b, dtype=np.float64).reshape(3)
        self.r = float(r)
        if not self.r > 0:
            raise ValueError(f"Capsule: r must be > 0, got {r}")
        ba = self.b - self.a
        self._ba = ba
        self._inv = 1.0 / max(float(ba @ ba), 1e-300)
        self.bounds = _box(np.minimum(self.a, self.b) - self.r, np.maximum(self.a, self.b) + self.r)

    def __call__(self, P):
        A = P - _col(self.a, P)
        bx, by, bz = (float(x) for x in self._ba)
        h = np.clip((A[0] * bx + A[1] * by + A[2] * bz) * self._inv, 0.0, 1.0)
        dx, dy, dz = A[0] - bx * h, A[1] - by * h, A[2] - bz * h
        return np.sqrt(dx * dx + dy * dy + dz * dz) - self.r


class RoundCone(Node):
    """Tapered capsule: the convex hull of the balls (a, r1) and (b, r2), |r1 - r2| < |b - a| (exact).

    It is the union of the balls centred on the axis at t in [0, L] with radii r1 + k t (k = (r2 - r1) / L); with
    axial and radial coordinates y, x of the point, the nearest of them is at t = clip(y + x k / sqrt(1 - k^2),
    0, L), and the distance is sqrt(x^2 + (y - t)^2) - (r1 + k t)."""

    def __init__(self, a, b, r1: float, r2: float):
        self.a = np.asarray(a, dtype=np.float64).reshape(3)
        self.b = np.asarray(b, dtype=np.float64).reshape(3)
        self.r1, self.r2 = float(r1), float(r2)
        ba = self.b - self.a
        self.length = float(np.linalg.norm(ba))
        if not (self.r1 > 0 and self.r2 > 0 and abs(self.r1 - self.r2) < self.length):
            raise ValueError(f"RoundCone: need radii > 0 and |r1 - r2| < |b - a|, got {r1}, {r2}, {self.length}")
        self.axis = ba / self.length
        self.k = (self.r2 - self.r1) / self.length
        self.slope = self.k / float(np.sqrt(1 - self.k * self.k))
        r = max(self.r1, self.r2)
        self.bounds = _box(np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r)

    def __call__(self, P):
        ax, ay, az = (float(v) for v in self.a)
        ux, uy, uz = (float(v) for v in self.axis)
        A0, A1, A2 = P[0] - ax, P[1] - ay, P[2] - az
        y = A0 * ux
        y += A1 * uy
        y += A2 * uz
        x2 = A0 * A0
        x2 += A1 * A1
        x2 += A2 * A2
        x2 -= y * y
        np.maximum(x2, 0, out=x2)
        t = np.sqrt(x2)
        t *= self.slope
        t += y
        np.clip(t, 0.0, self.length, out=t)
        w = y - t
        w *= w
        w += x2
        np.sqrt(w, out=w)
        t *= self.k
        w -= t
        w -= self.r1
        return w


class HalfSpace(Node):
    """{n . p < d} for a unit normal n (exact); unbounded: use it inside an Intersect or Subtract."""

    def __init__(self, normal, d: float = 0.0):
        n = np.asarray(normal, dtype=np.float64).reshape(3)
        self.n = n / np.linalg.norm(n)
        self.d = float(d)
        self.bounds = _box([-_INF] * 3, [_INF] * 3)

    def __call__(self, P):
        nx, ny, nz = (float(x) for x in self.n)
        return P[0] * nx + P[1] * ny + P[2] * nz - self.d


# ------------------------------------------------------------------------------------------------ operations

#: Union culls from this many children and this many points on (below it, a plain min is cheaper).
CULL_CHILDREN = 8
CULL_POINTS = 2048
#: the culling grid: levels of CULL_LEVELS[0]^3, then each cell split into CULL_LEVELS[i]^3 (8 -> 32 -> 64 cells
#: per side) over the union's box grown by half its largest side on each side
CULL_LEVELS = (8, 4, 2)
#: a culled union returns min(f, CULL_CAP * its box's largest side): far from every child nothing is evaluated
CULL_CAP = 0.1
#: slack on the culling bounds: covers float32 evaluation (~1e-6 on shapes of size ~1) many times over
CULL_SLACK = 1e-5


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Quadratic smooth min with blend radius k: a convex combination of the gradients, so 1-Lipschitz; equals
    min(a, b) where |a - b| >= k and is at most k/4 below it."""
    h = np.maximum(k - np.abs(a - b), 0) * (1.0 / k)
    return np.minimum(a, b) - h * h * (k * 0.25)


def _union_bounds(children) -> tuple[np.ndarray, np.ndarray]:
    return (np.min([c.bounds[0] for c in children], axis=0), np.max([c.bounds[1] for c in children], axis=0))


def _centres(lo: np.ndarray, size: np.ndarray, cells: np.ndarray, g: int) -> np.ndarray:
    """Centres (3, M) of the cells with flat ids `cells` of a g^3 grid at lo with cell size `size` (3,)."""
    i, rest = np.divmod(cells, g * g)
    j, k = np.divmod(rest, g)
    return np.stack([lo[0] + (i + 0.5) * size[0], lo[1] + (j + 0.5) * size[1], lo[2] + (k + 0.5) * size[2]])


def _split(cells: np.ndarray, g: int, r: int) -> np.ndarray:
    """The ids in the (g r)^3 grid of the r^3 sub-cells of each cell of the g^3 grid: (len(cells) * r^3,)."""
    i, rest = np.divmod(cells, g * g)
    j, k = np.divmod(rest, g)
    a = np.arange(r)
    gr = g * r
    sub = ((a[:, None, None] * gr + a[None, :, None]) * gr + a[None, None, :]).ravel()
    return (((i * r) * gr + j * r) * gr + k * r)[:, None].__add__(sub[None, :]).ravel()


class _CullGrid:
    """Which children of a Union can matter in each cell of a fixed grid (Union's docstring), as lists per cell.

    Built once per Union, level by level: each child is evaluated at the centres of the cells it survived on the
    level above, split. A child survives a cell when its value at the centre minus the cell's half diagonal is at
    most min(best value + half diagonal, cap): a 1-Lipschitz f changes by at most the half diagonal within the
    cell, so wherever min(f, cap) < cap the child that is the minimum survives; cells far from every child keep
    none."""

    def __init__(self, children, lo: np.ndarray, hi: np.ndarray, cap: float):
        span = float((hi - lo).max())
        self.lo = lo - 0.5 * span
        hi = hi + 0.5 * span
        g = CULL_LEVELS[0]
        size = (hi - self.lo) / g
        cells = [np.arange(g ** 3)] * len(children)
        first = True
        for r in CULL_LEVELS:
            if not first:
                cells = [_split(c, g, r) for c in cells]
                g, size = g * r, size / r
            first = False
            rho = float(np.linalg.norm(size)) / 2 + CULL_SLACK
            vals = [child(_centres(self.lo, size, c, g)) if c.size else np.zeros(0)
                    for child, c in zip(children, cells)]
            best = np.full(g ** 3, cap)
            for c, v in zip(cells, vals):
                np.minimum.at(best, c, v + rho)
            cells = [c[v - rho <= best[c]] for c, v in zip(cells, vals)]
        self.g, self.size = g, size
        # per cell, the surviving children: CSR (ptr over cells, child ids sorted by cell)
        cell = np.concatenate(cells)
        child = np.concatenate([np.full(c.size, i, dtype=np.int16) for i, c in enumerate(cells)])
        order = np.argsort(cell, kind="stable")
        self.children = child[order]
        self.ptr = np.zeros(g ** 3 + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=g ** 3), out=self.ptr[1:])

    def cell_ids(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flat cell id (N,) int64, inside the grid (N,) bool) of points P (3, N)."""
        g = self.g
        ijk = np.floor((P - self.lo.astype(P.dtype)[:, None]) / self.size.astype(P.dtype)[:, None])
        inside = ((ijk >= 0) & (ijk < g)).all(axis=0)
        ijk = np.clip(ijk, 0, g - 1).astype(np.int64)
        return (ijk[0] * g + ijk[1]) * g + ijk[2], inside


class Union(Node):
    """min over the children (exact sign; exact distance outside).

    With many children and points (CULL_CHILDREN, CULL_POINTS) the union is culled and returns min(f, cap), cap =
    CULL_CAP x its box's largest side: a fixed grid (`_CullGrid`, 64^3 cells over the box grown by half its
    largest side on each side, built on first use) lists per cell the children that can be the minimum or below
    the cap there, and each child is evaluated only on the points of its cells (points outside the grid see every
    child). min(f, cap) has f's sign and zero set, is 1-Lipschitz and still at most the distance to the surface."""

    def __init__(self, children):
        self.children = list(children)
        if not self.children:
            raise ValueError("Union: no children")
        if len(self.children) > np.iinfo(np.int16).max:
            raise ValueError(f"Union: at most {np.iinfo(np.int16).max} children, got {len(self.children)}")
        self.bounds = _union_bounds(self.children)
        self._grid: _CullGrid | None = None

    def primitives(self) -> int:
        return sum(c.primitives() for c in self.children)

    def __call__(self, P):
        kids = self.children
        n = P.shape[1]
        lo, hi = self.bounds
        if len(kids) < CULL_CHILDREN or n < CULL_POINTS or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return reduce(np.minimum, (c(P) for c in kids))
        cap = CULL_CAP * float((hi - lo).max())
        if self._grid is None:
            self._grid = _CullGrid(kids, lo, hi, cap)
        grid = self._grid
        cell, inside = grid.cell_ids(P)
        out = np.full(n, cap, dtype=P.dtype)
        if not inside.all():  # points beyond the grid: every child
            far = np.flatnonzero(~inside)
            Pf = np.take(P, far, axis=1)
            out[far] = np.minimum(reduce(np.minimum, (c(Pf) for c in kids)), cap)
            near = np.flatnonzero(inside)
            cell = cell[near]
        else:
            near = None
        # (point, child) pairs of every point with every child listed in its cell, grouped by child
        start = np.take(grid.ptr, cell)
        count = (np.take(grid.ptr, cell + 1) - start).astype(np.int32)
        total = int(count.sum())
        if total:
            # pair j of point i is child list entry start[i] + (j - first pair of i)
            shift = (start - (np.cumsum(count, dtype=np.int64) - count)).astype(np.int64)
            child = np.take(grid.children, np.repeat(shift, count) + np.arange(total, dtype=np.int64))
            ids = np.arange(cell.size, dtype=np.int32) if near is None else near.astype(np.int32)
            point = np.repeat(ids, count)
            order = np.argsort(child, kind="stable")  # radix sort of int16
            point = np.take(point, order)
            bounds = np.zeros(len(kids) + 1, dtype=np.int64)
            np.cumsum(np.bincount(child, minlength=len(kids)), out=bounds[1:])
            Pp = np.take(P, point, axis=1)  # np.take: several times faster than P[:, point]
            vals = np.empty(total, dtype=P.dtype)
            for i in np.flatnonzero(np.diff(bounds)):
                a, b = bounds[i], bounds[i + 1]
                vals[a:b] = kids[i](Pp[:, a:b])
            np.minimum.at(out, point, vals)
        return out


class SmoothUnion(Node):
    """Children joined left to right by the quadratic smooth min with blend radius k (a fillet of about k)."""

    def __init__(self, children, k: float):
        self.children = list(children)
        self.k = float(k)
        if not self.children or not self.k > 0:
            raise ValueError(f"SmoothUnion: need children and k > 0, got {len(self.children)}, {k}")
        lo, hi = _union_bounds(self.children)
        self.bounds = (lo - self.k / 4, hi + self.k / 4)

    def primitives(self) -> int:
        return sum(c.primitives() for c in self.children)

    def __call__(self, P):
        out = self.children[0](P)
        for c in self.children[1:]:
            out = _smin(out, c(P), self.k)
        return out


class Subtract(Node):
    """a minus the union of `cut`: max(a, -min(cut)) (exact sign, a distance bound)."""

    def __init__(self, a: Node, cut):
        self.a = a
        cuts = [cut] if isinstance(cut, Node) else list(cut)
        if not cuts:
            raise ValueError("Subtract: nothing to cut")
        self.cut = cuts[0] if len(cuts) == 1 else Union(cuts)
        self.bounds = a.bounds

    def primitives(self) -> int:
        return self.a.primitives() + self.cut.primitives()

    def __call__(self, P):
        return np.maximum(self.a(P), -self.cut(P))


class SmoothSubtract(Node):
    """a minus b with the cut's edges rounded by about k: -smin(-a, b, k)."""

    def __init__(self, a: Node, b: Node, k: float):
        self.a, self.b, self.k = a, b, float(k)
        if not self.k > 0:
            raise ValueError(f"SmoothSubtract: k must be > 0, got {k}")
        self.bounds = a.bounds

    def primitives(self) -> int:
        return self.a.primitives() + self.b.primitives()

    def __call__(self, P):
        return -_smin(-self.a(P), self.b(P), self.k)


class Intersect(Node):
    """max over the children (exact sign, a distance bound)."""

    def __init__(self, children):
        self.children = list(children)
        if not self.children:
            raise ValueError("Intersect: no children")
        self.bounds = (np.max([c.bounds[0] for c in self.children], axis=0),
                       np.min([c.bounds[1] for c in self.children], axis=0))

    def primitives(self) -> int:
        return sum(c.primitives() for c in self.children)

    def __call__(self, P):
        return reduce(np.maximum, (c(P) for c in self.children))


class Offset(Node):
    """The child grown by r (r < 0: shrunk): f - r. Rounds the child's edges by r."""

    def __init__(self, child: Node, r: float):
        self.child, self.r = child, float(r)
        lo, hi = child.bounds
        self.bounds = (lo - max(self.r, 0), hi + max(self.r, 0))

    def primitives(self) -> int:
        return self.child.primitives()

    def __call__(self, P):
        return self.child(P) - self.r


class Transformed(Node):
    """The child rotated by R (3, 3), scaled uniformly by s > 0 and moved by t: world p = s R q + t, so
    f(p) = s * child((R^T (p - t)) / s), which keeps distances exact."""

    def __init__(self, child: Node, R=None, t=None, s: float = 1.0):
        self.child = child
        self.R = np.eye(3) if R is None else np.asarray(R, dtype=np.float64).reshape(3, 3)
        self.t = np.zeros(3) if t is None else np.asarray(t, dtype=np.float64).reshape(3)
        self.s = float(s)
        if not self.s > 0:
            raise ValueError(f"Transformed: scale must be > 0, got {s}")
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-9) or np.linalg.det(self.R) < 0:
            raise ValueError("Transformed: R must be a rotation (orthonormal, det +1)")
        self._A = self.R.T / self.s  # q = A (p - t)
        lo, hi = child.bounds
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            world = corners @ (self.s * self.R).T + self.t
            self.bounds = (world.min(0), world.max(0))
        else:
            self.bounds = _box([-_INF] * 3, [_INF] * 3)

    def primitives(self) -> int:
        return self.child.primitives()

    def __call__(self, P):
        # einsum: several times faster than matmul's BLAS path for a (3, 3) x (3, N) product
        Q = np.einsum("ij,jn->in", self._A.astype(P.dtype), P - _col(self.t, P))
        return self.child(Q) * self.s


def place(node: Node, R=None, t=None, s: float = 1.0) -> Node:
    """`node` rotated by R, scaled by s and moved to t (Transformed); the identity returns node itself."""
    if R is None and t is None and s == 1.0:
        return node
    return Transformed(node, R, t, s)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix uniform on SO(3) (a normalised Gaussian quaternion; 4 draws)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rotation_to(direction) -> np.ndarray:
    """A rotation taking +z to the unit vector along `direction` (for placing z-axis primitives)."""
    d = np.asarray(direction, dtype=np.float64).reshape(3)
    d = d / np.linalg.norm(d)
    helper = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, d)
    x /= np.linalg.norm(x)
    y = np.cross(d, x)
    return np.stack([x, y, d], axis=1)


@dataclass
class SDFShape:
    """A solid given by an SDF: `sdf(points (N, 3)) -> (N,)` float64, negative inside; `bounds` (lo, hi): a
    conservative box of the solid in world units. `params`: what the family drew (for metadata and tests)."""

    name: str
    root: Node
    params: dict = field(default_factory=dict)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.root.bounds

    def sdf(self, points) -> np.ndarray:
        """Signed distance bound of points (N, 3) (cast to float64): (N,) float64, < 0 exactly inside."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ValueError(f"points: expected an (N, 3) array, got shape {p.shape}")
        return self.evaluate(np.ascontiguousarray(p.T))

    def evaluate(self, P: np.ndarray) -> np.ndarray:
        """The root on points P (3, N) in P's own dtype (float32 for fast, approximate work)."""
        if P.shape[1] == 0:
            return np.zeros(0, dtype=P.dtype)
        return self.root(P)
