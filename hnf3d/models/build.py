"""A model from its config, and a trained model from its checkpoint, for inference and training alike.

`build_model(cfg)` -> `Model` (encoder, hypernetwork field, task network; theta_0 = TaskNetwork.theta_0 of
cfg.training.seed). `load_trained_model(path)` reads a checkpoint of the trainer or of tools/export_model.py
(safetensors only, never unpickled), rebuilds its model from the config in its header and loads the weights.
Inference (hnf3d.pipeline) uses this module without importing the training code; the trainer builds its model
here too, so both agree on what a config means.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ..config import Config
from ..io.checkpoint import CheckpointError, load_checkpoint
from .encoders import ImageEncoder, ResnetPointNet
from .field import HyperNetField
from .task_network import TaskNetwork

__all__ = ["Model", "build_model", "load_trained_model"]


class Model(nn.Module):
    """Encoder + hypernetwork field + task network. The task network's own parameters are frozen (requires_grad
    False): it is only evaluated with the field's per-sample weights theta (B, P)."""

    def __init__(self, encoder: nn.Module, field: HyperNetField, task_net: TaskNetwork):
        super().__init__()
        self.encoder = encoder
        self.field = field
        self.task_net = task_net
        for p in self.task_net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def predict_theta(self, inputs: torch.Tensor) -> torch.Tensor:
        """theta = Phi(T, c(inputs)), shape (B, P). inputs: (B, N, 3) points or (B, 3, S, S) images."""
        c = self.encoder(inputs)
        return self.field(float(self.field.T), c)


def build_model(cfg: Config) -> Model:
    """The Model of `cfg`: encoder (pointnet / resnet), HyperNetField over the task network's layout, theta_0 from
    cfg.training.seed. Parameters are drawn from torch's global RNG: seed it first for a reproducible model."""
    task_net = TaskNetwork(n_frequencies=cfg.task_network.n_frequencies, hidden=cfg.task_network.hidden)
    layout = task_net.param_layout()
    theta_0 = task_net.theta_0(cfg.training.seed)
    if cfg.encoder.kind == "pointnet":
        encoder: nn.Module = ResnetPointNet(c_dim=cfg.encoder.c_dim, hidden=cfg.encoder.hidden)
    else:
        encoder = ImageEncoder(c_dim=cfg.encoder.c_dim, width=cfg.encoder.hidden, img_size=cfg.data.img_size)
    f = cfg.field
    field = HyperNetField(layout, theta_0, c_dim=cfg.encoder.c_dim, T=f.T, width=f.width, depth=f.depth,
                          heads=f.heads, max_token_size=f.max_token_size)
    return Model(encoder, field, task_net)


def load_trained_model(path: str | os.PathLike) -> tuple[Config, Model, dict]:
    """(config, Model on the CPU in eval mode, checkpoint metadata) of a checkpoint written by the Trainer or by
    tools/export_model.py. Raises CheckpointError naming the file when it has no usable config or its weights do
    not fit the model its config describes (and FileNotFoundError when it is missing)."""
    from ..config import ConfigError, config_from_dict

    tensors, metadata = load_checkpoint(path)
    extra = metadata.get("extra") if isinstance(metadata, dict) else None
    if not isinstance(extra, dict) or not isinstance(extra.get("config"), dict):
        raise CheckpointError(path, "metadata has no extra.config: not a checkpoint of tools/train.py")
    try:
        cfg = config_from_dict(extra["config"], source=f"{path}:extra.config")
    except ConfigError as exc:
        raise CheckpointError(path, f"its config does not load: {exc}") from None
    model = build_model(cfg)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(path, f"model state does not fit the model: {exc}") from None
    return cfg, model.eval(), metadata
