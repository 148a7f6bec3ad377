"""Procedural vehicles: airplane, car (on the floor y = 0) and vessel (hull along z, bow at +z).

Each `<category>_parts(rng)` draws its parameters from `rng` in a fixed order (the order is part of the
determinism contract) and returns closed parts; its docstring lists the parameter ranges.
"""
from __future__ import annotations

import numpy as np
import trimesh

from .._parts import (
    beam,
    box,
    box_between,
    capsule,
    cylinder,
    frustum,
    loft,
    mirror_x,
    ring,
    rotation,
    torus,
    transformed,
)
from ._common import Parts, X, Y, Z, _u, _pick


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


def airplane_parts(rng: np.random.Generator) -> Parts:
    """The parts of a airplane drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    fuselage loft length U(0.7, 1.0), radius ratio U(0.035, 0.08), nose/tail tapers, tail upsweep;
    wings with span ratio U(0.7, 1.3), root chord, taper, sweep, dihedral, low/mid/high position, thickness
    >= 1.2% of the span; horizontal stabiliser, 1-2 vertical fins, T-tail (p = 0.2); 0, 2 or 4 engine nacelles
    on pylons or a nose propeller; kinds airliner | prop | glider | fighter (delta wing, twin fins).
    """
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


def car_parts(rng: np.random.Generator) -> Parts:
    """The parts of a car drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    length U(0.8, 1.0), width ratio U(0.38, 0.5); body loft of rounded-rectangle sections with hood/trunk
    slopes; cabin loft (slanted windshield and rear window); kinds sedan | hatchback | suv | pickup (open bed of
    boards = a cavity) | van | sports (low, optional spoiler on posts); 4 or 6 wheels as torus tyre + hub disc,
    radius ratio U(0.09, 0.13); side mirrors.
    """
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


def _hull_ring(z: float, half_beam: float, depth: float, deck: float, n: int = 24, power: float = 2.5) -> np.ndarray:
    """Convex hull section: the lower half of a superellipse closed by the flat deck line at y = deck."""
    t = np.pi + np.pi * np.arange(n + 1) / n  # pi .. 2 pi: port deck edge, keel, starboard deck edge
    c, s = np.cos(t), np.sin(t)
    x = np.sign(c) * np.abs(c) ** (2.0 / power) * half_beam
    y = deck + np.sign(s) * np.abs(s) ** (2.0 / power) * depth
    pts = np.stack([x, y, np.full_like(x, z)], 1)
    return pts[::-1]  # starboard -> keel -> port; the loft closes the ring along the deck line


def vessel_parts(rng: np.random.Generator) -> Parts:
    """The parts of a vessel drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    hull loft of convex sections (length U(0.8, 1.0), beam ratio U(0.12, 0.3), sheer, pointed bow);
    sailboat (mast, boom, main sail, jib p = 0.7, keel fin, cabin p = 0.5) | motorboat (cabin with slanted
    windshield, outboard motor p = 0.7, rails) | ship (1-3 superstructure levels, 1-3 funnels, masts, lifeboats).
    """
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
