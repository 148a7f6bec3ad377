"""Point cloud -> feature planes + global code, by local pooling (ConvONet's LocalPoolPointnet), for the local field.

Each point is lifted to 2h features; n_blocks `ResnetBlockFC` (2h -> h) follow, and after every block but the last
each point gets, concatenated, the mean of the features of the points that share its cell on each of the three
planes (summed over the planes): a receptive field of a few cells instead of the whole cloud. The last block's
features are projected to C_out channels and averaged into three R x R planes (cells without points stay 0), and
their max over all points gives a global code (B, c_dim).

The output is one flat tensor c (B, 3 C_out R^2 + c_dim) = [planes.flatten(), code], so the objectives, DDP and
the trainer pass it around like the global encoders' code; hnf3d.models.local_field.LocalField unpacks it.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .encoders import ResnetBlockFC, _check_points
from .triplane import BOX, PLANE_AXES

__all__ = ["LocalPointNet", "PlaneCode", "cell_index"]


def cell_index(points: torch.Tensor, resolution: int) -> torch.Tensor:
    """(B, N, 3) points -> (B, 3, N) int64 flat cell index v * R + u on each plane (cells of side 2 BOX / R;
    points beyond the box go to the edge cells)."""
    uv = torch.stack([points[..., list(axes)] for axes in PLANE_AXES], dim=1)  # (B, 3, N, 2)
    ij = ((uv / (2 * BOX) + 0.5) * resolution).floor().clamp_(0, resolution - 1).long()
    return ij[..., 1] * resolution + ij[..., 0]


def _scatter_mean(features: torch.Tensor, index: torch.Tensor, n_cells: int) -> torch.Tensor:
    """features (B, N, C), index (B, 3, N) -> (B, 3, n_cells, C): the mean of the features of the points in each
    cell of each plane (0 where a cell holds none)."""
    B, N, C = features.shape
    src = features.unsqueeze(1).expand(B, 3, N, C)
    sums = features.new_zeros((B, 3, n_cells, C)).scatter_add(2, index.unsqueeze(-1).expand(B, 3, N, C), src)
    counts = features.new_zeros((B, 3, n_cells, 1)).scatter_add(2, index.unsqueeze(-1),
                                                               features.new_ones((B, 3, N, 1)))
    return sums / counts.clamp(min=1)


def _pool_local(features: torch.Tensor, index: torch.Tensor, n_cells: int) -> torch.Tensor:
    """features (B, N, C), index (B, 3, N) -> (B, N, C): per point, the sum over planes of the mean feature of
    its cell (ConvONet pools by max; the mean costs a third of the time here and trains as well)."""
    B, N, C = features.shape
    cells = _scatter_mean(features, index, n_cells)
    return cells.gather(2, index.unsqueeze(-1).expand(B, 3, N, C)).sum(dim=1)


class PlaneCode:
    """The output layout shared by the local encoders: c = [planes (3, out_channels, resolution, resolution)
    flattened, code (c_dim)]; the subclass sets out_channels, resolution and c_dim."""

    out_channels: int
    resolution: int
    c_dim: int

    @property
    def plane_numel(self) -> int:
        """Elements of the planes part of c: 3 C_out R^2."""
        return 3 * self.out_channels * self.resolution ** 2

    @property
    def out_dim(self) -> int:
        """Size of c: plane_numel + c_dim."""
        return self.plane_numel + self.c_dim


class LocalPointNet(PlaneCode, nn.Module):
    """(B, N, 3) points in the unit box -> c (B, 3 out_channels resolution^2 + c_dim); see the module docstring.

    Args: resolution R of the planes, out_channels C_out, c_dim (global code), hidden h, n_blocks (>= 1).
    """

    def __init__(self, resolution: int = 64, out_channels: int = 32, c_dim: int = 128, hidden: int = 32,
                 n_blocks: int = 3):
        super().__init__()
        for name, v in (("resolution", resolution), ("out_channels", out_channels), ("c_dim", c_dim),
                        ("hidden", hidden), ("n_blocks", n_blocks)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        self.resolution, self.out_channels, self.c_dim = resolution, out_channels, c_dim
        self.hidden, self.n_blocks = hidden, n_blocks
        self.fc_pos = nn.Linear(3, 2 * hidden)
        self.blocks = nn.ModuleList(ResnetBlockFC(2 * hidden, hidden) for _ in range(n_blocks))
        self.fc_planes = nn.Linear(hidden, out_channels)
        self.fc_code = nn.Linear(hidden, c_dim)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        _check_points(points)
        B, N, _ = points.shape
        R = self.resolution
        index = cell_index(points, R)  # (B, 3, N)
        net = self.fc_pos(points)
        for i, block in enumerate(self.blocks):
            net = block(net)
            if i < self.n_blocks - 1:
                net = torch.cat([net, _pool_local(net, index, R * R)], dim=-1)
        feats = self.fc_planes(net)  # (B, N, C_out)
        # (B, 3, R*R, C) -> (B, 3, C, R*R): cell v * R + u becomes plane[c, v, u]
        planes = _scatter_mean(feats, index, R * R).transpose(2, 3).reshape(B, self.plane_numel)
        code = self.fc_code(F.relu(net.max(dim=1).values))
        return torch.cat([planes, code], dim=-1)
