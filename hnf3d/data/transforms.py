"""Helpers shared by the datasets: per-item seeding, subsampling, noise, image loading and batch collation.

Reproducibility: every random choice made for item `idx` comes from `item_rng(seed, epoch, idx)`, a numpy
Generator seeded with the triple (seed, epoch, idx). An item therefore depends only on that triple, never on
the order in which items are drawn, on the number of DataLoader workers or on global RNG state.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

#: the exclusive upper bound of the integer seeds handed to torch-based samplers (hnf3d.ops)
_TORCH_SEED_BOUND = 2**62


def item_rng(seed: int, epoch: int, idx: int, stream: int | None = None) -> np.random.Generator:
    """The generator of item `idx` in epoch `epoch` of a dataset seeded with `seed` (all non-negative ints).

    stream: an optional extra key giving independent generators for the different fields of one item
    (default_rng([seed, epoch, idx, stream])), so that e.g. reading one more field does not shift another.
    """
    keys = [("seed", seed), ("epoch", epoch), ("idx", idx)] + ([] if stream is None else [("stream", stream)])
    for name, value in keys:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return np.random.default_rng([int(v) for _, v in keys])


def torch_seed(rng: np.random.Generator) -> int:
    """An integer seed for a torch-based sampler (hnf3d.ops.sample_*), drawn from `rng`."""
    return int(rng.integers(0, _TORCH_SEED_BOUND))


def subsample_indices(rng: np.random.Generator, n_total: int, n: int | None) -> np.ndarray:
    """Indices of `n` of `n_total` items, without replacement when n <= n_total, with replacement otherwise.

    n=None returns all indices in order. Raises ValueError when there is nothing to draw from.
    """
    if n is None:
        return np.arange(n_total)
    if n < 0:
        raise ValueError(f"n: expected a non-negative integer or None, got {n!r}")
    if n_total <= 0:
        raise ValueError(f"cannot draw {n} samples from an empty set")
    return rng.choice(n_total, size=n, replace=n > n_total)


def add_noise(points: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """points + N(0, sigma^2) i.i.d. noise on every coordinate (returns a new array; sigma=0 returns a copy)."""
    if not sigma >= 0:
        raise ValueError(f"sigma: expected >= 0, got {sigma!r}")
    out = np.array(points, dtype=np.float32, copy=True)
    if sigma > 0:
        out += (sigma * rng.standard_normal(out.shape)).astype(np.float32)
    return out


def load_image(path: str | os.PathLike, size: int | None = None) -> torch.Tensor:
    """An image file as a (3, H, W) float32 RGB tensor in [0, 1], resized to size x size (PIL bilinear) unless
    size is None. Read by hnf3d.io.image (what is accepted: its docstring): transparent pixels become white,
    16-bit images keep their content, and a file whose header declares more than MAX_IMAGE_PIXELS is refused
    before decoding. Raises FileNotFoundError for a missing file and ValueError naming the file when it is not
    a readable image."""
    from PIL import Image

    from ..io.image import read_image, to_rgb8

    name = os.fspath(path)
    img = to_rgb8(read_image(name), name=name)
    if size is not None:
        img = img.resize((int(size), int(size)), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()


def collate(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge dataset items into a batch: tensors are stacked (new first dimension), ints/floats become a tensor,
    strings are gathered into a list. Use as DataLoader(dataset, collate_fn=collate).

    Every item must have the same keys (a dataset whose items differ, e.g. some with and some without
    'points', raises ValueError naming the key and the model) and the same tensor shapes per key.
    """
    if len(batch) == 0:
        raise ValueError("collate: empty batch")
    keys = list(batch[0].keys())
    for item in batch[1:]:
        if set(item.keys()) != set(keys):
            diff = sorted(set(keys) ^ set(item.keys()))
            raise ValueError(
                f"collate: items have different fields {diff} (model {item.get('model')!r} vs "
                f"{batch[0].get('model')!r}); a batch needs the same fields in every item"
            )
    out: dict[str, Any] = {}
    for key in keys:
        values = [item[key] for item in batch]
        first = values[0]
        if isinstance(first, torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError(f"collate: field {key!r} has different shapes in one batch: {sorted(shapes)}")
            out[key] = torch.stack(values, 0)
        elif isinstance(first, np.ndarray):
            out[key] = torch.from_numpy(np.stack(values, 0))
        elif isinstance(first, (bool, int, np.integer)):
            out[key] = torch.tensor([int(v) for v in values], dtype=torch.int64)
        elif isinstance(first, (float, np.floating)):
            out[key] = torch.tensor([float(v) for v in values], dtype=torch.float32)
        else:
            out[key] = list(values)
    return out
