"""A model from its config, and a trained model from its checkpoint, for inference and training alike.

`build_model(cfg)` -> `Model` (encoder, hypernetwork field, task network; theta_0 = the task network's theta_0 of
cfg.training.seed). Two families: global (TaskNetwork MLP, HyperNetField transformer, ResnetPointNet or
ImageEncoder) and local (TriplaneTaskNetwork, LocalField U-Net, LocalPointNet or LocalImageEncoder;
docs/design.md section 8), chosen
by task_network.kind / field.kind / encoder.kind. `load_trained_model(path)` reads a checkpoint of the trainer or of tools/export_model.py
(safetensors only, never unpickled), rebuilds its model from the config in its header and loads the weights.
Inference (hnf3d.pipeline) uses this module without importing the training code; the trainer builds its model
here too, so both agree on what a config means.

Sizes are checked before anything is allocated (`check_model_config`): besides the per-key ranges of the config
schema, the model is first built on the meta device (shapes only, no memory) and refused when it would hold more
than MAX_MODEL_PARAMETERS numbers or its field more than MAX_FIELD_TOKENS parameter tokens. A checkpoint's tensors
are compared with that shape-only model key for key before the real one is built, so a 2 KB checkpoint whose
embedded config asks for a huge network is refused without allocating it.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ..config import Config, ConfigError, config_from_dict, config_to_dict
from ..io.checkpoint import CheckpointError, load_checkpoint, state_mismatch
from .encoders import ImageEncoder, ResnetPointNet
from .field import HyperNetField
from .local_encoder import LocalPointNet
from .local_image_encoder import LocalImageEncoder
from .local_field import LocalField
from .task_network import TaskNetwork
from .triplane import TriplaneTaskNetwork

__all__ = ["MAX_FIELD_TOKENS", "MAX_MODEL_PARAMETERS", "Model", "build_model", "build_task_network",
           "check_model_config", "load_trained_model"]

MAX_MODEL_PARAMETERS = 1_000_000_000
"""Most numbers (parameters and buffers of encoder, field and task network) a model built from a config may hold:
4 GB in float32, ~70 times the shipped model (14.5 M field + 1.7 M encoder parameters)."""

MAX_FIELD_TOKENS = 4096
"""Most parameter tokens of the field (shipped model: 14). Attention is quadratic in them and each has its own
output head, so a tiny field.max_token_size over a wide task network is refused before it is built."""

# The config keys that size each part, for messages.
_PART_KEYS = {
    "encoder": "encoder.c_dim, encoder.hidden, encoder.plane_channels",
    "field": "field.width, field.depth, task_network.hidden, task_network.resolution",
    "task_net": "task_network.n_frequencies, task_network.hidden, task_network.resolution, task_network.channels",
}

# The local family's parts go together: a triplane task network needs the U-Net field and a local encoder (the
# one for the input type)
_LOCAL = {"task_network.kind": "triplane", "field.kind": "unet", "encoder.kind": "local_pointnet"}
_LOCAL_ENCODERS = {"pointcloud": "local_pointnet", "image": "local_resnet"}
_GLOBAL_ENCODERS = {"pointcloud": "pointnet", "image": "resnet"}


def build_task_network(cfg: Config) -> nn.Module:
    """The task network of cfg.task_network: TaskNetwork ('mlp') or TriplaneTaskNetwork ('triplane')."""
    tn = cfg.task_network
    if tn.kind == "triplane":
        return TriplaneTaskNetwork(resolution=tn.resolution, channels=tn.channels, n_frequencies=tn.n_frequencies,
                                   hidden=tn.hidden)
    return TaskNetwork(n_frequencies=tn.n_frequencies, hidden=tn.hidden)


def _check_family(cfg: Config, source: str) -> None:
    """The local parts (_LOCAL, with the local encoder of the input type) are used all together or not at all,
    and the encoder reads the input type."""
    kind = cfg.data.input_type
    expected = dict(_LOCAL, **{"encoder.kind": _LOCAL_ENCODERS[kind]})
    kinds = {"task_network.kind": cfg.task_network.kind, "field.kind": cfg.field.kind,
             "encoder.kind": cfg.encoder.kind}
    if cfg.encoder.kind not in (_LOCAL_ENCODERS[kind], _GLOBAL_ENCODERS[kind]):
        raise ConfigError(f"{source}: 'encoder.kind' {cfg.encoder.kind!r} does not read data.input_type "
                          f"{kind!r}; use {_GLOBAL_ENCODERS[kind]!r} or {_LOCAL_ENCODERS[kind]!r}")
    local = {k for k, v in kinds.items() if expected[k] == v}
    if local and len(local) != len(expected):
        missing = ", ".join(f"'{k}': {expected[k]!r}" for k in expected if k not in local)
        raise ConfigError(f"{source}: the local model family needs all of {expected}; set {missing} too")


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


def _construct(cfg: Config, source: str, shapes_only: bool = False) -> Model:
    """The Model of `cfg`, unchecked; shapes_only: on the meta device (no memory, theta_0 left undrawn). A
    ValueError of a constructor becomes a ConfigError naming `source` and the section."""
    section = "task_network"
    try:
        task_net = build_task_network(cfg)
        layout = task_net.param_layout()
        # drawing theta_0 concatenates tensors, which on the meta device imports torch._dynamo (seconds)
        theta_0 = torch.empty(layout.total) if shapes_only else task_net.theta_0(cfg.training.seed)
        section = "encoder"
        e, f = cfg.encoder, cfg.field
        if e.kind == "local_pointnet":
            encoder: nn.Module = LocalPointNet(resolution=cfg.task_network.resolution, out_channels=e.plane_channels,
                                               c_dim=e.c_dim, hidden=e.hidden)
        elif e.kind == "local_resnet":
            encoder = LocalImageEncoder(resolution=cfg.task_network.resolution, out_channels=e.plane_channels,
                                        c_dim=e.c_dim, width=e.hidden, img_size=cfg.data.img_size)
        elif e.kind == "pointnet":
            encoder = ResnetPointNet(c_dim=e.c_dim, hidden=e.hidden)
        else:
            encoder = ImageEncoder(c_dim=e.c_dim, width=e.hidden, img_size=cfg.data.img_size)
        section = "field"
        if f.kind == "unet":
            field: nn.Module = LocalField(layout, theta_0, in_channels=e.plane_channels, c_dim=e.c_dim, T=f.T,
                                          width=f.width, levels=f.depth, cond_dim=f.cond_dim)
        else:
            field = HyperNetField(layout, theta_0, c_dim=e.c_dim, T=f.T, width=f.width, depth=f.depth,
                                  heads=f.heads, max_token_size=f.max_token_size)
    except ValueError as exc:
        raise ConfigError(f"{source}: section '{section}' does not describe a valid model: {exc}") from None
    return Model(encoder, field, task_net)


def _shape_only_model(cfg: Config, source: str) -> Model:
    """`cfg`'s Model on the meta device (shapes, no memory), after the checks of `check_model_config`."""
    cfg = config_from_dict(config_to_dict(cfg), source)  # the schema's ranges, also for a Config built in Python
    _check_family(cfg, source)
    tn, f = cfg.task_network, cfg.field
    n_tokens = 0 if f.kind == "unet" else HyperNetField.count_tokens(
        TaskNetwork.parameter_numels(tn.n_frequencies, tn.hidden), f.max_token_size)
    if n_tokens > MAX_FIELD_TOKENS:
        raise ConfigError(
            f"{source}: the field would have {n_tokens} parameter tokens, more than {MAX_FIELD_TOKENS}: raise "
            f"'field.max_token_size' ({f.max_token_size}) or narrow 'task_network.hidden'")
    with torch.device("meta"):
        model = _construct(cfg, source, shapes_only=True)
    counts = {part: sum(t.numel() for t in getattr(model, part).state_dict().values()) for part in _PART_KEYS}
    total = sum(counts.values())
    if total > MAX_MODEL_PARAMETERS:
        biggest = max(counts, key=counts.get)
        raise ConfigError(
            f"{source}: the model would have {total:,} parameters, more than {MAX_MODEL_PARAMETERS:,} "
            f"({biggest.replace('_', ' ')}: {counts[biggest]:,}; sized by {_PART_KEYS[biggest]})")
    return model


def check_model_config(cfg: Config, source: str = "<config>") -> int:
    """Check that `cfg` describes a model of sane size, allocating nothing; return its number of parameters
    (and buffers). Raises ConfigError naming `source` and the key: a value outside the schema's range, a field
    width not divisible by its heads, more than MAX_FIELD_TOKENS parameter tokens, more than MAX_MODEL_PARAMETERS
    parameters."""
    model = _shape_only_model(cfg, source)
    return sum(t.numel() for t in model.state_dict().values())


def build_model(cfg: Config, source: str = "<config>") -> Model:
    """The Model of `cfg`: encoder (pointnet / resnet), HyperNetField over the task network's layout, theta_0 from
    cfg.training.seed. Parameters are drawn from torch's global RNG: seed it first for a reproducible model.
    Checked first (`check_model_config`; a ConfigError names `source`, e.g. the config file)."""
    _shape_only_model(cfg, source)
    return _construct(cfg, source)


def load_trained_model(path: str | os.PathLike) -> tuple[Config, Model, dict]:
    """(config, Model on the CPU in eval mode, checkpoint metadata) of a checkpoint written by the Trainer or by
    tools/export_model.py. Raises CheckpointError naming the file when it has no usable config or its weights do
    not fit the model its config describes (and FileNotFoundError when it is missing)."""
    tensors, metadata = load_checkpoint(path)
    extra = metadata.get("extra") if isinstance(metadata, dict) else None
    if not isinstance(extra, dict) or not isinstance(extra.get("config"), dict):
        raise CheckpointError(path, "metadata has no extra.config: not a checkpoint of tools/train.py")
    source = f"{path}:extra.config"
    try:
        cfg = config_from_dict(extra["config"], source=source)
        shapes = _shape_only_model(cfg, source)  # sizes checked before anything is allocated
    except ConfigError as exc:
        raise CheckpointError(path, f"its config does not load: {exc}") from None
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    # compare shapes before building: the real model is only allocated for tensors the file actually holds
    problem = state_mismatch(shapes.state_dict(), state)
    if problem:
        raise CheckpointError(path, f"model state does not fit the model its config describes: {problem}")
    model = _construct(cfg, source)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(path, f"model state does not fit the model: {exc}") from None
    return cfg, model.eval(), metadata
