"""Man-made SDF families: `plate` (thin plates with holes, sometimes bent or ribbed), `mechanical` (machine parts:
blocks, flanged shafts, brackets) and `csg` (unions of random primitives, sometimes minus one).

Each `make_<family>(rng) -> SDFShape` draws its parameters from `rng` in a fixed order (part of the determinism
contract) and builds the solid from hnf3d.data.procedural.sdf nodes in a canonical frame of size about 1 (lengths
below are in that frame), then rotates it uniformly at random. Holes and cuts are placed by rejection sampling so
that every wall and ligament they leave is at least `MARGIN` thick and no cut reaches an outline; the thinnest
feature is recorded in `params["min_feature"]`. `csg` subtractions cannot be checked by construction: the data-set
builder (hnf3d.data.build_sdf) tests each solid and redraws the rare failure.
"""
from __future__ import annotations

import numpy as np

from ._common import _pick, _u
from .organic import _direction
from .sdf import (
    Capsule,
    Cylinder,
    Ellipsoid,
    HalfSpace,
    Intersect,
    Node,
    Plate,
    Ring,
    RoundBox,
    SDFShape,
    SmoothSubtract,
    SmoothUnion,
    Subtract,
    Torus,
    Transformed,
    Union,
    random_rotation,
    rotation_to,
)

__all__ = ["make_plate", "make_mechanical", "make_csg", "MARGIN"]

#: the thinnest wall or ligament a hole or cut may leave (1.5% of a size-1 shape's largest side, and more)
MARGIN = 0.02
_TRIES = 40
X_AXIS = rotation_to([1.0, 0.0, 0.0])
Y_AXIS = rotation_to([0.0, 1.0, 0.0])


def _footprints(rng: np.random.Generator, count: int, radius, inside, taken: list, margin: float) -> list:
    """Up to `count` disks (u, v, rho) placed by rejection sampling (_TRIES draws each): rho = radius(rng);
    inside(u, v, rho) says whether the disk fits the region; disks keep `margin` from each other and from the
    disks (and strips, see `_clear`) already in `taken`, which the new ones are appended to."""
    placed = []
    for _ in range(count):
        rho = radius(rng)
        for _ in range(_TRIES):
            u, v = rng.uniform(-1, 1, size=2)
            spot = inside(u, v, rho)
            if spot is None:
                continue
            u, v = spot
            if _clear(u, v, rho, taken, margin):
                placed.append((u, v, rho))
                taken.append(("disk", u, v, rho))
                break
    return placed


def _clear(u: float, v: float, rho: float, taken: list, margin: float) -> bool:
    for item in taken:
        if item[0] == "disk":
            _, u2, v2, r2 = item
            if np.hypot(u - u2, v - v2) < rho + r2 + margin:
                return False
        else:  # ("strip", v0, half width): a band |v - v0| <= half (ribs along u)
            _, v0, half = item
            if abs(v - v0) < rho + half + margin:
                return False
    return True


def _rect_inside(hx: float, hz: float, corner: float, margin: float):
    """inside(u, v, rho) for a rounded rectangle (half extents hx, hz, corner radius): maps u, v in [-1, 1] to a
    centre, None when the disk of radius rho + margin does not fit."""

    def inside(u: float, v: float, rho: float):
        x, z = u * hx, v * hz
        qx, qz = abs(x) - (hx - corner), abs(z) - (hz - corner)
        d = np.hypot(max(qx, 0), max(qz, 0)) + min(max(qx, qz), 0) - corner
        return (x, z) if d <= -(rho + margin) else None

    return inside


# ------------------------------------------------------------------------------------------------------ plate

def _draw_hole(rng: np.random.Generator) -> tuple[tuple, float]:
    """A through hole's spec ('round', radius, 0, 0) | ('slot', width, length, angle) and its footprint radius."""
    kind = _pick(rng, ["round", "slot"], [0.6, 0.4])
    if kind == "round":
        r = _u(rng, 0.02, 0.1)
        return ("round", r, 0.0, 0.0), r
    w = _u(rng, 0.03, 0.08)
    length = w * _u(rng, 1.5, 4.0)
    return ("slot", w, length, _u(rng, 0.0, np.pi)), length / 2


def _hole_node(spec: tuple, depth: float) -> Node:
    """The cut of a hole spec (`_draw_hole`) through +-depth along the local y axis, centred at the origin."""
    kind, size, length, angle = spec
    if kind == "round":
        return Transformed(Cylinder(size, depth), Y_AXIS)
    # a stadium: a box rounded by half its width; taller by that rounding so the full stadium crosses the plate
    slot = RoundBox([length / 2, depth + size / 2, size / 2], size / 2)
    c, s = np.cos(angle), np.sin(angle)
    return Transformed(slot, np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]))


def make_plate(rng: np.random.Generator) -> SDFShape:
    """A thin plate with holes, flat or bent, sometimes ribbed.

    Parameters (U(a, b): uniform): outline diagonal U(0.85, 1) at U(20, 45) deg (sides a >= b), thickness t
    U(0.02, 0.08), rims rounded by U(0, 0.5) t/2; flat plates: corners rounded by U(0, 0.3) b/2; bent (p = 0.35)
    about an axis along z, radius R U(0.45, 1.5), at least a / (0.8 pi) (the arc spans <= 144 deg). Ribs (p =
    0.4): 1-3 along the plate on one side, thickness U(0.02, 0.04), height U(0.03, 0.12), edges rounded by
    U(0, 0.4) of half the thickness (flat), joined by a smooth union with k U(0.3, 1) x the thickness. Holes: 1-6,
    round (p = 0.6, radius U(0.02, 0.1)) or slots (width U(0.03, 0.08), length U(1.5, 4) x the width, any
    orientation), each keeping max(MARGIN, t/2) from the outline, the ribs and each other. Thinnest feature:
    min(t, the rib thickness, the ligaments) >= 0.02.
    """
    diag, angle = _u(rng, 0.85, 1.0), np.radians(_u(rng, 20, 45))
    a, b = diag * np.cos(angle), diag * np.sin(angle)
    t = _u(rng, 0.02, 0.08)
    rim = _u(rng, 0.0, 0.5) * t / 2
    bent = rng.random() < 0.35
    corner = 0.0 if bent else _u(rng, 0.0, 0.3) * b / 2
    radius = max(_u(rng, 0.45, 1.5), a / (0.8 * np.pi)) if bent else 0.0
    margin = max(MARGIN, t / 2)
    taken: list = []
    ribs = []  # (z, thickness, height, k, side, edge rounding)
    if rng.random() < 0.4:
        side = 1.0 if rng.random() < 0.5 else -1.0
        for _ in range(int(rng.integers(1, 4))):
            rt, rh = _u(rng, 0.02, 0.04), _u(rng, 0.03, 0.12)
            k, round_ = _u(rng, 0.3, 1.0) * rt, _u(rng, 0.0, 0.4) * rt / 2
            for _ in range(_TRIES):
                z = _u(rng, -1, 1) * (b / 2 - rt / 2 - margin)
                if _clear(0.0, z, rt / 2 + k, taken, margin):
                    taken.append(("strip", z, rt / 2 + k))
                    ribs.append((z, rt, rh, k, side, round_))
                    break
    holes = []
    inside = _rect_inside(a / 2, b / 2, corner, margin)
    for _ in range(int(rng.integers(1, 7))):
        spec, rho = _draw_hole(rng)
        spot = _footprints(rng, 1, lambda _r, rho=rho: rho, inside, taken, margin)
        if spot:
            holes.append((spec, spot[0]))
    cuts: list[Node] = []
    rib_nodes: list[Node] = []
    if not bent:
        plate: Node = Plate(a / 2, b / 2, t / 2, corner, rim)
        inset = max(corner, margin)
        for z, rt, rh, _, side, round_ in ribs:
            half_h = (t / 2 + rh) / 2  # from the mid-plane to rh above the face
            rib = RoundBox([a / 2 - inset, half_h, rt / 2], round_)
            rib_nodes.append(Transformed(rib, None, [0.0, side * half_h, z]))
        for spec, (x, z, _) in holes:
            cuts.append(Transformed(_hole_node(spec, t / 2 + 0.01), None, [x, 0.0, z]))
    else:
        # the mid-surface: arc length s -> (R sin(s/R), R - R cos(s/R), z); the bend's axis through (0, R, 0)
        half = a / (2 * radius)
        axis = np.array([0.0, radius, 0.0])
        wedge = []
        for n in (np.array([np.cos(half), np.sin(half), 0.0]), np.array([-np.cos(half), np.sin(half), 0.0])):
            wedge.append(HalfSpace(n, float(n @ axis)))
        plate = Intersect([Transformed(Ring(radius, t / 2, b / 2, rim), None, axis)] + wedge)
        for z, rt, rh, _, side, _ in ribs:
            half_h = (t / 2 + rh) / 2  # radially from the mid-surface to rh beyond the face on `side`
            ring = Ring(radius + side * half_h, half_h, rt / 2)
            rib_nodes.append(Intersect([Transformed(ring, None, axis + np.array([0.0, 0.0, z]))] + wedge))
        for spec, (s, z, rho) in holes:
            alpha = s / radius
            centre = np.array([radius * np.sin(alpha), radius - radius * np.cos(alpha), z])
            tangent = np.array([np.cos(alpha), np.sin(alpha), 0.0])
            inward = np.array([-np.sin(alpha), np.cos(alpha), 0.0])
            frame = np.stack([tangent, inward, np.array([0.0, 0.0, 1.0])], axis=1)  # local x, y, z -> world
            depth = t / 2 + rho * rho / radius + 0.01  # the shell curves away from the straight cut
            cuts.append(Transformed(_hole_node(spec, depth), frame, centre))
    body: Node = plate
    for node, rib in zip(rib_nodes, ribs):
        body = SmoothUnion([body, node], rib[3])
    root = Subtract(body, cuts) if cuts else body
    min_feature = min([t] + [rib[1] for rib in ribs] + ([margin] if holes else []))
    return SDFShape("plate", Transformed(root, random_rotation(rng)),
                    {"bent": bent, "ribs": len(ribs), "holes": len(holes), "thickness": t,
                     "min_feature": min_feature})


# -------------------------------------------------------------------------------------------------- mechanical

WALL = 0.03  # the wall a bore, slot or pocket leaves in a machine part (>= MARGIN)


def _vertical_cut(spec: tuple, x: float, z: float, depth: float) -> Node:
    return Transformed(_hole_node(spec, depth), None, [x, 0.0, z])


def _block(rng: np.random.Generator) -> tuple[Node, float, dict]:
    """A machined block: bosses on top, vertical bores / a slot / a pocket, side bores along x."""
    hx, hz, hy = _u(rng, 0.2, 0.42), _u(rng, 0.15, 0.4), _u(rng, 0.06, 0.22)
    edge = _u(rng, 0.005, 0.03)
    body: Node = RoundBox([hx, hy, hz], edge)
    inside = _rect_inside(hx, hz, edge, WALL)
    taken: list = []
    cuts: list[Node] = []
    bosses = 0
    for _ in range(int(rng.integers(0, 3))):
        rb, hb, k = _u(rng, 0.04, 0.12), _u(rng, 0.03, 0.15), _u(rng, 0.005, 0.03)
        spot = _footprints(rng, 1, lambda _r, rho=rb + k: rho, inside, taken, WALL)
        if not spot:
            continue
        x, z, _ = spot[0]
        half = (hy + hb) / 2  # from the block's middle to hb above its top
        boss = Transformed(Cylinder(rb, half, min(0.3 * hb, 0.01)), Y_AXIS, [x, half, z])
        body = SmoothUnion([body, boss], k)
        bosses += 1
        if rb - WALL >= 0.02 and rng.random() < 0.6:  # a coaxial bore through boss and block
            cuts.append(_vertical_cut(("round", _u(rng, 0.02, rb - WALL), 0.0, 0.0), x, z, hy + hb + 0.05))
    for _ in range(int(rng.integers(1, 5))):
        r = _u(rng, 0.02, 0.08)
        for x, z, _ in _footprints(rng, 1, lambda _r, r=r: r, inside, taken, WALL):
            cuts.append(_vertical_cut(("round", r, 0.0, 0.0), x, z, hy + 0.05))
    if rng.random() < 0.35:
        w = _u(rng, 0.03, 0.08)
        spec = ("slot", w, w * _u(rng, 1.5, 4.0), _u(rng, 0.0, np.pi))
        for x, z, _ in _footprints(rng, 1, lambda _r, rho=spec[2] / 2: rho, inside, taken, WALL):
            cuts.append(_vertical_cut(spec, x, z, hy + 0.05))
    if rng.random() < 0.3:
        px, pz = _u(rng, 0.05, 0.15), _u(rng, 0.05, 0.15)
        depth = _u(rng, 0.3, 0.7) * (2 * hy - WALL)
        corner = _u(rng, 0.005, 0.02)
        for x, z, _ in _footprints(rng, 1, lambda _r, rho=float(np.hypot(px, pz)): rho, inside, taken, WALL):
            half = depth / 2 + 0.05  # from `depth` below the top to 0.05 above it
            cuts.append(Transformed(RoundBox([px, half, pz], corner), None, [x, hy - depth + half, z]))
    side: list[tuple[float, float, float]] = []
    if hy - WALL >= 0.02 and rng.random() < 0.5:
        for _ in range(int(rng.integers(1, 3))):
            rs = _u(rng, 0.02, min(0.08, hy - WALL))
            for _ in range(_TRIES):
                y0 = _u(rng, -1, 1) * (hy - rs - WALL)
                z0 = _u(rng, -1, 1) * (hz - rs - WALL)
                # clear of every vertical cut (in z: they cross at right angles) and of the other side bores
                if all(abs(z0 - item[2]) >= rs + item[3] + WALL for item in taken if item[0] == "disk") and \
                        all(np.hypot(y0 - y1, z0 - z1) >= rs + r1 + WALL for y1, z1, r1 in side):
                    side.append((y0, z0, rs))
                    cuts.append(Transformed(Cylinder(rs, hx + 0.05), X_AXIS, [0.0, y0, z0]))
                    break
    if cuts:
        if rng.random() < 0.3:
            body = SmoothSubtract(body, Union(cuts) if len(cuts) > 1 else cuts[0], _u(rng, 0.005, 0.015))
        else:
            body = Subtract(body, cuts)
    return body, min(2 * hy, WALL), {"variant": "block", "bosses": bosses, "cuts": len(cuts)}


def _flange(rng: np.random.Generator) -> tuple[Node, float, dict]:
    """A shaft along z with a flange, an optional hub, an axial bore (+ keyway), bolt holes, a cross hole."""
    rs, hl = _u(rng, 0.07, 0.16), _u(rng, 0.2, 0.45)
    rf, tf = _u(rng, rs + 0.1, 0.45), _u(rng, 0.03, 0.1)
    zf = -hl + tf / 2 if rng.random() < 0.6 else _u(rng, -hl + tf / 2, hl - tf / 2)
    k = _u(rng, 0.01, 0.04)
    parts: list[Node] = [Cylinder(rs, hl, _u(rng, 0.0, 0.02)),
                         Transformed(Cylinder(rf, tf / 2, _u(rng, 0.0, 0.25) * tf / 2), None, [0.0, 0.0, zf])]
    inner, reach = rs, tf / 2  # the radius bolt holes must clear; the axial reach a cross hole must clear
    if rng.random() < 0.5 and rf - 0.05 > rs + 0.03:
        r_hub = _u(rng, rs + 0.03, min(rs + 0.1, rf - 0.05))
        # (min / max: a flange at the end has zf - tf/2 = -hl up to rounding)
        lo_z = min(max(-hl, zf - tf / 2 - 0.15), zf - tf / 2)
        hi_z = max(min(hl, zf + tf / 2 + 0.15), zf + tf / 2)
        zh0, zh1 = _u(rng, lo_z, zf - tf / 2), _u(rng, zf + tf / 2, hi_z)
        parts.append(Transformed(Cylinder(r_hub, (zh1 - zh0) / 2), None, [0.0, 0.0, (zh0 + zh1) / 2]))
        inner, reach = r_hub, max(zf - zh0, zh1 - zf)
    body: Node = SmoothUnion(parts, k)
    cuts: list[Node] = []
    rb = 0.0
    if rng.random() < 0.75:
        rb = _u(rng, 0.02, rs - WALL)
        cuts.append(Cylinder(rb, hl + 0.05))
        dk = rs - WALL - rb
        if dk >= 0.01 and rng.random() < 0.3:
            wk = _u(rng, 0.015, min(rb, 0.04))
            depth = _u(rng, 0.01, dk)
            half = (rb + depth) / 2
            cuts.append(Transformed(RoundBox([wk / 2, half, hl + 0.05]), None, [0.0, half, 0.0]))
    holes = 0
    if rng.random() < 0.8:
        m, rh = int(rng.integers(3, 9)), _u(rng, 0.015, 0.05)
        lo, hi = inner + k + rh + WALL, rf - rh - WALL
        if lo <= hi:
            rc = _u(rng, lo, hi)
            while m >= 2 and 2 * rc * np.sin(np.pi / m) < 2 * rh + WALL:
                m -= 1
            phase = _u(rng, 0.0, 2 * np.pi)
            if m >= 2:
                for i in range(m):
                    a = phase + 2 * np.pi * i / m
                    cuts.append(Transformed(Cylinder(rh, tf / 2 + 0.02), None, [rc * np.cos(a), rc * np.sin(a), zf]))
                holes = m
    if rng.random() < 0.3:
        rx = _u(rng, 0.015, 0.5 * rs)
        lo_z, hi_z = -hl + rx + WALL, hl - rx - WALL
        for _ in range(_TRIES):
            z0 = _u(rng, lo_z, hi_z) if lo_z < hi_z else None
            if z0 is not None and abs(z0 - zf) >= reach + k + rx + WALL:
                cuts.append(Transformed(Cylinder(rx, rs + 0.05), X_AXIS, [0.0, 0.0, z0]))
                break
    if cuts:
        body = Subtract(body, cuts)
    return body, min(tf, WALL), {"variant": "flange", "bore": rb, "bolt_holes": holes}


def _bracket(rng: np.random.Generator) -> tuple[Node, float, dict]:
    """An L bracket: a base and an upright joined by a fillet, optional gussets, holes through both legs."""
    ax, az = _u(rng, 0.25, 0.45), _u(rng, 0.12, 0.3)
    t1, t2, hu = _u(rng, 0.04, 0.1), _u(rng, 0.04, 0.1), _u(rng, 0.2, 0.5)
    edge = _u(rng, 0.0, 0.4) * min(t1, t2) / 2
    k = _u(rng, 0.01, 0.05)
    base = Transformed(RoundBox([ax, t1 / 2, az], edge), None, [0.0, t1 / 2, 0.0])
    upright = Transformed(RoundBox([t2 / 2, hu / 2, az], edge), None, [-ax + t2 / 2, hu / 2, 0.0])
    parts: list[Node] = [base, upright]
    cx, cy = -ax + t2, t1  # the inner corner
    strips: list = []
    if rng.random() < 0.5:
        tg = _u(rng, 0.03, 0.06)
        lx, ly = _u(rng, 0.3, 0.8) * (2 * ax - t2), _u(rng, 0.3, 0.8) * (hu - t1)
        zs = [0.0] if rng.random() < 0.5 else [-(az - tg / 2 - WALL) * 0.7, (az - tg / 2 - WALL) * 0.7]
        n = np.array([ly, lx, 0.0]) / np.hypot(lx, ly)
        for zg in zs:
            box = Transformed(RoundBox([lx / 2 + 0.01, ly / 2 + 0.01, tg / 2]), None,
                              [cx + lx / 2 - 0.01, cy + ly / 2 - 0.01, zg])
            parts.append(Intersect([box, HalfSpace(n, float(n @ np.array([cx + lx, cy, 0.0])))]))
            strips.append(("strip", zg, tg / 2 + k))
    body: Node = SmoothUnion(parts, k)
    cuts: list[Node] = []
    # base holes: footprints (x, z) right of the upright and its fillet
    span = (ax - (cx + k)) / 2
    mid = cx + k + span
    inside_base = _rect_inside(span, az, edge, WALL)
    taken = list(strips)
    for _ in range(int(rng.integers(1, 5))):
        spec, rho = _draw_hole(rng)
        spec = (spec[0], min(spec[1], 0.07), spec[2], spec[3]) if spec[0] == "round" else spec
        rho = min(rho, 0.07) if spec[0] == "round" else rho
        for x, z, _ in _footprints(rng, 1, lambda _r, rho=rho: rho, inside_base, taken, WALL):
            cuts.append(_vertical_cut(spec, mid + x, z, t1 + 0.05))
    # upright holes along x: footprints (y, z) above the base and its fillet
    span_y = (hu - (cy + k)) / 2
    if span_y > 0.05:
        inside_up = _rect_inside(span_y, az, edge, WALL)
        taken = list(strips)
        for _ in range(int(rng.integers(0, 4))):
            r = _u(rng, 0.02, 0.07)
            for y, z, _ in _footprints(rng, 1, lambda _r, r=r: r, inside_up, taken, WALL):
                cuts.append(Transformed(Cylinder(r, t2 / 2 + 0.05), X_AXIS, [-ax + t2 / 2, cy + k + span_y + y, z]))
    if cuts:
        body = Subtract(body, cuts)
    return body, min(t1, t2, WALL), {"variant": "bracket", "gussets": len(strips), "cuts": len(cuts)}


def make_mechanical(rng: np.random.Generator) -> SDFShape:
    """A machine part: a block (p = 0.4), a flanged shaft (0.3) or an L bracket (0.3).

    Parameters (U(a, b): uniform). Block: half extents U(0.2, 0.42) x U(0.06, 0.22) x U(0.15, 0.4), edges rounded
    U(0.005, 0.03); 0-2 bosses on top (radius U(0.04, 0.12), height U(0.03, 0.15), fillet U(0.005, 0.03), a
    coaxial bore with p = 0.6); 1-4 vertical bores (radius U(0.02, 0.08)), a slot (p = 0.35), a pocket (p = 0.3,
    U(0.05, 0.15) half sides, depth leaving >= WALL); side bores along x (p = 0.5, 1-2); the cut edges rounded
    (p = 0.3, k U(0.005, 0.015)). Flanged shaft (axis z): shaft radius U(0.07, 0.16), half length U(0.2, 0.45);
    flange radius U(r + 0.1, 0.45), thickness U(0.03, 0.1), at an end (p = 0.6) or anywhere; a hub (p = 0.5);
    fillets k U(0.01, 0.04); an axial bore (p = 0.75) with a keyway (p = 0.3); 3-8 bolt holes (p = 0.8, radius
    U(0.015, 0.05)); a cross hole (p = 0.3). Bracket: legs U(0.5, 0.9) long, thickness U(0.04, 0.1), upright
    U(0.2, 0.5) high, width U(0.24, 0.6), fillet U(0.01, 0.05), 1-2 gussets (p = 0.5, thickness U(0.03, 0.06)),
    1-4 holes or slots through the base, 0-3 through the upright. Every cut keeps WALL (0.03) from the outline and
    the other cuts. Thinnest feature: min(the plate or flange thickness, WALL) >= 0.03.
    """
    variant = _pick(rng, ["block", "flange", "bracket"], [0.4, 0.3, 0.3])
    body, min_feature, params = {"block": _block, "flange": _flange, "bracket": _bracket}[variant](rng)
    params["min_feature"] = min_feature
    return SDFShape("mechanical", Transformed(body, random_rotation(rng)), params)


# --------------------------------------------------------------------------------------------------------- csg

CSG_KINDS = ("roundbox", "ellipsoid", "cylinder", "torus", "capsule")


def _primitive(rng: np.random.Generator, kind: str, scale: float) -> tuple[Node, float, np.ndarray]:
    """A primitive of about `scale` at the origin, its thinnest dimension and a point inside it (local frame)."""
    if kind == "roundbox":
        half = np.maximum(scale * rng.uniform(0.3, 1.0, size=3), 0.03)
        return RoundBox(half, _u(rng, 0.0, 0.5) * float(half.min())), 2 * float(half.min()), np.zeros(3)
    if kind == "ellipsoid":
        radii = np.maximum(scale * rng.uniform(0.35, 1.0, size=3), 0.03)
        return Ellipsoid(radii), 2 * float(radii.min()), np.zeros(3)
    if kind == "cylinder":
        r, h = max(scale * _u(rng, 0.3, 1.0), 0.03), max(scale * _u(rng, 0.3, 1.2), 0.03)
        return Cylinder(r, h, _u(rng, 0.0, 0.3) * min(r, h)), 2 * min(r, h), np.zeros(3)
    if kind == "torus":
        r = max(scale * _u(rng, 0.6, 1.0) * _u(rng, 0.15, 0.45), 0.02)
        R = max(scale * _u(rng, 0.6, 1.0), 1.5 * r)
        return Torus(R, r), 2 * r, np.array([R, 0.0, 0.0])
    half = scale * _u(rng, 0.3, 1.0)
    r = max(scale * _u(rng, 0.15, 0.5), 0.02)
    return Capsule([0.0, 0.0, -half], [0.0, 0.0, half], r), 2 * r, np.zeros(3)


def _point_inside(rng: np.random.Generator, node: Node, anchor: np.ndarray, depth: float) -> np.ndarray:
    """A random point at least `depth` inside `node` (rejection sampling in its bounds), else `anchor` (a point
    known to be inside)."""
    lo, hi = node.bounds
    P = rng.uniform(lo, hi, size=(256, 3))
    ok = np.flatnonzero(node(np.ascontiguousarray(P.T)) < -depth)
    return P[ok[0]] if ok.size else np.asarray(anchor, dtype=np.float64)


def _point_on_surface(rng: np.random.Generator, node: Node, start: np.ndarray) -> np.ndarray:
    """A point on `node`'s surface: from `start` (inside) outwards along a random direction, by bisection."""
    d = _direction(rng)
    lo, hi = 0.0, float(np.linalg.norm(node.bounds[1] - node.bounds[0]))
    for _ in range(40):
        mid = (lo + hi) / 2
        if node(np.ascontiguousarray((start + mid * d)[:, None]))[0] < 0:
            lo = mid
        else:
            hi = mid
    return start + lo * d


def make_csg(rng: np.random.Generator) -> SDFShape:
    """A union of 2-6 random primitives, sometimes minus one.

    Parameters (U(a, b): uniform): count U{2..6}; each a rounded box, ellipsoid, capped cylinder, torus or capsule
    (uniform) of scale U(0.2, 0.35) (the first) or U(0.1, 0.3): box half sides scale x U(0.3, 1) rounded by U(0,
    0.5) of the smallest; ellipsoid radii scale x U(0.35, 1); cylinder radius scale x U(0.3, 1), half height
    scale x U(0.3, 1.2); torus R scale x U(0.6, 1), r R x U(0.15, 0.45); capsule half length scale x U(0.3, 1),
    radius scale x U(0.15, 0.5); dimensions never below 0.03 (tube radii 0.02). Each next one is centred 0.01
    inside a random earlier one, randomly oriented. Joined by min (p = 0.5) or a smooth union with k U(0.01,
    0.06). Minus one (p = 0.4): a primitive of scale U(0.1, 0.25) centred on the union's surface. Thinnest
    feature: the smallest such dimension >= 0.04 (the cut is not checked here, module docstring).
    """
    n = int(rng.integers(2, 7))
    nodes: list[Node] = []
    anchors: list[np.ndarray] = []
    kinds = []
    thinnest = np.inf
    for i in range(n):
        kind = str(CSG_KINDS[int(rng.integers(len(CSG_KINDS)))])
        node, thin, anchor = _primitive(rng, kind, _u(rng, 0.2, 0.35) if i == 0 else _u(rng, 0.1, 0.3))
        if i == 0:
            centre = np.zeros(3)
        else:
            j = int(rng.integers(len(nodes)))
            centre = _point_inside(rng, nodes[j], anchors[j], 0.01)
        R = random_rotation(rng)
        nodes.append(Transformed(node, R, centre))
        anchors.append(R @ anchor + centre)
        kinds.append(kind)
        thinnest = min(thinnest, thin)
    smooth = rng.random() < 0.5
    k = _u(rng, 0.01, 0.06) if smooth else 0.0
    body: Node = SmoothUnion(nodes, k) if smooth else Union(nodes)
    cut_kind = None
    if rng.random() < 0.4:
        cut_kind = str(CSG_KINDS[int(rng.integers(len(CSG_KINDS)))])
        cut, _, _ = _primitive(rng, cut_kind, _u(rng, 0.1, 0.25))
        at = _point_on_surface(rng, body, anchors[int(rng.integers(len(nodes)))])
        body = Subtract(body, Transformed(cut, random_rotation(rng), at))
    return SDFShape("csg", Transformed(body, random_rotation(rng)),
                    {"primitives": kinds, "smooth_k": k, "cut": cut_kind, "min_feature": float(thinnest)})
