"""Typed experiment configuration: dataclasses loaded from YAML.

A config file is YAML (read with a `yaml.SafeLoader` subclass: no Python objects are ever constructed) whose
top-level keys are the sections of `Config`. A file may start from another one:

    inherit_from: base.yaml        # path relative to this file; chains allowed, cycles are an error
    training:
      lr: 3e-4                     # child keys override the parent's; mappings merge, lists are replaced

`load_config(path, overrides=["training.lr=3e-4"])` resolves the chain, applies the overrides (values parsed as
YAML) and checks the result against the dataclasses: an unknown key, a value of the wrong type or a choice
outside a `Literal` raises `ConfigError` (a ValueError) naming the key's dotted path and the file it came from.
`save_config` writes the resolved config as plain YAML data with its `version`; loading it gives an equal
`Config`.

Sizes are bounded: every integer field has a documented range (`field_range(cls, name)`: e.g. widths in
[1, 65536], `field.T` at most 2^24, `training.seed` >= 0) so that a config, or a checkpoint embedding one, cannot
ask for a negative or absurd network; hnf3d.models.build also bounds the model's total size.
Hostile files are bounded too: a config file larger than `MAX_CONFIG_BYTES`, YAML aliases (`*name`, which let a
small file expand exponentially: "billion laughs") and nesting deeper than `MAX_YAML_DEPTH` are refused with a
`ConfigError` naming the file. Every `ConfigError` message is a single line.

Every field is documented in its `metadata["help"]` (`field_help(cls, name)` reads it).
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

__all__ = [
    "CONFIG_VERSION",
    "MAX_CONFIG_BYTES",
    "MAX_YAML_DEPTH",
    "Config",
    "ConfigError",
    "DataConfig",
    "EncoderConfig",
    "EvalConfig",
    "FieldConfig",
    "ObjectiveConfig",
    "TaskNetworkConfig",
    "TrainingConfig",
    "config_from_dict",
    "config_to_dict",
    "field_help",
    "field_range",
    "load_config",
    "save_config",
]

CONFIG_VERSION = 1
"""Version of the config schema written by `save_config`; loading another version is an error."""

MAX_CONFIG_BYTES = 1_000_000
"""Largest config file read (the shipped ones are ~1 KB): a bigger file is refused, not read into memory."""

MAX_YAML_DEPTH = 32
"""Deepest YAML nesting read (configs use 3-4 levels); deeper files are refused rather than overflow the stack."""

# Upper bounds of the sizes that decide how much memory a model takes. Generous (the shipped model uses 256);
# the total is bounded separately (hnf3d.models.build.MAX_MODEL_PARAMETERS).
_MAX_WIDTH = 65536
_MAX_LAYERS = 256

OVERRIDE_SOURCE = "<override>"


def _one_line(text: str) -> str:
    """`text` with its line breaks (and the indentation after them) folded into single spaces."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class ConfigError(ValueError):
    """A config file or dict that does not match the schema; the message (one line) names the source and the key."""

    def __init__(self, message: str):
        super().__init__(_one_line(message))


def _field(default: Any = dataclasses.MISSING, *, help: str, factory: Any = dataclasses.MISSING,
           bounds: Optional[tuple[int, int]] = None, max_len: Optional[int] = None) -> Any:
    """A dataclass field carrying its documentation in metadata['help'] and, for integers (or lists of them), the
    allowed closed range [lo, hi] of each value in metadata['range'] and of a list's length in metadata['max_len']."""
    metadata = {"help": help, "range": bounds, "max_len": max_len}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """Where the training shapes come from and how the network inputs and query points are sampled."""

    dataset: Literal["shapenet", "mesh_folder"] = _field(
        "shapenet", help="'shapenet': the Occupancy Networks layout; 'mesh_folder': meshes sampled on the fly.")
    path: str = _field("datasets/shapenet", help="Root directory of the dataset.")
    categories: Optional[list[str]] = _field(None, help="Category ids to use; None means all categories found.")
    extra_paths: Optional[list[str]] = _field(
        None, help="Further dataset roots in the same layout ('shapenet' only), all their categories; their "
        "splits join those of path (e.g. procedural SDF families plus ShapeNet-like objects).")
    train_split: str = _field("train", help="Name of the training split (ONet: <category>/train.lst).")
    val_split: str = _field("val", help="Name of the validation split.")
    test_split: str = _field("test", help="Name of the test split.")
    input_type: Literal["pointcloud", "image"] = _field(
        "pointcloud", help="Network input: a sparse noisy point cloud or a single rendered image.")
    n_input_points: int = _field(3000, bounds=(1, 10_000_000),
                                 help="Points in the input point cloud (ONet protocol: 3000).")
    input_noise: float = _field(0.005, help="Std of the Gaussian noise added to input points (ONet: 0.005).")
    n_query_points: int = _field(2048, bounds=(1, 10_000_000),
                                 help="Occupancy query points per shape and training step.")
    near_surface_fraction: float = _field(
        0.0, help="Share of the training query points drawn near the surface (points_surface.npz; 'shapenet' "
        "data only); validation and evaluation keep the uniform points.")
    scan_fraction: float = _field(
        0.0, help="Share of the training items whose input is a simulated partial scan (a few views, range noise, "
        "a part missing; hnf3d.data.partial_scan) re-normalised like a user's scan ('shapenet', point clouds, "
        "training split only; 0: never).")
    img_size: int = _field(224, bounds=(1, 4096), help="Side in pixels of input images (image input only).")
    num_workers: int = _field(0, bounds=(0, 1024), help="DataLoader worker processes (0: load in the main process).")


@dataclass
class TaskNetworkConfig:
    """The task network f_theta -> occupancy logit: a global MLP on a positional encoding, or a local triplane of
    features with a small decoder MLP (docs/design.md section 8)."""

    kind: Literal["mlp", "triplane"] = _field(
        "mlp", help="'mlp': MLP on gamma(x) (global); 'triplane': feature planes + decoder MLP (local).")
    n_frequencies: int = _field(4, bounds=(0, 32), help="Positional-encoding frequencies L (3 + 6L inputs).")
    hidden: list[int] = _field(help="Widths of the hidden layers (of the decoder, for 'triplane').",
                               factory=lambda: [128, 128, 128], bounds=(1, _MAX_WIDTH), max_len=_MAX_LAYERS)
    resolution: int = _field(64, bounds=(2, 1024), help="'triplane': nodes per side of each feature plane.")
    channels: int = _field(16, bounds=(1, _MAX_WIDTH), help="'triplane': features per plane node.")


@dataclass
class EncoderConfig:
    """The condition encoder c = E(input)."""

    kind: Literal["pointnet", "resnet", "local_pointnet", "local_resnet"] = _field(
        "pointnet", help="'pointnet': ResNet-PointNet for point clouds; 'resnet': small ResNet for images; "
        "'local_pointnet': point features pooled into feature planes; 'local_resnet': feature planes queried "
        "from an image's ResNet features (both for the triplane task network).")
    c_dim: int = _field(256, bounds=(1, _MAX_WIDTH), help="Size of the (global) condition code c.")
    hidden: int = _field(256, bounds=(1, _MAX_WIDTH), help="Hidden width of the encoder.")
    plane_channels: int = _field(16, bounds=(1, _MAX_WIDTH),
                                 help="'local_pointnet', 'local_resnet': channels of the feature planes it writes.")


@dataclass
class FieldConfig:
    """The hypernetwork field Phi(t, c) -> theta: a DiT-style transformer over parameter tokens (for the 'mlp'
    task network) or a t-modulated 2D U-Net over feature planes (for 'triplane')."""

    kind: Literal["transformer", "unet"] = _field(
        "transformer", help="'transformer' (task_network.kind 'mlp') or 'unet' (task_network.kind 'triplane').")
    width: int = _field(256, bounds=(1, _MAX_WIDTH),
                        help="Token width of the transformer; 'unet': its width at full resolution.")
    depth: int = _field(4, bounds=(0, _MAX_LAYERS),
                        help="Number of transformer blocks; 'unet': number of resolutions (>= 1).")
    cond_dim: int = _field(128, bounds=(1, _MAX_WIDTH), help="'unet': width of the t / code conditioning vector.")
    heads: int = _field(4, bounds=(1, _MAX_WIDTH), help="Attention heads per block.")
    max_token_size: int = _field(4096, bounds=(1, 2**31 - 1),
                                 help="Largest parameter chunk per token; bigger tensors are split.")
    T: int = _field(1000, bounds=(1, 2**24), help="Number of convergence steps; inference uses theta = Phi(T, c) "
                    "(at most 2^24: t is carried in float32, which cannot tell t from t + 1 beyond).")


@dataclass
class ObjectiveConfig:
    """What the field is trained to do."""

    kind: Literal["gradient_matching", "direct", "weights"] = _field(
        "gradient_matching",
        help="'gradient_matching': match optimiser steps; 'direct': BCE through Phi(T, c); "
        "'weights': regress pre-fitted per-shape weights.")
    variant: Literal["A", "B"] = _field(
        "A", help="Gradient matching: 'A' bootstrapped target for Phi(t+1); 'B' step matching.")
    eta: float = _field(1.0, help="Step size of the teacher's optimisation step.")
    t_sampling: Literal["uniform", "sqrt"] = _field(
        "uniform", help="Law of t: 'uniform' U{0..T-1}; 'sqrt' floor(T sqrt(u)), biased to large t.")
    step_rule: Literal["sgd", "normalized", "adam"] = _field(
        "sgd", help="Teacher step computed from the gradient: plain SGD, normalised, or Adam-like.")
    normalize_loss: bool = _field(True, help="Divide the matching loss by eta^2 * mean ||step||^2.")
    k_steps: int = _field(1, bounds=(1, 2**24), help="Gradient matching: teacher steps per target; Phi(t + k, c) is "
                          "matched to K real steps from Phi(t, c), so the chain from 0 to T is K times shorter.")
    k_sampling: Literal["fixed", "uniform"] = _field(
        "fixed", help="Gradient matching: k = k_steps ('fixed') or k ~ U{1..k_steps} ('uniform'), per sample.")
    target_ema: float = _field(0.0, help="Gradient matching (variant A): th_t comes from an exponential moving "
                               "average of the field with this decay per update, e.g. 0.999 (0: the field itself).")
    delta_space: bool = _field(True, help="Gradient matching: form Phi(t + k) - Phi(t) in delta space (no "
                               "cancellation of two full weight vectors) when the field allows it.")
    weights_path: Optional[str] = _field(None, help="Pre-fitted weights for kind 'weights' (tools/fit_shapes.py).")


@dataclass
class TrainingConfig:
    """The optimisation loop."""

    batch_size: int = _field(32, bounds=(1, 2**20), help="Shapes per batch.")
    lr: float = _field(1e-4, help="Learning rate of the field and encoder (lower it as T grows).")
    lr_schedule: Literal["constant", "cosine"] = _field(
        "constant", help="'constant': lr throughout; 'cosine': lr * (1 + cos(pi * step / max_steps)) / 2.")
    warmup_steps: int = _field(0, bounds=(0, 2**40), help="Linear learning-rate warm-up over the first this many "
                               "updates (0: none).")
    grad_clip: float = _field(0.0, help="Clip the global gradient norm of each update to this (0: no clipping; the "
                              "norm is logged either way).")
    guard: float = _field(0.0, help="Divergence guard: skip an update whose task loss at the sampled t or teacher "
                          "step norm exceeds this many times its running average (0: off; skips are logged).")
    probe_every: int = _field(0, bounds=(0, 2**40), help="Every this many updates log the IoU and task loss of "
                              "Phi(T, c) on a fixed validation batch (0: never): a progress figure for gradient "
                              "matching, whose normalised loss stays ~1.")
    max_steps: int = _field(10000, bounds=(0, 2**40), help="Number of optimiser updates.")
    validate_every: int = _field(500, bounds=(0, 2**40), help="Validate every this many steps (0: never).")
    checkpoint_every: int = _field(500, bounds=(0, 2**40),
                                   help="Write a checkpoint every this many steps (0: only at the end).")
    keep_steps: list[int] = _field(help="Also keep a model-only snapshot step_NNNNNN.safetensors at these steps "
                                        "(compute studies evaluate them).", factory=list,
                                  bounds=(0, 2**40), max_len=100_000)
    seed: int = _field(0, bounds=(0, 2**32 - 1), help="Seed of every random number generator.")
    out_dir: str = _field("runs/default", help="Directory for checkpoints, logs and the resolved config.")
    init_from: Optional[str] = _field(
        None, help="Fine-tuning: start from the model weights of this checkpoint (a tools/train.py or "
        "tools/export_model.py file of the same architecture), with a fresh optimiser and schedule. Ignored when "
        "resuming (the run's own last checkpoint holds everything).")
    device: str = _field("auto", help="'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'.")
    threshold: float = _field(0.5, help="Occupancy probability threshold for the validation IoU.")


@dataclass
class EvalConfig:
    """Mesh extraction and evaluation (the ONet protocol)."""

    threshold: float = _field(0.2, help="Occupancy probability of the extracted surface (ONet: 0.2).")
    resolution_0: int = _field(32, bounds=(2, 1024), help="Initial grid resolution of the hierarchical extraction.")
    upsampling_steps: int = _field(2, bounds=(0, 8), help="Grid refinements (32 * 2^2 = 128 effective resolution).")
    refine_lr: float = _field(1e-2, help="Adam learning rate of test-time refinement (the Reconstructor's default "
                              "for this model).")
    refine_orient: Literal["tree", "field"] = _field(
        "tree", help="How refinement orients the scan's normals: 'tree' (spanning-tree propagation, Hoppe 1992) or "
        "'field' (by the predicted occupancy's gradient, smoothed over the neighbour graph: the prior decides "
        "inside and outside where a thin part defeats the tree).")
    refine_prior: float = _field(0.0, help="Weight of the pull towards the predicted weights "
                                 "during refinement (mean squared difference; 0: none).")
    refine_shell: float = _field(0.0, help="Refinement labels queries closer than this to a scan point (unit-box "
                                 "units) inside, so parts thinner than the noise keep a slab (0: none).")
    refine_confidence: float = _field(0.0, help="Refinement drops the winding-number labels "
                                      "of queries where |w - 1/2| is below this (near noisy or open parts of the scan "
                                      "the winding number w is a coin toss; 0: keep every label).")
    refine_surface: float = _field(0.0, help="Weight of the refinement's surface term: the scan points on the "
                                   "decision boundary (binary cross-entropy towards 1/2; 0: none).")
    refine_roughness: float = _field(0.0, help="Weight of the refinement's roughness term: a penalty on the second "
                                     "differences of a triplane network's feature planes, which noisy labels "
                                     "wrinkle (hnf3d.models.triplane.plane_roughness; 0: none).")
    refine_roughness_scale: float = _field(0.0, help="The roughness term's robust scale: 0 penalises the squared "
                                           "second differences; s > 0 penalises sqrt(d^2 + s^2) - s, about |d| "
                                           "beyond s, which thins sharp features (parts a node or two thick) less.")
    refine_batch: int = _field(8192, bounds=(1, 10_000_000), help="Labelled queries per refinement step (the "
                               "surface term adds a quarter as many scan points).")
    refine_denoise: float = _field(0.0, help="Refinement first smooths the scan by quadric fits within this radius "
                                   "(unit-box units; points with too few neighbours in it stay; 0: no smoothing).")
    refine_denoise_k: int = _field(30, bounds=(12, 1000), help="The smoothing's quadric fits use at most this many "
                                   "nearest neighbours within refine_denoise.")
    refine_denoise_noise: float = _field(0.0, help="The smoothing runs only on a scan whose estimated noise (the "
                                         "median RMS residual of its quadric fits, unit-box units) is at least this "
                                         "(0: always).")
    refine_denoise_sides: bool = _field(False, help="A point of the smoothing is also fitted to the neighbours "
                                        "whose directions out of the predicted shape (the field's occupancy "
                                        "gradient) agree with its own, and takes that fit where it is far better, "
                                        "so the two walls of a thin part are not fitted as one.")
    refine_smooth: float = _field(0.0, help="The refined mesh is extracted from the network's logits convolved "
                                  "with a Gaussian of this standard deviation (unit-box units; parts it would "
                                  "empty keep their values; hnf3d.pipeline.extraction; 0: none).")
    refine_snap: float = _field(0.0, help="After refinement, the extracted mesh's vertices with scan points all "
                                "around them move along their normals onto quadric fits of the points within this "
                                "radius (unit-box units; hnf3d.pipeline.snap; 0: the mesh as extracted).")
    refine_snap_k: int = _field(30, bounds=(12, 1000), help="The snap's quadric fits use at most this many nearest "
                                "scan points within refine_snap.")
    refine_sigmas: list[float] = _field(factory=lambda: [0.02, 0.005], max_len=8, help="Refinement's near-surface "
                                        "labelled queries: scan points displaced by Gaussian noise of these standard "
                                        "deviations (unit-box units), an equal share each.")


@dataclass
class Config:
    """A whole experiment: data, networks, objective, training and evaluation."""

    version: int = _field(CONFIG_VERSION, help="Schema version of this config.")
    name: str = _field("default", help="Experiment name.")
    data: DataConfig = _field(help="Dataset and sampling.", factory=DataConfig)
    task_network: TaskNetworkConfig = _field(help="Task network f_theta.", factory=TaskNetworkConfig)
    encoder: EncoderConfig = _field(help="Condition encoder.", factory=EncoderConfig)
    field: FieldConfig = _field(help="Hypernetwork field Phi(t, c).", factory=FieldConfig)
    objective: ObjectiveConfig = _field(help="Training objective.", factory=ObjectiveConfig)
    training: TrainingConfig = _field(help="Optimisation loop.", factory=TrainingConfig)
    eval: EvalConfig = _field(help="Extraction and evaluation.", factory=EvalConfig)


def _config_field(cls: type, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def field_help(cls: type, name: str) -> str:
    """The documentation of field `name` of config dataclass `cls`."""
    return _config_field(cls, name).metadata["help"]


def field_range(cls: type, name: str) -> Optional[tuple[int, int]]:
    """The closed range [lo, hi] allowed for integer field `name` of `cls` (each entry, for a list), or None."""
    return _config_field(cls, name).metadata.get("range")


# ---------------------------------------------------------------------------------------------------------------
# YAML reading


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float (YAML 1.1 / PyYAML require a dot: `1.0e-4`), refuses aliases
    and bounds the nesting depth.

    Aliases (`*name`, also in merge keys `<<: *name`) are refused outright: nested ones let an 871-byte file expand
    to billions of nodes, and no config of ours needs them. Nesting deeper than MAX_YAML_DEPTH is refused before
    the recursive composer can overflow the stack.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"found alias *{event.anchor}: aliases are not allowed in config files (write the "
                "value out)", event.start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _parse_yaml(text: str, source: str) -> Any:
    """The YAML document in `text`; ConfigError (one line, naming `source`, the line and column) if it is not one."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        if exc.problem and exc.context:
            problem = f"{problem} ({exc.context})"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character; its text spans lines (ConfigError folds)
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:  # should not happen below MAX_YAML_DEPTH; never let it escape as a traceback
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # a scalar PyYAML's constructors reject: a 5000-digit int, 2001-13-45
        raise ConfigError(f"{source}: invalid YAML value: {exc}") from None


def _read_file(path: str) -> dict:
    """The top-level mapping of config file `path` ({} for an empty file)."""
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # bounded: never read a huge file whole
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read the config file (permission denied)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes, too big for a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    data = _parse_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def _merge(base: dict, sources: dict[str, str], over: dict, source: str, prefix: str = "") -> dict:
    """Deep-merge `over` into a copy of `base`; record in `sources` which file each dotted key came from."""
    out = dict(base)
    for key, value in over.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], sources, value, source, prefix=f"{path}.")
        else:
            out[key] = value
            _record(sources, value, source, path)
        sources[path] = source
    return out


def _record(sources: dict[str, str], value: Any, source: str, path: str) -> None:
    sources[path] = source
    if isinstance(value, dict):
        for key, sub in value.items():
            _record(sources, sub, source, f"{path}.{key}")


def _resolve_file(path: str, sources: dict[str, str], chain: list[str]) -> dict:
    real = os.path.realpath(path)
    seen = [os.path.realpath(p) for p in chain]
    if real in seen:
        cycle = " -> ".join([*chain[seen.index(real):], path])
        raise ConfigError(f"{path}: inherit_from cycle: {cycle}")
    data = _read_file(path)
    parent = data.pop("inherit_from", None)
    if parent is None:
        merged: dict = {}
    else:
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"{path}: 'inherit_from' must be a file path string, got {_short_repr(parent)}")
        parent_path = os.path.normpath(os.path.join(os.path.dirname(path), parent))
        if not os.path.exists(parent_path):
            raise FileNotFoundError(f"{parent_path}: config file not found (inherit_from in {path})")
        merged = _resolve_file(parent_path, sources, [*chain, path])
    return _merge(merged, sources, data, path)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"{OVERRIDE_SOURCE}: expected 'section.key=value', got {text!r}")
    key, _, raw = text.partition("=")
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"{OVERRIDE_SOURCE}: bad key {key.strip()!r} in {text!r}")
    value = _parse_yaml(raw, f"{OVERRIDE_SOURCE} {text!r}") if raw.strip() else None
    return parts, value


def _apply_overrides(data: dict, sources: dict[str, str], overrides: typing.Sequence[str]) -> dict:
    for text in overrides:
        parts, value = _parse_override(text)
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        data = _merge(data, sources, nested, OVERRIDE_SOURCE)
    return data


# ---------------------------------------------------------------------------------------------------------------
# Validation: plain data -> dataclasses


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(c) for c in typing.get_args(tp))
    if origin is Union:
        return " | ".join("None" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (elem,) = typing.get_args(tp)
        return f"list[{_type_name(elem)}]"
    if dataclasses.is_dataclass(tp):
        return f"mapping ({tp.__name__})"
    return getattr(tp, "__name__", str(tp))


def _suggest(key: str, names: list[str]) -> list[str]:
    """Close matches for a misspelt key: difflib's, else a known key that the typo starts with (lr_rate -> lr)."""
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return close
    prefixed = [n for n in names if key.startswith(n) or n.startswith(key)]
    return sorted(prefixed, key=len, reverse=True)[:1]


def _short_repr(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters (a message must stay short even for a huge value)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


class _Builder:
    def __init__(self, sources: dict[str, str], default_source: str):
        self.sources = sources
        self.default_source = default_source

    def source_of(self, path: str) -> str:
        while path:
            if path in self.sources:
                return self.sources[path]
            path = path.rpartition(".")[0]
        return self.default_source

    def type_error(self, path: str, tp: Any, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.source_of(path)}: key '{path}' expects {_type_name(tp)}, got {_short_repr(value)} "
            f"({type(value).__name__})")

    def check_range(self, f: dataclasses.Field, value: Any, path: str) -> None:
        """Refuse a list longer than f's max_len, or an integer (list entry) outside f's range."""
        bounds, max_len = f.metadata.get("range"), f.metadata.get("max_len")
        items = [(path, value)]
        if isinstance(value, list):
            if max_len is not None and len(value) > max_len:
                raise ConfigError(f"{self.source_of(path)}: key '{path}' has {len(value)} entries, "
                                  f"at most {max_len} are allowed")
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        if bounds is None:
            return
        lo, hi = bounds
        for where, v in items:
            if isinstance(v, int) and not lo <= v <= hi:
                raise ConfigError(f"{self.source_of(where)}: key '{where}' must be an integer in [{lo}, {hi}], "
                                  f"got {_short_repr(v)}")

    def build(self, cls: type, data: Any, prefix: str) -> Any:
        if not isinstance(data, dict):
            where = f"section '{prefix}'" if prefix else "the top level"
            raise ConfigError(f"{self.source_of(prefix)}: {where} must be a mapping, got {_short_repr(data)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        names = list(fields)
        kwargs = {}
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in names:
                close = _suggest(str(key), names)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(names)})"
                raise ConfigError(f"{self.source_of(path)}: unknown key '{path}'{hint}")
            kwargs[key] = self.value(hints[key], value, path)
            self.check_range(fields[key], kwargs[key], path)
        return cls(**kwargs)

    def value(self, tp: Any, value: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self.build(tp, value, path)
        if origin is Union:
            args = typing.get_args(tp)
            if value is None:
                if type(None) in args:
                    return None
                raise self.type_error(path, tp, value)
            (inner,) = [a for a in args if a is not type(None)]
            return self.value(inner, value, path)
        if value is None:
            raise self.type_error(path, tp, value)
        if origin is Literal:
            choices = typing.get_args(tp)
            if not any(type(value) is type(c) and value == c for c in choices):
                raise ConfigError(
                    f"{self.source_of(path)}: key '{path}' must be one of {', '.join(repr(c) for c in choices)}, "
                    f"got {_short_repr(value)}")
            return value
        if origin is list:
            (elem,) = typing.get_args(tp)
            if not isinstance(value, list):
                raise self.type_error(path, tp, value)
            return [self.value(elem, v, f"{path}[{i}]") for i, v in enumerate(value)]
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise self.type_error(path, tp, value)
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise self.type_error(path, tp, value)
        if tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise self.type_error(path, tp, value)
        if tp is str:
            if isinstance(value, str):
                return value
            raise self.type_error(path, tp, value)
        raise TypeError(f"config schema: unsupported field type {tp!r} at '{path}'")  # a bug in this module


def _build_config(data: dict, sources: dict[str, str], default_source: str) -> Config:
    builder = _Builder(sources, default_source)
    cfg = builder.build(Config, data, "")
    if cfg.version != CONFIG_VERSION:
        raise ConfigError(
            f"{builder.source_of('version')}: config version {cfg.version} is not supported "
            f"(this hnf3d reads version {CONFIG_VERSION})")
    return cfg


# ---------------------------------------------------------------------------------------------------------------
# Public API


def load_config(path: str | os.PathLike, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config, resolving `inherit_from` chains and applying `overrides` ("section.key=value").

    Raises FileNotFoundError (naming the file) for a missing file or parent, and ConfigError for invalid YAML
    (with the line), an `inherit_from` cycle, an unknown key or a value of the wrong type (naming the dotted key
    and the file that set it; '<override>' for an override).
    """
    path = os.fspath(path)
    sources: dict[str, str] = {}
    data = _resolve_file(path, sources, [])
    if isinstance(overrides, str):
        overrides = [overrides]
    data = _apply_overrides(data, sources, overrides)
    return _build_config(data, sources, path)


def config_from_dict(data: dict, source: str = "<dict>", overrides: typing.Sequence[str] = ()) -> Config:
    """Build and validate a Config from plain data (as returned by `config_to_dict`); errors name `source`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    sources: dict[str, str] = {}
    try:
        data = _merge({}, sources, data, source)
    except RecursionError:  # e.g. a checkpoint's JSON config nested hundreds of levels deep
        raise ConfigError(f"{source}: nested too deeply to be a config") from None
    if isinstance(overrides, str):
        overrides = [overrides]
    data = _apply_overrides(data, sources, overrides)
    return _build_config(data, sources, source)


def config_to_dict(cfg: Config) -> dict:
    """The config as plain data (dicts, lists, str, int, float, bool, None), including `version`."""
    if not isinstance(cfg, Config):
        raise TypeError(f"expected a Config, got {type(cfg).__name__}")
    return dataclasses.asdict(cfg)


class _PlainDumper(yaml.SafeDumper):
    """SafeDumper that writes a repeated object out again instead of an anchor and alias (`load_config` refuses
    aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def save_config(cfg: Config, path: str | os.PathLike) -> Path:
    """Write `cfg` as plain YAML (no Python tags) atomically: temp file in the same directory, fsync, rename."""
    from .io.atomic import atomic_write  # lazy: hnf3d.io imports numpy

    text = yaml.dump(config_to_dict(cfg), Dumper=_PlainDumper, sort_keys=False, default_flow_style=False)
    out = Path(os.fspath(path))
    with atomic_write(out) as handle:
        handle.write(text.encode("utf-8"))
    return out
