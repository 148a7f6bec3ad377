"""The reconstruction pipeline and its Python API: `Reconstructor`.

    from hnf3d import Reconstructor
    rec = Reconstructor.load("default")                   # the shipped point-cloud model (hnf3d/pretrained/)
    mesh = rec.reconstruct(points)                        # (N, 3) array in any units -> watertight trimesh.Trimesh
    mesh = rec.reconstruct(points, refine_steps=300)      # + test-time refinement (hnf3d.pipeline.refine)
    net = rec.predict_weights(points)                     # hnf3d.pipeline.export.OccupancyNetwork: query occupancy anywhere

Data flow (docs/design.md section 5): clean (drop NaN/Inf, duplicates, gross outliers; refuse collinear or
coplanar points; subsample huge scans; hnf3d.pipeline.inputs) -> normalise to the
unit box the model was trained in (ONet: bounding-box centre and largest side; or POCO-style, by point spacing)
-> encode c -> theta = Phi(T, c) -> optional refinement -> hierarchical extraction (hnf3d.pipeline.extraction) -> back to
the input's frame and units. Each call records the seconds of each stage in `mesh.metadata["hnf3d"]["timings"]`.

Every random choice (subsampling, refinement) is drawn from `seed`: the same input and seed give the same mesh.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .._checks import check_choice, check_device, check_float, check_int
from .denoise import MIN_NEIGHBOURS
from .inputs import MAX_POINTS, MIN_POINTS, clean_points, image_tensor, spacing_scale

__all__ = ["PRETRAINED", "Reconstructor", "pretrained_path"]

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PRETRAINED = {"default": "local_pointcloud", "default-pointcloud": "local_pointcloud",
              "default-image": "local_image", "local": "local_pointcloud", "local-pointcloud": "local_pointcloud",
              "local-image": "local_image", "global": "pointcloud", "global-pointcloud": "pointcloud",
              "global-image": "image"}
"""Names `Reconstructor.load` accepts for the models shipped in hnf3d/pretrained/ (each with a model card).
The defaults are the local models (docs/design.md section 8): on the real meshes of the benchmark the point-cloud
model's one pass is eight times the global model's F@1% and its refinement starts from, and is oriented by, its
prediction (benchmarks/results/real-local.json vs real-global.json); the image model predicts in ShapeNet's frame
from views like ONet's. The global models stay loadable as `global` and `global-image`."""

REFINE_POINTS = 20_000  # scan points used for normals and pseudo-labels (more average out noise; 5000 measured worse)
REFINE_LR = 1e-2  # Adam learning rate of the refinement
#: where refinement starts: the field's prediction Phi(T, c), or theta_0 (the ablation that shows what the prior buys)
REFINE_INITS = ("prediction", "theta0")
BOUNDS_MARGIN = 0.02  # refinement labels: outside beyond the points' bounding box plus this (unit-box units)
#: the model's numeric refinement settings (its `eval` config) and their limits: checked where a model is used
#: (Reconstructor) and where one is exported with new values (tools/export_model.py), from this one table
REFINE_LIMITS = {"refine_lr": {"min_value": 0.0, "max_value": 1.0, "open_interval": True},
                 "refine_prior": {"min_value": 0.0}, "refine_shell": {"min_value": 0.0},
                 "refine_confidence": {"min_value": 0.0, "max_value": 0.45}, "refine_surface": {"min_value": 0.0},
                 "refine_denoise": {"min_value": 0.0}, "refine_batch": {"min_value": 1},
                 "refine_denoise_k": {"min_value": MIN_NEIGHBOURS}, "refine_denoise_noise": {"min_value": 0.0},
                 "refine_snap": {"min_value": 0.0}, "refine_snap_k": {"min_value": MIN_NEIGHBOURS},
                 "refine_smooth": {"min_value": 0.0, "max_value": 0.1}, "refine_roughness": {"min_value": 0.0},
                 "refine_roughness_scale": {"min_value": 0.0}}
INTEGER_SETTINGS = ("refine_batch", "refine_denoise_k", "refine_snap_k")
#: settings of the refined mesh's extraction (hnf3d.pipeline.extraction's smoothing, hnf3d.pipeline.snap), not of
#: the optimisation
EXTRACTION_SETTINGS = ("refine_smooth", "refine_snap", "refine_snap_k")


def check_refine_sigmas(name: str, value) -> tuple[float, ...]:
    """The near-surface query spreads `value` (1 to 8 numbers > 0) as a tuple; ValueError naming `name` otherwise."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 8:
        raise ValueError(f"{name}: expected 1 to 8 standard deviations, got {value!r}")
    return tuple(check_float(name, v, min_value=0.0, open_interval=True) for v in value)


def check_refine_setting(name: str, key: str, value):
    """`value` of the refinement setting `key` (a key of REFINE_LIMITS) within its limits; ValueError naming
    `name` otherwise. INTEGER_SETTINGS are integers, the others real numbers."""
    if key in INTEGER_SETTINGS:
        return check_int(name, value, **REFINE_LIMITS[key])
    return check_float(name, value, **REFINE_LIMITS[key])


NORMAL_K = 30  # neighbours of the PCA normals of a scan without normals (as the Poisson baseline uses)


def pretrained_path(name: str) -> Path:
    """The checkpoint file of a shipped model name (see PRETRAINED)."""
    if name not in PRETRAINED:
        raise ValueError(f"model name {name!r}: expected a checkpoint path or one of {sorted(PRETRAINED)}")
    return PRETRAINED_DIR / f"{PRETRAINED[name]}.safetensors"



def _resolution_steps(resolution: int) -> tuple[int, int]:
    """(resolution_0, upsampling_steps) for a final grid of `resolution` = 32 * 2^k cells per side."""
    resolution = check_int("resolution", resolution)
    steps = int(round(math.log2(resolution / 32))) if resolution >= 32 else -1
    if steps < 0 or 32 * 2 ** steps != resolution or resolution > 1024:
        raise ValueError(f"resolution: expected 32 x 2^k cells per side (32, 64, 128, 256, 512, 1024), "
                         f"got {resolution}")
    return 32, steps


def _check_threshold(threshold: Optional[float]) -> Optional[float]:
    """None (the model's default) or an occupancy probability in (0, 1)."""
    if threshold is None:
        return None
    return check_float("threshold", threshold, min_value=0.0, max_value=1.0, open_interval=True)


def _point_options(*, refine_steps, seed, normalize, max_points, refine_lr, refine_init="prediction") -> dict:
    """The point-cloud options of `reconstruct` / `predict_weights`, checked (each error names its argument)."""
    return {"refine_steps": check_int("refine_steps", refine_steps, min_value=0),
            "seed": check_int("seed", seed, min_value=0, max_value=2**63 - 1),
            "normalize": check_choice("normalize", normalize, ("bbox", "spacing")),
            "max_points": check_int("max_points", max_points, min_value=MIN_POINTS),
            "refine_lr": None if refine_lr is None else check_float("refine_lr", refine_lr, min_value=0.0,
                                                                     max_value=1.0, open_interval=True),
            "refine_init": check_choice("refine_init", refine_init, REFINE_INITS)}


class _Timer:
    """Seconds per named stage: `with timer.stage("encode"): ...` adds to timings["encode"]."""

    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0


class Reconstructor:
    """A trained model (encoder + hypernetwork field + task network) ready to reconstruct shapes.

    Use `Reconstructor.load(path_or_name, device=...)`. `kind` is 'pointcloud' or 'image' (the encoder's input).
    """

    def __init__(self, model, config, *, device: torch.device, source: str = "<memory>", info: dict | None = None):
        self.model = model.to(device).eval()
        self.config = config
        self.device = device
        self.source = source
        self.info = dict(info or {})

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike = "default", *, device: str | torch.device = "auto") -> "Reconstructor":
        """Load a checkpoint written by tools/train.py or tools/export_model.py (safetensors; never unpickled),
        or a shipped model by name ('default' = 'default-pointcloud', 'default-image').

        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ... Raises FileNotFoundError for a missing
        file and hnf3d.training.CheckpointError (a ValueError) naming the file when it is not a usable model."""
        from ..models.build import load_trained_model

        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ValueError(f"path: expected a checkpoint path or one of {sorted(PRETRAINED)}, got {path!r}")
        device = check_device("device", device)
        name = os.fspath(path)
        file = pretrained_path(name) if name in PRETRAINED else Path(name)
        if file.is_dir():
            file = file / "best.safetensors"
        if not file.is_file():
            raise FileNotFoundError(f"{file}: checkpoint not found")
        cfg, model, meta = load_trained_model(file)
        extra = meta["extra"]
        info = {"step": meta.get("step"), "val_iou": extra.get("val_iou"), "name": cfg.name}
        # a shipped model is recorded by its place in the package, not this machine's path (result JSONs travel)
        source = f"hnf3d/pretrained/{file.name}" if name in PRETRAINED else str(file)
        return cls(model, cfg, device=device, source=source, info=info)

    @property
    def kind(self) -> str:
        return "image" if self.config.data.input_type == "image" else "pointcloud"

    @property
    def task_net(self):
        return self.model.task_net

    # ------------------------------------------------------------------ point clouds
    def _prepare(self, points, normals, *, seed: int, normalize: str, timer: _Timer, max_points: int):
        from ..data.normalization import Normalization, unit_box_normalization

        if self.kind != "pointcloud":
            raise ValueError(f"{self.source}: this model takes images (use reconstruct_image), not point clouds")
        with timer.stage("clean"):
            cleaned = clean_points(points, normals, seed=seed, max_points=max_points)
        with timer.stage("normalize"):
            norm = unit_box_normalization(cleaned.points)
            if normalize == "spacing":
                norm = Normalization(norm.loc, spacing_scale(cleaned.points, seed))
            unit = norm.apply(cleaned.points)
            # the extraction cube: ONet's 1.1 (unit box + 5% per side), larger when 'spacing' puts points outside
            box = max(1.1, 2.2 * float(np.abs(unit).max()))
        return cleaned, norm, unit, box

    def _encode(self, unit: np.ndarray, seed: int) -> torch.Tensor:
        """theta = Phi(T, c) (P,) from normalised points (N, 3); the encoder sees n_input_points of them."""
        n_in = self.config.data.n_input_points
        if len(unit) > n_in:
            unit = unit[np.random.default_rng(seed).choice(len(unit), n_in, replace=False)]
        x = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32)).to(self.device)[None]
        return self.model.predict_theta(x)[0]

    def _refine(self, theta, unit, unit_normals, *, steps: int, seed: int, box: float, timer: _Timer,
                lr: float = REFINE_LR, orient: str = "tree", prior: float = 0.0, shell: float = 0.0,
                confidence: float = 0.0, surface: float = 0.0, denoise: float = 0.0, denoise_k: int = 30,
                denoise_noise: float = 0.0, denoise_sides: bool = False, roughness: float = 0.0,
                roughness_scale: float = 0.0,
                batch: int = 8192, sigmas: tuple = (0.02, 0.005), messages: list | None = None):
        """theta after `steps` refinement steps on the scan `unit` (N, 3) (module hnf3d.pipeline.refine).
        orient: 'tree' (spanning-tree orientation of the normals) or 'field' (by the gradient of f(x; theta), the
        starting prediction). prior: the pull towards the starting theta. shell: the half-thickness labelled
        inside around the points, confidence: the winding-number margin below which labels are dropped
        (pseudo_labels). surface: the weight of the points-on-the-boundary term, roughness: that of the feature
        planes' roughness, roughness_scale: its robust scale (refine_theta). denoise > 0: the
        radius within which the points are smoothed first, by fits to at most denoise_k neighbours
        (hnf3d.pipeline.denoise; a message says so), only when the scan's estimated noise is at least
        denoise_noise; denoise_sides: a point may take a fit over only the neighbours on its side of the predicted
        surface (by the gradient of f(x; theta), the starting prediction). batch: labelled queries per step, and a
        quarter as many scan points for the surface term. sigmas: the spreads of the near-surface queries
        (pseudo_labels). Returns (theta, the losses, the scan points the labels came from (M, 3) float32, their
        normals (M, 3) float32): the points and normals are what hnf3d.pipeline.snap fits."""
        from .denoise import jet_project
        from .normals import estimate_normals, orient_normals, orient_normals_by_field
        from .refine import outward_directions, pseudo_labels, refine_theta

        rng = np.random.default_rng(seed + 1)
        pick = np.arange(len(unit)) if len(unit) <= REFINE_POINTS else rng.choice(len(unit), REFINE_POINTS,
                                                                                    replace=False)
        p = unit[pick].astype(np.float32)
        if denoise:
            with timer.stage("denoise"):
                outward = outward_directions(self.task_net, theta, p) if denoise_sides else None
                p, moved, noise = jet_project(p, denoise, k=denoise_k, min_noise=denoise_noise, outward=outward)
            if messages is not None and moved:
                messages.append(f"refinement smoothed {moved} of {len(p)} points (quadric fits within {denoise:g}; "
                                f"estimated noise {noise:.2g})")
            elif messages is not None and denoise_noise and np.isfinite(noise):  # NaN: too sparse to fit anyway
                messages.append(f"refinement left the scan as it is: its estimated noise {noise:.2g} is below "
                                f"{denoise_noise:g}")
        with timer.stage("normals"):
            # given normals keep their directions but are re-oriented: files often carry unoriented ones (e.g.
            # ShapeNet's pointcloud.npz, taken from the faces of triangle soups)
            n = estimate_normals(p, k=NORMAL_K) if unit_normals is None else unit_normals[pick].astype(np.float32)
            n = orient_normals(p, n)
            if orient == "field":  # the prediction says which side is inside, also across thin parts
                n = orient_normals_by_field(p, n, outward_directions(self.task_net, theta, p))
        with timer.stage("pseudo_labels"):
            # the object lies within its points' bounding box (plus the noise): a margin of 2% of the unit box
            lo, hi = unit.min(0) - BOUNDS_MARGIN, unit.max(0) + BOUNDS_MARGIN
            data = pseudo_labels(torch.from_numpy(p), torch.from_numpy(n), box=box, seed=seed, bounds=(lo, hi),
                                 shell=shell, confidence=confidence, sigmas=sigmas)
        with timer.stage("refine"):
            theta, losses = refine_theta(self.task_net, theta, data, steps=steps, seed=seed, lr=lr, prior=prior,
                                         surface=surface, points=torch.from_numpy(p), batch=batch,
                                         surface_batch=max(1, batch // 4), roughness=roughness,
                                         roughness_scale=roughness_scale)
        return theta, losses, p, n

    @staticmethod
    def _snap(mesh, points: np.ndarray, normals: np.ndarray, radius: float, k: int, *, timer: _Timer,
              messages: list):
        """The refined `mesh` (normalised frame) with its vertices moved onto the scan `points` (M, 3) (normals
        (M, 3)) by quadric fits of at most k of them within `radius` (hnf3d.pipeline.snap; radius 0: the mesh as
        extracted); a message counts the vertices moved."""
        from .snap import snap_to_points

        if not radius or not len(mesh.vertices):
            return mesh
        with timer.stage("snap"):
            vertices, moved = snap_to_points(mesh.vertices, mesh.vertex_normals, points, normals, radius, k)
            snapped = type(mesh)(vertices, mesh.faces, process=False)
            snapped.metadata.update(mesh.metadata)
        if moved:
            messages.append(f"moved {moved} of {len(vertices)} mesh vertices onto the scan (quadric fits within "
                            f"{radius:g})")
        return snapped

    def _theta_for_points(self, points, normals, *, refine_steps: int, seed: int, normalize: str, timer: _Timer,
                          max_points: int, refine_lr: Optional[float] = None, refine_init: str = "prediction"):
        cleaned, norm, unit, box = self._prepare(points, normals, seed=seed, normalize=normalize, timer=timer,
                                                 max_points=max_points)
        with timer.stage("encode"):
            theta = self._encode(unit, seed)
        losses, support = [], None
        if refine_steps:
            ev = self.config.eval
            orient = ev.refine_orient
            # every setting is checked before any work (lr: the caller's or the model's, below)
            terms = {key.removeprefix("refine_"): check_refine_setting(f"{self.source}: eval.{key}", key,
                                                                        getattr(ev, key))
                     for key in REFINE_LIMITS if key != "refine_lr"}
            after = {key.removeprefix("refine_"): terms.pop(key.removeprefix("refine_"))
                     for key in EXTRACTION_SETTINGS}  # for reconstruct's extraction and snap
            prior = terms.pop("prior")
            if terms["roughness"] and not hasattr(self.task_net, "plane_numel"):
                raise ValueError(f"{self.source}: eval.refine_roughness: the roughness term needs a triplane task "
                                 f"network; this model's is {type(self.task_net).__name__} (set it to 0)")
            terms["sigmas"] = check_refine_sigmas(f"{self.source}: eval.refine_sigmas", ev.refine_sigmas)
            terms["denoise_sides"] = bool(ev.refine_denoise_sides)
            if refine_init == "theta0":  # the ablation: refinement from the untrained initialisation, no prior
                theta = self.model.field.theta_0.to(theta)
                orient, prior, terms["denoise_sides"] = "tree", 0.0, False
            lr = ev.refine_lr if refine_lr is None else refine_lr  # the model's own by default
            theta, losses, p, n = self._refine(theta, unit, cleaned.normals, steps=refine_steps, seed=seed,
                                               box=box, timer=timer, lr=lr, orient=orient, prior=prior, **terms,
                                               messages=cleaned.messages)
            support = {"points": p, "normals": n, **after}
        return theta, cleaned, norm, box, losses, support

    def reconstruct(self, points, normals=None, *, resolution: int = 128, refine_steps: int = 0,
                    threshold: Optional[float] = None, seed: int = 0, normalize: str = "bbox",
                    max_points: int = MAX_POINTS, refine_lr: Optional[float] = None, refine_init: str = "prediction",
                    trim: Optional[float] = None):
        """Watertight mesh (trimesh.Trimesh; open only when trimmed) of the shape sampled by `points` (N, 3), in
        their frame and units.

        points: (N, 3) real numbers; cleaned first (hnf3d.pipeline.inputs.clean_points: NaN/Inf rows, duplicates
        and gross outliers dropped with a message; collinear or coplanar points refused).
        normals: optional (N, 3) normals (refinement uses their directions instead of estimated ones, and orients
        them consistently).
        resolution: cells per side of the final extraction grid, 32 * 2^k. refine_steps: test-time refinement
        steps (0: the field's prediction as is), Adam with learning rate refine_lr in (0, 1) (default: the model's
        eval.refine_lr, REFINE_LR unless its config says otherwise). threshold: occupancy
        probability of the surface in (0, 1); default: the model's eval threshold, or 0.5 after refinement (the
        pseudo-labels' decision boundary). seed: integer >= 0 for every random choice. normalize:
        'bbox' (ONet: bounding-box centre, largest side = 1) or 'spacing' (POCO: scale by point spacing, for
        scenes and partial scans much larger than one object). max_points: subsample larger clouds to this many
        (>= MIN_POINTS). refine_init: 'prediction' (refine from Phi(T, c), the default) or 'theta0' (from the
        untrained initialisation: the ablation of the prior). A refined mesh is extracted from logits smoothed by
        the model's eval.refine_smooth and its vertices snapped onto the scan within eval.refine_snap
        (hnf3d.pipeline.snap); neither applies to one pass or to predict_weights' network. trim: None (a
        watertight mesh, the default) or a distance > 0 in the normalised frame (with 'bbox' a fraction of the
        largest side: 0.02 = 2% of the object): the faces farther than that from every point are dropped
        (hnf3d.pipeline.trim), the mesh is open there and a message counts them. Every argument is checked
        before any work; errors are ValueErrors naming it. `mesh.metadata["hnf3d"]` holds the timings, the
        cleaning messages and the normalisation."""
        timer = _Timer()
        res0, steps = _resolution_steps(resolution)
        threshold = _check_threshold(threshold)
        opts = _point_options(refine_steps=refine_steps, seed=seed, normalize=normalize, max_points=max_points,
                              refine_lr=refine_lr, refine_init=refine_init)
        if trim is not None:
            trim = check_float("trim", trim, min_value=0.0, open_interval=True)
        theta, cleaned, norm, box, losses, support = self._theta_for_points(points, normals, timer=timer, **opts)
        thr = self._threshold(threshold, refined=opts["refine_steps"] > 0)
        # after refinement: the logits smoothed (eval.refine_smooth), the mesh snapped onto the scan (refine_snap)
        mesh = self._extract(theta, res0, steps, thr, box, timer, smooth=support["smooth"] if support else 0.0)
        if support is not None:
            mesh = self._snap(mesh, support["points"], support["normals"], support["snap"], support["snap_k"],
                              timer=timer, messages=cleaned.messages)
        if trim is not None:
            from .trim import trim_unsupported

            with timer.stage("trim"):
                total = len(mesh.faces)
                mesh, dropped = trim_unsupported(mesh, norm.apply(cleaned.points), trim)
            if dropped:
                cleaned.messages.append(f"trimmed {dropped} of {total} faces farther than {trim:g} from every point "
                                        f"(the mesh is open there)")
        with timer.stage("denormalize"):
            mesh.vertices = norm.invert(mesh.vertices)
        if not np.isfinite(mesh.vertices).all():  # cannot happen within MAX_COORDINATE; never return NaN vertices
            raise ValueError("points: the mesh's coordinates overflow float64 in the points' units; rescale them")
        mesh.metadata["hnf3d"] = {"timings": timer.timings, "messages": cleaned.messages, "threshold": thr,
                                  "loc": norm.loc.tolist(), "scale": float(norm.scale), "box": box,
                                  "refine_losses": losses, "n_points": len(cleaned.points)}
        return mesh

    def predict_weights(self, points=None, normals=None, *, image=None, refine_steps: int = 0, seed: int = 0,
                        normalize: str = "bbox", threshold: Optional[float] = None, max_points: int = MAX_POINTS,
                        refine_lr: Optional[float] = None, refine_init: str = "prediction"):
        """The per-shape occupancy network (hnf3d.pipeline.export.OccupancyNetwork: flat weights, layout,
        normalisation), evaluable in the input's world units with numpy alone. Give `points` (N, 3) (and
        optionally `normals`) or, for an image model, `image` (the network then lives in the unit box; no
        refinement). The other arguments are those of `reconstruct`, checked the same way."""
        from .export import OccupancyNetwork

        timer = _Timer()
        threshold = _check_threshold(threshold)
        opts = _point_options(refine_steps=refine_steps, seed=seed, normalize=normalize, max_points=max_points,
                              refine_lr=refine_lr, refine_init=refine_init)
        if image is not None:
            if points is not None or normals is not None:
                raise ValueError("image: give points (and normals) or image, not both")
            if opts["refine_steps"]:
                raise ValueError("refine_steps: refinement needs a point cloud; it does not apply to image")
            theta = self._theta_for_image(image, timer)
            loc, scale = np.zeros(3), 1.0
        else:
            if points is None:
                raise ValueError("points: give points (N, 3) or image")
            theta, _, norm, *_ = self._theta_for_points(points, normals, timer=timer, **opts)
            loc, scale = norm.loc, norm.scale
        return OccupancyNetwork(weights=theta.detach().float().cpu().numpy(),
                                layout=self.task_net.param_layout().to_dict(),
                                activation=self.task_net.activation, loc=np.asarray(loc, dtype=np.float64),
                                scale=float(scale), threshold=self._threshold(threshold, opts["refine_steps"] > 0))

    # ------------------------------------------------------------------ images
    def _theta_for_image(self, image, timer: _Timer) -> torch.Tensor:
        if self.kind != "image":
            raise ValueError(f"{self.source}: this model takes point clouds, not images; "
                             f"load 'default-image' for single-image reconstruction")
        with timer.stage("load_image"):
            x = image_tensor(image, self.config.data.img_size)
        with timer.stage("encode"):
            return self.model.predict_theta(x.to(self.device)[None])[0]

    def reconstruct_image(self, image, *, resolution: int = 128, threshold: Optional[float] = None):
        """Watertight mesh of the object in a single image, in the model's canonical unit box (ONet convention:
        the object's bounding box centred at the origin, largest side 1). image: a path, a PIL image, a pixel
        array or a (3, H, W) tensor (what is accepted: hnf3d.pipeline.inputs.image_tensor); an image in which no
        object stands out from the background is refused. resolution, threshold: as in `reconstruct`."""
        timer = _Timer()
        res0, steps = _resolution_steps(resolution)
        threshold = _check_threshold(threshold)
        theta = self._theta_for_image(image, timer)
        thr = self._threshold(threshold, refined=False)
        mesh = self._extract(theta, res0, steps, thr, 1.1, timer)
        mesh.metadata["hnf3d"] = {"timings": timer.timings, "threshold": thr}
        return mesh

    # ------------------------------------------------------------------ shared
    def _threshold(self, threshold: Optional[float], refined: bool) -> float:
        """The checked `threshold` (see _check_threshold), or the default for this model and refinement."""
        if threshold is None:
            return 0.5 if refined else float(self.config.eval.threshold)
        return float(threshold)

    @torch.no_grad()
    def _extract(self, theta: torch.Tensor, res0: int, steps: int, threshold: float, box: float, timer: _Timer,
                 smooth: float = 0.0):
        from .extraction import extract_mesh

        theta = theta.detach().float()

        def logits(p: np.ndarray) -> torch.Tensor:
            return self.task_net(torch.from_numpy(p).to(self.device)[None], theta)[0]

        with timer.stage("extract"):
            mesh = extract_mesh(logits, resolution_0=res0, upsampling_steps=steps, threshold=threshold, box=box,
                                smooth=smooth)
        return mesh
