"""The task network f_theta: R^3 -> occupancy logit, run batched with per-sample weights.

f is an MLP on a positional encoding of the query point (docs/design.md section 1). The hypernetwork field predicts
one flat weight vector theta (P,) per shape; `TaskNetwork.forward(x, params)` evaluates all B shapes of a batch
at once with batched matrix products (no Python loop over samples), so gradient matching can take per-sample
gradients with one `autograd.grad` call.

`TaskNetwork.param_layout()` (a `ParamLayout`: names, shapes and offsets of the parameter tensors inside the flat
vector, read from the module's own parameters) is the single source of the weight layout: hypernetwork heads,
checkpoints and weight export are sized from it, never typed by hand.

hnf3d.pipeline.export.task_network_logits evaluates the same function with numpy alone, from a flat vector and
the layout's `to_dict()`, for pipelines that query exported weights without the torch model code.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

LAYOUT_VERSION = 1

# name -> torch function; the numpy evaluator (hnf3d.pipeline.export.ACTIVATIONS) has the same set
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "softplus": F.softplus,
    "silu": F.silu,
    "tanh": torch.tanh,
    "elu": F.elu,
}


def positional_encoding(x: torch.Tensor, n_frequencies: int = 4) -> torch.Tensor:
    """gamma(x) = [x, sin(2^0 pi x), cos(2^0 pi x), ..., sin(2^(L-1) pi x), cos(2^(L-1) pi x)].

    x: Tensor of shape (..., 3). Returns a tensor of shape (..., 3 + 3 * 2 * L), L = n_frequencies.
    Feature order: the 3 raw coordinates, then for each frequency k = 0..L-1 (ascending) the sines of the 3
    coordinates followed by their cosines (NeRF order). L = 4 gives 27 features; L = 0 gives x itself.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"x: expected shape (..., 3), got {tuple(x.shape)}")
    if not isinstance(n_frequencies, int) or n_frequencies < 0:
        raise ValueError(f"n_frequencies: expected an integer >= 0, got {n_frequencies!r}")
    if n_frequencies == 0:
        return x
    freqs = math.pi * 2.0 ** torch.arange(n_frequencies, dtype=x.dtype, device=x.device)  # (L,)
    angles = x[..., None, :] * freqs[:, None]  # (..., L, 3)
    sincos = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (..., L, 6): per k, 3 sin then 3 cos
    return torch.cat([x, sincos.flatten(-2)], dim=-1)


@dataclass(frozen=True)
class ParamEntry:
    """One parameter tensor inside the flat vector: flat[offset : offset + numel].reshape(shape)."""

    name: str
    shape: tuple[int, ...]
    offset: int
    numel: int


@dataclass(frozen=True)
class ParamLayout:
    """Where each parameter tensor of a network lives in its flat (P,) weight vector.

    entries: `ParamEntry`s in the network's definition order, contiguous from offset 0. Two layouts are equal
    when their entries are (same names, shapes and offsets, in the same order).
    """

    entries: tuple[ParamEntry, ...]

    def __post_init__(self):
        offset = 0
        names = set()
        for e in self.entries:
            if e.name in names:
                raise ValueError(f"layout: parameter name {e.name!r} appears twice")
            names.add(e.name)
            if e.offset != offset:
                raise ValueError(f"layout: entry {e.name!r} starts at offset {e.offset}, expected {offset}")
            if e.numel != math.prod(e.shape):
                raise ValueError(f"layout: entry {e.name!r} has numel {e.numel}, expected prod{e.shape}")
            offset += e.numel

    @classmethod
    def from_named_tensors(cls, named: Iterator[tuple[str, torch.Tensor]]) -> "ParamLayout":
        """Layout of (name, tensor) pairs in the given order (e.g. `module.named_parameters()`)."""
        entries, offset = [], 0
        for name, t in named:
            entries.append(ParamEntry(name, tuple(int(s) for s in t.shape), offset, t.numel()))
            offset += t.numel()
        return cls(tuple(entries))

    @property
    def total(self) -> int:
        """P: the length of the flat vector."""
        return sum(e.numel for e in self.entries)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ParamEntry]:
        return iter(self.entries)

    def __getitem__(self, name: str) -> ParamEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"layout has no parameter {name!r}; it has {self.names}")

    def flatten(self, state: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """state: name -> Tensor of shape (..., *shape) (same leading dims for all). Returns (..., P).

        Extra keys in `state` (e.g. buffers of a state_dict) are ignored; a missing one is an error.
        """
        missing = [e.name for e in self.entries if e.name not in state]
        if missing:
            raise KeyError(f"state: missing parameters {missing}")
        parts, lead = [], None
        for e in self.entries:
            t = state[e.name]
            nd = len(e.shape)
            if t.ndim < nd or tuple(t.shape[t.ndim - nd:]) != e.shape:
                raise ValueError(f"state[{e.name!r}]: expected shape (..., {', '.join(map(str, e.shape))}), "
                                 f"got {tuple(t.shape)}")
            this_lead = tuple(t.shape[: t.ndim - nd])
            if lead is None:
                lead = this_lead
            elif this_lead != lead:
                raise ValueError(f"state[{e.name!r}]: leading dims {this_lead} differ from {lead}")
            parts.append(t.reshape(*lead, e.numel))
        return torch.cat(parts, dim=-1)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """flat: Tensor of shape (..., P). Returns name -> view of shape (..., *shape), in layout order."""
        if not isinstance(flat, torch.Tensor):
            raise TypeError(f"flat: expected a torch tensor, got {type(flat).__name__}")
        if flat.ndim < 1 or flat.shape[-1] != self.total:
            raise ValueError(f"flat: expected shape (..., {self.total}), got {tuple(flat.shape)}")
        lead = flat.shape[:-1]
        # one split, not a slice per entry: its backward writes the gradient of `flat` once (a slice's backward
        # fills a zero tensor of size P per entry): about 7% of a local refinement step here. The entries tile flat.
        parts = flat.split([e.numel for e in self.entries], dim=-1)
        return {e.name: part.reshape(*lead, *e.shape) for e, part in zip(self.entries, parts)}

    def to_dict(self) -> dict:
        """Plain JSON-serialisable data: {"version", "total", "entries": [{"name", "shape", "offset", "numel"}]}."""
        return {
            "version": LAYOUT_VERSION,
            "total": self.total,
            "entries": [{"name": e.name, "shape": list(e.shape), "offset": e.offset, "numel": e.numel}
                        for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "ParamLayout":
        """Inverse of `to_dict` (checks the version, the contiguity and the total)."""
        if not isinstance(data, Mapping) or "entries" not in data:
            raise ValueError("layout dict: expected a mapping with an 'entries' list (ParamLayout.to_dict())")
        version = data.get("version", LAYOUT_VERSION)
        if version != LAYOUT_VERSION:
            raise ValueError(f"layout dict: unsupported version {version!r}, expected {LAYOUT_VERSION}")
        try:
            entries = tuple(ParamEntry(str(e["name"]), tuple(int(s) for s in e["shape"]), int(e["offset"]),
                                       int(e["numel"])) for e in data["entries"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"layout dict: malformed entry ({exc!r}); each needs name, shape, offset, numel") \
                from exc
        layout = cls(entries)
        if "total" in data and int(data["total"]) != layout.total:
            raise ValueError(f"layout dict: total {data['total']} does not match the entries' sum {layout.total}")
        return layout


def seeded_parameters(build: Callable[[], nn.Module], seed: int) -> torch.Tensor:
    """(P,) flat parameters of the network `build()` makes on the CPU under torch.manual_seed(seed): the seeded
    theta_0 of either task network family. The CPU generator (Mersenne Twister) makes it the same on every
    machine; the caller's RNG state is restored afterwards (torch.random.fork_rng)."""
    if isinstance(seed, bool):
        raise TypeError("seed: expected an int, got bool")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build()
    return fresh.flat_parameters()


def _layer_sizes(n_frequencies: int, hidden: Sequence[int]) -> list[int]:
    """Feature sizes from the encoded input through the hidden layers to the one logit."""
    return [3 + 6 * n_frequencies, *hidden, 1]


class TaskNetwork(nn.Module):
    """Occupancy MLP f_theta(x) = logit, on the positional encoding of x.

    Defaults (docs/design.md): L = 4 frequencies (27 inputs), 3 hidden layers of 128, ReLU, one logit:
    27*128+128 + 2*(128*128+128) + 128+1 = 36,737 parameters.

    Parameters are `layers.{i}.weight` (out, in) and `layers.{i}.bias` (out,) of `nn.Linear` layers, in order;
    the flat vector is their concatenation (weights row-major), see `param_layout()`.

    Args:
        n_frequencies: L of `positional_encoding`.
        hidden: sizes of the hidden layers (a sequence, possibly empty: then f is linear in gamma(x)).
        activation: one of "relu", "softplus", "silu", "tanh", "elu".
    """

    def __init__(self, n_frequencies: int = 4, hidden: Sequence[int] = (128, 128, 128), activation: str = "relu"):
        super().__init__()
        if not isinstance(n_frequencies, int) or n_frequencies < 0:
            raise ValueError(f"n_frequencies: expected an integer >= 0, got {n_frequencies!r}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden: expected positive layer sizes, got {hidden}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.n_frequencies = n_frequencies
        self.hidden = tuple(hidden)
        self.activation = activation
        self._act = _ACTIVATIONS[activation]
        sizes = _layer_sizes(n_frequencies, hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self._layout = ParamLayout.from_named_tensors(self.named_parameters())

    @staticmethod
    def parameter_numels(n_frequencies: int, hidden: Sequence[int]) -> list[int]:
        """Element count of each parameter tensor, in `param_layout()` order, without building the network (so a
        config's size can be checked before anything is allocated)."""
        sizes = _layer_sizes(n_frequencies, hidden)
        return [n for a, b in zip(sizes[:-1], sizes[1:]) for n in (a * b, b)]

    @property
    def in_features(self) -> int:
        return 3 + 6 * self.n_frequencies

    def config(self) -> dict:
        """The constructor arguments, as plain data (TaskNetwork(**net.config()) rebuilds the architecture)."""
        return {"n_frequencies": self.n_frequencies, "hidden": list(self.hidden), "activation": self.activation}

    def param_layout(self) -> ParamLayout:
        """Names, shapes and offsets of this network's parameters in the flat vector (definition order)."""
        return self._layout

    def flat_parameters(self) -> torch.Tensor:
        """(P,) copy of this module's own weights (detached), in `param_layout()` order."""
        return self._layout.flatten({k: v.detach() for k, v in self.named_parameters()}).clone()

    def theta_0(self, seed: int) -> torch.Tensor:
        """(P,) float32 CPU: the fixed, seeded initialisation every trajectory starts from.

        A fresh network of this architecture is built on the CPU under `torch.manual_seed(seed)` with PyTorch's
        default `nn.Linear` init (weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and flattened. The CPU
        generator (Mersenne Twister) makes the vector the same on every machine; the caller's RNG state is
        restored afterwards (torch.random.fork_rng).
        """
        return seeded_parameters(lambda: TaskNetwork(**self.config()), seed)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Occupancy logits.

        x: Tensor of shape (B, N, 3) query points.
        params: None (this module's own weights), a Tensor of shape (P,) (one weight vector shared by all
            samples) or (B, P) (per-sample weights, e.g. the hypernetwork's output; differentiable).
        Returns logits of shape (B, N).
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a torch tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(f"x: expected shape (B, N, 3), got {tuple(x.shape)}")
        h = positional_encoding(x, self.n_frequencies)
        n_layers = len(self.layers)
        if params is None:
            for i, layer in enumerate(self.layers):
                h = layer(h)
                if i < n_layers - 1:
                    h = self._act(h)
            return h.squeeze(-1)

        if not isinstance(params, torch.Tensor):
            raise TypeError(f"params: expected a torch tensor, got {type(params).__name__}")
        P = self._layout.total
        if params.ndim == 1:
            if params.shape[0] != P:
                raise ValueError(f"params: expected shape (P,) = ({P},) or (B, P), got {tuple(params.shape)}")
        elif params.ndim == 2:
            if params.shape != (x.shape[0], P):
                raise ValueError(f"params: expected shape (B, P) = ({x.shape[0]}, {P}) (B from x), "
                                 f"got {tuple(params.shape)}")
        else:
            raise ValueError(f"params: expected shape (P,) or (B, P) with P = {P}, got {tuple(params.shape)}")
        if params.dtype != x.dtype or params.device != x.device:
            raise TypeError(f"params: expected dtype {x.dtype} on {x.device} (those of x), "
                            f"got {params.dtype} on {params.device}")
        w = self._layout.unflatten(params)
        for i in range(n_layers):
            weight, bias = w[f"layers.{i}.weight"], w[f"layers.{i}.bias"]
            if params.ndim == 1:
                h = F.linear(h, weight, bias)
            else:
                # (B, N, in) @ (B, in, out) + (B, 1, out): one batched product for all samples
                h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if i < n_layers - 1:
                h = self._act(h)
        return h.squeeze(-1)

    def extra_repr(self) -> str:
        return f"n_frequencies={self.n_frequencies}, hidden={list(self.hidden)}, activation={self.activation!r}, " \
               f"P={self._layout.total}"
