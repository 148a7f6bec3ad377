"""The per-shape occupancy network as plain data, and a numpy-only evaluator for it.

`Reconstructor.predict_weights(points)` returns an `OccupancyNetwork`: the task network's flat weights theta (P,),
their layout (name, shape, offset of each tensor), the activation, and the normalisation between the input's
world frame and the network's unit box. A pipeline can then query occupancy anywhere, in world units, without
torch or hnf3d's model code:

    net = OccupancyNetwork.load("shape.occnet.npz")
    inside = net.occupancy(points_world) > 0.5          # (N,) probabilities

This module imports numpy only (it can be copied into another project as is). The file format is a plain .npz
(no pickled objects): arrays `weights` (P,) float32, `loc` (3,) float64, `scale` () float64 and `meta` (a JSON
string: layout, activation, format version).

The task network (hnf3d.models.TaskNetwork): x -> [x, sin(2^k pi x), cos(2^k pi x) for k < L] -> Linear ->
activation -> ... -> Linear -> one logit; layer i's weight (out, in) and bias (out,) are consecutive entries.
The local one (hnf3d.models.TriplaneTaskNetwork) has a leading 'planes' entry (3, C, R, R) and its MLP reads
[sum of the planes' bilinear features at x, gamma(x)].
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_array

__all__ = ["OCCNET_FORMAT", "OccupancyNetwork", "task_network_logits"]

# hnf3d.models.triplane's constants, repeated because this module imports numpy only (tests/test_export.py checks
# that they agree): the half side of the box the planes span, and the axes (u, v) of the planes xy, xz, yz
BOX = 0.55
PLANE_AXES = ((0, 1), (0, 2), (1, 2))

OCCNET_FORMAT = "hnf3d-occnet"
OCCNET_FORMAT_VERSION = 1


def _softplus(z):
    return np.logaddexp(0.0, z).astype(z.dtype, copy=False)


def _silu(z):
    return z / (1.0 + np.exp(-z))


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "softplus": _softplus,
    "silu": _silu,
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
}


def _split(flat: np.ndarray, layout: dict) -> tuple:
    """(planes (3, C, R, R) or None, [(weight (out, in), bias (out,)), ...]): views of `flat` following the layout
    dict's entries (an optional leading 'planes' entry, then weight / bias pairs)."""
    entries = layout.get("entries") if isinstance(layout, dict) else None
    if not entries:
        raise ValueError("layout: expected a dict with 'entries' (ParamLayout.to_dict() of a task network)")
    total = sum(int(e["numel"]) for e in entries)
    if flat.shape != (total,):
        raise ValueError(f"flat: expected shape ({total},) (the layout's total), got {flat.shape}")
    planes = None
    if entries[0]["name"] == "planes":
        pe, entries = entries[0], entries[1:]
        shape = tuple(pe["shape"])
        if len(shape) != 4 or shape[0] != 3 or shape[2] != shape[3]:
            raise ValueError(f"layout: 'planes' {shape} is not the (3, C, R, R) of a triplane task network")
        planes = flat[int(pe["offset"]): int(pe["offset"]) + int(pe["numel"])].reshape(shape)
    if not entries or len(entries) % 2:
        raise ValueError("layout: expected an even number of 'entries' after the optional 'planes' (weight, bias "
                         "pairs of Linear layers: ParamLayout.to_dict())")
    layers = []
    for we, be in zip(entries[0::2], entries[1::2]):
        ws, bs = tuple(we["shape"]), tuple(be["shape"])
        if len(ws) != 2 or bs != (ws[0],):
            raise ValueError(f"layout: {we['name']!r} {ws} / {be['name']!r} {bs} is not a Linear layer's "
                             f"(out, in) weight and (out,) bias")
        w0, b0 = int(we["offset"]), int(be["offset"])
        layers.append((flat[w0: w0 + int(we["numel"])].reshape(ws), flat[b0: b0 + int(be["numel"])]))
    return planes, layers


def _plane_features(planes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum over the 3 planes (xy, xz, yz) of the bilinear features at x's projections: (N, C). Nodes span
    [-BOX, BOX] (align_corners), points beyond read the edge (border), as in hnf3d.models.triplane."""
    R = planes.shape[-1]
    p = np.clip((x / BOX + 1.0) * 0.5 * (R - 1), 0, R - 1)  # (N, 3) in node units
    i0 = np.minimum(np.floor(p).astype(np.int64), R - 2)
    f = (p - i0).astype(x.dtype)
    out = np.zeros((x.shape[0], planes.shape[1]), dtype=x.dtype)
    for k, (a, b) in enumerate(PLANE_AXES):
        g = planes[k]  # (C, R, R): [c, v, u] with u along axis a, v along axis b
        u, v, fu, fv = i0[:, a], i0[:, b], f[:, a:a + 1], f[:, b:b + 1]
        out += ((1 - fu) * (1 - fv) * g[:, v, u].T + fu * (1 - fv) * g[:, v, u + 1].T
                + (1 - fu) * fv * g[:, v + 1, u].T + fu * fv * g[:, v + 1, u + 1].T)
    return out


def task_network_logits(x, flat, layout: dict, activation: str = "relu", chunk: int = 65536) -> np.ndarray:
    """The task network's logits at x (N, 3), with weights flat (P,) laid out as `layout` (ParamLayout.to_dict()).
    The number of frequencies is read from the first layer's input width (3 + 6 L). Returns (N,), float32 when x
    and flat are float32, else float64."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
    x = np.asarray(x)
    flat = np.asarray(flat)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"x: expected shape (N, 3), got {x.shape}")
    dtype = np.float32 if (x.dtype == np.float32 and flat.dtype == np.float32) else np.float64
    x, flat = x.astype(dtype, copy=False), flat.astype(dtype, copy=False)
    planes, layers = _split(flat, layout)
    n_features = 0 if planes is None else planes.shape[1]
    n_in = layers[0][0].shape[1] - n_features
    if n_in < 3 or (n_in - 3) % 6:
        raise ValueError(f"layout: first layer input width {n_in} is not 3 + 6 L")
    L = (n_in - 3) // 6
    act = ACTIVATIONS[activation]
    freqs = (np.pi * 2.0 ** np.arange(L)).astype(dtype)
    out = np.empty(x.shape[0], dtype=dtype)
    step = max(int(chunk), 1)
    for s in range(0, x.shape[0], step):
        xs = x[s: s + step]
        angles = (xs[:, None, :] * freqs[:, None]).reshape(len(xs), L, 3)  # per frequency: 3 sines, 3 cosines
        h = np.concatenate([xs, np.concatenate([np.sin(angles), np.cos(angles)], -1).reshape(len(xs), 6 * L)], -1)
        if planes is not None:
            h = np.concatenate([_plane_features(planes, xs), h], -1)
        for i, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if i < len(layers) - 1:
                h = act(h)
        out[s: s + step] = h[:, 0]
    return out


@dataclass
class OccupancyNetwork:
    """One shape's occupancy network, evaluable in the input's world units.

    weights: (P,) float32 theta. layout: ParamLayout.to_dict() of the task network. activation: its activation.
    loc (3,), scale: the normalisation, world = unit * scale + loc (hnf3d.data.normalization.Normalization).
    threshold: the occupancy probability at which the reconstruction put the surface.
    """

    weights: np.ndarray
    layout: dict
    activation: str = "relu"
    loc: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0
    threshold: float = 0.5

    def logits(self, points) -> np.ndarray:
        """Occupancy logits at world-frame points (N, 3): (N,) float64."""
        p = check_array("points", points, "(N, 3)", dtype=np.float64)
        unit = (p - np.asarray(self.loc, dtype=np.float64)) / float(self.scale)
        return task_network_logits(unit, np.asarray(self.weights), self.layout, self.activation)

    __call__ = logits

    def occupancy(self, points) -> np.ndarray:
        """Occupancy probabilities in [0, 1] at world-frame points (N, 3): (N,)."""
        return 1.0 / (1.0 + np.exp(-self.logits(points)))

    def save(self, path) -> None:
        """Write a .npz (no pickled objects) atomically: temp file in the same folder, then rename."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"{path}: an occupancy network is saved as .npz")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{path}: output folder {folder} does not exist")
        meta = {"format": OCCNET_FORMAT, "format_version": OCCNET_FORMAT_VERSION, "layout": self.layout,
                "activation": self.activation, "threshold": float(self.threshold)}
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, weights=np.asarray(self.weights, dtype=np.float32),
                         loc=np.asarray(self.loc, dtype=np.float64), scale=np.float64(self.scale),
                         meta=np.array(json.dumps(meta)))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path) -> "OccupancyNetwork":
        """Read a file written by `save` (never unpickles)."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                weights, loc, scale = data["weights"], data["loc"], float(data["scale"])
        except FileNotFoundError:
            raise
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path}: not an occupancy network file ({type(exc).__name__}: {exc})") from exc
        if meta.get("format") != OCCNET_FORMAT or meta.get("format_version") != OCCNET_FORMAT_VERSION:
            raise ValueError(f"{path}: not an {OCCNET_FORMAT} file of version {OCCNET_FORMAT_VERSION}")
        net = cls(weights, meta["layout"], meta["activation"], loc, scale, meta.get("threshold", 0.5))
        _split(np.asarray(weights), net.layout)  # checks the weights against the layout now, not at first use
        return net
