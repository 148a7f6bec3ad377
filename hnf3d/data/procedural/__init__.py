"""Procedural ShapeNet-like shapes: training data that can be generated here (ShapeNet cannot be downloaded).

Each category is a function `make_<category>(rng) -> trimesh.Trimesh` that draws its parameters from a numpy
Generator and concatenates closed, outward-oriented parametric parts (hnf3d.data._parts): boxes, beams,
cylinders, capsules, frustums, ellipsoids, tori and lofts through convex rings. Parts overlap freely and are
NOT boolean-unioned: the generalised winding number of the concatenation is >= 1 exactly inside the union of
the parts, which is how hnf3d labels occupancy. Every part on its own is watertight, winding-consistent, has
positive volume and no degenerate faces.

Frames: the category modules draw in the generator frame (y up, floor at y = 0 for furniture and cars, x = width,
+z = front); `make_shape` and `make_parts` return the shapes turned into ShapeNet's canonical frame as the
Occupancy Networks data holds it (y up, width along z, the front towards +x, the back towards -x: measured on
the real ShapeNet objects of ../shared/data/real; docs/design.md section 8, "Image data in ShapeNet's frame"), so
that a model trained on them predicts in the frame of real ShapeNet data. The turn is +90 degrees about y,
(x, y, z) -> (z, y, -x): a signed permutation of the coordinates, exact in floating point (`to_shapenet_frame`).
Sizes are in "about 1" units (the largest side is ~0.5-2); tools/build_dataset.py normalises. Thin parts are never
thinner than ~1% of the largest side.

`make_shape(category, seed)` is deterministic: the generator is seeded with (seed, crc32(category)), so the same
seed gives byte-identical vertices and faces on the same platform. `make_parts(category, seed)` returns the
parts themselves (for tests and metadata).

The 13 categories (Occupancy Networks' 13 ShapeNet classes) live in three family modules, each category's
parameter ranges in the docstring of its `<category>_parts` function:
- furniture: chair, table, bench, sofa, lamp, cabinet;
- vehicles: airplane, car, vessel;
- devices: display, loudspeaker, rifle, telephone.

Besides the meshes, five families of analytic solids (sdf.py: signed distance functions, exact inside test, for
local geometry beyond furniture): `SDF_FAMILIES` blob, tube (organic.py), plate, mechanical, csg (mechanical.py),
each `make_<family>(rng) -> SDFShape`; `make_sdf_shape(family, seed)` seeds them like make_shape. sdf_surface.py
meshes them; hnf3d.data.build_sdf writes them in the ONet layout.
This module holds the registries (`CATEGORIES`, `SDF_FAMILIES`: name -> make function) and the seeding.
"""
from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
import trimesh

from .._parts import assemble, transformed
from ._common import Parts, _translate
from .devices import display_parts, loudspeaker_parts, rifle_parts, telephone_parts
from .furniture import bench_parts, cabinet_parts, chair_parts, lamp_parts, sofa_parts, table_parts
from .mechanical import make_csg, make_mechanical, make_plate
from .organic import make_blob, make_tube
from .sdf import SDFShape
from .vehicles import airplane_parts, car_parts, vessel_parts

__all__ = [
    "CATEGORIES", "make_shape", "make_parts", "rng_for",
    "make_chair", "make_table", "make_bench", "make_sofa", "make_lamp", "make_cabinet", "make_airplane",
    "make_car", "make_display", "make_loudspeaker", "make_rifle", "make_telephone", "make_vessel",
    "SDF_FAMILIES", "SDFShape", "make_sdf_shape", "to_shapenet_frame",
]

# The order is the order of CATEGORIES (tools/make_shapes.py writes the categories in it).
_PARTS: dict[str, Callable[[np.random.Generator], Parts]] = {
    "chair": chair_parts,
    "table": table_parts,
    "bench": bench_parts,
    "sofa": sofa_parts,
    "lamp": lamp_parts,
    "cabinet": cabinet_parts,
    "airplane": airplane_parts,
    "car": car_parts,
    "display": display_parts,
    "loudspeaker": loudspeaker_parts,
    "rifle": rifle_parts,
    "telephone": telephone_parts,
    "vessel": vessel_parts,
}


def to_shapenet_frame(vertices: np.ndarray) -> np.ndarray:
    """(N, 3) generator-frame points (x = width, +z = front) -> ShapeNet's frame (z = width, +x = front): the turn
    (x, y, z) -> (z, y, -x), +90 degrees about y (a proper rotation: faces keep their outward winding). Exact."""
    v = np.asarray(vertices, np.float64)
    return np.stack([v[:, 2], v[:, 1], -v[:, 0]], axis=1)


def _turned(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The mesh in ShapeNet's frame (to_shapenet_frame), same faces."""
    return trimesh.Trimesh(vertices=to_shapenet_frame(mesh.vertices), faces=mesh.faces, process=False)


def _on_floor(parts: Parts) -> Parts:
    """Shift the parts so that the lowest point is at y = 0 (a dome base or a tyre may poke below)."""
    low = min(float(p.vertices[:, 1].min()) for p in parts)
    if abs(low) < 1e-12:
        return parts
    return [transformed(p, _translate(0.0, -low, 0.0) + np.eye(4)) for p in parts]


def _maker(name: str) -> Callable[[np.random.Generator], trimesh.Trimesh]:
    """make_<name>(rng): the parts of `name` drawn from `rng`, set on the floor and concatenated."""
    build = _PARTS[name]

    def make(rng: np.random.Generator) -> trimesh.Trimesh:
        return _turned(assemble(_on_floor(build(rng))))

    make.__name__ = make.__qualname__ = f"make_{name}"
    make.__doc__ = (f"A procedural {name}: parts from the generator `rng`, concatenated, in ShapeNet's frame; the "
                    f"parameters are those of {build.__module__}.{build.__name__}.")
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


#: The SDF families, in the order tools/make_shapes.py --onet writes them.
SDF_FAMILIES: dict[str, Callable[[np.random.Generator], SDFShape]] = {
    "blob": make_blob,
    "tube": make_tube,
    "plate": make_plate,
    "mechanical": make_mechanical,
    "csg": make_csg,
}


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")


def rng_for(category: str, seed: int) -> np.random.Generator:
    """The generator behind make_shape(category, seed) and make_sdf_shape(family, seed): seeded with
    (seed, crc32(name)), never hash()."""
    if category not in SDF_FAMILIES:
        _check_category(category)
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(category.encode("utf-8"))])


def make_parts(category: str, seed: int) -> list[trimesh.Trimesh]:
    """The closed parts of make_shape(category, seed), each watertight and outward-oriented, in build order, in
    ShapeNet's frame."""
    _check_category(category)
    rng = rng_for(category, seed)
    return [_turned(p) for p in _on_floor(_PARTS[category](rng))]


def make_shape(category: str, seed: int) -> trimesh.Trimesh:
    """Deterministic procedural shape in ShapeNet's frame (module docstring): the same (category, seed) gives
    byte-identical vertices and faces."""
    _check_category(category)
    rng = rng_for(category, seed)
    return CATEGORIES[category](rng)


def make_sdf_shape(family: str, seed: int) -> SDFShape:
    """Deterministic SDF shape: make_<family>(rng_for(family, seed)); the same (family, seed) gives the same SDF."""
    if family not in SDF_FAMILIES:
        raise ValueError(f"unknown SDF family {family!r}; known: {', '.join(SDF_FAMILIES)}")
    return SDF_FAMILIES[family](rng_for(family, seed))
