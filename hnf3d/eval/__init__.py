"""Evaluation with the Occupancy Networks / ConvONet protocol (docs/protocol.md).

Data flow: `protocol` draws each object's protocol input from an ONet-layout data set, runs a method on it and
scores the mesh with `metrics` (IoU, Chamfer-L1, normal consistency, F-scores) -> per-class means -> `report`
(the markdown table and per-object CSV). `poisson` is the Open3D screened Poisson baseline scored beside us.
Modules import their heavy dependencies (torch, open3d) themselves, so `import hnf3d.eval` is cheap.
"""
