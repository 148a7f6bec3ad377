"""Procedural devices and objects: display, loudspeaker, rifle and telephone (with the vessel in vehicles.py,
these complete Occupancy Networks' 13 ShapeNet classes).

Each `<category>_parts(rng)` draws its parameters from `rng` in a fixed order (the order is part of the
determinism contract) and returns closed parts; its docstring lists the parameter ranges.
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
    loft,
    ring,
    torus,
    transformed,
)
from ._common import Parts, X, Y, Z, _u, _pick, _translate


def display_parts(rng: np.random.Generator) -> Parts:
    """The parts of a display drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    screen width U(0.5, 1.0), aspect 16:9 | 16:10 | 4:3 | 21:9, panel depth U(0.015, 0.05); raised
    bezel frame (p = 0.5); bulky back housing (p = 0.3); stand neck + box/oval foot | two pairs of slanted legs |
    low bar | slanted arm from a disc foot.
    """
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


def _driver(center: np.ndarray, r: float, protrude: float) -> Parts:
    """A driver on a front face at z = center[2]: a cone plus a torus surround."""
    back = center - Z * 0.01
    return [frustum(r * 0.85, r * 0.3, back, center + Z * protrude, sections=24),
            torus(r * 0.9, max(r * 0.12, 0.008), center, Z, sections=(32, 8))]


def loudspeaker_parts(rng: np.random.Generator) -> Parts:
    """The parts of a loudspeaker drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    bookshelf box (width U(0.2, 0.4), height ratio U(1.2, 1.8)) | tower (height U(0.8, 1.2)) |
    cylinder (radius U(0.12, 0.25), optional dome top, torus grille rings); 1-4 drivers (cone + torus surround),
    tweeter dome, bass-port ring (p = 0.4); feet none | plinth | 4 spikes.
    """
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


def rifle_parts(rng: np.random.Generator) -> Parts:
    """The parts of a rifle drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    length U(0.9, 1.2); receiver box, barrel radius >= 0.7% of the length, handguard (p = 0.6), muzzle
    brake (p = 0.5), lofted stock with drop, pistol grip, straight or curved magazine (p = 0.8), torus trigger
    guard (a hole), scope on mounts (p = 0.5), bipod (p = 0.3).
    """
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


def telephone_parts(rng: np.random.Generator) -> Parts:
    """The parts of a telephone drawn from `rng` (y up, x = width, +z = front; lengths in "about 1" units).

    Parameters (U(a, b): uniform):
    smartphone (rounded-rectangle slab, power U(4, 12), screen, 1-3 camera bumps, side buttons) |
    cordless handset (keypad grid of 12 keys, antenna) | desk phone (wedge base, 12 keys on the slope, capsule
    handset on cradle posts).
    """
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
