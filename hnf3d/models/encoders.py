"""Condition encoders: point cloud -> code (ResNet-PointNet), image -> code (small ResNet), in plain torch.

Both return a global code c (B, c_dim) for the hypernetwork field and, on request, tokens (per-point features
or spatial features of the last stage) that the field may attend to. No torchvision / timm (they do not install
beside the CPU torch here) and no pretrained weights: encoders are trained jointly with the field.
Initialisation uses torch's global RNG only, so `torch.manual_seed(s)` before construction fixes the weights.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# ImageNet channel statistics (RGB, images in [0, 1]); fixed constants, not learned, not stored in checkpoints.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


def _check_points(points: torch.Tensor) -> None:
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"points: expected a torch tensor, got {type(points).__name__}")
    if points.ndim != 3 or points.shape[-1] != 3 or points.shape[1] == 0:
        raise ValueError(f"points: expected shape (B, N, 3) with N >= 1, got {tuple(points.shape)}")
    if not points.is_floating_point():
        raise TypeError(f"points: expected a floating-point tensor, got dtype {points.dtype}")


class ResnetBlockFC(nn.Module):
    """Pre-activation residual MLP block on per-point features: x (..., size_in) -> (..., size_out).

    out = shortcut(x) + fc_1(relu(fc_0(relu(x)))), shortcut a bias-free Linear when the widths differ.
    fc_1 starts at zero so every block starts as its shortcut (a stable deep start).
    """

    def __init__(self, size_in: int, size_out: int, size_h: int | None = None):
        super().__init__()
        size_h = min(size_in, size_out) if size_h is None else size_h
        self.fc_0 = nn.Linear(size_in, size_h)
        self.fc_1 = nn.Linear(size_h, size_out)
        self.shortcut = nn.Linear(size_in, size_out, bias=False) if size_in != size_out else None
        nn.init.zeros_(self.fc_1.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dx = self.fc_1(F.relu(self.fc_0(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + dx


class ResnetPointNet(nn.Module):
    """Point cloud encoder in the style of ONet's `pointnet_resnet`.

    fc_pos lifts each point to 2h features; n_blocks `ResnetBlockFC` (2h -> h) follow, and after every block but
    the last the global max over points is concatenated back to each point (2h again); a final max-pool over
    points and fc_c (after ReLU) give the code. Max-pooling makes the code invariant to the order of the points,
    and each sample of a batch is encoded independently.

    Args: c_dim (code size), hidden (h), n_blocks (>= 1).
    Parameters with the defaults (256, 256, 5): 1,708,800.
    """

    def __init__(self, c_dim: int = 256, hidden: int = 256, n_blocks: int = 5):
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"n_blocks: expected >= 1, got {n_blocks}")
        self.c_dim, self.hidden, self.n_blocks = c_dim, hidden, n_blocks
        self.fc_pos = nn.Linear(3, 2 * hidden)
        self.blocks = nn.ModuleList(ResnetBlockFC(2 * hidden, hidden) for _ in range(n_blocks))
        self.fc_c = nn.Linear(hidden, c_dim)

    def forward(self, points: torch.Tensor, return_point_features: bool = False):
        """points: Tensor of shape (B, N, 3).

        Returns c (B, c_dim); with return_point_features=True a tuple (c, features) where features (B, N, h) are
        the per-point outputs of the last block (tokens for attention).
        """
        _check_points(points)
        net = self.fc_pos(points)
        for i, block in enumerate(self.blocks):
            net = block(net)
            if i < self.n_blocks - 1:
                pooled = net.max(dim=1, keepdim=True).values.expand_as(net)
                net = torch.cat([net, pooled], dim=-1)
        c = self.fc_c(F.relu(net.max(dim=1).values))
        return (c, net) if return_point_features else c


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with GroupNorm, identity (or 1x1 conv + norm) shortcut, ReLU after the sum.

    The second norm's scale starts at zero, so each block starts as its shortcut.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.norm1 = _norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.norm2 = _norm(c_out, groups)
        nn.init.zeros_(self.norm2.weight)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), _norm(c_out, groups))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ImageEncoder(nn.Module):
    """Small ResNet image encoder: (B, 3, img_size, img_size) RGB in [0, 1] -> code (B, c_dim).

    Stem: 3x3 conv, stride 2 (3 -> width) + norm + ReLU; then 4 stages of 2 `BasicBlock`s with widths
    width * (1, 2, 4, 8), each stage starting with stride 2 (total stride 32: 224 -> 7 x 7); global average pool;
    fc -> c_dim. Images are normalised inside with the ImageNet mean/std (IMAGE_MEAN, IMAGE_STD).

    Normalisation is GroupNorm (8 groups), not BatchNorm: it does not depend on the other samples of a batch,
    so batch size 1 trains and evaluates like any other, train and eval mode compute the same function, and
    distributed (DDP) training needs no SyncBatchNorm.

    Args: c_dim (code size), width (stem width, a multiple of 8), img_size (input height = width, a multiple
    of 32; fixes the number of tokens T = (img_size / 32)^2).
    Parameters with the defaults (256, 32, 224): 2,861,920.
    """

    GROUPS = 8

    def __init__(self, c_dim: int = 256, width: int = 32, img_size: int = 224):
        super().__init__()
        if width < 8 or width % 8:
            raise ValueError(f"width: expected a positive multiple of 8 (GroupNorm groups), got {width}")
        if img_size < 32 or img_size % 32:
            raise ValueError(f"img_size: expected a positive multiple of 32 (the total stride), got {img_size}")
        self.c_dim, self.width, self.img_size = c_dim, width, img_size
        g = self.GROUPS
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False), _norm(width, g), nn.ReLU())
        stages, c_in = [], width
        for k in range(4):
            c_out = width * 2 ** k
            stages.append(nn.Sequential(BasicBlock(c_in, c_out, 2, g), BasicBlock(c_out, c_out, 1, g)))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(c_in, c_dim)
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def token_dim(self) -> int:
        """C: channels of the last stage (8 * width)."""
        return self.width * 8

    @property
    def n_tokens(self) -> int:
        """T: spatial tokens of the last stage, (img_size / 32)^2."""
        return (self.img_size // 32) ** 2

    def forward(self, images: torch.Tensor, return_tokens: bool = False):
        """images: Tensor of shape (B, 3, img_size, img_size), float RGB in [0, 1].

        Returns c (B, c_dim); with return_tokens=True a tuple (c, tokens) where tokens (B, T, C) are the last
        stage's features in row-major (y, x) order, T = n_tokens, C = token_dim.
        """
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"images: expected a torch tensor, got {type(images).__name__}")
        s = self.img_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, s, s):
            raise ValueError(f"images: expected shape (B, 3, {s}, {s}), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise TypeError(f"images: expected float RGB in [0, 1], got dtype {images.dtype}")
        h = self.stem((images - self.mean) / self.std)
        for stage in self.stages:
            h = stage(h)
        c = self.fc(h.mean(dim=(2, 3)))
        return (c, h.flatten(2).transpose(1, 2)) if return_tokens else c
