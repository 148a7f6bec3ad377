"""Training state in a checkpoint: `pack_training_state` / `unpack_training_state` flatten a model state_dict,
an optimizer state_dict and the torch (CPU and CUDA), numpy (global and any given Generator) and Python `random`
RNG states into (tensors, JSON metadata) for `hnf3d.io.checkpoint.save_checkpoint`, and restore them exactly so
that a resumed run continues bit-identically. The file format itself lives in hnf3d.io.checkpoint.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..io.checkpoint import CheckpointError, state_mismatch

__all__ = ["pack_training_state", "unpack_training_state"]


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
    problem = state_mismatch(model.state_dict(), model_state)  # torch's own message spans many lines
    if problem:
        raise CheckpointError(source, f"model state does not fit the model: {problem}")
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
