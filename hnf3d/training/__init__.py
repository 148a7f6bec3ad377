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
from .objectives import (
    direct_loss,
    gradient_matching_loss,
    objective_loss,
    per_sample_gradients,
    sample_t,
    step,
    task_loss_per_sample,
    weights_loss,
)
from .trainer import Model, Trainer, build_datasets, build_model

__all__ = [
    "CheckpointError",
    "checkpoint_path",
    "load_checkpoint",
    "pack_training_state",
    "save_checkpoint",
    "unpack_training_state",
    "direct_loss",
    "gradient_matching_loss",
    "objective_loss",
    "per_sample_gradients",
    "sample_t",
    "step",
    "task_loss_per_sample",
    "weights_loss",
    "Model",
    "Trainer",
    "build_datasets",
    "build_model",
]
