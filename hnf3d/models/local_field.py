"""The local hypernetwork field: Phi(t, c) = theta_0 + (t / T) Phi'(t, c) for the triplane task network.

c = [feature planes (3, C_in, R, R), global code (c_dim)] from hnf3d.models.local_encoder.LocalPointNet.
Phi'(t, c) = [G'(t, c), W'(t, c)] in the task network's layout order (planes first):

- G' (3, C, R, R): a small 2D U-Net run on each plane (shared weights, the plane's identity as a learned
  embedding): `levels` resolutions R, R/2, ... with widths width * (1, 2, 4, ...), one residual block per level on
  the way down and one on the way up (skip connections by concatenation), every block FiLM-modulated (scale and
  shift per channel) by cond = MLP(sinusoid(t)) + Linear(code) + plane embedding. The 1x1 output conv starts at
  zero, so Phi' = 0 and Phi(t, c) = theta_0 at the start of training, like the global field.
- W' (P_W,): an MLP on cond (without the plane embedding), last layer zero-initialised.

t enters through the sinusoidal embedding only, in float32 at least (hnf3d.models.field.t_dtype), so gradient
matching's t and t + 1 stay distinct. Like HyperNetField it exposes `theta_0`, `T`, `delta(t, c)` and
`forward(t, c)` (the objectives form gradient-matching differences in delta space) and `check_inputs`.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .field import t_dtype, timestep_embedding
from .task_network import ParamLayout

__all__ = ["LocalField"]


class _FiLMBlock(nn.Module):
    """Residual block: x + conv(silu(film(conv(silu(x))))), with a 1x1 shortcut when the widths differ. The second
    conv starts at zero, so the block starts as its shortcut."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(x))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(h * (1 + scale) + shift))
        return self.shortcut(x) + h


class LocalField(nn.Module):
    """Phi(t, c) for a TriplaneTaskNetwork; see the module docstring.

    Args:
        layout: the task network's ParamLayout (entry 'planes' (3, C, R, R) first, then the decoder's tensors).
        theta_0: (P,) the fixed initialisation (TriplaneTaskNetwork.theta_0(seed)); a persistent buffer.
        in_channels: C_in, channels of the encoder's planes (same R as the task network's).
        c_dim: size of the encoder's global code.
        T: the final step.
        width: U-Net width at full resolution; levels: number of resolutions (R must be divisible by 2^(levels-1)).
        cond_dim: width of the conditioning vector.
    """

    def __init__(self, layout: ParamLayout, theta_0: torch.Tensor, in_channels: int, c_dim: int, T: int,
                 width: int = 16, levels: int = 3, cond_dim: int = 128):
        super().__init__()
        if not isinstance(layout, ParamLayout) or not layout.entries or layout.entries[0].name != "planes":
            raise ValueError("layout: expected a TriplaneTaskNetwork's ParamLayout (first entry 'planes')")
        planes = layout.entries[0]
        if len(planes.shape) != 4 or planes.shape[0] != 3 or planes.shape[2] != planes.shape[3]:
            raise ValueError(f"layout: 'planes' must have shape (3, C, R, R), got {planes.shape}")
        P = layout.total
        if not isinstance(theta_0, torch.Tensor) or theta_0.shape != (P,) or not theta_0.is_floating_point():
            raise ValueError(f"theta_0: expected a floating tensor of shape ({P},) (the layout's total)")
        for name, v, low in (("in_channels", in_channels, 1), ("c_dim", c_dim, 1), ("T", T, 1),
                             ("width", width, 1), ("levels", levels, 1), ("cond_dim", cond_dim, 1)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
        _, C, R, _ = planes.shape
        if R % 2 ** (levels - 1):
            raise ValueError(f"levels: the plane resolution {R} is not divisible by 2^(levels - 1) = "
                             f"{2 ** (levels - 1)}")
        self.layout = layout
        self.in_channels, self.c_dim, self.T = int(in_channels), int(c_dim), int(T)
        self.width, self.levels, self.cond_dim = int(width), int(levels), int(cond_dim)
        self.channels, self.resolution = C, R
        self.plane_numel = planes.numel
        self.register_buffer("theta_0", theta_0.detach().clone(), persistent=True)

        self.t_mlp = nn.Sequential(nn.Linear(cond_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.code_proj = nn.Linear(c_dim, cond_dim)
        self.plane_embed = nn.Parameter(torch.zeros(3, cond_dim))
        widths = [width * 2 ** k for k in range(levels)]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(_FiLMBlock(widths[max(k - 1, 0)], widths[k], cond_dim) for k in range(levels))
        self.up = nn.ModuleList(_FiLMBlock(widths[k] + widths[k + 1], widths[k], cond_dim)
                                for k in range(levels - 1))
        self.out = nn.Conv2d(widths[0], C, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        n_decoder = P - self.plane_numel
        self.decoder_head = nn.Sequential(nn.Linear(cond_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, n_decoder))
        nn.init.zeros_(self.decoder_head[2].weight)
        nn.init.zeros_(self.decoder_head[2].bias)
        self.to(dtype=theta_0.dtype)

    @property
    def in_dim(self) -> int:
        """Size of c: 3 C_in R^2 + c_dim."""
        return 3 * self.in_channels * self.resolution ** 2 + self.c_dim

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "c_dim": self.c_dim, "T": self.T, "width": self.width,
                "levels": self.levels, "cond_dim": self.cond_dim}

    def check_inputs(self, t, c, tokens=None) -> None:
        """Check the arguments of `forward` / `delta` (TypeError / ValueError naming the bad one)."""
        if tokens is not None:
            raise ValueError("tokens: the local field takes no condition tokens")
        if not isinstance(c, torch.Tensor) or c.ndim != 2 or c.shape[1] != self.in_dim:
            raise ValueError(f"c: expected a tensor of shape (B, {self.in_dim}) (planes + code), got "
                             f"{tuple(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__}")
        if not c.is_floating_point() or c.device != self.theta_0.device:
            raise TypeError(f"c: expected a floating tensor on {self.theta_0.device}, got {c.dtype} on {c.device}")
        if isinstance(t, bool) or not isinstance(t, (numbers.Real, torch.Tensor)):
            raise TypeError(f"t: expected a number or a tensor of shape (B,), got {type(t).__name__}")
        if isinstance(t, numbers.Real) and not 0 <= t <= self.T:
            raise ValueError(f"t: expected a value in [0, T] = [0, {self.T}], got {t!r}")
        if isinstance(t, torch.Tensor) and t.ndim != 0 and tuple(t.shape) != (c.shape[0],):
            raise ValueError(f"t: expected shape (B,) = ({c.shape[0]},) or a scalar, got {tuple(t.shape)}")

    def _t(self, t, B: int) -> torch.Tensor:
        dtype, device = t_dtype(self.theta_0.dtype), self.theta_0.device
        if isinstance(t, torch.Tensor):
            t = t.to(device=device, dtype=dtype)
            return t.expand(B) if t.ndim == 0 else t
        if not 0 <= t <= self.T:
            raise ValueError(f"t: expected a value in [0, T] = [0, {self.T}], got {t!r}")
        return torch.full((B,), float(t), dtype=dtype, device=device)

    def _delta(self, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        B = c.shape[0]
        R, n_in = self.resolution, 3 * self.in_channels * self.resolution ** 2
        planes = c[:, :n_in].reshape(B * 3, self.in_channels, R, R)
        cond = self.t_mlp(timestep_embedding(t, self.cond_dim).to(c.dtype)) + self.code_proj(c[:, n_in:])  # (B, D)
        plane_cond = (cond[:, None] + self.plane_embed[None]).reshape(B * 3, self.cond_dim)
        h = self.stem(planes)
        skips = []
        for k, block in enumerate(self.down):
            if k:
                h = F.avg_pool2d(h, 2)
            h = block(h, plane_cond)
            skips.append(h)
        for k in reversed(range(self.levels - 1)):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.up[k](torch.cat([skips[k], h], dim=1), plane_cond)
        g = self.out(F.silu(h)).reshape(B, self.plane_numel)
        return torch.cat([g, self.decoder_head(cond)], dim=-1)

    def delta(self, t, c: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Phi'(t, c) (B, P), before the t / T factor."""
        if tokens is not None:
            raise ValueError("tokens: the local field takes no condition tokens")
        c = c.to(self.theta_0.dtype)
        return self._delta(self._t(t, c.shape[0]), c)

    def forward(self, t, c: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """theta = Phi(t, c) = theta_0 + (t / T) Phi'(t, c), shape (B, P). t: (B,), a 0-d tensor or a number in
        [0, T]; c: (B, 3 C_in R^2 + c_dim). Not checked here (hot path): see `check_inputs`."""
        if tokens is not None:
            raise ValueError("tokens: the local field takes no condition tokens")
        c = c.to(self.theta_0.dtype)
        t = self._t(t, c.shape[0])
        return (self.theta_0 + (t / self.T)[:, None] * self._delta(t, c)).to(self.theta_0.dtype)

    def extra_repr(self) -> str:
        return (f"P={self.layout.total}, T={self.T}, planes=(3, {self.channels}, {self.resolution}, "
                f"{self.resolution}), width={self.width}, levels={self.levels}, cond_dim={self.cond_dim}")
