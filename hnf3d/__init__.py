"""hnf3d: 3D reconstruction with hypernetwork fields.

Import is cheap: submodules (io, ops, metrics, ...) load on first access, and optional backends
(open3d, point-cloud-utils, triton) only when an op needs them.
"""
from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = ("io", "ops", "metrics", "geometry", "data", "models", "config", "training", "extraction",
               "normals", "refine", "export", "reconstruction", "preview")
# public names defined in a submodule, loaded with it on first access
_API = {"Reconstructor": "reconstruction", "extract_mesh": "extraction", "OccupancyNetwork": "export"}

__all__ = ["__version__", "load_model", "reconstruct", *_SUBMODULES, *_API]


def load_model(path="default", *, device="auto"):
    """`Reconstructor.load(path, device=device)`: a checkpoint path or a shipped model name ('default',
    'default-image')."""
    from .reconstruction import Reconstructor

    return Reconstructor.load(path, device=device)


def reconstruct(points, normals=None, *, model="default", device="auto", **kwargs):
    """One call: a watertight trimesh.Trimesh of the point cloud (N, 3) in its own units, with the shipped model
    (or `model`, a checkpoint path). kwargs go to `Reconstructor.reconstruct` (resolution, refine_steps, ...).
    Load a Reconstructor once instead when reconstructing many shapes."""
    return load_model(model, device=device).reconstruct(points, normals, **kwargs)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module 'hnf3d' has no attribute {name!r}")
