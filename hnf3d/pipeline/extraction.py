"""Mesh extraction from an occupancy field: hierarchical grid refinement (ONet's MISE idea) + marching cubes.

`extract_mesh(occupancy_fn)` works with any callable that maps points to occupancy logits, so fields other than
hnf3d's task network can use it.

Hierarchical mode (the default), as in Occupancy Networks (docs/protocol.md, "Mesh extraction"):
1. evaluate a `resolution_0`^3 grid of cells ((r+1)^3 corner points) over the cube [-box/2, box/2]^3;
2. mark every cell whose corners straddle the threshold, plus its 26 neighbours (the dilation catches surface
   that enters a cell between two corners of the same sign, e.g. a thin part crossing a cell edge twice);
3. double the resolution: values of the new points are filled by trilinear interpolation of the coarse grid,
   then the new points of the marked cells are evaluated for real; repeat `upsampling_steps` times.
Interpolated values of unmarked cells all have the sign of their coarse corners, so they never create surface.
Where the surface is resolved at the coarse level, the result equals the dense grid's mesh.

Optional smoothing (`smooth` > 0, `smooth_logits`): the final grid of logits is convolved with a Gaussian of that
standard deviation before marching cubes. A refined task network fits noisy labels and its surface wrinkles at the
scale of a grid cell or two (its area on the real meshes of benchmarks/reconstruct.py is well above the truth's);
the convolution irons that out. It would also erase a part thinner than a few standard deviations (a chair's
slat), so a part the convolution empties (a connected region inside before and outside after, reaching more than
KEEP_THIN standard deviations from what stays inside) keeps its unsmoothed values.

The final grid is padded with one layer of a very negative logit, so marching cubes always closes the surface:
the mesh is watertight even when the shape touches the box. Vertices are mapped back to box coordinates and
faces oriented outwards (positive volume).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .._checks import check_choice, check_float, check_int

__all__ = ["ExtractionStats", "extract_mesh", "grid_points", "probability_to_logit", "smooth_logits"]

#: smoothing keeps the unsmoothed values of a part it empties that reaches farther than this many standard
#: deviations from the smoothed inside (a thin part, not a wrinkle; `smooth_logits`)
KEEP_THIN = 2.5

_PAD_LOGIT = -1.0e6  # "certainly outside": closes the surface at the grid's border


@dataclass
class ExtractionStats:
    """What an extraction did: stored in `mesh.metadata["extraction"]` as a dict."""

    mode: str
    resolution: int  # cells per side of the final grid
    evaluated_points: int  # points passed to occupancy_fn
    dense_points: int  # (resolution + 1)^3: what the dense mode evaluates
    seconds_field: float  # time inside occupancy_fn
    seconds_marching_cubes: float

    @property
    def evaluated_fraction(self) -> float:
        return self.evaluated_points / self.dense_points


def probability_to_logit(threshold: float) -> float:
    """The logit level of an occupancy-probability threshold in (0, 1): log(t / (1 - t))."""
    t = check_float("threshold", threshold, min_value=0.0, max_value=1.0, open_interval=True)
    return math.log(t) - math.log1p(-t)


def grid_points(resolution: int, box: float = 1.1) -> np.ndarray:
    """Corner points of a `resolution`^3 cell grid over [-box/2, box/2]^3, shape ((r+1)^3, 3), float32, C order
    (x slowest): point (i, j, k) is at -box/2 + (i, j, k) * box / r."""
    axis = _axis(resolution, box)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _axis(resolution: int, box: float) -> np.ndarray:
    return (np.arange(resolution + 1, dtype=np.float64) * (box / resolution) - box / 2).astype(np.float32)


class _Evaluator:
    """Calls occupancy_fn in batches, counts points and time; returns float32 logits."""

    def __init__(self, fn: Callable, batch_points: int):
        self.fn, self.batch, self.count, self.seconds = fn, int(batch_points), 0, 0.0

    def __call__(self, points: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = np.empty(len(points), dtype=np.float32)
        for s in range(0, len(points), self.batch):
            chunk = points[s: s + self.batch]
            v = self.fn(chunk)
            if hasattr(v, "detach"):  # a torch tensor, possibly on a GPU
                v = v.detach().float().cpu().numpy()
            v = np.asarray(v, dtype=np.float32).reshape(-1)
            if v.shape[0] != chunk.shape[0]:
                raise ValueError(f"occupancy_fn: returned {v.shape[0]} values for {chunk.shape[0]} points; "
                                 f"expected one logit per point")
            out[s: s + len(chunk)] = v
        self.count += len(points)
        self.seconds += time.perf_counter() - t0
        return out


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear 2x upsampling of an (n+1)^3 corner grid to (2n+1)^3 (separable: one axis at a time)."""
    n1 = values.shape[0]
    fine = np.empty((2 * n1 - 1,) * 3, dtype=values.dtype)
    fine[::2, ::2, ::2] = values
    fine[1::2, ::2, ::2] = 0.5 * (values[:-1] + values[1:])
    fine[:, 1::2, ::2] = 0.5 * (fine[:, 0:-1:2, ::2] + fine[:, 2::2, ::2])
    fine[:, :, 1::2] = 0.5 * (fine[:, :, 0:-1:2] + fine[:, :, 2::2])
    return fine


def _straddling_cells(values: np.ndarray, level: float) -> np.ndarray:
    """(n, n, n) bool: cells whose 8 corners are not all on the same side of `level` (inside: value >= level)."""
    inside = values >= level
    n = values.shape[0] - 1
    any_in = np.zeros((n, n, n), dtype=bool)
    all_in = np.ones((n, n, n), dtype=bool)
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                corner = inside[a: a + n, b: b + n, c: c + n]
                any_in |= corner
                all_in &= corner
    return any_in & ~all_in


def _dilate(cells: np.ndarray) -> np.ndarray:
    """Add the 26 neighbours of every marked cell (a 3x3x3 binary dilation without scipy.ndimage overhead)."""
    out = cells.copy()
    out[1:] |= cells[:-1]
    out[:-1] |= cells[1:]
    tmp = out.copy()
    out[:, 1:] |= tmp[:, :-1]
    out[:, :-1] |= tmp[:, 1:]
    tmp = out.copy()
    out[:, :, 1:] |= tmp[:, :, :-1]
    out[:, :, :-1] |= tmp[:, :, 1:]
    return out


def _cell_corners_mask(cells: np.ndarray) -> np.ndarray:
    """Fine-grid (2n+1)^3 mask of every point that lies in (or on) a marked coarse cell of an (n, n, n) grid."""
    n = cells.shape[0]
    fine_cells = np.repeat(np.repeat(np.repeat(cells, 2, 0), 2, 1), 2, 2)  # (2n)^3 fine cells of marked cells
    mask = np.zeros((2 * n + 1,) * 3, dtype=bool)
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                mask[a: a + 2 * n, b: b + 2 * n, c: c + 2 * n] |= fine_cells
    return mask


def smooth_logits(values: np.ndarray, sigma: float, level: float) -> np.ndarray:
    """The grid of logits `values` (X, Y, Z) convolved with a Gaussian of `sigma` grid cells, except in the parts
    that the convolution empties: a connected region above `level` before and not after, reaching farther than
    KEEP_THIN * sigma cells from the smoothed region above it (module docstring). float32, the shape of values."""
    from scipy.ndimage import distance_transform_edt, gaussian_filter, label

    values = np.asarray(values, dtype=np.float32)
    out = gaussian_filter(values, sigma, mode="nearest")
    emptied = (values > level) & (out <= level)
    if emptied.any():
        regions, _ = label(emptied)
        far = emptied & (distance_transform_edt(out <= level) > KEEP_THIN * sigma)
        thin = np.isin(regions, np.unique(regions[far]))
        out[thin] = values[thin]
    return out


def _check_args(resolution_0, upsampling_steps, threshold, box, batch_points, mode):
    check_choice("mode", mode, ("hierarchical", "dense"))
    resolution_0 = check_int("resolution_0", resolution_0, min_value=1)
    upsampling_steps = check_int("upsampling_steps", upsampling_steps, min_value=0)
    check_int("batch_points", batch_points, min_value=1)
    check_float("box", box, min_value=0.0, open_interval=True)
    if resolution_0 * 2 ** upsampling_steps > 1024:
        raise ValueError(f"resolution: resolution_0 * 2^upsampling_steps = {resolution_0 * 2 ** upsampling_steps} "
                         f"is over 1024 cells per side")
    return probability_to_logit(threshold)


def extract_mesh(occupancy_fn: Callable, *, resolution_0: int = 32, upsampling_steps: int = 2,
                 threshold: float = 0.5, box: float = 1.1, batch_points: int = 100_000,
                 mode: str = "hierarchical", smooth: float = 0.0):
    """Watertight mesh of the region {p : sigmoid(occupancy_fn(p)) >= threshold} inside [-box/2, box/2]^3.

    occupancy_fn: callable taking float32 points of shape (N, 3) (a numpy array, N <= batch_points) and returning
        N occupancy logits (numpy array or torch tensor, any shape with N elements).
    resolution_0: cells per side of the first grid; the final grid has resolution_0 * 2^upsampling_steps cells.
    threshold: occupancy probability in (0, 1) at which the surface lies (ONet evaluates at 0.2, trains at 0.5).
    box: side of the cube, centred at the origin (ONet: 1.1, the unit box plus 5% padding per side).
    mode: 'hierarchical' (evaluate near the surface only) or 'dense' (every point of the final grid).
    smooth >= 0: the standard deviation, in box coordinates, of the Gaussian the final grid of logits is
    convolved with before marching cubes (`smooth_logits`; 0: none).
    Returns a `trimesh.Trimesh` (float64 vertices in box coordinates, faces oriented outwards; empty when nothing
    is inside) with `mesh.metadata["extraction"]` = `ExtractionStats` as a dict.
    """
    import trimesh
    from skimage.measure import marching_cubes

    level = _check_args(resolution_0, upsampling_steps, threshold, box, batch_points, mode)
    smooth = check_float("smooth", smooth, min_value=0.0)
    evaluate = _Evaluator(occupancy_fn, batch_points)
    res = int(resolution_0) * 2 ** int(upsampling_steps)

    if mode == "dense":
        values = evaluate(grid_points(res, box)).reshape((res + 1,) * 3)
    else:
        r = int(resolution_0)
        values = evaluate(grid_points(r, box)).reshape((r + 1,) * 3)
        known = np.ones_like(values, dtype=bool)
        for _ in range(int(upsampling_steps)):
            cells = _dilate(_straddling_cells(values, level))
            values = _upsample(values)
            was_known = np.zeros(values.shape, dtype=bool)
            was_known[::2, ::2, ::2] = known
            todo = _cell_corners_mask(cells) & ~was_known
            r *= 2
            idx = np.nonzero(todo)
            if len(idx[0]):
                axis = _axis(r, box)  # the same coordinates as grid_points: identical to the dense mode's
                values[idx] = evaluate(np.stack([axis[i] for i in idx], -1))
            known = was_known | todo

    t0 = time.perf_counter()
    if smooth:
        values = smooth_logits(values, smooth / (box / res), level)
    padded = np.pad(values, 1, mode="constant", constant_values=_PAD_LOGIT)
    if values.max() < level:  # nothing inside: marching cubes has no surface to find
        verts, faces = np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    else:
        verts, faces, _, _ = marching_cubes(padded, level=level)
        # skimage orients faces towards increasing values (inwards for occupancy): flip to outward normals
        faces = faces[:, ::-1]
        verts = (verts.astype(np.float64) - 1.0) * (box / res) - box / 2
    seconds_mc = time.perf_counter() - t0

    stats = ExtractionStats(mode=mode, resolution=res, evaluated_points=evaluate.count,
                            dense_points=(res + 1) ** 3, seconds_field=evaluate.seconds,
                            seconds_marching_cubes=seconds_mc)
    mesh = trimesh.Trimesh(verts, np.ascontiguousarray(faces, dtype=np.int64), process=False)
    mesh.metadata["extraction"] = asdict(stats)
    return mesh
