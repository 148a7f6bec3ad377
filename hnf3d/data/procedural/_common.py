"""Small helpers shared by the procedural families: parameter draws, legs and translations.

The draws (`_u`, `_pick`) consume the generator exactly as numpy's `uniform` / `choice` do; the families call
them in a fixed order, which is what makes a (category, seed) pair reproducible.
"""
from __future__ import annotations

import numpy as np
import trimesh

from .._parts import box_between, cylinder

Parts = list[trimesh.Trimesh]
X, Y, Z = np.eye(3)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw from U(lo, hi) as a Python float."""
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options: list[str], p: list[float] | None = None) -> str:
    """One of `options`, with probabilities `p` (uniform when None)."""
    return str(options[int(rng.choice(len(options), p=p))])


def _leg(rng_round: bool, thickness: float, x: float, z: float, y0: float, y1: float) -> trimesh.Trimesh:
    """A vertical leg: a square post or a round one."""
    if rng_round:
        return cylinder(thickness / 2, (x, y0, z), (x, y1, z), sections=16)
    return box_between((x - thickness / 2, y0, z - thickness / 2), (x + thickness / 2, y1, z + thickness / 2))


def _translate(x: float, y: float, z: float) -> np.ndarray:
    """(4, 4) matrix that is zero but for the translation column: add it to a scale or to np.eye(4)."""
    m = np.zeros((4, 4))
    m[:3, 3] = (x, y, z)
    return m
