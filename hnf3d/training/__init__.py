"""hnf3d.training: objectives, trainer and checkpoints.

Checkpoints (`hnf3d.training.checkpoint`): one safetensors file with the JSON metadata in its header, written
atomically, never pickled; `pack_training_state` / `unpack_training_state` save and restore a model, its
optimizer and every RNG so that a resumed run continues bit-identically.
"""
from __future__ import annotations

from .checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    pack_training_state,
    save_checkpoint,
    unpack_training_state,
)

__all__ = [
    "CheckpointError",
    "checkpoint_path",
    "load_checkpoint",
    "pack_training_state",
    "save_checkpoint",
    "unpack_training_state",
]
