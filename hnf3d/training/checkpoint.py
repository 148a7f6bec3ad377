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

Training state round trip (`pack_training_state` / `unpack_training_state`): model state_dict, optimizer
state_dict and the torch (CPU and CUDA), numpy (global and any given Generator) and Python `random` RNG states,
restored exactly so that a resumed run continues bit-identically.
"""
from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.atomic import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "CHECKPOINT_SUFFIX",
    "CheckpointError",
    "checkpoint_path",
    "load_checkpoint",
    "pack_training_state",
    "save_checkpoint",
    "unpack_training_state",
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
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


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


# ---------------------------------------------------------------------------------------------------------------
# Training state <-> (tensors, JSON)
#
# Nested Python state (optimizer state_dicts) is encoded as JSON where each tensor is moved to the tensors dict
# and replaced by {"__tensor__": name}; tuples and dicts with non-string keys get tagged forms so they come back
# with their exact types.


def _encode(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"cannot store key {k!r} of {prefix!r} in a checkpoint")
            items.append([k, _encode(v, f"{prefix}.{k}", tensors)])
        return {"__items__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def _decode(obj: Any, tensors: Mapping[str, torch.Tensor], where: str) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            name = obj["__tensor__"]
            if name not in tensors:
                raise CheckpointError(where, f"tensor {name!r} referenced by the metadata is missing")
            return tensors[name]
        if set(obj) == {"__items__"}:
            return {k: _decode(v, tensors, where) for k, v in obj["__items__"]}
        if set(obj) == {"__tuple__"}:
            return tuple(_decode(v, tensors, where) for v in obj["__tuple__"])
        return {k: _decode(v, tensors, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    return obj


def _rng_state(tensors: dict[str, torch.Tensor], generators: Mapping[str, Any]) -> dict:
    tensors["rng.torch"] = torch.get_rng_state()
    n_cuda = 0
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states = torch.cuda.get_rng_state_all()
        n_cuda = len(states)
        for i, state in enumerate(states):
            tensors[f"rng.cuda.{i}"] = state
    np_state = np.random.get_state(legacy=False)
    np_state = {**np_state, "state": {**np_state["state"], "key": np_state["state"]["key"].tolist()}}
    version, internal, gauss = random.getstate()
    named: dict[str, Any] = {}
    for name, gen in generators.items():
        if isinstance(gen, np.random.Generator):
            named[name] = {"kind": "numpy", "state": gen.bit_generator.state}
        elif isinstance(gen, torch.Generator):
            tensors[f"rng.generators.{name}"] = gen.get_state()
            named[name] = {"kind": "torch", "device": str(gen.device)}
        else:
            raise TypeError(f"generators[{name!r}]: expected numpy.random.Generator or torch.Generator, "
                            f"got {type(gen).__name__}")
    return {"cuda_devices": n_cuda, "numpy": np_state, "python": [version, list(internal), gauss],
            "generators": named}


def _set_rng_state(rng: dict, tensors: Mapping[str, torch.Tensor], generators: Mapping[str, Any], where: str):
    try:
        torch.set_rng_state(tensors["rng.torch"])
        n_cuda = rng["cuda_devices"]
        if n_cuda and torch.cuda.is_available() and torch.cuda.device_count() == n_cuda:
            torch.cuda.set_rng_state_all([tensors[f"rng.cuda.{i}"] for i in range(n_cuda)])
        np_state = rng["numpy"]
        np_state = {**np_state, "state": {**np_state["state"],
                                          "key": np.asarray(np_state["state"]["key"], dtype=np.uint32)}}
        np.random.set_state(np_state)
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
        for name, gen in generators.items():
            saved = rng["generators"][name]
            if isinstance(gen, np.random.Generator):
                gen.bit_generator.state = saved["state"]
            else:
                gen.set_state(tensors[f"rng.generators.{name}"])
    except KeyError as exc:
        raise CheckpointError(where, f"RNG state incomplete: missing {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(where, f"RNG state cannot be restored ({exc})") from None


def pack_training_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    extra: Mapping[str, Any] | None = None,
    *,
    generators: Mapping[str, Any] | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten a training state into (tensors, metadata) for `save_checkpoint`.

    tensors: 'model.<state_dict key>', 'optim.<path>' for optimizer state tensors, 'rng.torch', 'rng.cuda.<i>'
    and 'rng.generators.<name>'. metadata: {'step', 'extra' (JSON data: config dict, layout, ...), 'optimizer'
    (state_dict with tensors replaced by references), 'rng' (numpy, python, generator states)}.
    generators: optional named numpy Generators / torch Generators whose states are saved too.
    The tensors reference the live model/optimizer state (no copy): call `save_checkpoint` before the next
    optimiser step. CUDA RNG states are saved when CUDA has been initialised, and restored when the same number
    of devices is visible.
    """
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim_json = None if optimizer is None else _encode(optimizer.state_dict(), "optim", tensors)
    metadata = {
        "step": int(step),
        "extra": dict(extra or {}),
        "optimizer": optim_json,
        "rng": _rng_state(tensors, generators or {}),
    }
    return tensors, metadata


def unpack_training_state(
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    *,
    generators: Mapping[str, Any] | None = None,
    source: str = "<checkpoint>",
) -> tuple[int, dict]:
    """Restore model, optimizer and every RNG from `pack_training_state` output; return (step, extra).

    The model is loaded strictly (missing or unexpected keys are an error). Raises CheckpointError, naming
    `source` (pass the file path), when the metadata lacks a key or does not fit the model/optimizer.
    """
    for key in ("step", "extra", "optimizer", "rng"):
        if key not in metadata:
            raise CheckpointError(source, f"metadata key {key!r} missing: not a training checkpoint")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(source, f"model state does not fit the model: {exc}") from None
    if optimizer is not None:
        if metadata["optimizer"] is None:
            raise CheckpointError(source, "the checkpoint has no optimizer state")
        optim_state = _decode(metadata["optimizer"], tensors, source)
        try:
            optimizer.load_state_dict(optim_state)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(source, f"optimizer state does not fit the optimizer: {exc}") from None
    _set_rng_state(metadata["rng"], tensors, generators or {}, source)
    return int(metadata["step"]), dict(metadata["extra"])
