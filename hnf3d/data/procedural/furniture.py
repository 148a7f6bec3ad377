"""Procedural furniture: chair, table, bench, sofa, lamp and cabinet, standing on the floor y = 0.

Each `<category>_parts(rng)` draws its parameters from `rng` in a fixed order (the order is part of the
determinism contract: reordering draws changes every shape) and returns closed parts; its docstring lists the
parameter ranges. The registry in hnf3d.data.procedural turns them into `make_<category>`.
"""
from __future__ import annotations

import numpy as np

from .._parts import (
    beam,
    box,
    box_between,
    capsule,
    cylinder,
    dome,
    ellipsoid,
    frustum,
    rotation,
    torus,
    transformed,
)
from ._common import Parts, X, Y, _u, _pick, _leg, _translate


def chair_parts(rng: np.random.Generator) -> Parts:
    """The parts of a chair drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    seat w, d U(0.38, 0.6), height U(0.38, 0.52), thickness U(0.03, 0.08), box or round seat;
    base 4 legs (square/round, inset, optional stretchers) | 3 splayed legs | pedestal column with a disc or a
    4-5 spoke star with caster balls; back none | solid board | 1-6 vertical slats between posts (gaps = holes) |
    2-4 horizontal rails, height U(0.3, 0.6), tilt 0-14 deg; armrests (p = 0.35 when there is a back).
    """
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


def table_parts(rng: np.random.Generator) -> Parts:
    """The parts of a table drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    top rectangle | round | oval, width U(0.6, 1.4), depth ratio U(0.45, 1), height U(0.35, 0.8),
    thickness U(0.02, 0.07); base 3-4 legs (square/round/tapered) with optional apron, lower shelf or torus ring
    frame (a hole) | pedestal (column or tapered column, disc or cross foot) | trestle (two end panels, feet and
    a stretcher).
    """
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


def bench_parts(rng: np.random.Generator) -> Parts:
    """The parts of a bench drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    length U(0.9, 1.8), depth U(0.28, 0.5), height U(0.35, 0.5); seat 1-5 planks with gaps; support
    4-6 legs | two slab ends | A-frames; backrest (p = 0.5) with 1-4 rails on posts; armrests (p = 0.3 with back).
    """
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


def sofa_parts(rng: np.random.Generator) -> Parts:
    """The parts of a sofa drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    length U(1.2, 2.2), depth U(0.7, 1.0), seat height U(0.35, 0.5); 1-4 seat cushions, solid back or
    back cushions, back height U(0.25, 0.5); arms none | one | two, box or rolled (box + cylinder); feet none or
    4-6 short cylinders/blocks; L-shaped chaise (p = 0.25).
    """
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


def lamp_parts(rng: np.random.Generator) -> Parts:
    """The parts of a lamp drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    floor (height U(1.0, 1.6)) | table (U(0.35, 0.7)) | desk arm (two capsule segments with ball joints,
    angles U) | multi-arm (2-4 arms, each with a shade); base disc | box | cone | dome; stem radius >= 0.6% of
    the height; shade frustum | cylinder | cone | dome, optional torus rim and bulb.
    """
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


def cabinet_parts(rng: np.random.Generator) -> Parts:
    """The parts of a cabinet drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    width U(0.4, 1.2), height U(0.4, 1.8), depth U(0.25, 0.55), board thickness U(0.015, 0.04);
    open shelf (boards with 1-5 shelves, 0-2 dividers, back panel p = 0.5: open through-holes) | cupboard
    (1-2 doors with handles, 0-3 inner shelves) | drawers (2-5 drawer fronts with handles); plinth none | box |
    4 legs.
    """
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
