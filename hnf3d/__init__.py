"""hnf3d: 3D reconstruction with hypernetwork fields.

Package layout, in the order data flows (each layer imports only the ones before it):

    io        files in and out (point clouds, meshes, checkpoints)
    ops       geometry queries (winding number, occupancy, closest point, knn, ray casting, sampling)
    vis       renders in the ONet camera convention, mesh previews
    data      data sets, the ONet-layout builder, procedural shapes, normalisation
    models    task network, encoders, the hypernetwork field; build.py makes and loads them
    training  objectives, trainer, per-shape fitting
    pipeline  inference: Reconstructor, input cleaning, refinement, extraction, export   (a leaf)
    eval      the ONet protocol, metrics, the Poisson baseline, reports                 (a leaf)
    cli       the command-line programs (tools/*.py wrap them)

Import is cheap: subpackages load on first access (`hnf3d.ops`, `hnf3d.vis`, ...), and optional backends (open3d,
point-cloud-utils, triton) only when an op needs them.
"""
from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = ("io", "ops", "vis", "data", "models", "training", "pipeline", "eval", "cli", "config")
# public names defined in a submodule, loaded with it on first access
_API = {
    "Reconstructor": "pipeline.reconstructor",
    "extract_mesh": "pipeline.extraction",
    "OccupancyNetwork": "pipeline.export",
    "clean_points": "pipeline.inputs",
    "mesh_metrics": "eval.metrics",
    "render_preview": "vis.preview",
}

__all__ = ["__version__", "load_model", "reconstruct", *_SUBMODULES, *_API]


def load_model(path="default", *, device="auto"):
    """`Reconstructor.load(path, device=device)`: a checkpoint path or a shipped model name ('default',
    'default-image')."""
    from .pipeline.reconstructor import Reconstructor

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


def __dir__():
    return sorted(set(globals()) | set(__all__))
