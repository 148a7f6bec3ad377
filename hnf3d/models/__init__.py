"""Networks: the task network (functional, batched per-sample weights) and the condition encoders.

`TaskNetwork.param_layout()` is the single source of the task network's weight layout; the hypernetwork field,
checkpoints and weight export are sized from it.
"""
from __future__ import annotations

from .encoders import IMAGE_MEAN, IMAGE_STD, ImageEncoder, ResnetBlockFC, ResnetPointNet
from .field import HyperNetField
from .task_network import ParamEntry, ParamLayout, TaskNetwork, positional_encoding

__all__ = [
    "HyperNetField",
    "TaskNetwork",
    "ParamLayout",
    "ParamEntry",
    "positional_encoding",
    "ResnetPointNet",
    "ResnetBlockFC",
    "ImageEncoder",
    "IMAGE_MEAN",
    "IMAGE_STD",
]
