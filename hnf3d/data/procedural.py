"""Procedural ShapeNet-like shapes: training data that can be generated here (ShapeNet cannot be downloaded).

Each category is a function `make_<category>(rng) -> trimesh.Trimesh` that draws its parameters from a numpy
Generator and concatenates closed, outward-oriented parametric parts (hnf3d.data._parts): boxes, beams,
cylinders, capsules, frustums, ellipsoids, tori and lofts through convex rings. Parts overlap freely and are
NOT boolean-unioned: the generalised winding number of the concatenation is >= 1 exactly inside the union of
the parts, which is how hnf3d labels occupancy. Every part on its own is watertight, winding-consistent, has
positive volume and no degenerate faces.

Convention: y up, floor at y = 0 (furniture, car), x = width, +z = front; sizes are in "about 1" units (the
largest side is ~0.5-2); tools/build_dataset.py normalises. Thin parts are never thinner than ~1% of the
largest side.

`make_shape(category, seed)` is deterministic: the generator is seeded with (seed, crc32(category)), so the same
seed gives byte-identical vertices and faces on the same platform. `make_parts(category, seed)` returns the
parts themselves (for tests and metadata).

Categories and their parameters (U(a, b): uniform; lengths in the units above):
- chair: seat w, d U(0.38, 0.6), height U(0.38, 0.52), thickness U(0.03, 0.08), box or round seat;
  base 4 legs (square/round, inset, optional stretchers) | 3 splayed legs | pedestal column with a disc or a
  4-5 spoke star with caster balls; back none | solid board | 1-6 vertical slats between posts (gaps = holes) |
  2-4 horizontal rails, height U(0.3, 0.6), tilt 0-14 deg; armrests (p = 0.35 when there is a back).
- table: top rectangle | round | oval, width U(0.6, 1.4), depth ratio U(0.45, 1), height U(0.35, 0.8),
  thickness U(0.02, 0.07); base 3-4 legs (square/round/tapered) with optional apron, lower shelf or torus ring
  frame (a hole) | pedestal (column or tapered column, disc or cross foot) | trestle (two end panels, feet and
  a stretcher).
- bench: length U(0.9, 1.8), depth U(0.28, 0.5), height U(0.35, 0.5); seat 1-5 planks with gaps; support
  4-6 legs | two slab ends | A-frames; backrest (p = 0.5) with 1-4 rails on posts; armrests (p = 0.3 with back).
- sofa: length U(1.2, 2.2), depth U(0.7, 1.0), seat height U(0.35, 0.5); 1-4 seat cushions, solid back or
  back cushions, back height U(0.25, 0.5); arms none | one | two, box or rolled (box + cylinder); feet none or
  4-6 short cylinders/blocks; L-shaped chaise (p = 0.25).
- lamp: floor (height U(1.0, 1.6)) | table (U(0.35, 0.7)) | desk arm (two capsule segments with ball joints,
  angles U) | multi-arm (2-4 arms, each with a shade); base disc | box | cone | dome; stem radius >= 0.6% of
  the height; shade frustum | cylinder | cone | dome, optional torus rim and bulb.
- cabinet: width U(0.4, 1.2), height U(0.4, 1.8), depth U(0.25, 0.55), board thickness U(0.015, 0.04);
  open shelf (boards with 1-5 shelves, 0-2 dividers, back panel p = 0.5: open through-holes) | cupboard
  (1-2 doors with handles, 0-3 inner shelves) | drawers (2-5 drawer fronts with handles); plinth none | box |
  4 legs.
- airplane: fuselage loft length U(0.7, 1.0), radius ratio U(0.035, 0.08), nose/tail tapers, tail upsweep;
  wings with span ratio U(0.7, 1.3), root chord, taper, sweep, dihedral, low/mid/high position, thickness
  >= 1.2% of the span; horizontal stabiliser, 1-2 vertical fins, T-tail (p = 0.2); 0, 2 or 4 engine nacelles
  on pylons or a nose propeller; kinds airliner | prop | glider | fighter (delta wing, twin fins).
- car: length U(0.8, 1.0), width ratio U(0.38, 0.5); body loft of rounded-rectangle sections with hood/trunk
  slopes; cabin loft (slanted windshield and rear window); kinds sedan | hatchback | suv | pickup (open bed of
  boards = a cavity) | van | sports (low, optional spoiler on posts); 4 or 6 wheels as torus tyre + hub disc,
  radius ratio U(0.09, 0.13); side mirrors.
The remaining five complete Occupancy Networks' 13 ShapeNet classes:
- display: screen width U(0.5, 1.0), aspect 16:9 | 16:10 | 4:3 | 21:9, panel depth U(0.015, 0.05); raised
  bezel frame (p = 0.5); bulky back housing (p = 0.3); stand neck + box/oval foot | two pairs of slanted legs |
  low bar | slanted arm from a disc foot.
- loudspeaker: bookshelf box (width U(0.2, 0.4), height ratio U(1.2, 1.8)) | tower (height U(0.8, 1.2)) |
  cylinder (radius U(0.12, 0.25), optional dome top, torus grille rings); 1-4 drivers (cone + torus surround),
  tweeter dome, bass-port ring (p = 0.4); feet none | plinth | 4 spikes.
- rifle: length U(0.9, 1.2); receiver box, barrel radius >= 0.7% of the length, handguard (p = 0.6), muzzle
  brake (p = 0.5), lofted stock with drop, pistol grip, straight or curved magazine (p = 0.8), torus trigger
  guard (a hole), scope on mounts (p = 0.5), bipod (p = 0.3).
- telephone: smartphone (rounded-rectangle slab, power U(4, 12), screen, 1-3 camera bumps, side buttons) |
  cordless handset (keypad grid of 12 keys, antenna) | desk phone (wedge base, 12 keys on the slope, capsule
  handset on cradle posts).
- vessel: hull loft of convex sections (length U(0.8, 1.0), beam ratio U(0.12, 0.3), sheer, pointed bow);
  sailboat (mast, boom, main sail, jib p = 0.7, keel fin, cabin p = 0.5) | motorboat (cabin with slanted
  windshield, outboard motor p = 0.7, rails) | ship (1-3 superstructure levels, 1-3 funnels, masts, lifeboats).
"""
from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
import trimesh

from ._parts import (
    assemble,
    beam,
    box,
    box_between,
    capsule,
    cylinder,
    dome,
    ellipsoid,
    frustum,
    loft,
    mirror_x,
    ring,
    rotation,
    torus,
    transformed,
)

Parts = list[trimesh.Trimesh]
X, Y, Z = np.eye(3)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options: list[str], p: list[float] | None = None) -> str:
    return str(options[int(rng.choice(len(options), p=p))])


def _leg(rng_round: bool, thickness: float, x: float, z: float, y0: float, y1: float) -> trimesh.Trimesh:
    """A vertical leg: a square post or a round one."""
    if rng_round:
        return cylinder(thickness / 2, (x, y0, z), (x, y1, z), sections=16)
    return box_between((x - thickness / 2, y0, z - thickness / 2), (x + thickness / 2, y1, z + thickness / 2))


# --------------------------------------------------------------------------------------------------- chair
def _chair_parts(rng: np.random.Generator) -> Parts:
    w, d = _u(rng, 0.38, 0.6), _u(rng, 0.38, 0.6)
    h, t = _u(rng, 0.38, 0.52), _u(rng, 0.03, 0.08)
    base = _pick(rng, ["legs4", "legs3", "pedestal"], [0.6, 0.15, 0.25])
    round_seat = base != "legs4" and rng.random() < 0.4
    parts: Parts = []
    if round_seat:
        d = w
        parts.append(cylinder(w / 2, (0, h - t, 0), (0, h, 0), sections=32))
    else:
        parts.append(box((w, t, d), (0, h - t / 2, 0)))
    under = h - t / 2  # legs reach into the seat so that parts overlap

    if base == "legs4":
        lt = _u(rng, 0.025, 0.06)
        inset = _u(rng, 0.0, 0.05)
        round_legs = rng.random() < 0.5
        xs, zs = w / 2 - inset - lt / 2, d / 2 - inset - lt / 2
        for sx in (-1, 1):
            for sz in (-1, 1):
                parts.append(_leg(round_legs, lt, sx * xs, sz * zs, 0.0, under))
        if rng.random() < 0.5:  # stretchers between the legs
            ys = _u(rng, 0.1, 0.3) * h
            st = max(0.6 * lt, 0.015)
            for sx in (-1, 1):
                parts.append(box((st, st, 2 * zs), (sx * xs, ys, 0)))
            if rng.random() < 0.5:
                parts.append(box((2 * xs, st, st), (0, ys, 0)))
    elif base == "legs3":
        lr = _u(rng, 0.015, 0.03)
        rad = 0.75 * min(w, d) / 2
        splay = _u(rng, 0.0, 0.08)
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3
            top = np.array([rad * np.cos(a), under, rad * np.sin(a)])
            bottom = np.array([(rad + splay) * np.cos(a), 0.0, (rad + splay) * np.sin(a)])
            parts.append(cylinder(lr, bottom, top, sections=16))
    else:  # pedestal
        cr = _u(rng, 0.02, 0.045)
        foot_h = _u(rng, 0.03, 0.08)
        parts.append(cylinder(cr, (0, foot_h / 2, 0), (0, under, 0), sections=20))
        if rng.random() < 0.4:
            parts.append(cylinder(_u(rng, 0.15, 0.28), (0, 0, 0), (0, foot_h, 0), sections=32))
        else:
            n = int(rng.integers(4, 6))
            reach = _u(rng, 0.2, 0.32)
            ball = foot_h / 2
            for k in range(n):
                a = 2 * np.pi * k / n + _u(rng, -0.1, 0.1)
                end = np.array([reach * np.cos(a), foot_h, reach * np.sin(a)])
                parts.append(beam((0, foot_h, 0), end, max(0.03, 2 * cr * 0.8), foot_h * 0.8))
                parts.append(ellipsoid((ball, ball, ball), (end[0], ball, end[2]), subdivisions=1))

    back = _pick(rng, ["none", "solid", "slats", "rails"], [0.15, 0.3, 0.35, 0.2])
    back_parts: Parts = []
    bh = _u(rng, 0.3, 0.6)
    bt = _u(rng, 0.02, 0.05)
    zb = -d / 2 + bt / 2
    top_y = h + bh
    if back == "solid":
        back_parts.append(box((w, bh + t / 2, bt), (0, h + bh / 2 - t / 4, zb)))
        if rng.random() < 0.3:  # rounded top edge
            back_parts.append(cylinder(bt / 2 * 1.3, (-w / 2, top_y, zb), (w / 2, top_y, zb), sections=16))
    elif back in ("slats", "rails"):
        pw = _u(rng, 0.025, 0.05)
        rail_h = _u(rng, 0.04, 0.1)
        for sx in (-1, 1):
            back_parts.append(box_between((sx * w / 2 - (sx > 0) * pw, h - t, zb - bt / 2),
                                          (sx * w / 2 + (sx < 0) * pw, top_y, zb + bt / 2)))
        back_parts.append(box((w, rail_h, bt), (0, top_y - rail_h / 2, zb)))
        inner = w - 2 * pw
        if back == "slats":
            n = int(rng.integers(1, 7))
            sw = min(_u(rng, 0.02, 0.06), 0.6 * inner / n)
            centers = -inner / 2 + inner * (np.arange(n) + 0.5) / n
            for cx in centers:
                back_parts.append(box((sw, bh, bt * 0.8), (cx, h + bh / 2 - rail_h / 4, zb)))
        else:
            n = int(rng.integers(2, 5))
            rh = min(_u(rng, 0.02, 0.05), 0.5 * (bh - rail_h) / n)
            for k in range(n - 1):
                y = h + (bh - rail_h) * (k + 1) / n
                back_parts.append(box((w, rh, bt * 0.8), (0, y, zb)))
    tilt = _u(rng, 0.0, 0.25)
    if back_parts and tilt > 0:
        m = rotation(X, -tilt, (0, h, -d / 2))
        back_parts = [transformed(p, m) for p in back_parts]
    parts += back_parts

    if back != "none" and rng.random() < 0.35:  # armrests
        ah = _u(rng, 0.15, 0.25)
        aw = _u(rng, 0.035, 0.07)
        for sx in (-1, 1):
            x = sx * (w / 2 - aw / 2)
            parts.append(box((aw, 0.035, d * 0.9), (x, h + ah, -d * 0.05)))
            parts.append(box((aw * 0.7, ah, 0.035), (x, h + ah / 2, d * 0.35)))
    return parts


# --------------------------------------------------------------------------------------------------- table
def _table_parts(rng: np.random.Generator) -> Parts:
    shape = _pick(rng, ["rect", "round", "oval"], [0.55, 0.3, 0.15])
    if shape == "round":
        width = depth = _u(rng, 0.6, 1.1)
    else:
        width = _u(rng, 0.6, 1.4)
        depth = width * _u(rng, 0.45, 1.0)
    height, tt = _u(rng, 0.35, 0.8), _u(rng, 0.02, 0.07)
    parts: Parts = []
    if shape == "rect":
        parts.append(box((width, tt, depth), (0, height - tt / 2, 0)))
    else:
        disc = cylinder(1.0, (0, 0, 0), (0, 1, 0), sections=48)
        parts.append(transformed(disc, np.diag([width / 2, tt, depth / 2, 1.0]) + _translate(0, height - tt, 0)))
    under = height - tt / 2
    base = _pick(rng, ["legs", "pedestal", "trestle"], [0.6, 0.25, 0.15])
    if base == "trestle" and shape != "rect":
        base = "legs"

    if base == "legs":
        lt = _u(rng, 0.03, 0.07)
        style = _pick(rng, ["square", "round", "tapered"])
        if shape == "rect":
            inset = _u(rng, 0.0, 0.08)
            xs, zs = width / 2 - inset - lt / 2, depth / 2 - inset - lt / 2
            spots = [(sx * xs, sz * zs) for sx in (-1, 1) for sz in (-1, 1)]
        else:
            n = int(rng.integers(3, 5))
            frac = _u(rng, 0.55, 0.85)
            spots = [(frac * width / 2 * np.cos(a), frac * depth / 2 * np.sin(a))
                     for a in 2 * np.pi * (np.arange(n) + 0.5) / n]
        for x, z in spots:
            if style == "tapered":
                parts.append(frustum(lt / 2 * 0.55, lt / 2, (x, 0, z), (x, under, z), sections=16))
            else:
                parts.append(_leg(style == "round", lt, x, z, 0.0, under))
        if shape == "rect" and rng.random() < 0.6:  # apron boards under the top
            ah, at = _u(rng, 0.05, 0.12), max(0.6 * lt, 0.015)
            y = height - tt - ah / 2 + 0.005
            for sz in (-1, 1):
                parts.append(box((2 * xs, ah, at), (0, y, sz * zs)))
            for sx in (-1, 1):
                parts.append(box((at, ah, 2 * zs), (sx * xs, y, 0)))
        if shape == "rect" and rng.random() < 0.3:  # lower shelf
            ys = _u(rng, 0.1, 0.3) * height
            parts.append(box((2 * xs + lt, max(tt * 0.7, 0.015), 2 * zs + lt), (0, ys, 0)))
        elif shape != "rect" and rng.random() < 0.6:  # ring frame through the legs (a hole)
            ys = _u(rng, 0.2, 0.5) * height
            major = frac * min(width, depth) / 2
            parts.append(torus(major, max(lt * 0.35, 0.012), (0, ys, 0), Y, sections=(40, 10)))
    elif base == "pedestal":
        cr = _u(rng, 0.04, 0.09)
        foot_h = _u(rng, 0.02, 0.05)
        if rng.random() < 0.5:
            parts.append(cylinder(cr, (0, foot_h / 2, 0), (0, under, 0), sections=24))
        else:
            parts.append(frustum(cr * 1.8, cr * 0.8, (0, foot_h / 2, 0), (0, under, 0), sections=24))
        reach = 0.35 * min(width, depth) + _u(rng, 0.0, 0.1)
        if rng.random() < 0.5:
            parts.append(cylinder(reach, (0, 0, 0), (0, foot_h, 0), sections=40))
        else:
            fw = max(2 * cr * 0.7, 0.04)
            parts.append(box((2 * reach, foot_h, fw), (0, foot_h / 2, 0)))
            parts.append(box((fw, foot_h, 2 * reach), (0, foot_h / 2, 0)))
    else:  # trestle
        pt = _u(rng, 0.03, 0.06)
        xs = width / 2 - _u(rng, 0.05, 0.15)
        foot = _u(rng, 0.03, 0.06)
        for sx in (-1, 1):
            panel_h = under - foot / 2
            parts.append(box((pt, panel_h, depth * _u(rng, 0.25, 0.6)), (sx * xs, foot / 2 + panel_h / 2, 0)))
            parts.append(box((pt * 1.5, foot, depth * 0.85), (sx * xs, foot / 2, 0)))
        parts.append(box((2 * xs, _u(rng, 0.04, 0.08), pt), (0, _u(rng, 0.25, 0.5) * height, 0)))
    return parts


def _translate(x: float, y: float, z: float) -> np.ndarray:
    m = np.zeros((4, 4))
    m[:3, 3] = (x, y, z)
    return m


# --------------------------------------------------------------------------------------------------- bench
def _bench_parts(rng: np.random.Generator) -> Parts:
    length, depth, height = _u(rng, 0.9, 1.8), _u(rng, 0.28, 0.5), _u(rng, 0.35, 0.5)
    st = _u(rng, 0.025, 0.06)
    n = int(rng.integers(1, 6))
    gap = _u(rng, 0.008, 0.025) if n > 1 else 0.0
    pw = (depth - gap * (n - 1)) / n
    parts: Parts = []
    for k in range(n):
        z = -depth / 2 + pw / 2 + k * (pw + gap)
        parts.append(box((length, st, pw), (0, height - st / 2, z)))
    under = height - st / 2
    support = _pick(rng, ["legs", "slab", "aframe"])
    xs = length / 2 - _u(rng, 0.04, 0.15)
    if support == "legs":
        lt = _u(rng, 0.03, 0.06)
        round_legs = rng.random() < 0.4
        cols = [-xs, xs] + ([0.0] if length > 1.3 and rng.random() < 0.6 else [])
        zs = depth / 2 - lt / 2 - _u(rng, 0.0, 0.04)
        for x in cols:
            for sz in (-1, 1):
                parts.append(_leg(round_legs, lt, x, sz * zs, 0.0, under))
            # cross bar joining each pair of legs (support for the planks' gaps)
            parts.append(box((lt, 0.04, 2 * zs), (x, height - st - 0.02 + 0.005, 0)))
    elif support == "slab":
        pt = _u(rng, 0.03, 0.07)
        for sx in (-1, 1):
            parts.append(box((pt, under, depth * _u(rng, 0.8, 1.0)), (sx * xs, under / 2, 0)))
    else:
        lt = _u(rng, 0.03, 0.05)
        spread = _u(rng, 0.3, 0.48) * depth
        for sx in (-1, 1):
            for sz in (-1, 1):
                parts.append(beam((sx * xs, 0, sz * spread), (sx * xs, under, -sz * 0.05 * depth), lt, lt, up=X))
            parts.append(box((lt, lt, 2 * spread * 0.6), (sx * xs, under * 0.4, 0)))
    if rng.random() < 0.5:  # backrest
        bh = _u(rng, 0.25, 0.45)
        pw2 = _u(rng, 0.03, 0.05)
        zb = -depth / 2 + pw2 / 2
        tilt = _u(rng, 0.0, 0.25)
        back: Parts = []
        for x in (-xs, xs):
            back.append(box((pw2, bh + st, pw2), (x, height - st + (bh + st) / 2, zb)))
        nr = int(rng.integers(1, 5))
        rh = min(_u(rng, 0.04, 0.1), 0.8 * bh / nr)
        for k in range(nr):
            y = height + bh - rh / 2 - k * (bh / nr)
            back.append(box((length * 0.98, rh, 0.025), (0, y, zb)))
        m = rotation(X, -tilt, (0, height, -depth / 2))
        parts += [transformed(p, m) for p in back]
        if rng.random() < 0.3:
            ah = _u(rng, 0.15, 0.25)
            for sx in (-1, 1):
                parts.append(box((0.04, 0.035, depth), (sx * (length / 2 - 0.02), height + ah, 0)))
                parts.append(box((0.03, ah, 0.03), (sx * (length / 2 - 0.02), height + ah / 2, depth * 0.4)))
    return parts


# ---------------------------------------------------------------------------------------------------- sofa
def _sofa_parts(rng: np.random.Generator) -> Parts:
    length, depth = _u(rng, 1.2, 2.2), _u(rng, 0.7, 1.0)
    seat_h = _u(rng, 0.35, 0.5)
    cushion = _u(rng, 0.08, 0.16)
    leg_h = 0.0 if rng.random() < 0.35 else _u(rng, 0.04, 0.14)
    parts: Parts = []
    base_top = seat_h - cushion
    parts.append(box((length, base_top - leg_h, depth), (0, (base_top + leg_h) / 2, 0)))
    arms = _pick(rng, ["none", "one", "two"], [0.15, 0.1, 0.75])
    arm_style = _pick(rng, ["box", "roll"])
    aw = _u(rng, 0.08, 0.22) if arms != "none" else 0.0
    ah = _u(rng, 0.15, 0.3)
    back_t = _u(rng, 0.12, 0.25)
    back_h = _u(rng, 0.25, 0.5)
    left = -length / 2 + (aw if arms != "none" else 0.0)
    right = length / 2 - (aw if arms == "two" else 0.0)
    inner = right - left
    n = int(rng.integers(1, 5))
    gap = 0.01
    cw = (inner - gap * (n + 1)) / n
    cz0, cz1 = -depth / 2 + back_t, depth / 2 - 0.01
    for k in range(n):
        x = left + gap + cw / 2 + k * (cw + gap)
        parts.append(box((cw, cushion + 0.01, cz1 - cz0), (x, base_top + cushion / 2 - 0.005, (cz0 + cz1) / 2)))
    if rng.random() < 0.5:
        parts.append(box((length, back_h + cushion, back_t),
                         (0, base_top + (back_h + cushion) / 2, -depth / 2 + back_t / 2)))
    else:  # frame plus back cushions
        parts.append(box((length, back_h * 0.5 + cushion, back_t * 0.6),
                         (0, base_top + (back_h * 0.5 + cushion) / 2, -depth / 2 + back_t * 0.3)))
        for k in range(n):
            x = left + gap + cw / 2 + k * (cw + gap)
            parts.append(box((cw, back_h, back_t * 0.6), (x, seat_h + back_h / 2, -depth / 2 + back_t * 0.65),
                             matrix=rotation(X, -0.12, (x, seat_h, -depth / 2 + back_t * 0.65))))
    sides = {"none": [], "one": [-1], "two": [-1, 1]}[arms]
    for sx in sides:
        x = sx * (length / 2 - aw / 2)
        parts.append(box((aw, seat_h + ah - leg_h, depth), (x, (seat_h + ah + leg_h) / 2, 0)))
        if arm_style == "roll":
            parts.append(cylinder(aw * 0.6, (x, seat_h + ah, -depth / 2), (x, seat_h + ah, depth / 2), sections=20))
    if leg_h > 0:
        lt = _u(rng, 0.03, 0.06)
        round_legs = rng.random() < 0.5
        cols = [-length / 2 + lt, length / 2 - lt] + ([0.0] if length > 1.7 else [])
        for x in cols:
            for sz in (-1, 1):
                parts.append(_leg(round_legs, lt, x, sz * (depth / 2 - lt), 0.0, leg_h + 0.01))
    if rng.random() < 0.25:  # chaise: an L-shaped extension at one end
        sx = -1 if rng.random() < 0.5 else 1
        ext = _u(rng, 0.4, 0.7)
        cw2 = min(_u(rng, 0.5, 0.8), length / 2)
        x = sx * (length / 2 - cw2 / 2)
        parts.append(box((cw2, base_top - leg_h, ext), (x, (base_top + leg_h) / 2, depth / 2 + ext / 2 - 0.01)))
        parts.append(box((cw2 - 0.02, cushion, ext), (x, base_top + cushion / 2 - 0.005, depth / 2 + ext / 2 - 0.02)))
    return parts


# ---------------------------------------------------------------------------------------------------- lamp
def _shade(rng: np.random.Generator, style: str, top: np.ndarray, r: float, sh: float, rim: bool) -> Parts:
    """A shade hanging down from `top` (its opening at top - sh)."""
    bottom = top - np.array([0.0, sh, 0.0])
    if style == "frustum":
        out = [frustum(r, r * _u(rng, 0.4, 0.8), bottom, top, sections=32)]
    elif style == "cylinder":
        out = [cylinder(r, bottom, top, sections=32)]
    elif style == "cone":
        out = [frustum(r, max(r * 0.08, 0.01), bottom, top, sections=32)]
    else:  # dome: a half-ellipsoid bell
        out = [dome(r, sh, bottom, sections=32)]
    if rim:
        out.append(torus(r, max(0.01, r * 0.06), bottom, Y, sections=(40, 8)))
    if rng.random() < 0.4:  # bulb
        out.append(ellipsoid((r * 0.3,) * 3, bottom + np.array([0.0, r * 0.1, 0.0]), subdivisions=2))
    return out


def _lamp_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["floor", "table", "desk_arm", "multi"], [0.3, 0.3, 0.2, 0.2])
    height = _u(rng, 1.0, 1.6) if kind == "floor" else _u(rng, 0.35, 0.7)
    scale = max(height, 0.5)
    sr = max(_u(rng, 0.006, 0.015) * scale, 0.01)
    parts: Parts = []
    base_style = _pick(rng, ["disc", "box", "cone", "dome"])
    br = _u(rng, 0.08, 0.16) * (1.4 if kind == "floor" else 1.0)
    bh = _u(rng, 0.02, 0.06)
    if base_style == "disc":
        parts.append(cylinder(br, (0, 0, 0), (0, bh, 0), sections=32))
    elif base_style == "box":
        parts.append(box((2 * br, bh, 2 * br * _u(rng, 0.6, 1.0)), (0, bh / 2, 0)))
    elif base_style == "cone":
        bh = _u(rng, 0.05, 0.15)
        parts.append(frustum(br, max(sr * 1.5, br * 0.2), (0, 0, 0), (0, bh, 0), sections=32))
    else:
        bh = _u(rng, 0.04, 0.1)
        parts.append(dome(br, bh, (0, 0, 0), sections=32))
    shade_style = _pick(rng, ["frustum", "cylinder", "cone", "dome"])
    rim = rng.random() < 0.4
    if kind in ("floor", "table"):
        top = np.array([0.0, height, 0.0])
        parts.append(cylinder(sr, (0, bh * 0.5, 0), top, sections=12))
        r = _u(rng, 0.1, 0.25) * (1.3 if kind == "floor" else 1.0)
        sh = _u(rng, 0.6, 1.2) * r
        parts += _shade(rng, shade_style, top + np.array([0.0, sh * 0.5, 0.0]), r, sh, rim)
    elif kind == "desk_arm":
        a1 = _u(rng, 0.0, 0.6)
        a2 = _u(rng, 0.3, 1.4)
        l1, l2 = height * _u(rng, 0.6, 0.9), height * _u(rng, 0.5, 0.8)
        j0 = np.array([0.0, bh, -br * 0.5])
        j1 = j0 + l1 * np.array([0.0, np.cos(a1), np.sin(a1)])
        j2 = j1 + l2 * np.array([0.0, np.cos(a2), np.sin(a2)])
        parts.append(capsule(sr, j0, j1))
        parts.append(capsule(sr, j1, j2))
        parts.append(ellipsoid((sr * 2.2,) * 3, j1, subdivisions=1))
        r = _u(rng, 0.06, 0.12)
        sh = _u(rng, 0.8, 1.5) * r
        parts += _shade(rng, shade_style, j2 + np.array([0.0, sh * 0.3, 0.0]), r, sh, rim)
    else:  # multi-arm
        top = np.array([0.0, height, 0.0])
        parts.append(cylinder(sr, (0, bh * 0.5, 0), top, sections=12))
        n = int(rng.integers(2, 5))
        reach = _u(rng, 0.15, 0.35)
        rise = _u(rng, -0.05, 0.15)
        r = _u(rng, 0.05, 0.1)
        sh = _u(rng, 0.8, 1.4) * r
        phase = _u(rng, 0.0, np.pi)
        for k in range(n):
            a = phase + 2 * np.pi * k / n
            end = top + np.array([reach * np.cos(a), rise, reach * np.sin(a)])
            parts.append(cylinder(sr * 0.8, top, end, sections=12))
            parts.append(ellipsoid((sr * 1.5,) * 3, end, subdivisions=1))
            parts += _shade(rng, shade_style, end + np.array([0.0, sh * 0.2, 0.0]), r, sh, False)
    return parts


# ------------------------------------------------------------------------------------------------- cabinet
def _cabinet_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["shelf", "cupboard", "drawers"], [0.45, 0.3, 0.25])
    width, height, depth = _u(rng, 0.4, 1.2), _u(rng, 0.4, 1.8), _u(rng, 0.25, 0.55)
    if kind == "drawers":
        height = min(height, 1.2)
    bt = max(_u(rng, 0.015, 0.04), 0.01 * max(width, height))
    plinth = _pick(rng, ["none", "box", "legs"])
    y0 = 0.0 if plinth == "none" else _u(rng, 0.04, 0.15)
    parts: Parts = []
    for sx in (-1, 1):
        parts.append(box((bt, height - y0, depth), (sx * (width / 2 - bt / 2), (height + y0) / 2, 0)))
    parts.append(box((width, bt, depth), (0, height - bt / 2, 0)))
    parts.append(box((width - 2 * bt + 0.002, bt, depth), (0, y0 + bt / 2, 0)))
    if kind != "shelf" or rng.random() < 0.5:  # back panel
        pt = max(bt * 0.5, 0.01 * max(width, height))
        parts.append(box((width - 0.002, height - y0 - 0.002, pt), (0, (height + y0) / 2, -depth / 2 + pt / 2)))
    inner_w = width - 2 * bt + 0.004
    n_shelves = int(rng.integers(1, 6)) if kind == "shelf" else int(rng.integers(0, 4)) if kind == "cupboard" else 0
    span = height - y0 - 2 * bt
    for k in range(n_shelves):
        y = y0 + bt + span * (k + 1) / (n_shelves + 1)
        parts.append(box((inner_w, bt, depth * 0.98), (0, y, 0)))
    if kind == "shelf":
        n_div = int(rng.integers(0, 3)) if width > 0.6 else 0
        for k in range(n_div):
            x = -width / 2 + width * (k + 1) / (n_div + 1)
            parts.append(box((bt, span + 0.004, depth * 0.98), (x, (height + y0) / 2, 0)))
    ft = max(bt * 0.8, 0.012, 0.01 * max(width, height))
    zf = depth / 2 + ft / 2 - 0.002
    hd = _u(rng, 0.015, 0.03)
    if kind == "cupboard":
        nd = 1 if width < 0.6 or rng.random() < 0.3 else 2
        dw = width / nd - 0.004
        for k in range(nd):
            x = -width / 2 + (k + 0.5) * width / nd
            parts.append(box((dw, height - y0 - 0.004, ft), (x, (height + y0) / 2, zf)))
            hx = x + (dw / 2 - 0.05) * (1 if (nd == 1 or k == 0) else -1)
            parts.append(box((0.02, _u(rng, 0.08, 0.2), hd + 0.004),
                             (hx, y0 + (height - y0) * 0.55, zf + ft / 2 + hd / 2 - 0.002)))
    elif kind == "drawers":
        nd = int(rng.integers(2, 6))
        dh = (height - y0) / nd
        round_knob = rng.random() < 0.5
        for k in range(nd):
            y = y0 + (k + 0.5) * dh
            parts.append(box((width - 0.004, dh - 0.006, ft), (0, y, zf)))
            zk = zf + ft / 2
            if round_knob:
                parts.append(cylinder(max(0.012, dh * 0.1), (0, y, zk - 0.002), (0, y, zk + hd), sections=16))
            else:
                parts.append(box((width * _u(rng, 0.2, 0.5), 0.02, hd + 0.004), (0, y, zk + hd / 2 - 0.002)))
    if plinth == "box":
        parts.append(box((width - 0.02, y0 + 0.004, depth - 0.02), (0, y0 / 2 + 0.002, 0)))
    elif plinth == "legs":
        lt = _u(rng, 0.025, 0.05)
        round_legs = rng.random() < 0.5
        for sx in (-1, 1):
            for sz in (-1, 1):
                parts.append(_leg(round_legs, lt, sx * (width / 2 - lt), sz * (depth / 2 - lt), 0.0, y0 + 0.01))
    return parts


# ------------------------------------------------------------------------------------------------ airplane
def _airfoil(z_le: float, chord: float, thick: float, x: float, y: float) -> np.ndarray:
    """(6, 3) convex airfoil-like section in the plane x = const; the chord runs from z_le backwards (-z)."""
    pts = [(0.0, 0.0), (0.25, 0.5), (0.75, 0.3), (1.0, 0.08), (1.0, -0.08), (0.25, -0.45)]
    return np.array([[x, y + t * thick, z_le - c * chord] for c, t in pts])


def _wing(root_z: float, root_chord: float, root_t: float, span: float, taper: float, sweep: float,
          dihedral: float, y: float, x0: float = 0.0) -> trimesh.Trimesh:
    """Right wing (towards +x) from x0; the tip is raised by tan(dihedral)*span and moved back by `sweep`."""
    tip_chord = root_chord * taper
    root = _airfoil(root_z, root_chord, root_t, x0, y)
    tip = _airfoil(root_z - sweep, tip_chord, max(root_t * taper, root_t * 0.6), x0 + span, y + np.tan(dihedral) * span)
    return loft([root, tip])


def _fin(root_z: float, root_chord: float, root_t: float, span: float, taper: float, sweep: float,
         y0: float, x: float = 0.0) -> trimesh.Trimesh:
    """Vertical fin going up from y0: a wing rotated so that its span runs along +y."""
    wing = _wing(root_z, root_chord, root_t, span, taper, sweep, 0.0, 0.0)
    m = rotation(Z, np.pi / 2)  # +x -> +y
    m[:3, 3] = (x, y0, 0.0)
    return transformed(wing, m)


def _airplane_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["airliner", "prop", "glider", "fighter"], [0.4, 0.25, 0.15, 0.2])
    fl = _u(rng, 0.7, 1.0)
    rad = fl * (_u(rng, 0.05, 0.08) if kind != "glider" else _u(rng, 0.035, 0.05))
    nose, tail = _u(rng, 0.1, 0.2), _u(rng, 0.2, 0.35)
    upsweep = _u(rng, 0.0, 0.6) * rad
    ry = _u(rng, 1.0, 1.25)
    # fuselage: rings along z from the tail (-fl/2) to the nose (+fl/2)
    ts = np.linspace(0.0, 1.0, 13)
    rings = []
    for t in ts:
        if t < tail:
            s = t / tail
            r, yc = rad * (0.2 + 0.8 * np.sqrt(s)), upsweep * (1 - s) + rad * 0.0
        elif t > 1 - nose:
            s = (1 - t) / nose
            r, yc = rad * (0.12 + 0.88 * np.sqrt(s)), -0.1 * rad * (1 - s)
        else:
            r, yc = rad, 0.0
        rings.append(ring((0.0, yc, -fl / 2 + fl * t), X, Y, r, r * ry, 20))
    parts: Parts = [loft(rings)]
    max_side = fl
    if kind == "glider":
        semi = fl * _u(rng, 0.6, 0.9)
        chord, taper, sweep = fl * _u(rng, 0.08, 0.12), _u(rng, 0.4, 0.7), _u(rng, -0.02, 0.05) * fl
    elif kind == "fighter":
        semi = fl * _u(rng, 0.25, 0.4)
        chord, taper = fl * _u(rng, 0.35, 0.5), _u(rng, 0.1, 0.3)
        sweep = chord * (1 - taper) * _u(rng, 0.8, 1.0)
    else:
        semi = fl * _u(rng, 0.35, 0.65)
        chord, taper = fl * _u(rng, 0.15, 0.28), _u(rng, 0.25, 0.7)
        sweep = semi * _u(rng, 0.0, 0.6) if kind == "airliner" else semi * _u(rng, 0.0, 0.1)
    max_side = max(max_side, 2 * semi)
    thick = max(chord * _u(rng, 0.08, 0.14), 0.012 * max_side / taper ** 0.0, 0.015 * max_side)
    y_wing = _u(rng, -0.6, 0.6) * rad
    dihedral = np.radians(_u(rng, -3.0, 8.0))
    wing_z = fl * _u(rng, 0.1, 0.25) if kind != "fighter" else fl * _u(rng, 0.05, 0.2)
    right = _wing(wing_z, chord, thick, semi, taper, sweep, dihedral, y_wing)
    parts += [right, mirror_x(right)]

    # tail surfaces
    tz = -fl / 2 + fl * tail * 0.9
    tail_y = upsweep
    hs_semi = semi * _u(rng, 0.25, 0.4) if kind != "glider" else semi * _u(rng, 0.15, 0.25)
    hs_chord = max(chord * _u(rng, 0.4, 0.7), fl * 0.07)
    fin_span = rad * _u(rng, 2.0, 3.5)
    fin_chord = max(hs_chord * _u(rng, 1.0, 1.4), fl * 0.08)
    t_tail = kind != "fighter" and rng.random() < 0.2
    fin_t = max(0.012 * max_side, fin_chord * 0.08)
    if kind == "fighter":
        for sx in (-1, 1):
            fin = _fin(tz + fin_chord * 0.6, fin_chord, fin_t, fin_span, 0.4, fin_chord * 0.5, tail_y + rad * 0.3,
                       x=sx * rad * 0.8)
            parts.append(transformed(fin, rotation(Z, -sx * 0.35, (sx * rad * 0.8, tail_y + rad * 0.3, 0))))
    else:
        parts.append(_fin(tz + fin_chord * 0.7, fin_chord, fin_t, fin_span, _u(rng, 0.4, 0.8), fin_chord * 0.6,
                          tail_y + rad * 0.3))
    hs_y = tail_y + rad * 0.3 + fin_span * 0.95 if t_tail else tail_y
    hs_t = max(0.012 * max_side, hs_chord * 0.08)
    hs = _wing(tz + hs_chord * 0.7 + (fin_chord * 0.5 if t_tail else 0.0), hs_chord, hs_t, hs_semi, 0.6,
               hs_chord * 0.3, np.radians(_u(rng, 0.0, 6.0)), hs_y)
    parts += [hs, mirror_x(hs)]

    # engines / propeller
    if kind == "airliner":
        n_eng = 2 if rng.random() < 0.75 else 4
        er = rad * _u(rng, 0.35, 0.6)
        el = chord * _u(rng, 0.6, 0.9)
        spots = [0.35] if n_eng == 2 else [0.3, 0.6]
        for f in spots:
            x = semi * f
            zf = wing_z - sweep * f + el * 0.4
            yw = y_wing + np.tan(dihedral) * x
            for sx in (-1, 1):
                ye = yw - er * 1.6
                parts.append(frustum(er * 0.85, er, (sx * x, ye, zf - el), (sx * x, ye, zf), sections=20))
                parts.append(box((max(0.012 * max_side, er * 0.3), er * 1.4, el * 0.6),
                                 (sx * x, yw - er * 0.7, zf - el * 0.5)))
    elif kind == "prop":
        nz = fl / 2
        parts.append(frustum(rad * 0.35, rad * 0.05 + 0.01, (0, -0.1 * rad, nz - 0.01), (0, -0.1 * rad, nz + rad * 0.6),
                             sections=16))
        nb = int(rng.integers(2, 5))
        blade = rad * _u(rng, 1.5, 2.5)
        for k in range(nb):
            a = np.pi * 2 * k / nb + _u(rng, 0.0, 1.0)
            tip = np.array([blade * np.cos(a), -0.1 * rad + blade * np.sin(a), nz + rad * 0.2])
            parts.append(beam((0, -0.1 * rad, nz + rad * 0.2), tip, max(0.012 * max_side, rad * 0.35),
                              max(0.012 * max_side, rad * 0.12), up=Z))
    return parts


# ----------------------------------------------------------------------------------------------------- car
def _car_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["sedan", "hatchback", "suv", "pickup", "van", "sports"])
    length = _u(rng, 0.8, 1.0)
    width = length * _u(rng, 0.38, 0.5)
    wr = length * _u(rng, 0.09, 0.13)
    clearance = wr * _u(rng, 0.4, 0.8) + (0.02 if kind in ("suv", "pickup") else 0.0)
    body_h = length * {"sports": _u(rng, 0.1, 0.14), "suv": _u(rng, 0.2, 0.26), "van": _u(rng, 0.2, 0.26),
                       "pickup": _u(rng, 0.18, 0.24)}.get(kind, _u(rng, 0.14, 0.2))
    hood_drop = _u(rng, 0.0, 0.3) * body_h
    trunk_drop = _u(rng, 0.0, 0.2) * body_h
    power = _u(rng, 3.0, 6.0)
    # body: rounded-rectangle sections along z, lower and narrower at the two ends
    zs = np.array([-0.5, -0.47, -0.3, 0.0, 0.3, 0.47, 0.5]) * length
    rings = []
    for z in zs:
        f = abs(z) / (length / 2)
        end = max(0.0, (f - 0.9) / 0.1)
        top = clearance + body_h - (hood_drop if z > 0 else trunk_drop) * max(0.0, (f - 0.3) / 0.7)
        bottom = clearance + 0.25 * body_h * end
        hw = width / 2 * (1 - 0.08 * end)
        rings.append(ring((0.0, (top + bottom) / 2, z), X, Y, hw, (top - bottom) / 2, 28, power))
    parts: Parts = [loft(rings)]
    body_top = clearance + body_h

    # cabin: a loft between a bottom and a (smaller) top rectangle in horizontal planes
    cab = {"sedan": (0.2, -0.25, 0.45), "hatchback": (0.2, -0.45, 0.45), "suv": (0.25, -0.45, 0.5),
           "pickup": (0.25, -0.05, 0.5), "van": (0.35, -0.48, 0.6), "sports": (0.15, -0.2, 0.3)}[kind]
    z_front, z_back, cab_h = length * cab[0], length * cab[1], length * cab[2] * _u(rng, 0.45, 0.6)
    wshield = length * _u(rng, 0.1, 0.25) * (0.4 if kind == "van" else 1.0)
    rear = length * _u(rng, 0.02, 0.15) * (0.3 if kind in ("hatchback", "suv", "van", "pickup") else 1.0)
    cw0, cw1 = width * 0.92, width * _u(rng, 0.75, 0.88)
    y0, y1 = body_top - 0.02, body_top + cab_h

    def rect(zb: float, zf: float, hw: float, y: float) -> np.ndarray:
        return np.array([[-hw, y, zb], [hw, y, zb], [hw, y, zf], [-hw, y, zf]])

    parts.append(loft([rect(z_back, z_front, cw0 / 2, y0), rect(z_back + rear, z_front - wshield, cw1 / 2, y1)]))

    if kind == "pickup":  # open bed: three boards on the rear body (a cavity)
        bt, bed_h = max(0.012, 0.015 * length), _u(rng, 0.05, 0.1) * length
        zb0, zb1 = -length / 2 + 0.01, z_back
        for sx in (-1, 1):
            parts.append(box_between((sx * width / 2 - (sx > 0) * bt, body_top - 0.01, zb0),
                                     (sx * width / 2 + (sx < 0) * bt, body_top + bed_h, zb1)))
        parts.append(box_between((-width / 2, body_top - 0.01, zb0), (width / 2, body_top + bed_h, zb0 + bt)))
    if kind == "sports" and rng.random() < 0.6:  # spoiler on two posts
        sy = body_top + _u(rng, 0.04, 0.08) * length
        sz = -length / 2 + 0.05 * length
        for sx in (-1, 1):
            parts.append(box((0.015, sy - body_top + 0.03, 0.03), (sx * width * 0.3, (sy + body_top) / 2 - 0.01, sz)))
        parts.append(box((width * 0.9, max(0.012, 0.015 * length), 0.08 * length), (0, sy, sz)))
    # side mirrors
    for sx in (-1, 1):
        parts.append(box((0.05 * length, 0.03 * length, 0.025 * length),
                         (sx * (cw0 / 2 + 0.02 * length), y0 + 0.03 * length, z_front - 0.02 * length)))
    # wheels: torus tyre + hub disc, axis along x
    tyre = wr * _u(rng, 0.25, 0.4)
    ww = width * _u(rng, 0.12, 0.2)
    axles = [length * _u(rng, 0.28, 0.36), -length * _u(rng, 0.28, 0.36)]
    if kind in ("pickup", "van") and rng.random() < 0.3:
        axles.append(axles[1] - 2.2 * wr)
    for z in axles:
        for sx in (-1, 1):
            x = sx * (width / 2 - ww * 0.3)
            c = np.array([x, wr, z])
            parts.append(torus(wr - tyre, tyre, c, X, sections=(32, 12)))
            parts.append(cylinder(wr - tyre * 0.8, c - X * ww / 2, c + X * ww / 2, sections=24))
    return parts


# ------------------------------------------------------------------------------------------------- display
def _display_parts(rng: np.random.Generator) -> Parts:
    aspect = float(rng.choice([16 / 9, 16 / 10, 4 / 3, 21 / 9]))
    sw = _u(rng, 0.5, 1.0)
    sh = sw / aspect
    dp = max(_u(rng, 0.015, 0.05), 0.012 * sw)
    stand = _pick(rng, ["neck", "legs", "bar", "arm"], [0.45, 0.2, 0.15, 0.2])
    yb = _u(rng, 0.08, 0.25) * sh + 0.05 if stand != "bar" else _u(rng, 0.03, 0.08)
    parts: Parts = [box((sw, sh, dp), (0, yb + sh / 2, 0))]
    if rng.random() < 0.5:  # raised bezel frame around the screen (the screen sits in a recess)
        bw, bd = _u(rng, 0.012, 0.035), max(0.012, 0.012 * sw)
        z = dp / 2 + bd / 2 - 0.002
        parts.append(box((sw, bw, bd), (0, yb + bw / 2, z)))
        parts.append(box((sw, bw, bd), (0, yb + sh - bw / 2, z)))
        for sx in (-1, 1):
            parts.append(box((bw, sh - 2 * bw + 0.004, bd), (sx * (sw / 2 - bw / 2), yb + sh / 2, z)))
    zb = -dp / 2
    if rng.random() < 0.3:  # bulky back housing (an older monitor or TV)
        deep = _u(rng, 0.08, 0.35) * sw

        def rect(hw: float, hh: float, z: float) -> np.ndarray:
            yc = yb + sh / 2
            return np.array([[-hw, yc - hh, z], [hw, yc - hh, z], [hw, yc + hh, z], [-hw, yc + hh, z]])

        parts.append(loft([rect(sw * 0.45, sh * 0.45, zb + 0.002),
                           rect(sw * _u(rng, 0.15, 0.3), sh * _u(rng, 0.15, 0.3), zb - deep)]))
    if stand == "neck":
        nw, nd = _u(rng, 0.04, 0.12), _u(rng, 0.02, 0.05)
        parts.append(box((nw, yb + sh * 0.4, nd), (0, (yb + sh * 0.4) / 2, zb - nd / 2 + 0.002)))
        bt = _u(rng, 0.015, 0.03)
        if rng.random() < 0.5:
            parts.append(box((_u(rng, 0.2, 0.5) * sw, bt, _u(rng, 0.12, 0.25)), (0, bt / 2, zb)))
        else:
            foot = cylinder(1.0, (0, 0, 0), (0, bt, 0), sections=40)
            parts.append(transformed(foot, np.diag([_u(rng, 0.1, 0.25) * sw, 1.0, _u(rng, 0.07, 0.12), 1.0])
                                     + _translate(0, 0, zb)))
    elif stand == "legs":
        lt = max(0.015, 0.012 * sw)
        for sx in (-1, 1):
            x = sx * sw * _u(rng, 0.3, 0.42)
            for sz in (-1, 1):
                parts.append(beam((x, yb + 0.01, 0), (x, 0.0, sz * _u(rng, 0.06, 0.12)), lt * 2, lt, up=Z))
    elif stand == "bar":
        parts.append(box((sw * _u(rng, 0.6, 1.0), yb + 0.01, _u(rng, 0.05, 0.1)), (0, (yb + 0.01) / 2, 0)))
    else:  # arm: a slanted support from a disc foot behind the screen
        r = _u(rng, 0.01, 0.02)
        foot = np.array([0.0, 0.0, zb - _u(rng, 0.1, 0.2)])
        joint = np.array([0.0, yb + sh * 0.5, zb - 0.01])
        parts.append(cylinder(_u(rng, 0.08, 0.15), foot, foot + np.array([0.0, 0.02, 0.0]), sections=32))
        parts.append(capsule(r, foot + np.array([0.0, 0.02, 0.0]), joint))
        parts.append(box((0.1 * sw, 0.1 * sw, 0.02), joint + np.array([0.0, 0.0, 0.005])))
    return parts


# --------------------------------------------------------------------------------------------- loudspeaker
def _driver(center: np.ndarray, r: float, protrude: float) -> Parts:
    """A driver on a front face at z = center[2]: a cone plus a torus surround."""
    back = center - Z * 0.01
    return [frustum(r * 0.85, r * 0.3, back, center + Z * protrude, sections=24),
            torus(r * 0.9, max(r * 0.12, 0.008), center, Z, sections=(32, 8))]


def _loudspeaker_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["bookshelf", "tower", "cylinder"], [0.4, 0.4, 0.2])
    parts: Parts = []
    if kind == "cylinder":
        r, h = _u(rng, 0.12, 0.25), _u(rng, 0.3, 0.8)
        parts.append(cylinder(r, (0, 0, 0), (0, h, 0), sections=40))
        if rng.random() < 0.6:
            parts.append(dome(r, r * _u(rng, 0.2, 0.5), (0, h - 0.005, 0), sections=40))
        for y in (h * 0.25, h * 0.75)[: int(rng.integers(1, 3))]:
            parts.append(torus(r, max(0.01, r * 0.05), (0, y, 0), Y, sections=(48, 8)))
        parts.append(cylinder(r * _u(rng, 1.0, 1.3), (0, 0, 0), (0, 0.02, 0), sections=40))
        return parts
    if kind == "bookshelf":
        w = _u(rng, 0.2, 0.4)
        h, d = w * _u(rng, 1.2, 1.8), _u(rng, 0.2, 0.35)
    else:
        w, h, d = _u(rng, 0.2, 0.32), _u(rng, 0.8, 1.2), _u(rng, 0.25, 0.4)
    feet = _pick(rng, ["none", "plinth", "spikes"])
    y0 = 0.0 if feet == "none" else _u(rng, 0.03, 0.08)
    parts.append(box((w, h, d), (0, y0 + h / 2, 0)))
    n = int(rng.integers(1, 3)) if kind == "bookshelf" else int(rng.integers(2, 5))
    zf = d / 2
    y = y0 + h - w * 0.2
    tw = w * _u(rng, 0.08, 0.14)  # tweeter dome at the top
    parts.append(ellipsoid((tw, tw, tw * 0.6), (0, y, zf), subdivisions=2))
    y -= tw + 0.02
    room = (y - y0 - 0.03) / n
    r = min(w * _u(rng, 0.3, 0.42), room * 0.45)
    for k in range(n):
        c = np.array([0.0, y - room * (k + 0.5), zf])
        parts += _driver(c, r, _u(rng, 0.005, 0.02))
    if rng.random() < 0.4:  # bass port ring low on the front
        parts.append(torus(r * 0.35, max(0.01, r * 0.08), (0, y0 + 0.04 + r * 0.4, zf), Z, sections=(24, 8)))
    if feet == "plinth":
        parts.append(box((w * 1.15, y0 + 0.005, d * 1.1), (0, (y0 + 0.005) / 2, 0)))
    elif feet == "spikes":
        for sx in (-1, 1):
            for sz in (-1, 1):
                c = (sx * (w / 2 - 0.03), 0, sz * (d / 2 - 0.03))
                parts.append(frustum(0.008, 0.02, c, (c[0], y0 + 0.01, c[2]), sections=12))
    return parts


# --------------------------------------------------------------------------------------------------- rifle
def _rifle_parts(rng: np.random.Generator) -> Parts:
    length = _u(rng, 0.9, 1.2)
    rw = length * _u(rng, 0.03, 0.045)  # receiver width (x)
    rh = length * _u(rng, 0.06, 0.1)
    r0, r1 = -length * _u(rng, 0.1, 0.2), length * _u(rng, 0.1, 0.2)  # receiver z extent
    muzzle = length / 2
    parts: Parts = [box((rw, rh, r1 - r0), (0, 0, (r0 + r1) / 2))]
    br = max(length * _u(rng, 0.006, 0.011), 0.007 * length)
    parts.append(cylinder(br, (0, rh * 0.15, r1 - 0.01), (0, rh * 0.15, muzzle), sections=16))
    if rng.random() < 0.6:  # handguard around the barrel
        hl = (muzzle - r1) * _u(rng, 0.3, 0.7)
        if rng.random() < 0.5:
            parts.append(cylinder(rh * 0.32, (0, rh * 0.05, r1 - 0.01), (0, rh * 0.05, r1 + hl), sections=16))
        else:
            parts.append(box((rw * 0.9, rh * 0.6, hl + 0.01), (0, 0, r1 + hl / 2)))
    if rng.random() < 0.5:  # muzzle brake
        parts.append(cylinder(br * 1.6, (0, rh * 0.15, muzzle - 0.04), (0, rh * 0.15, muzzle + 0.005), sections=16))
    # stock: loft of rounded rectangles from the receiver back to the butt plate
    butt = -length / 2
    drop = rh * _u(rng, 0.0, 0.8)
    bh = rh * _u(rng, 1.2, 1.8)
    rings = []
    for t in np.linspace(0.0, 1.0, 4):
        z = r0 + 0.01 + (butt - r0 - 0.01) * t
        hh = (rh * 0.35) * (1 - t) + bh / 2 * t
        rings.append(ring((0, -drop * t, z), X, Y, rw * (0.4 + 0.1 * t), hh, 16, 4.0))
    parts.append(loft(rings))
    # pistol grip and magazine
    gz = r0 + (r1 - r0) * _u(rng, 0.1, 0.3)
    gl = rh * _u(rng, 1.0, 1.6)
    parts.append(beam((0, -rh * 0.3, gz), (0, -rh * 0.3 - gl, gz - gl * 0.4), rw * 0.9, rh * 0.5, up=Z))
    if rng.random() < 0.8:
        mz = r0 + (r1 - r0) * _u(rng, 0.55, 0.8)
        ml = rh * _u(rng, 1.0, 2.5)
        curve = _u(rng, 0.0, 0.5)
        mid = np.array([0.0, -rh * 0.3 - ml * 0.5, mz + ml * 0.1 * curve])
        parts.append(beam((0, -rh * 0.3, mz), mid, rw * 0.8, rh * 0.6, up=Z))
        parts.append(beam(mid - np.array([0.0, -0.01, 0.0]), mid + np.array([0.0, -ml * 0.5, ml * 0.5 * curve]),
                          rw * 0.8, rh * 0.6, up=Z))
    # trigger guard: a ring (a hole) under the receiver
    parts.append(torus(rh * 0.3, max(0.006 * length, rw * 0.15), (0, -rh * 0.5, gz + rh * 0.6), X, sections=(24, 8)))
    if rng.random() < 0.5:  # scope on two mounts
        sr = rh * _u(rng, 0.22, 0.35)
        sy = rh * 0.5 + sr + _u(rng, 0.01, 0.03)
        s0, s1 = r0 + (r1 - r0) * 0.1, r1 + _u(rng, 0.0, 0.1) * length
        parts.append(cylinder(sr, (0, sy, s0), (0, sy, s1), sections=20))
        parts.append(frustum(sr, sr * 1.5, (0, sy, s1 - 0.005), (0, sy, s1 + 0.05), sections=20))
        parts.append(frustum(sr, sr * 1.3, (0, sy, s0 + 0.005), (0, sy, s0 - 0.04), sections=20))
        for z in (s0 + 0.03, s1 - 0.03):
            parts.append(box((rw * 0.6, sy - rh * 0.5 + 0.01, 0.02), (0, (sy + rh * 0.5) / 2, z)))
    if rng.random() < 0.3:  # bipod
        z = r1 + (muzzle - r1) * 0.4
        legl = length * _u(rng, 0.12, 0.2)
        for sx in (-1, 1):
            parts.append(cylinder(max(0.006 * length, br * 0.8), (0, rh * 0.1, z),
                                  (sx * legl * 0.35, -legl, z + legl * 0.3), sections=10))
    return parts


# ----------------------------------------------------------------------------------------------- telephone
def _telephone_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["smartphone", "desk", "cordless"], [0.5, 0.3, 0.2])
    parts: Parts = []
    if kind in ("smartphone", "cordless"):
        h = _u(rng, 0.8, 1.0)
        w = h * (_u(rng, 0.42, 0.55) if kind == "smartphone" else _u(rng, 0.25, 0.35))
        t = h * (_u(rng, 0.04, 0.08) if kind == "smartphone" else _u(rng, 0.1, 0.16))
        power = _u(rng, 4.0, 12.0)
        ringb = ring((0, h / 2, -t / 2), X, Y, w / 2, h / 2, 48, power)
        parts.append(loft([ringb, ringb + Z * t]))
        st = max(0.012 * h, 0.01)
        if kind == "smartphone":
            m = _u(rng, 0.02, 0.05) * w
            parts.append(box((w - 2 * m, h * _u(rng, 0.82, 0.92), st), (0, h / 2, t / 2 + st / 2 - 0.004)))
            ncam = int(rng.integers(1, 4))
            cr = w * _u(rng, 0.05, 0.09)
            for k in range(ncam):
                c = np.array([-w * 0.3, h * 0.9 - k * cr * 2.4, -t / 2])
                parts.append(cylinder(cr, c + Z * 0.004, c - Z * max(0.012 * h, 0.01), sections=20))
            for k in range(int(rng.integers(1, 4))):  # side buttons
                parts.append(box((0.015, h * 0.06, t * 0.4), (w / 2 - 0.003, h * (0.75 - 0.1 * k), 0)))
        else:  # cordless handset: small screen, keypad grid and an antenna stub
            parts.append(box((w * 0.7, h * 0.2, st), (0, h * 0.75, t / 2 + st / 2 - 0.004)))
            rows, cols = 4, 3
            kb = w * 0.16
            for i in range(rows):
                for j in range(cols):
                    c = np.array([(j - 1) * w * 0.25, h * (0.5 - 0.1 * i), t / 2])
                    parts.append(box((kb, kb * 0.7, st), c + Z * (st / 2 - 0.004)))
            if rng.random() < 0.5:
                parts.append(capsule(w * 0.08, (w * 0.3, h * 0.95, 0), (w * 0.3, h * 1.1, 0)))
        return parts
    # desk phone: a wedge base with a slanted keypad and a handset in a cradle
    w, d = _u(rng, 0.6, 0.9), _u(rng, 0.5, 0.8)
    hf, hb = _u(rng, 0.05, 0.1), _u(rng, 0.15, 0.3)

    def rect(y_front: float, y_back: float, inset: float) -> np.ndarray:
        return np.array([[-w / 2 + inset, y_back, -d / 2 + inset], [w / 2 - inset, y_back, -d / 2 + inset],
                         [w / 2 - inset, y_front, d / 2 - inset], [-w / 2 + inset, y_front, d / 2 - inset]])

    parts.append(loft([rect(0.0, 0.0, 0.0), rect(hf, hb, _u(rng, 0.0, 0.05))]))
    slope = (hb - hf) / d

    def on_top(x: float, z: float) -> float:
        return hf + (d / 2 - z) * slope

    kb = _u(rng, 0.05, 0.07)
    for i in range(4):
        for j in range(3):
            x, z = (j - 1) * kb * 1.5, d * 0.3 - i * kb * 1.4
            y = on_top(x, z)
            parts.append(cylinder(kb * 0.4, (x, y - 0.01, z), (x, y + 0.015, z), sections=12))
    hz = -d * _u(rng, 0.15, 0.3)
    hr = _u(rng, 0.03, 0.05)
    hy = on_top(0, hz) + hr * 1.5 + _u(rng, 0.03, 0.06)  # the handset floats on two cradle posts
    parts.append(capsule(hr, (-w * 0.35, hy, hz), (w * 0.35, hy, hz)))
    for sx in (-1, 1):  # ear and mouth pieces, and cradle posts under them
        parts.append(cylinder(hr * 1.6, (sx * w * 0.38, hy - hr * 1.5, hz), (sx * w * 0.38, hy + hr * 0.3, hz),
                              sections=20))
        parts.append(box_between((sx * w * 0.38 - 0.025, on_top(0, hz) - 0.02, hz - 0.025),
                                 (sx * w * 0.38 + 0.025, hy - hr * 1.5 + 0.005, hz + 0.025)))
    return parts


# -------------------------------------------------------------------------------------------------- vessel
def _hull_ring(z: float, half_beam: float, depth: float, deck: float, n: int = 24, power: float = 2.5) -> np.ndarray:
    """Convex hull section: the lower half of a superellipse closed by the flat deck line at y = deck."""
    t = np.pi + np.pi * np.arange(n + 1) / n  # pi .. 2 pi: port deck edge, keel, starboard deck edge
    c, s = np.cos(t), np.sin(t)
    x = np.sign(c) * np.abs(c) ** (2.0 / power) * half_beam
    y = deck + np.sign(s) * np.abs(s) ** (2.0 / power) * depth
    pts = np.stack([x, y, np.full_like(x, z)], 1)
    return pts[::-1]  # starboard -> keel -> port; the loft closes the ring along the deck line


def _vessel_parts(rng: np.random.Generator) -> Parts:
    kind = _pick(rng, ["sailboat", "motorboat", "ship"])
    length = _u(rng, 0.8, 1.0)
    beam_w = length * (_u(rng, 0.2, 0.3) if kind != "ship" else _u(rng, 0.12, 0.2))
    depth = beam_w * _u(rng, 0.35, 0.7)
    sheer = _u(rng, 0.0, 0.3) * depth
    rings = []
    for t in np.linspace(-0.5, 0.5, 9):
        z = t * length
        bow = max(0.0, (t - 0.1) / 0.4)  # 0 aft of the middle, 1 at the bow
        stern = max(0.0, (-t - 0.35) / 0.15)
        hw = beam_w / 2 * max(0.06, np.sqrt(max(0.0, 1 - bow**2)) * (1 - 0.25 * stern))
        dd = depth * (1 - 0.3 * stern) * (1 - 0.4 * bow)
        rings.append(_hull_ring(z, hw, dd, depth + sheer * bow**2, power=_u(rng, 2.0, 3.0) if t == -0.5 else 2.5))
    parts: Parts = [loft(rings)]
    deck = depth
    if kind == "sailboat":
        mz = length * _u(rng, 0.0, 0.15)
        mh = length * _u(rng, 0.6, 1.1)
        mr = max(0.006 * mh, 0.008)
        parts.append(cylinder(mr, (0, deck - 0.02, mz), (0, deck + mh, mz), sections=12))
        st = 0.013 * max(mh + 2 * depth, length)
        boom = length * _u(rng, 0.3, 0.45)
        by = deck + _u(rng, 0.05, 0.1) * length
        parts.append(cylinder(mr * 1.2, (0, by, mz), (0, by, mz - boom), sections=12))

        def sail(z_foot_front: float, z_foot_back: float, y_foot: float, z_head: float,
                 y_head: float) -> trimesh.Trimesh:
            foot = np.array([[-st / 2, y_foot, z_foot_front], [st / 2, y_foot, z_foot_front],
                             [st / 2, y_foot, z_foot_back], [-st / 2, y_foot, z_foot_back]])
            head = np.array([[-st / 2, y_head, z_head + 0.01], [st / 2, y_head, z_head + 0.01],
                             [st / 2, y_head, z_head - 0.01], [-st / 2, y_head, z_head - 0.01]])
            return loft([foot, head])

        parts.append(sail(mz - 0.005, mz - boom * 0.95, by + 0.01, mz - 0.01, deck + mh * 0.97))
        if rng.random() < 0.7:  # jib
            bowz = length * 0.45
            parts.append(sail(bowz - 0.02, mz + 0.03, deck + 0.03, mz + 0.02, deck + mh * _u(rng, 0.6, 0.9)))
        parts.append(box((max(0.012 * length, 0.015), depth * _u(rng, 0.8, 1.5), length * _u(rng, 0.12, 0.2)),
                         (0, -depth * 0.5, 0)))  # keel fin
        if rng.random() < 0.5:  # small cabin
            parts.append(box((beam_w * 0.5, depth * 0.4, length * 0.25), (0, deck + depth * 0.15, -length * 0.05)))
    elif kind == "motorboat":
        cz0, cz1 = -length * _u(rng, 0.1, 0.3), length * _u(rng, 0.0, 0.2)
        ch = depth * _u(rng, 0.5, 1.0)
        cw = beam_w * _u(rng, 0.6, 0.8)

        def rect(hw: float, zb: float, zf: float, y: float) -> np.ndarray:
            return np.array([[-hw, y, zb], [hw, y, zb], [hw, y, zf], [-hw, y, zf]])

        parts.append(loft([rect(cw / 2, cz0, cz1, deck - 0.02),
                           rect(cw / 2 * 0.85, cz0 + 0.02, cz1 - ch * _u(rng, 0.5, 1.2), deck + ch)]))
        if rng.random() < 0.7:  # outboard motor on the transom
            mz = -length / 2
            parts.append(box((beam_w * 0.15, depth * 1.2, length * 0.06), (0, deck - depth * 0.2, mz - length * 0.02)))
            parts.append(box((beam_w * 0.2, depth * 0.4, length * 0.08), (0, deck + depth * 0.4, mz - length * 0.02)))
        if rng.random() < 0.5:  # railing posts with a rail
            for sx in (-1, 1):
                parts.append(cylinder(0.008, (sx * beam_w * 0.3, deck + 0.06, length * 0.1),
                                      (sx * beam_w * 0.1, deck + 0.06, length * 0.38), sections=8))
    else:  # ship: superstructure levels, funnels and masts
        levels = int(rng.integers(1, 4))
        z0, z1 = -length * _u(rng, 0.1, 0.35), length * _u(rng, -0.05, 0.15)
        y = deck - 0.01
        lw = beam_w * 0.8
        lh = depth * _u(rng, 0.3, 0.6)
        for _ in range(levels):
            parts.append(box((lw, lh + 0.01, z1 - z0), (0, y + (lh + 0.01) / 2, (z0 + z1) / 2)))
            y += lh
            shrink = (z1 - z0) * _u(rng, 0.1, 0.3)
            z0, z1, lw = z0 + shrink * 0.3, z1 - shrink * 0.7, lw * 0.85
        nf = int(rng.integers(1, 4))
        fr = beam_w * _u(rng, 0.08, 0.15)
        fh = depth * _u(rng, 0.6, 1.2)
        for k in range(nf):
            fz = -length * 0.3 + k * fr * 3.0
            parts.append(frustum(fr, fr * _u(rng, 0.7, 1.0), (0, deck - 0.01, fz), (0, deck + depth * 0.5 + fh, fz)))
        for mz in (length * 0.3, (z0 + z1) / 2):
            top = y + depth * _u(rng, 0.5, 1.2)
            parts.append(cylinder(max(0.006, 0.008 * length), (0, deck - 0.01, mz), (0, top, mz),
                                  sections=8))
        if rng.random() < 0.6:  # lifeboats
            for sx in (-1, 1):
                parts.append(capsule(beam_w * 0.05, (sx * beam_w * 0.45, deck + lh, -length * 0.15),
                                     (sx * beam_w * 0.45, deck + lh, -length * 0.02)))
    return parts


# ------------------------------------------------------------------------------------------------ registry
_PARTS: dict[str, Callable[[np.random.Generator], Parts]] = {
    "chair": _chair_parts,
    "table": _table_parts,
    "bench": _bench_parts,
    "sofa": _sofa_parts,
    "lamp": _lamp_parts,
    "cabinet": _cabinet_parts,
    "airplane": _airplane_parts,
    "car": _car_parts,
    "display": _display_parts,
    "loudspeaker": _loudspeaker_parts,
    "rifle": _rifle_parts,
    "telephone": _telephone_parts,
    "vessel": _vessel_parts,
}


def _on_floor(parts: Parts) -> Parts:
    """Shift the parts so that the lowest point is at y = 0 (a dome base or a tyre may poke below)."""
    low = min(float(p.vertices[:, 1].min()) for p in parts)
    if abs(low) < 1e-12:
        return parts
    return [transformed(p, _translate(0.0, -low, 0.0) + np.eye(4)) for p in parts]


def _maker(name: str) -> Callable[[np.random.Generator], trimesh.Trimesh]:
    build = _PARTS[name]

    def make(rng: np.random.Generator) -> trimesh.Trimesh:
        return assemble(_on_floor(build(rng)))

    make.__name__ = f"make_{name}"
    make.__doc__ = f"A procedural {name}: parts from the generator `rng`, concatenated (see the module docstring)."
    return make


make_chair = _maker("chair")
make_table = _maker("table")
make_bench = _maker("bench")
make_sofa = _maker("sofa")
make_lamp = _maker("lamp")
make_cabinet = _maker("cabinet")
make_airplane = _maker("airplane")
make_car = _maker("car")
make_display = _maker("display")
make_loudspeaker = _maker("loudspeaker")
make_rifle = _maker("rifle")
make_telephone = _maker("telephone")
make_vessel = _maker("vessel")

CATEGORIES: dict[str, Callable[[np.random.Generator], trimesh.Trimesh]] = {
    "chair": make_chair,
    "table": make_table,
    "bench": make_bench,
    "sofa": make_sofa,
    "lamp": make_lamp,
    "cabinet": make_cabinet,
    "airplane": make_airplane,
    "car": make_car,
    "display": make_display,
    "loudspeaker": make_loudspeaker,
    "rifle": make_rifle,
    "telephone": make_telephone,
    "vessel": make_vessel,
}


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")


def rng_for(category: str, seed: int) -> np.random.Generator:
    """The generator behind make_shape(category, seed): seeded with (seed, crc32(category)), never hash()."""
    _check_category(category)
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(category.encode("utf-8"))])


def make_parts(category: str, seed: int) -> list[trimesh.Trimesh]:
    """The closed parts of make_shape(category, seed), each watertight and outward-oriented, in build order."""
    rng = rng_for(category, seed)
    return _on_floor(_PARTS[category](rng))


def make_shape(category: str, seed: int) -> trimesh.Trimesh:
    """Deterministic procedural shape: the same (category, seed) gives byte-identical vertices and faces."""
    rng = rng_for(category, seed)  # validates the category and the seed first
    return CATEGORIES[category](rng)
