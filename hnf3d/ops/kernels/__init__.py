"""Triton kernels for the geometry ops (tiled brute force, one module per kernel family).

Each module holds the `@triton.jit` kernel(s) and a Python launcher that checks its torch tensors, allocates the
outputs, launches and returns torch tensors:

=============================  ======================================================================
module                         launcher
=============================  ======================================================================
winding_number                 winding_number_triton(tri (F,3,3), queries (Q,3)) -> (Q,)
point_cloud_winding_number     point_cloud_winding_number_triton(points, normals, areas, queries, eps) -> (Q,)
knn                            knn_triton(reference (R,3), queries (Q,3), k) -> (dist2 (Q,k), index (Q,k))
closest_point                  closest_point_triton(tri (F,3,3), queries (Q,3)) -> (dist2 (Q,), face (Q,))
cast_rays                      cast_rays_triton(tri, origins (R,3), directions (R,3), t_min) -> (t (R,), face (R,))
=============================  ======================================================================

What the kernels share lives once in `_common`: the Triton helpers (program_rows, load_xyz_col for (N, 3) rows,
load_soa3 / load_triangle_edges / tile_minus for structure-of-arrays tiles, kahan_add, lane_min_update +
lane_argmin for a running argmin without a reduction per tile, atan2), and the launcher side (check_tensor,
check_tile, soa, launch).

All inputs are float32 and contiguous; CUDA tensors in production, CPU tensors only under TRITON_INTERPRET=1
(the tests), which must be set before triton is first imported. Tile sizes are keyword arguments of the
launchers with GPU defaults; tests pass large tiles because the interpreter pays ~35 us per tl op per program.

This package does not import triton: the kernel modules do (through hnf3d._optional.require, which names what to
install), and the ops layer imports them lazily, only for CUDA tensors or when backend='triton' is asked for.
`aot_specs()` lists every kernel with a representative signature and its GPU-default constexprs, for the
ahead-of-time compile test (tests/ops/test_triton_compile.py), which compiles for sm_90 without a GPU.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# kernel module -> its launcher, in the order the docs list them
KERNEL_MODULES: dict[str, str] = {
    "winding_number": "winding_number_triton",
    "point_cloud_winding_number": "point_cloud_winding_number_triton",
    "knn": "knn_triton",
    "closest_point": "closest_point_triton",
    "cast_rays": "cast_rays_triton",
}


@dataclass(frozen=True)
class AotSpec:
    """One kernel configuration to compile ahead of time.

    name: readable id (module, plus the variant); kernel: the @triton.jit object; signature: every argument's
    Triton type ('*fp32', 'i32', 'fp32', 'constexpr'); constexprs: the values of the constexpr arguments
    (the launcher's GPU defaults); options: compile options such as num_warps.
    """

    name: str
    kernel: Any
    signature: dict[str, str]
    constexprs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


def load(module: str):
    """Import one kernel module (this imports triton); `module` is a key of KERNEL_MODULES."""
    if module not in KERNEL_MODULES:
        raise ValueError(f"module: expected one of {sorted(KERNEL_MODULES)}, got {module!r}")
    return importlib.import_module(f"{__name__}.{module}")


def launcher(module: str):
    """The launcher function of one kernel module, e.g. launcher('knn') is knn_triton."""
    return getattr(load(module), KERNEL_MODULES[module])


def aot_specs() -> list[AotSpec]:
    """Every kernel at its GPU-default tile sizes with a representative signature (imports triton)."""
    specs: list[AotSpec] = []
    for module in KERNEL_MODULES:
        specs.extend(load(module).aot_specs())
    return specs


__all__ = ["KERNEL_MODULES", "AotSpec", "aot_specs", "launcher", "load"]
