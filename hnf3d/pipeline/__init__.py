"""Inference: a point cloud or an image in, a watertight mesh (or the per-shape network) out.

Data flow: `inputs` (clean and normalise the points; turn an image into a tensor) -> the trained model
(hnf3d.models.build) predicts theta = Phi(T, c) -> optional test-time `refine`ment on pseudo-labels from the
scan's winding number (`normals` estimates and orients the normals it needs) -> hierarchical `extraction` of the
mesh -> optionally `trim`med to what the scan saw (an open mesh) -> back to the input's units.
`reconstructor.Reconstructor` runs it all; `export.OccupancyNetwork` hands the per-shape network over as plain
numpy data.
"""
import importlib

# loaded on first access, so that `import hnf3d.pipeline.export` (numpy only) does not pull in torch
_API = {"OccupancyNetwork": "export", "extract_mesh": "extraction", "clean_points": "inputs",
        "PRETRAINED": "reconstructor", "Reconstructor": "reconstructor"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
