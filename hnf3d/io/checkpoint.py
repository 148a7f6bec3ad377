"""Checkpoints: one safetensors file holding the tensors and, in its header, the JSON metadata. Never pickle.

File format (`<name>.safetensors`, readable by any safetensors reader):
- tensors: flat names such as 'model.field.blocks.0.attn.weight', 'optim.state.3.exp_avg', 'rng.torch';
- header metadata key 'hnf3d': a JSON document {"format": "hnf3d-checkpoint", "format_version": 1, ...} with
  everything that is not a tensor (step, resolved config, task-network layout, optimizer param_groups, numpy and
  Python RNG states, user extras). Keeping it in the header (rather than a sidecar .json) makes the checkpoint a
  single file that is replaced atomically as a whole.

Writes are atomic (temp file in the same directory, fsync, os.replace): a crash mid-write leaves the previous
checkpoint intact. `load_checkpoint` never calls torch.load and checks the file before safetensors parses it: a
truncated, corrupt or foreign file raises `CheckpointError` (a ValueError) naming the file and the problem.

The training state inside a checkpoint (optimizer, RNGs) is packed by hnf3d.training.checkpoint; this module only
reads and writes the file, so inference (hnf3d.models.build) loads models without the training code.
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "CHECKPOINT_SUFFIX",
    "CheckpointError",
    "checkpoint_path",
    "load_checkpoint",
    "save_checkpoint",
    "state_mismatch",
]

CHECKPOINT_FORMAT = "hnf3d-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_SUFFIX = ".safetensors"
METADATA_KEY = "hnf3d"
DEFAULT_NAME = "checkpoint"

# Header bigger than this is not a checkpoint of ours (safetensors itself caps it at 100 MB).
_MAX_HEADER_BYTES = 100_000_000
_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: the message starts with the path and says what is wrong."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        # one line whatever the problem quotes (e.g. a wrapped error's multi-line text)
        self.problem = " ".join(part.strip() for part in str(problem).splitlines() if part.strip())
        super().__init__(f"{self.path}: {self.problem}")


def checkpoint_path(path: str | os.PathLike) -> Path:
    """Where a checkpoint for `path` lives: a directory -> <dir>/checkpoint.safetensors; a name without the
    .safetensors suffix gets it."""
    out = Path(os.fspath(path))
    if out.is_dir():
        return out / f"{DEFAULT_NAME}{CHECKPOINT_SUFFIX}"
    if out.suffix != CHECKPOINT_SUFFIX:
        out = out.with_name(out.name + CHECKPOINT_SUFFIX)
    return out


# ---------------------------------------------------------------------------------------------------------------
# File level


def save_checkpoint(
    path: str | os.PathLike, *, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]
) -> Path:
    """Write `tensors` and JSON-serialisable `metadata` to `checkpoint_path(path)` atomically; return the path.

    tensors: flat name -> tensor (any device; saved from CPU copies). metadata: JSON-serialisable mapping; the
    keys 'format' and 'format_version' are reserved. Raises TypeError for a non-tensor value or metadata that
    JSON cannot encode, before anything is written.
    """
    from safetensors.torch import save as safetensors_save

    out = checkpoint_path(path)
    header = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION}
    reserved = set(header) & set(metadata)
    if reserved:
        raise ValueError(f"metadata keys {sorted(reserved)} are reserved for the checkpoint format")
    header.update(metadata)
    try:
        header_json = json.dumps(header, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"checkpoint metadata is not JSON-serialisable: {exc}") from None

    cpu: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for name, tensor in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"tensors[{name!r}] is a {type(tensor).__name__}, expected a torch.Tensor")
        t = tensor.detach().to("cpu").contiguous()
        # safetensors refuses tensors sharing memory (tied weights, views): give repeats their own copy.
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        if ptr is not None and ptr in seen_storages:
            t = t.clone()
        elif ptr is not None:
            seen_storages.add(ptr)
        cpu[name] = t

    data = safetensors_save(cpu, metadata={METADATA_KEY: header_json})
    with atomic_write(out) as handle:
        handle.write(data)
    return out


def _parse_header(path: Path, data: bytes) -> tuple[dict, int]:
    """Check the safetensors framing ourselves so that any damage gives a clear message; return (header, start)."""
    size = len(data)
    if size < 8:
        raise CheckpointError(path, f"not a safetensors checkpoint: only {size} bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if size >= 9 and data[8:9] != b"{":
        raise CheckpointError(path, "not a safetensors checkpoint (no JSON header after the length prefix)")
    if n > _MAX_HEADER_BYTES:
        raise CheckpointError(path, f"not a safetensors checkpoint (header length {n} is implausible)")
    if 8 + n > size:
        raise CheckpointError(path, f"truncated: header needs {n} bytes, the file has {size - 8} after the prefix")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt safetensors header (not a JSON object)")
    data_len = size - 8 - n
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = (int(v) for v in info["data_offsets"])
            count = int(np.prod([int(d) for d in info["shape"]], dtype=np.int64))
            width = _DTYPE_SIZES.get(info["dtype"])
        except (TypeError, KeyError, ValueError, AttributeError):
            raise CheckpointError(path, f"corrupt safetensors header entry for tensor {name!r}") from None
        if begin < 0 or (width is not None and stop - begin != count * width):
            raise CheckpointError(path, f"corrupt safetensors header: tensor {name!r} has inconsistent offsets")
        end = max(end, stop)
    if end > data_len:
        raise CheckpointError(path, f"truncated: tensor data needs {end} bytes, the file has {data_len}")
    return header, 8 + n


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by `save_checkpoint`: (tensors on CPU, metadata without the format keys).

    Raises FileNotFoundError naming a missing file; CheckpointError naming the file for a truncated, corrupt or
    non-safetensors file, a checkpoint without hnf3d metadata, or a format version this code does not read.
    """
    from safetensors.torch import load as safetensors_load

    src = checkpoint_path(path)
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{src}: checkpoint file not found") from None
    except IsADirectoryError:
        raise CheckpointError(src, "is a directory, expected a checkpoint file") from None
    header, _ = _parse_header(src, data)

    file_meta = header.get("__metadata__") or {}
    if not isinstance(file_meta, dict) or METADATA_KEY not in file_meta:
        raise CheckpointError(src, f"safetensors file without hnf3d metadata (header key {METADATA_KEY!r} missing)")
    try:
        meta = json.loads(file_meta[METADATA_KEY])
    except (TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(src, f"corrupt hnf3d metadata ({exc})") from None
    except RecursionError:
        raise CheckpointError(src, "corrupt hnf3d metadata (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(src, "corrupt hnf3d metadata (not a JSON object)")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(src, f"metadata 'format' is {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    version = meta.get("format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            src, f"checkpoint format version {version!r} is not supported (this hnf3d reads "
            f"version {CHECKPOINT_FORMAT_VERSION})")
    try:
        tensors = safetensors_load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError and others: wrap them all
        raise CheckpointError(src, f"corrupt tensor data ({type(exc).__name__}: {exc})") from None
    del meta["format"], meta["format_version"]
    return tensors, meta


def state_mismatch(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> str | None:
    """How a checkpoint's state `found` (name -> tensor) fails to fit a model's `expected` state_dict, in one line
    (the first missing key, unexpected key and shape mismatch, each with the count of the others), or None if it
    fits key for key and shape for shape. `expected` may live on the meta device (shapes are all that is read)."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [k for k in expected if k in found and tuple(expected[k].shape) != tuple(found[k].shape)]

    def others(keys: list) -> str:
        return f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""

    parts = []
    if shapes:
        k = shapes[0]
        parts.append(f"tensor {k!r} has shape {tuple(found[k].shape)} in the checkpoint, "
                     f"{tuple(expected[k].shape)} in the model{others(shapes)}")
    if missing:
        parts.append(f"tensor {missing[0]!r} is missing{others(missing)}")
    if unexpected:
        parts.append(f"tensor {unexpected[0]!r} is not in the model{others(unexpected)}")
    return "; ".join(parts) or None
