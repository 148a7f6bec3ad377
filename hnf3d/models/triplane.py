"""The local task network: occupancy from a triplane of features and a small decoder MLP (docs/design.md s. 8).

theta = (G, W). G: three axis-aligned feature planes (3, C, R, R) over the padded unit box [-BOX, BOX]^2 (planes
xy, xz, yz in that order: plane k is indexed by the coordinates PLANE_AXES[k] = (u, v)). W: a decoder MLP on
[G(x), gamma(x)], where G(x) = the sum over the three planes of the bilinear interpolation of the plane at the
projection of x (ConvONet's triplane decoder) and gamma the positional encoding of hnf3d.models.task_network:

    f(x; theta) = MLP_W([sum_k bilinear(G_k, (x_u, x_v) / BOX), gamma(x)])      -> one logit

A change of G moves the occupancy only near the cells it touches, so a prediction or a refinement step is local:
what the global MLP family cannot do. G has most of the parameters (3 x 16 x 64^2 = 196,608 by default).

The flat vector theta (P,) holds `planes` first, then the decoder's `layers.{i}.weight` / `.bias`, as given by
`param_layout()` (a ParamLayout, like TaskNetwork's): checkpoints, export, refinement and the objectives handle
theta without knowing which family it is. hnf3d.pipeline.export evaluates the same function with numpy alone.

Sampling: bilinear with align_corners=True (cell centres at the grid nodes, R nodes spanning [-BOX, BOX]) and
border padding (points beyond the box read the nearest edge value), as hnf3d.pipeline.export reimplements it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .task_network import _ACTIVATIONS, ParamLayout, positional_encoding, seeded_parameters

__all__ = ["BOX", "PLANE_AXES", "TriplaneTaskNetwork", "plane_coordinates", "plane_roughness", "sample_planes"]

#: half side of the box the planes span: the unit box [-0.5, 0.5]^3 plus ONet's 10% padding
BOX = 0.55
#: coordinate axes (u, v) of the three planes: xy, xz, yz
PLANE_AXES = ((0, 1), (0, 2), (1, 2))


def plane_coordinates(x: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) points -> (B, 3, N, 2) grid_sample coordinates in [-1, 1] (x / BOX) on each plane, (u, v) order."""
    uv = torch.stack([x[..., list(axes)] for axes in PLANE_AXES], dim=1)  # (B, 3, N, 2)
    return uv / BOX


def sample_planes(planes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum over the three planes of their bilinear features at the projections of x.

    planes: (B, 3, C, R, R), plane k's [c, j, i] the feature at u = node i, v = node j (grid_sample's (x, y)).
    x: (B, N, 3). Returns (B, N, C)."""
    B, _, C, R, _ = planes.shape
    N = x.shape[1]
    grid = plane_coordinates(x).reshape(B * 3, N, 1, 2)
    feats = F.grid_sample(planes.reshape(B * 3, C, R, R), grid, mode="bilinear", padding_mode="border",
                          align_corners=True)  # (B*3, C, N, 1)
    return feats.reshape(B, 3, C, N).sum(dim=1).transpose(1, 2)


def plane_roughness(planes: torch.Tensor, scale: float = 0.0) -> torch.Tensor:
    """Mean penalty of the second differences d of feature planes (..., R, R) along each of their two axes, summed:
    0 for features linear along the rows and columns, whatever their value or slope (a penalty on it bends no
    surface flat). The bilinear features have a kink at every node; where neighbouring nodes disagree (a
    refinement fitted to noisy labels) the surface wrinkles at the node spacing, which this measures.
    scale 0: d^2. scale s > 0: sqrt(d^2 + s^2) - s (Charbonnier: d^2 / 2s for |d| << s, |d| beyond), which pulls
    a large second difference (the sharp features of a part a node or two thick) no harder than a small one.
    Needs R >= 3."""
    if planes.shape[-1] < 3 or planes.shape[-2] < 3:
        raise ValueError(f"planes: expected at least 3 nodes per side, got {tuple(planes.shape)}")
    d_u = planes[..., :, 2:] - 2 * planes[..., :, 1:-1] + planes[..., :, :-2]
    d_v = planes[..., 2:, :] - 2 * planes[..., 1:-1, :] + planes[..., :-2, :]
    if not scale:
        return d_u.pow(2).mean() + d_v.pow(2).mean()
    return ((d_u.pow(2) + scale ** 2).sqrt().mean() + (d_v.pow(2) + scale ** 2).sqrt().mean()) - 2 * scale


class TriplaneTaskNetwork(nn.Module):
    """Local occupancy network f_theta(x) = logit, theta = (planes, decoder MLP); see the module docstring.

    Args:
        resolution: R, nodes per side of each plane (>= 2).
        channels: C, features per plane node.
        n_frequencies: L of the decoder's positional encoding (3 + 6 L inputs beside the C features).
        hidden: hidden widths of the decoder MLP (C + 3 + 6L -> hidden... -> 1).
        activation: one of "relu", "softplus", "silu", "tanh", "elu".
    Defaults (R 64, C 16, L 4, hidden [64, 64]): P = 196,608 + 2,816 + 4,160 + 65 = 203,649.
    """

    kind = "triplane"

    def __init__(self, resolution: int = 64, channels: int = 16, n_frequencies: int = 4,
                 hidden: Sequence[int] = (64, 64), activation: str = "relu"):
        super().__init__()
        for name, v, low in (("resolution", resolution, 2), ("channels", channels, 1),
                             ("n_frequencies", n_frequencies, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden: expected positive layer sizes, got {hidden}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.resolution, self.channels, self.n_frequencies = resolution, channels, n_frequencies
        self.hidden, self.activation = tuple(hidden), activation
        self._act = _ACTIVATIONS[activation]
        self.planes = nn.Parameter(torch.zeros(3, channels, resolution, resolution))
        sizes = [channels + 3 + 6 * n_frequencies, *hidden, 1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self._layout = ParamLayout.from_named_tensors(self.named_parameters())

    @staticmethod
    def parameter_numels(resolution: int, channels: int, n_frequencies: int, hidden: Sequence[int]) -> list[int]:
        """Element count of each parameter tensor in layout order, without building the network."""
        sizes = [channels + 3 + 6 * n_frequencies, *hidden, 1]
        return [3 * channels * resolution ** 2] + [n for a, b in zip(sizes[:-1], sizes[1:]) for n in (a * b, b)]

    @property
    def plane_numel(self) -> int:
        """Elements of G at the start of theta (3 C R^2)."""
        return self._layout["planes"].numel

    def config(self) -> dict:
        """The constructor arguments, as plain data."""
        return {"resolution": self.resolution, "channels": self.channels, "n_frequencies": self.n_frequencies,
                "hidden": list(self.hidden), "activation": self.activation}

    def param_layout(self) -> ParamLayout:
        return self._layout

    def flat_parameters(self) -> torch.Tensor:
        """(P,) copy of this module's own weights, in `param_layout()` order."""
        return self._layout.flatten({k: v.detach() for k, v in self.named_parameters()}).clone()

    def theta_0(self, seed: int) -> torch.Tensor:
        """(P,) float32 CPU: the seeded initialisation: planes 0, the decoder nn.Linear's default init drawn under
        torch.manual_seed(seed) on the CPU (the caller's RNG state is restored). Zero planes make f(x; theta_0)
        a function of gamma(x) alone: no shape until the field or a refinement writes one."""
        return seeded_parameters(lambda: TriplaneTaskNetwork(**self.config()), seed)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Occupancy logits (B, N) at x (B, N, 3), with params None (own weights), (P,) or (B, P)."""
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(f"x: expected a tensor of shape (B, N, 3), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        B = x.shape[0]
        if params is None:
            params = self.flat_parameters().to(device=x.device, dtype=x.dtype)
        P = self._layout.total
        if not isinstance(params, torch.Tensor) or params.ndim not in (1, 2) or params.shape[-1] != P \
                or (params.ndim == 2 and params.shape[0] != B):
            raise ValueError(f"params: expected shape (P,) = ({P},) or (B, P) = ({B}, {P}), got "
                             f"{tuple(params.shape) if isinstance(params, torch.Tensor) else type(params).__name__}")
        if params.dtype != x.dtype or params.device != x.device:
            raise TypeError(f"params: expected dtype {x.dtype} on {x.device} (those of x), "
                            f"got {params.dtype} on {params.device}")
        if params.ndim == 1:
            params = params.unsqueeze(0).expand(B, P)
        w = self._layout.unflatten(params)
        h = torch.cat([sample_planes(w["planes"], x), positional_encoding(x, self.n_frequencies)], dim=-1)
        n_layers = len(self.layers)
        for i in range(n_layers):
            weight, bias = w[f"layers.{i}.weight"], w[f"layers.{i}.bias"]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))  # (B, N, in) @ (B, in, out)
            if i < n_layers - 1:
                h = self._act(h)
        return h.squeeze(-1)

    def extra_repr(self) -> str:
        return (f"resolution={self.resolution}, channels={self.channels}, n_frequencies={self.n_frequencies}, "
                f"hidden={list(self.hidden)}, activation={self.activation!r}, P={self._layout.total}")
