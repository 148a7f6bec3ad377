"""Image -> feature planes + global code, for the local field (docs/design.md section 8, "Image encoder").

A single view does not say where its pixels lie in the object's canonical frame (the camera is unknown and goes
all around the object), so the planes cannot be read off the image by projection as a point cloud's are pooled.
Instead every cell of a coarse canonical triplane *asks* the image for its features:

1. The ResNet of hnf3d.models.encoders.ImageEncoder gives the global code (B, c_dim) and its last stage's
   (img_size / 32)^2 tokens, which get a learned position embedding and are projected to width d = c_dim.
2. Queries: one learned embedding per cell of three Q x Q planes (Q = QUERY_RES), plus the projected code (so
   what a cell asks depends on the object). `n_layers` blocks of cross-attention (queries -> image tokens) and an
   MLP, pre-norm and residual, turn them into (3, d, Q, Q) features.
3. A small convolutional decoder per plane (shared weights): 1x1 to `mid` channels, then log2(R / Q) steps of
   bilinear x2 upsampling + 3x3 conv + SiLU, then 1x1 to C_out: planes (3, C_out, R, R).

The output is one flat tensor c (B, 3 C_out R^2 + c_dim) = [planes.flatten(), code], the layout of
hnf3d.models.local_encoder.LocalPointNet's, so LocalField, the objectives and the trainer take it unchanged.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .encoders import ImageEncoder
from .local_encoder import PlaneCode

__all__ = ["LocalImageEncoder", "QUERY_RES"]

#: side of the coarse query planes (16: 768 queries; the decoder upsamples to the task network's resolution)
QUERY_RES = 16


class _CrossBlock(nn.Module):
    """Pre-norm residual block: q + attn(norm(q), tokens), then + mlp(norm(.))."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.norm_q = nn.LayerNorm(d)
        self.norm_kv = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(kv)
        q = q + self.attn(self.norm_q(q), kv, kv, need_weights=False)[0]
        return q + self.mlp(self.norm_mlp(q))


class LocalImageEncoder(PlaneCode, nn.Module):
    """(B, 3, S, S) RGB in [0, 1] -> c (B, 3 out_channels resolution^2 + c_dim); see the module docstring.

    Args: resolution R of the planes (QUERY_RES times a power of two), out_channels C_out, c_dim (global code and
    attention width; a multiple of `heads`), width (the ResNet's stem width, a multiple of 8), img_size S (a
    multiple of 32), n_layers cross-attention blocks, heads, mid (decoder channels).
    """

    def __init__(self, resolution: int = 32, out_channels: int = 16, c_dim: int = 128, width: int = 32,
                 img_size: int = 128, n_layers: int = 2, heads: int = 4, mid: int = 32):
        super().__init__()
        for name, v in (("resolution", resolution), ("out_channels", out_channels), ("c_dim", c_dim),
                        ("n_layers", n_layers), ("heads", heads), ("mid", mid)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        ups = resolution // QUERY_RES
        if resolution % QUERY_RES or ups & (ups - 1):
            raise ValueError(f"resolution: expected {QUERY_RES} times a power of two (16, 32, 64, ...), got "
                             f"{resolution}")
        if c_dim % heads:
            raise ValueError(f"c_dim: expected a multiple of heads ({heads}), got {c_dim}")
        self.resolution, self.out_channels, self.c_dim = resolution, out_channels, c_dim
        self.backbone = ImageEncoder(c_dim=c_dim, width=width, img_size=img_size)
        n_tokens, token_dim = self.backbone.n_tokens, self.backbone.token_dim
        self.token_proj = nn.Linear(token_dim, c_dim)
        self.token_pos = nn.Parameter(torch.randn(n_tokens, c_dim) * 0.02)
        self.queries = nn.Parameter(torch.randn(3 * QUERY_RES ** 2, c_dim) * 0.02)
        self.code_proj = nn.Linear(c_dim, c_dim)
        self.blocks = nn.ModuleList(_CrossBlock(c_dim, heads) for _ in range(n_layers))
        self.norm_out = nn.LayerNorm(c_dim)
        self.to_mid = nn.Conv2d(c_dim, mid, 1)
        self.ups = nn.ModuleList(nn.Conv2d(mid, mid, 3, padding=1) for _ in range(ups.bit_length() - 1))
        self.to_planes = nn.Conv2d(mid, out_channels, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        code, tokens = self.backbone(images, return_tokens=True)  # (B, c_dim), (B, T, token_dim); checks images
        B, Q = images.shape[0], QUERY_RES
        kv = self.token_proj(tokens) + self.token_pos
        q = self.queries.unsqueeze(0) + self.code_proj(code).unsqueeze(1)  # (B, 3 Q^2, d)
        for block in self.blocks:
            q = block(q, kv)
        # (B, 3 Q^2, d) -> (B * 3, d, Q, Q): cell v * Q + u of plane k becomes plane[k][:, v, u]
        h = self.norm_out(q).view(B, 3, Q, Q, self.c_dim).permute(0, 1, 4, 2, 3).reshape(B * 3, self.c_dim, Q, Q)
        h = self.to_mid(h)
        for conv in self.ups:
            h = F.silu(conv(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)))
        planes = self.to_planes(h).reshape(B, self.plane_numel)
        return torch.cat([planes, code], dim=-1)
