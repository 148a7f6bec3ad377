"""hnf3d.training: objectives, trainer and checkpoints.

Checkpoints: the file format (one safetensors file with the JSON metadata in its header, written atomically, never
pickled) is hnf3d.io.checkpoint; `pack_training_state` / `unpack_training_state` (hnf3d.training.checkpoint) save
and restore a model, its optimizer and every RNG so that a resumed run continues bit-identically.
"""
from __future__ import annotations

from ..io.checkpoint import CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from .checkpoint import pack_training_state, unpack_training_state
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
from .trainer import ObjectiveModel, Trainer, build_datasets

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
    "ObjectiveModel",
    "Trainer",
    "build_datasets",
]
