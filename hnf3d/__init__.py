"""hnf3d: 3D reconstruction with hypernetwork fields.

Import is cheap: submodules (io, ops, metrics, ...) load on first access, and optional backends
(open3d, point-cloud-utils, triton) only when an op needs them.
"""
from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = ("io", "ops", "metrics", "geometry", "data", "models", "config", "training")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'hnf3d' has no attribute {name!r}")
