"""What keeps a bootstrapped objective stable over a long run (docs/gradient_matching.md, issue 13).

Gradient matching trains Phi(t + k) towards targets made from the field's own Phi(t): an error at small t feeds
the targets of every later t, and at dataset scale that loop diverged (the teacher's step norm grew by three
orders of magnitude, then Phi(T, c) gave empty meshes). The pieces here are the trainer's answers, each a config
switch so it can be measured on its own:

- `EmaTarget` (objective.target_ema): an exponential moving average of the field, from which gradient matching
  takes Phi(t): the target then moves slowly even when one update is bad.
- `warmup_factor` (training.warmup_steps): a linear learning-rate ramp, so the first updates, made while the
  targets are still those of theta_0, are small.
- gradient clipping (training.grad_clip) is torch's `clip_grad_norm_`, applied in the trainer.
- `DivergenceGuard` (training.guard): skips an update whose task loss at the sampled t or teacher step norm jumps
  above `guard` times its running average, counts the skips for the log, and stops the run with an error after
  `PATIENCE` skips in a row (a run that only skips is not training).
"""
from __future__ import annotations

import copy
import math
from typing import Mapping, Optional

import torch
from torch import nn

__all__ = ["DivergenceGuard", "EmaTarget", "PATIENCE", "check_stability_settings", "warmup_factor"]

# consecutive skipped updates after which the guard gives up
PATIENCE = 200
# weight of a new value in the guard's running averages: ~100 updates of memory, slow enough that a spike stands
# out, fast enough to follow the task loss as it falls
_AVERAGE_RATE = 0.01
GUARDED_STATS = ("task_loss", "step_norm")


def check_stability_settings(cfg) -> None:
    """ValueError naming the key when objective.target_ema, training.grad_clip or training.guard is out of range."""
    ema = cfg.objective.target_ema
    if not (math.isfinite(ema) and 0.0 <= ema < 1.0):
        raise ValueError(f"objective.target_ema: expected a decay in [0, 1) (0: off), got {ema!r}")
    if ema > 0 and (cfg.objective.kind != "gradient_matching" or cfg.objective.variant != "A"):
        raise ValueError("objective.target_ema: only gradient matching's variant 'A' takes its target from an EMA "
                         f"copy; got kind {cfg.objective.kind!r}, variant {cfg.objective.variant!r}")
    clip = cfg.training.grad_clip
    if not (math.isfinite(clip) and clip >= 0.0):
        raise ValueError(f"training.grad_clip: expected a norm >= 0 (0: off), got {clip!r}")
    guard = cfg.training.guard
    if not (math.isfinite(guard) and (guard == 0.0 or guard > 1.0)):
        raise ValueError(f"training.guard: expected 0 (off) or a factor > 1, got {guard!r}")


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Multiplier of the learning rate of update number `step` (0-based): (step + 1) / warmup_steps during the
    warm-up, then 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


class EmaTarget:
    """A frozen copy of `field` that follows it as p_ema <- decay p_ema + (1 - decay) p after every update.

    Not an nn.Module attribute of the model on purpose: checkpoints store it under their own prefix ('ema.'), the
    optimiser and DDP never see it, and the shipped model is the trained field itself.
    """

    PREFIX = "ema."

    def __init__(self, field: nn.Module, decay: float):
        self.decay = float(decay)
        self.field = copy.deepcopy(field)
        self.field.requires_grad_(False)
        self.field.eval()

    @torch.no_grad()
    def update(self, field: nn.Module) -> None:
        for p_ema, p in zip(self.field.parameters(), field.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - self.decay)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The copy's state as checkpoint tensors 'ema.<key>'."""
        return {f"{self.PREFIX}{k}": v for k, v in self.field.state_dict().items()}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor], source: str) -> None:
        """Restore from `state_tensors` output; ValueError naming `source` when the checkpoint has none that fit."""
        state = {k[len(self.PREFIX):]: v for k, v in tensors.items() if k.startswith(self.PREFIX)}
        if not state:
            raise ValueError(f"{source}: no EMA target in the checkpoint (objective.target_ema was 0 when it was "
                             "written); resume with the same objective settings")
        try:
            self.field.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{source}: the EMA target does not fit the field ({str(exc).splitlines()[0]})") from None


class DivergenceGuard:
    """Decides, from an update's stats, whether to apply it (module docstring). factor 0 turns it off (every
    finite update is applied)."""

    def __init__(self, factor: float):
        self.factor = float(factor)
        self.averages: dict[str, float] = {}
        self.skipped = 0  # in the whole run
        self.in_a_row = 0

    def trips(self, stats: Mapping[str, torch.Tensor], loss: float) -> Optional[str]:
        """Why this update must be skipped (a short reason), or None to apply it. A non-finite loss always trips
        when the guard is on."""
        if self.factor <= 0:
            return None
        if not math.isfinite(loss):
            return f"loss {loss}"
        for name in GUARDED_STATS:
            if name in stats and name in self.averages:
                value = float(stats[name])
                if not math.isfinite(value) or value > self.factor * self.averages[name]:
                    return f"{name} {value:.4g} > {self.factor:g} x its running average {self.averages[name]:.4g}"
        return None

    def record(self, stats: Mapping[str, torch.Tensor], skipped: bool) -> None:
        """Count a skipped update, or fold an applied update's stats into the running averages. RuntimeError after
        PATIENCE skips in a row."""
        if self.factor <= 0:
            return
        if skipped:
            self.skipped += 1
            self.in_a_row += 1
            if self.in_a_row >= PATIENCE:
                raise RuntimeError(f"training diverged: the divergence guard skipped {PATIENCE} updates in a row "
                                   f"(running averages {self.averages}); lower training.lr or raise training.guard")
            return
        self.in_a_row = 0
        for name in GUARDED_STATS:
            if name in stats:
                value = float(stats[name])
                old = self.averages.get(name)
                self.averages[name] = value if old is None else old + _AVERAGE_RATE * (value - old)

    def state(self) -> dict:
        """JSON data for the checkpoint (a resumed run guards exactly as the uninterrupted one)."""
        return {"averages": dict(self.averages), "skipped": self.skipped, "in_a_row": self.in_a_row}

    def load_state(self, state: Optional[Mapping]) -> None:
        if not state:
            return
        self.averages = {str(k): float(v) for k, v in dict(state.get("averages", {})).items()}
        self.skipped = int(state.get("skipped", 0))
        self.in_a_row = int(state.get("in_a_row", 0))
