"""Per-shape fitting of task networks from theta_0: the ground truth of the `weights` baseline (docs/design.md s. 1).

`fit_task_networks` fits one task network per shape, every trajectory starting at the shared theta_0, all S
shapes at once in one batched task network: the weights are a single (S, P) leaf tensor and the loss is the SUM
of the per-shape mean-BCE losses. Shape s's loss depends on row s only, so the gradient of the sum is the stack of
the per-shape gradients, and Adam (or SGD) on the (S, P) tensor is elementwise, i.e. exactly S independent
optimisers. Fitting in parallel therefore gives the same result as fitting each shape alone (up to float
rounding of the batched matrix products), provided each shape draws the same point subsamples: shape s draws
from its own generator seeded with ``seeds[s]`` (``seed + s`` when one int is given).

The compute spent is recorded (the `weights` baseline's cost counts it): wall-clock seconds, process CPU seconds
(time.process_time, all threads of the process), steps, and a FLOP estimate:

    flops = steps * S * batch_points * 3 * 2 * MACs_per_point

MACs_per_point = the sum of the task network's weight-matrix sizes (in * out per linear layer; 36,608 for the
default 27-128-128-128-1 MLP); 2 FLOPs per multiply-accumulate; backward ~ 2x forward (input and weight
gradients), so forward + backward ~ 3x forward. Biases, activations, the positional encoding, the loss and the
optimiser update are not counted (each O(P) or O(width) per point, a few percent).
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from typing import Optional, Union

import torch

from .objectives import check_queries, task_loss_per_sample

__all__ = ["OPTIMIZERS", "fit_task_networks", "macs_per_point"]

OPTIMIZERS = ("adam", "sgd")


def macs_per_point(task_net) -> int:
    """Multiply-accumulates of one forward pass of the task network at one point: sum of in*out of its weights."""
    return int(sum(e.numel for e in task_net.param_layout() if len(e.shape) == 2))


def _positive_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name}: expected a positive integer, got {v!r}")
    return int(v)


def fit_task_networks(task_net, theta_0: torch.Tensor, x: torch.Tensor, occ: torch.Tensor, *, steps: int = 1000,
                      lr: float = 1e-3, optimizer: str = "adam", batch_points: Optional[int] = 2048,
                      seed: Union[int, Sequence[int]] = 0) -> tuple[torch.Tensor, dict]:
    """Fit one task network per shape from theta_0; returns (theta_star (S, P) detached, compute dict).

    task_net: a `TaskNetwork` (called as ``task_net(x, theta)``). theta_0: (P,) shared start. x: (S, N, 3) query
    points per shape, occ: (S, N) occupancy labels (bool / int / float in [0, 1]).
    steps: optimiser steps K (>= 0). lr: learning rate. optimizer: 'adam' | 'sgd' (plain, no momentum).
    batch_points: points per shape per step, drawn without replacement from that shape's N points afresh each
        step; None or >= N uses all N points every step (deterministic, no sampling).
    seed: int (shape s uses seed + s) or a sequence of S ints, one generator per shape for the subsamples.
    compute dict: 'steps', 'shapes', 'batch_points', 'wall_seconds', 'cpu_seconds', 'flops',
        'macs_per_point', 'optimizer', 'lr', 'final_loss' (mean over shapes of the last step's loss).
    The result's dtype and device are theta_0's; x and occ are moved there.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {optimizer!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps: expected an integer >= 0, got {steps!r}")
    steps = int(steps)
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a positive finite number, got {lr!r}")
    if not isinstance(theta_0, torch.Tensor) or theta_0.ndim != 1 or not theta_0.is_floating_point():
        raise ValueError(f"theta_0: expected a floating tensor of shape (P,), got "
                         f"{tuple(theta_0.shape) if isinstance(theta_0, torch.Tensor) else type(theta_0).__name__}")
    P = task_net.param_layout().total
    if theta_0.shape[0] != P:
        raise ValueError(f"theta_0: expected {P} parameters (the task network's), got {theta_0.shape[0]}")
    check_queries(x, occ, batch="S")
    S, N = x.shape[0], x.shape[1]
    if N < 1:
        raise ValueError("x: expected at least one query point per shape")
    if batch_points is not None:
        batch_points = _positive_int("batch_points", batch_points)
    subsample = batch_points is not None and batch_points < N
    n_batch = batch_points if subsample else N
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seeds = [int(seed) + s for s in range(S)]
    else:
        seeds = [int(s) for s in seed]
        if len(seeds) != S:
            raise ValueError(f"seed: expected an int or {S} ints (one per shape), got {len(seeds)}")

    device, dtype = theta_0.device, theta_0.dtype
    x = x.to(device=device, dtype=dtype)
    occ = occ.to(device=device, dtype=dtype)
    theta = theta_0.detach().to(device).unsqueeze(0).repeat(S, 1).requires_grad_(True)
    opt = (torch.optim.Adam([theta], lr=lr) if optimizer == "adam" else torch.optim.SGD([theta], lr=lr))
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds] if subsample else []
    rows = torch.arange(S, device=device).unsqueeze(1)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    last = float("nan")
    for _ in range(steps):
        if subsample:
            idx = torch.stack([torch.randperm(N, generator=g)[:n_batch] for g in gens]).to(device)
            xb, ob = x[rows, idx], occ[rows, idx]
        else:
            xb, ob = x, occ
        opt.zero_grad(set_to_none=True)
        losses = task_loss_per_sample(task_net, theta, xb, ob)
        losses.sum().backward()
        opt.step()
        last = losses.detach()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    macs = macs_per_point(task_net)
    compute = {
        "steps": steps,
        "shapes": S,
        "batch_points": n_batch,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "flops": float(steps) * S * n_batch * 3 * 2 * macs,
        "flop_formula": "steps * shapes * batch_points * 3 (fwd+bwd) * 2 * macs_per_point",
        "macs_per_point": macs,
        "optimizer": optimizer,
        "lr": float(lr),
        "final_loss": float(last.mean()) if steps else float("nan"),
    }
    return theta.detach(), compute
