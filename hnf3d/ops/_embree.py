"""Open3D RaycastingScene (Embree BVH) construction, shared by the CPU backends of the mesh queries."""
from __future__ import annotations

import numpy as np
import torch

from .._optional import require


def raycasting_scene(vertices: torch.Tensor, faces: torch.Tensor, purpose: str):
    """Build a RaycastingScene over one triangle mesh. Returns (scene, open3d.core)."""
    o3d = require("open3d", purpose)
    o3c = o3d.core
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3c.Tensor(np.ascontiguousarray(vertices.detach().cpu().float().numpy())),
        o3c.Tensor(np.ascontiguousarray(faces.detach().cpu().numpy().astype(np.uint32))),
    )
    return scene, o3c
