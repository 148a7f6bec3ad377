"""The training loop: encoder + hypernetwork field trained with an objective (docs/design.md sections 1, 2, 6).

The model comes from hnf3d.models.build (`build_model(cfg)`, shared with inference); `ObjectiveModel` adds the
objective's loss to it. `build_datasets(cfg)` -> (train, val) and `Trainer(cfg, out_dir, resume=False).train(max_steps=None)`.

Reproducibility and exact resume:

- Data order is a pure function of (seed, epoch): epoch e visits the training set in the order
  ``torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + e))``; batch k of the epoch is
  positions [k * B, (k + 1) * B) of that order (B = cfg.training.batch_size, the *global* batch; incomplete last
  batches are dropped). The dataset's own item randomness is set with ``dataset.set_epoch(e)``. A checkpoint stores
  (epoch, batch index in the epoch), so resuming replays the order to the saved position.
- t is drawn for the whole global batch from one seeded torch.Generator (its state is in the checkpoint), so a
  run split over ranks draws the same t as a single process.
- Checkpoints (``last.safetensors`` every checkpoint_every steps and at the end; ``best.safetensors`` at the best
  validation IoU) are written atomically by `save_checkpoint` with the model, Adam, every RNG, the resolved config,
  the task-network layout, theta_0 and the step. ``training.keep_steps`` adds model-only snapshots
  ``step_NNNNNN.safetensors`` at chosen steps (the compute study evaluates the field at several budgets).

DDP: under torchrun (env WORLD_SIZE > 1) the process group is initialised (gloo on CPU, NCCL on CUDA), the model
is wrapped in DistributedDataParallel and rank r takes the slice [r * B / W, (r + 1) * B / W) of every global
batch; rank 0 writes checkpoints and logs. With ``objective.normalize_loss: false`` (or the direct / weights
objectives) W processes give the same updates as one process with the same global batch; with normalize_loss the
per-rank normaliser is the mean over that rank's slice, which differs slightly from the global one.

Test hook: env HNF3D_TEST_KILL_AT_STEP=N makes the process SIGKILL itself right after finishing step N (after the
step's checkpoint, if any) -- used by the resume test to simulate a crash between checkpoints.
"""
from __future__ import annotations

import csv
import io
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import Config, config_to_dict, save_config
from ..models.build import Model, build_model, build_task_network, load_trained_model
from ..io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, state_mismatch
from .checkpoint import pack_training_state, unpack_training_state
from .objectives import objective_loss, sample_t
from .stability import DivergenceGuard, EmaTarget, check_stability_settings, warmup_factor

__all__ = ["ObjectiveModel", "Trainer", "build_datasets", "resolve_device", "LOG_COLUMNS"]

LOG_COLUMNS = ("step", "loss", "task_loss", "raw_loss", "step_norm", "t_mean", "k_mean", "grad_norm", "lr",
               "skipped", "probe_iou", "probe_task_loss", "val_iou", "seconds")
KILL_ENV = "HNF3D_TEST_KILL_AT_STEP"
_EPOCH_SEED_STRIDE = 1_000_003


# ---------------------------------------------------------------------------------------------------------------
# Model


class ObjectiveModel(nn.Module):
    """A Model and its training objective: ``forward`` returns the objective's (loss, stats), so that a
    DistributedDataParallel wrapper sees one forward per step. Holds no parameters of its own: the Model's state
    (what checkpoints store) is unchanged."""

    def __init__(self, model: Model, objective_cfg):
        super().__init__()
        self.model = model
        self.objective_cfg = objective_cfg

    def forward(self, inputs: torch.Tensor, x: Optional[torch.Tensor] = None, occ: Optional[torch.Tensor] = None,
                t: Optional[torch.Tensor] = None, theta_star: Optional[torch.Tensor] = None,
                target_field: Optional[nn.Module] = None):
        m = self.model
        c = m.encoder(inputs)
        return objective_loss(self.objective_cfg, m.field, m.task_net, c, x=x, occ=occ, theta_star=theta_star, t=t,
                              target_field=target_field)


def build_datasets(cfg: Config):
    """(train, val) datasets of cfg.data ('shapenet': ShapeNetDataset; 'mesh_folder': MeshFolderDataset)."""
    d = cfg.data
    seed = cfg.training.seed
    if d.dataset == "shapenet":
        from ..data.shapenet import DatasetUnion, ShapeNetDataset

        def make_one(root, categories, split, k):
            # part k draws with seed + k: two parts' item i must not share their randomness
            return ShapeNetDataset(root, split=split, categories=categories, input_type=d.input_type,
                                   n_input_points=d.n_input_points, input_noise=d.input_noise,
                                   n_query_points=d.n_query_points, img_size=d.img_size, seed=seed + k,
                                   near_surface_fraction=d.near_surface_fraction if split == d.train_split else 0.0,
                                   scan_fraction=d.scan_fraction if split == d.train_split else 0.0)

        def make(split):
            main = make_one(d.path, d.categories, split, 0)
            if not d.extra_paths:
                return main
            return DatasetUnion([main] + [make_one(p, None, split, k) for k, p in enumerate(d.extra_paths, 1)])
    else:
        if d.extra_paths:
            raise ValueError("data.extra_paths: only the 'shapenet' dataset joins several roots; got dataset "
                             "'mesh_folder'")
        if d.scan_fraction:
            raise ValueError("data.scan_fraction: simulated scans need the dense surface sample of the 'shapenet' "
                             "layout (pointcloud.npz); got dataset 'mesh_folder'")
        if d.input_type != "pointcloud":
            raise ValueError(f"data.input_type {d.input_type!r}: the mesh_folder dataset only gives point clouds; "
                             "build an ONet-layout dataset (tools/build_dataset.py) for image inputs")
        from ..data.mesh_folder import MeshFolderDataset

        def make(split):
            return MeshFolderDataset(d.path, split=split, categories=d.categories, n_input_points=d.n_input_points,
                                     input_noise=d.input_noise, n_query_points=d.n_query_points, seed=seed)
    return make(d.train_split), make(d.val_split)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------------------------
# Data order


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The visiting order of epoch `epoch`: a pure function of (n, seed, epoch)."""
    g = torch.Generator().manual_seed(int(seed) * _EPOCH_SEED_STRIDE + int(epoch))
    return torch.randperm(n, generator=g).tolist()


class _ShardedBatchSampler:
    """Batches of one epoch for one rank: global batch k = order[k B:(k+1) B], this rank's slice of it, starting
    at batch `start`."""

    def __init__(self, n: int, seed: int, global_batch: int, rank: int, world: int):
        self.n, self.seed, self.B, self.rank, self.world = n, seed, global_batch, rank, world
        self.local = global_batch // world
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def batches_per_epoch(self) -> int:
        return self.n // self.B

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start

    def __iter__(self) -> Iterator[list[int]]:
        order = epoch_order(self.n, self.seed, self.epoch)
        for k in range(self.start, self.batches_per_epoch()):
            lo = k * self.B + self.rank * self.local
            yield order[lo:lo + self.local]


# ---------------------------------------------------------------------------------------------------------------
# Logging


class _CsvLog:
    """CSV log; each row is written with one write() + flush + fsync (a crash never leaves half a line)."""

    def __init__(self, path: Path, resume_step: Optional[int]):
        self.path = path
        if resume_step is not None and path.exists():
            # drop rows logged after the checkpoint we resume from (they will be logged again)
            with open(path, newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.reader(fh)]
            keep = [rows[0]] if rows else []
            for r in rows[1:]:
                try:
                    if int(r[0]) <= resume_step:
                        keep.append(r)
                except (ValueError, IndexError):
                    pass
            from ..io.atomic import atomic_write

            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(keep)
            with atomic_write(path) as handle:
                handle.write(buf.getvalue().encode("utf-8"))
        if not path.exists() or path.stat().st_size == 0:
            self._write(LOG_COLUMNS)

    def _write(self, row) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, buf.getvalue().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def log(self, values: dict) -> None:
        row = []
        for key in LOG_COLUMNS:
            v = values.get(key)
            row.append("" if v is None else (f"{v:.8g}" if isinstance(v, float) else str(v)))
        self._write(row)


def _tensorboard(out_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
    except Exception:  # noqa: BLE001 - optional
        return None
    try:
        return SummaryWriter(str(out_dir / "tb"))
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------------------------------------------------------
# Trainer


class Trainer:
    """Train `cfg` into `out_dir` (default cfg.training.out_dir). resume=True continues from
    out_dir/last.safetensors exactly (module docstring). Raises CheckpointError for a bad checkpoint and
    FileNotFoundError when resuming without one."""

    def __init__(self, cfg: Config, out_dir: Optional[str | os.PathLike] = None, resume: bool = False,
                 progress: bool = True):
        import torch.distributed as dist

        self.cfg = cfg
        self.out_dir = Path(out_dir if out_dir is not None else cfg.training.out_dir)
        self.progress = progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        self.device = resolve_device(cfg.training.device, local_rank)
        self._owns_group = False
        if self.world > 1:
            if not dist.is_initialized():
                backend = "nccl" if self.device.type == "cuda" else "gloo"
                if self.device.type == "cuda":
                    torch.cuda.set_device(self.device)
                dist.init_process_group(backend=backend)
                self._owns_group = True
            self.world, self.rank = dist.get_world_size(), dist.get_rank()
        B = cfg.training.batch_size
        check_stability_settings(cfg)
        if B % self.world:
            raise ValueError(f"training.batch_size {B} is not divisible by the {self.world} processes")
        self.is_main = self.rank == 0

        self.train_set, self.val_set = build_datasets(cfg)
        if len(self.train_set) < B:
            raise ValueError(f"{cfg.data.path}: the training split has {len(self.train_set)} shapes, fewer than "
                             f"training.batch_size = {B}")
        self.theta_star = self._load_theta_star() if cfg.objective.kind == "weights" else None

        torch.manual_seed(cfg.training.seed)  # model init: same weights in every run and on every rank
        random.seed(cfg.training.seed)
        np.random.seed(cfg.training.seed % 2**32)
        self.model = build_model(cfg).to(self.device)
        if cfg.training.init_from and not resume:  # before the optimiser and the EMA target take the weights
            self._init_from(cfg.training.init_from)
        self.layout = self.model.task_net.param_layout()
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad],
                                          lr=cfg.training.lr)
        self.ema = EmaTarget(self.model.field, cfg.objective.target_ema) if cfg.objective.target_ema > 0 else None
        self.guard = DivergenceGuard(cfg.training.guard)
        self._probe_batch: Optional[dict] = None
        self.t_generator = torch.Generator().manual_seed(cfg.training.seed + 1)
        self.sampler = _ShardedBatchSampler(len(self.train_set), cfg.training.seed, B, self.rank, self.world)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_iou = -math.inf
        self.elapsed = 0.0  # training seconds before this process (kept across resumes for the log)
        self.last_path = self.out_dir / "last.safetensors"
        self.best_path = self.out_dir / "best.safetensors"
        self.resumed_from: Optional[int] = None
        if resume:
            self._resume()

        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net: nn.Module = DDP(ObjectiveModel(self.model, cfg.objective), device_ids=ids)
        else:
            self.net = ObjectiveModel(self.model, cfg.objective)

        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out_dir / "config.yaml")
            self.csv = _CsvLog(self.out_dir / "log.csv", self.step if resume else None)
            self.tb = _tensorboard(self.out_dir)

    # ----------------------------------------------------------------- setup helpers
    def _load_theta_star(self) -> dict[str, torch.Tensor]:
        """Pre-fitted weights written by tools/fit_shapes.py (checkpoint format): tensors 'theta_star' (S, P) and
        'theta_0' (P,), metadata 'fit_shapes' with 'models' = [{category, model}] in row order. Returns
        '<category>/<model>' -> (P,)."""
        path = self.cfg.objective.weights_path
        if not path:
            raise ValueError("objective.kind 'weights' needs objective.weights_path (the output of "
                             "tools/fit_shapes.py)")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: pre-fitted weights file not found (objective.weights_path)")
        tensors, metadata = load_checkpoint(path)
        fit = metadata.get("fit_shapes")
        if not isinstance(fit, dict) or not isinstance(fit.get("models"), list) or "theta_star" not in tensors:
            raise CheckpointError(path, "not a tools/fit_shapes.py output (needs tensor 'theta_star' and metadata "
                                        "'fit_shapes.models')")
        theta_star = tensors["theta_star"]
        if theta_star.ndim != 2 or theta_star.shape[0] != len(fit["models"]):
            raise CheckpointError(path, f"'theta_star' has shape {tuple(theta_star.shape)} for "
                                        f"{len(fit['models'])} models")
        task_net = build_task_network(self.cfg)
        theta_0 = task_net.theta_0(self.cfg.training.seed)
        if theta_star.shape[1] != theta_0.numel():
            raise ValueError(f"{path}: weights have {theta_star.shape[1]} parameters, the configured task network "
                             f"{theta_0.numel()}")
        if "theta_0" in tensors and not torch.allclose(tensors["theta_0"].float(), theta_0):
            raise ValueError(f"{path}: fitted from another theta_0 than this run's (training.seed "
                             f"{self.cfg.training.seed}); refit with --theta0-seed {self.cfg.training.seed}")
        return {f"{m['category']}/{m['model']}": theta_star[i] for i, m in enumerate(fit["models"])}

    def _theta_star_batch(self, batch: dict) -> torch.Tensor:
        rows = []
        for cat, model in zip(batch["category"], batch["model"]):
            key = f"{cat}/{model}"
            if key not in self.theta_star:
                raise KeyError(f"{self.cfg.objective.weights_path}: no pre-fitted weights for shape {key!r}")
            rows.append(self.theta_star[key])
        return torch.stack(rows).to(self.device, torch.float32)

    def _generators(self) -> dict:
        return {"t": self.t_generator}

    def _extra(self) -> dict:
        return {"config": config_to_dict(self.cfg), "layout": self.layout.to_dict(), "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "best_iou": self.best_iou if math.isfinite(
                    self.best_iou) else None, "world_size": self.world, "seconds": self._seconds(),
                "guard": self.guard.state()}

    def _seconds(self) -> float:
        start = getattr(self, "_start", None)
        return self.elapsed + (time.perf_counter() - start if start is not None else 0.0)

    def _resume(self) -> None:
        path = self.last_path
        if not path.exists():
            raise FileNotFoundError(f"{path}: no checkpoint to resume from")
        tensors, metadata = load_checkpoint(path)
        step, extra = unpack_training_state(tensors, metadata, self.model, self.optimizer,
                                            generators=self._generators(), source=str(path))
        for key in ("epoch", "batch_in_epoch"):
            if not isinstance(extra.get(key), int):
                raise CheckpointError(path, f"extra key {key!r} missing: not a trainer checkpoint")
        self.step, self.epoch, self.batch_in_epoch = step, extra["epoch"], extra["batch_in_epoch"]
        self.best_iou = extra["best_iou"] if extra.get("best_iou") is not None else -math.inf
        self.elapsed = float(extra.get("seconds") or 0.0)
        self.guard.load_state(extra.get("guard"))
        if self.ema is not None:
            try:
                self.ema.load_state_tensors(tensors, str(path))
            except ValueError as exc:
                raise CheckpointError(path, str(exc).split(": ", 1)[1]) from None
        self.resumed_from = step

    def _init_from(self, path: str) -> None:
        """Fine-tuning: the model weights of checkpoint `path`, whose config must describe the same network."""
        _, model, _ = load_trained_model(path)
        problem = state_mismatch(self.model.state_dict(), model.state_dict())
        if problem:
            raise CheckpointError(path, f"training.init_from: its model is not this config's: {problem}")
        self.model.load_state_dict(model.state_dict(), strict=True)

    # ----------------------------------------------------------------- checkpoints
    def _save(self, path: Path, with_optimizer: bool = True, val_iou: Optional[float] = None) -> None:
        tensors, metadata = pack_training_state(self.model, self.optimizer if with_optimizer else None, self.step,
                                                self._extra(), generators=self._generators())
        tensors["theta_0"] = self.model.field.theta_0
        if self.ema is not None and with_optimizer:  # the EMA target is training state, like Adam's moments
            tensors.update(self.ema.state_tensors())
        if val_iou is not None:
            metadata["extra"]["val_iou"] = val_iou
        save_checkpoint(path, tensors=tensors, metadata=metadata)

    def snapshot_path(self, step: int) -> Path:
        """Where the model-only snapshot of training.keep_steps' `step` goes: out_dir/step_NNNNNN.safetensors."""
        return self.out_dir / f"step_{step:06d}.safetensors"

    # ----------------------------------------------------------------- validation
    @torch.no_grad()
    def validate(self) -> float:
        """Mean over validation shapes of the IoU of {sigmoid(f(x; Phi(T, c))) > threshold} with the labels."""
        if len(self.val_set) == 0:
            return float("nan")
        from ..data.transforms import collate

        self.model.eval()
        loader = DataLoader(self.val_set, batch_size=max(1, self.cfg.training.batch_size), shuffle=False,
                            collate_fn=collate, num_workers=self.cfg.data.num_workers)
        ious = []
        for batch in loader:
            theta = self.model.predict_theta(batch["inputs"].to(self.device))
            x = batch["points"].to(self.device)
            occ = batch["points.occ"].to(self.device) > 0.5
            pred = torch.sigmoid(self.model.task_net(x, theta)) > self.cfg.training.threshold
            inter = (pred & occ).sum(1).double()
            union = (pred | occ).sum(1).double()
            ious.append(torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)))
        self.model.train()
        return float(torch.cat(ious).mean())

    # how many validation shapes the probe uses, spread over the split
    PROBE_SHAPES = 16

    @torch.no_grad()
    def probe(self) -> tuple[float, float]:
        """(IoU, task loss) of Phi(T, c) on a fixed batch of validation shapes (training.probe_every): the progress
        figure of gradient matching, cheap enough to log often. (nan, nan) without validation shapes."""
        if len(self.val_set) == 0:
            return float("nan"), float("nan")
        from ..data.transforms import collate
        from .objectives import task_loss_per_sample

        if self._probe_batch is None:
            n = len(self.val_set)
            k = min(self.PROBE_SHAPES, n)
            self._probe_batch = collate([self.val_set[i * n // k] for i in range(k)])
        batch = self._probe_batch
        self.model.eval()
        theta = self.model.predict_theta(batch["inputs"].to(self.device))
        x = batch["points"].to(self.device)
        occ = batch["points.occ"].to(self.device) > 0.5
        logits = self.model.task_net(x, theta)
        pred = torch.sigmoid(logits) > self.cfg.training.threshold
        inter = (pred & occ).sum(1).double()
        union = (pred | occ).sum(1).double()
        iou = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).mean()
        loss = task_loss_per_sample(self.model.task_net, theta, x, occ).mean()
        self.model.train()
        return float(iou), float(loss)

    # ----------------------------------------------------------------- loop
    def _batches(self) -> Iterator[dict]:
        from ..data.transforms import collate

        while True:
            if self.batch_in_epoch >= self.sampler.batches_per_epoch():
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self.train_set.set_epoch(self.epoch)
            self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
            loader = DataLoader(self.train_set, batch_sampler=self.sampler, collate_fn=collate,
                                num_workers=self.cfg.data.num_workers)
            for batch in loader:
                self.batch_in_epoch += 1
                yield batch

    def learning_rate(self, step: int) -> float:
        """The learning rate of update number `step` (0-based): training.lr, or its cosine decay to 0 at
        training.max_steps, times the linear warm-up of training.warmup_steps. A function of the step alone, so a
        resumed run continues the same schedule."""
        tc = self.cfg.training
        lr = tc.lr * warmup_factor(step, tc.warmup_steps)
        if tc.lr_schedule == "cosine" and tc.max_steps > 0:
            return lr * 0.5 * (1.0 + math.cos(math.pi * min(step, tc.max_steps) / tc.max_steps))
        return lr

    def train_step(self, batch: dict) -> tuple[float, dict]:
        """One update on `batch` (a collated training batch): draw t, evaluate the objective, ask the divergence
        guard, backward, clip, Adam step, EMA update. Returns (loss, stats), stats with 'grad_norm' and 'lr' added
        (and 'skipped': the guard's count). Does not count the step (train() does) nor log, validate or save."""
        B, local = self.cfg.training.batch_size, self.cfg.training.batch_size // self.world
        # t for the whole global batch from the shared generator; this rank uses its slice
        t_all = sample_t(B, self.model.field.T, self.cfg.objective.t_sampling, generator=self.t_generator)
        t = t_all[self.rank * local:(self.rank + 1) * local].to(self.device)
        theta_star = self._theta_star_batch(batch) if self.theta_star is not None else None
        x = batch.get("points")
        occ = batch.get("points.occ")
        loss, stats = self.net(batch["inputs"].to(self.device), None if x is None else x.to(self.device),
                               None if occ is None else occ.to(self.device), t, theta_star,
                               None if self.ema is None else self.ema.field)
        loss_value = float(loss.detach())
        # the guard off: no verdict, and no collective under DDP
        skip = self.guard.factor > 0 and self._agreed(self.guard.trips(stats, loss_value) is not None)
        self.guard.record(stats, skip)
        self.optimizer.zero_grad(set_to_none=True)
        lr = self.learning_rate(self.step)
        stats = dict(stats, lr=torch.tensor(lr), skipped=torch.tensor(float(self.guard.skipped)))
        if skip:  # no backward either: under DDP every rank skips together (_agreed)
            return loss_value, stats
        loss.backward()
        params = [p for p in self.model.parameters() if p.requires_grad]
        clip = self.cfg.training.grad_clip
        stats["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else math.inf).detach()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model.field)
        return loss_value, stats

    def _agreed(self, flag: bool) -> bool:
        """`flag` on any rank (one all-reduce under DDP; the flag itself on one process)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def train(self, max_steps: Optional[int] = None) -> dict:
        """Run until `max_steps` (default cfg.training.max_steps) updates; return {'step', 'loss', 'best_iou',
        'last', 'best'}."""
        tc = self.cfg.training
        total = tc.max_steps if max_steps is None else int(max_steps)
        kill_at = os.environ.get(KILL_ENV)
        kill_at = int(kill_at) if kill_at else None
        bar = None
        if self.is_main and self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=self.step, desc="train", dynamic_ncols=True, file=sys.stderr)
        self._start = time.perf_counter()
        loss_value = float("nan")
        self.model.train()
        batches = self._batches()
        try:
            while self.step < total:
                loss_value, stats = self.train_step(next(batches))
                self.step += 1

                val_iou = None
                probe = (None, None)
                if tc.probe_every > 0 and self.step % tc.probe_every == 0 and self.is_main:
                    probe = self.probe()
                if tc.validate_every > 0 and self.step % tc.validate_every == 0:
                    val_iou = self.validate()
                    if self.is_main and val_iou > self.best_iou:
                        self.best_iou = val_iou
                        self._save(self.best_path, with_optimizer=False, val_iou=val_iou)
                    elif not self.is_main and val_iou > self.best_iou:
                        self.best_iou = val_iou
                if self.is_main:
                    if (tc.checkpoint_every > 0 and self.step % tc.checkpoint_every == 0) or self.step == total:
                        self._save(self.last_path)
                    if self.step in tc.keep_steps:
                        self._save(self.snapshot_path(self.step), with_optimizer=False, val_iou=val_iou)
                    row = {k: float(v) for k, v in stats.items()}
                    row.update(step=self.step, loss=loss_value, val_iou=val_iou, probe_iou=probe[0],
                               probe_task_loss=probe[1], seconds=self._seconds())
                    self.csv.log(row)
                    if self.tb is not None:
                        for k, v in stats.items():
                            self.tb.add_scalar(f"train/{k}", float(v), self.step)
                        if val_iou is not None:
                            self.tb.add_scalar("val/iou", val_iou, self.step)
                        if probe[0] is not None:
                            self.tb.add_scalar("val/probe_iou", probe[0], self.step)
                            self.tb.add_scalar("val/probe_task_loss", probe[1], self.step)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{loss_value:.4g}")
                if kill_at is not None and self.step == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
        finally:
            if bar is not None:
                bar.close()
            if self.is_main and self.tb is not None:
                self.tb.flush()
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
        return {"step": self.step, "loss": loss_value,
                "best_iou": self.best_iou if math.isfinite(self.best_iou) else None,
                "last": str(self.last_path), "best": str(self.best_path)}

    def close(self) -> None:
        """Release the process group if this Trainer created it."""
        if self._owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_group = False
