"""Training objectives of the hypernetwork field (docs/design.md section 1).

The field is any callable ``field(t, c) -> theta`` with ``t`` a float tensor of shape (B,) (the convergence
state, an optimisation step count; float32 at least, whatever the dtype of c, so that t and t + 1 stay distinct
above 256 when c is bf16), ``c`` the condition of shape (B, C) and ``theta`` of shape (B, P), with an integer
attribute ``field.T`` (the last state), such that ``field(0, c) = theta_0``. A field that also has a tensor
``field.theta_0`` and a method ``field.delta(t, c)`` with ``field(t, c) = theta_0 + (t / T) delta(t, c)`` (the
HyperNetField) gets its gradient-matching difference formed in delta space (below).

Objectives:

- **gradient matching** (`gradient_matching_loss`): sample integer t in [0, T-1], predict th_t = Phi(t, c) and
  th_t1 = Phi(t + 1, c), take the per-sample gradient g of the task loss at th_t (a constant: no second-order
  terms), turn it into a teacher step s = step(g) and match

  - variant A: L = mean_b || th_t1 - stopgrad(th_t - eta s) ||^2 / P   (bootstrapped target; only th_t1 trained)
  - variant B: L = mean_b || (th_t1 - th_t) - stopgrad(-eta s) ||^2 / P (step matching; both trained)

  In both variants the difference is (th_t1 - th_t) + eta s. For a field with `delta` it is formed as
  ((t+1) Phi'(t+1, c) - t Phi'(t, c)) / T + eta s, never as the difference of two full weight vectors: theta_0
  dominates those, and subtracting them loses the digits of the small step (in float32, ~1e-7 |theta_0| per
  entry, comparable to the step of a converging trajectory). The two forms are equal in exact arithmetic.

  Optionally divided by stopgrad(eta^2 mean_b ||s_b||^2 / P): the raw values are tiny at large T (below Adam's
  epsilon), and after this normalisation ~1 is the minibatch-noise floor. Variant A is the one that works in the
  prototype (docs/design.md's lessons table); B is kept for comparison.

  Switches that make variant A hold at dataset scale (docs/gradient_matching.md measures each):

  - **multi-step targets** (k_steps K > 1): from th_t the teacher takes k_b real steps (K fixed, or k_b ~ U{1..K}
    with k_sampling 'uniform'; never past T), th_{t+k} = th_t - eta sum_j s_j, and Phi(t + k_b, c) is matched to
    that. The difference becomes (Phi(t + k) - th_t) + eta sum_j s_j and the normaliser uses ||sum_j s_j||. What
    is learnt at t = 0 reaches t = T in T / K links instead of T.
  - **a slowly moving target** (target_field): th_t comes from another field, in practice an exponential moving
    average of the trained one (the trainer keeps it), evaluated on the same (detached) condition c. Variant A
    only: the target is a constant there anyway.
  - **delta space** (delta_space, default on) as above; off forms th_{t+k} - th_t from full weight vectors (kept
    to measure what the delta form buys).
- **direct** (`direct_loss`): BCE of the task network with weights Phi(T, c), backpropagated end to end.
- **weights** (`weights_loss`): regression of pre-fitted per-shape weights, mean || Phi(T, c) - theta* ||^2 / P.

`objective_loss` dispatches on an `ObjectiveConfig`. Every loss function returns ``(loss, stats)``: a scalar
tensor to backpropagate and a dict of detached 0-d tensors for logging (call ``.item()`` when logging, so the
objective itself never synchronises with the device).
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Optional

import torch
from torch.nn import functional as F

from ..config import ObjectiveConfig
from ..models.field import t_dtype

__all__ = [
    "K_SAMPLING_LAWS",
    "STEP_RULES",
    "T_SAMPLING_LAWS",
    "direct_loss",
    "gradient_matching_loss",
    "objective_loss",
    "per_sample_gradients",
    "sample_t",
    "step",
    "task_loss_per_sample",
    "weights_loss",
]

STEP_RULES = ("sgd", "normalized", "adam")
T_SAMPLING_LAWS = ("uniform", "sqrt")
K_SAMPLING_LAWS = ("fixed", "uniform")
VARIANTS = ("A", "B")

# Added to the normaliser eta^2 mean ||s||^2 / P so an all-zero step does not divide by zero. Far below any real
# value (those go down to ~1e-12 at T = 10,000), still a normal float32.
_NORM_TINY = 1e-30

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _shape_of(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def check_queries(x: torch.Tensor, occ: torch.Tensor, batch: str = "B") -> None:
    """Query points x (batch, N, 3) and their occupancy labels occ (batch, N); ValueError naming the argument."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"x: expected a tensor of shape ({batch}, N, 3), got {_shape_of(x)}")
    if not isinstance(occ, torch.Tensor) or tuple(occ.shape) != tuple(x.shape[:2]):
        raise ValueError(f"occ: expected a tensor of shape ({batch}, N) = {tuple(x.shape[:2])}, got {_shape_of(occ)}")


def _check_batch(theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor) -> None:
    if not isinstance(theta, torch.Tensor) or theta.ndim != 2:
        raise ValueError(f"theta: expected a tensor of shape (B, P), got {_shape_of(theta)}")
    check_queries(x, occ)
    if theta.shape[0] != x.shape[0]:
        raise ValueError(f"theta: batch size {theta.shape[0]} differs from x's {x.shape[0]}")


def task_loss_per_sample(task_net, theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor) -> torch.Tensor:
    """Task loss of each sample: mean over its N points of BCEWithLogits(f(x; theta_b), occ).

    task_net: a `TaskNetwork` (called as ``task_net(x, theta)`` -> logits (B, N)). theta: (B, P) per-sample
    weights. x: (B, N, 3) query points. occ: (B, N) occupancy labels in [0, 1] (bool, int or float).
    Returns a tensor of shape (B,), differentiable w.r.t. theta.
    """
    _check_batch(theta, x, occ)
    return _task_losses(task_net, theta, x, occ)


def _task_losses(task_net, theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor) -> torch.Tensor:
    """`task_loss_per_sample` without the argument checks (inner calls, whose callers checked them): (B,)."""
    logits = task_net(x, theta)
    target = occ.to(dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=1)


def _losses_and_gradients(task_net, theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor):
    """(per-sample losses (B,), per-sample gradients (B, P)), both detached, at a detached leaf copy of theta.
    The arguments are not checked here: the public callers have."""
    leaf = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        losses = _task_losses(task_net, leaf, x, occ)
        # sample b's loss depends on leaf[b] only, so the gradient of the sum w.r.t. the (B, P) leaf is exactly
        # the stack of per-sample gradients; one backward pass, no second-order graph
        (grads,) = torch.autograd.grad(losses.sum(), leaf, create_graph=False)
    return losses.detach(), grads.detach()


def per_sample_gradients(task_net, theta: torch.Tensor, x: torch.Tensor, occ: torch.Tensor) -> torch.Tensor:
    """d/dtheta_b of sample b's task loss (`task_loss_per_sample`), for every b, as constants.

    Computed at a detached leaf copy of theta (so no gradient ever flows back into whatever produced theta) with
    one batched ``torch.autograd.grad`` call, ``create_graph=False``. Works under ``torch.no_grad()`` too.
    Returns a detached tensor of shape (B, P) (requires_grad False).
    """
    _check_batch(theta, x, occ)
    return _losses_and_gradients(task_net, theta, x, occ)[1]


def sample_t(B: int, T: int, law: str = "uniform", generator: Optional[torch.Generator] = None,
             device=None) -> torch.Tensor:
    """B integer convergence states in [0, T - 1], as a long tensor of shape (B,).

    law: 'uniform': U{0, ..., T-1}; 'sqrt': floor(T sqrt(u)), u ~ U[0, 1): density growing linearly in t
    (biased to large t, mean ~ 2T/3), which helps Phi(T, c), the only state used at inference.
    generator: optional torch.Generator (the draw happens on its device, then moves to `device`).
    device: where the result lives (default: the generator's device, else the CPU).
    """
    if isinstance(B, bool) or not isinstance(B, int) or B < 0:
        raise ValueError(f"B: expected an integer >= 0, got {B!r}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T: expected an integer >= 1, got {T!r}")
    gen_device = generator.device if generator is not None else (device if device is not None else "cpu")
    if law == "uniform":
        t = torch.randint(0, T, (B,), generator=generator, device=gen_device)
    elif law == "sqrt":
        u = torch.rand(B, generator=generator, device=gen_device, dtype=torch.float64)
        t = torch.floor(T * torch.sqrt(u)).long().clamp_(0, T - 1)
    else:
        raise ValueError(f"law: expected one of {T_SAMPLING_LAWS}, got {law!r}")
    return t.to(device) if device is not None else t


def step(g: torch.Tensor, rule: str = "sgd", eps: float = 1e-8) -> torch.Tensor:
    """The teacher's optimisation step computed from per-sample gradients g (B, P); theta_{t+1} = theta_t - eta s.

    rule:
    - 'sgd': s = g (plain gradient descent; its size shrinks as the task converges).
    - 'normalized': s = g / (||g_b|| + eps) * sqrt(P): each sample's step has Euclidean norm sqrt(P), i.e. a
      root-mean-square of 1 per parameter, the same scale as the 'adam' step, so eta means the same for both.
    - 'adam': s = g / (|g| + eps), elementwise. This is exactly the first step of Adam from zero moments (with
      bias correction m_hat = g, v_hat = g^2; eps is Adam's epsilon); the field sees no optimiser state, so
      every step of the trajectory is taken as such a first step. It is sign-like: entries are ~+-1, those
      with |g| << eps shrink towards 0.
    Returns a tensor of the shape of g.
    """
    if not isinstance(g, torch.Tensor) or g.ndim != 2:
        raise ValueError(f"g: expected a tensor of shape (B, P), got "
                         f"{tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__}")
    if rule == "sgd":
        return g
    if rule == "normalized":
        norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)
        return g / (norm + eps) * math.sqrt(g.shape[1])
    if rule == "adam":
        return g / (g.abs() + eps)
    raise ValueError(f"rule: expected one of {STEP_RULES}, got {rule!r}")


def _field_T(field) -> int:
    T = getattr(field, "T", None)
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"field.T: expected an integer >= 1, got {T!r}")
    return T


def _t_full(value: float, c: torch.Tensor) -> torch.Tensor:
    """(B,) copies of step `value`, in float32 at least (never c's bf16: it cannot tell t from t + 1 above 256)."""
    return torch.full((c.shape[0],), float(value), dtype=t_dtype(c.dtype), device=c.device)


def _delta_space(field) -> bool:
    """Whether `field` exposes Phi(t, c) = theta_0 + (t / T) delta(t, c) (module docstring)."""
    return callable(getattr(field, "delta", None)) and isinstance(getattr(field, "theta_0", None), torch.Tensor)


def _check_points_labels(x: torch.Tensor, occ: torch.Tensor, B: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != 3 or x.shape[0] != B:
        raise ValueError(f"x: expected a tensor of shape (B, N, 3) = ({B}, N, 3) (B from c), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not isinstance(occ, torch.Tensor) or tuple(occ.shape) != tuple(x.shape[:2]):
        raise ValueError(f"occ: expected a tensor of shape (B, N) = {tuple(x.shape[:2])}, got "
                         f"{tuple(occ.shape) if isinstance(occ, torch.Tensor) else type(occ).__name__}")


def gradient_matching_loss(field: Field, task_net, c: torch.Tensor, x: torch.Tensor, occ: torch.Tensor, *,
                           variant: str = "A", eta: float = 1.0, t_sampling: str = "uniform",
                           step_rule: str = "sgd", normalize_loss: bool = True,
                           generator: Optional[torch.Generator] = None,
                           t: Optional[torch.Tensor] = None,
                           field_kwargs: Optional[dict] = None,
                           k_steps: int = 1, k_sampling: str = "fixed",
                           target_field: Optional[Field] = None,
                           delta_space: bool = True) -> tuple[torch.Tensor, dict]:
    """Gradient-matching loss of the field on a batch (module docstring for the formulas).

    field: callable ``field(t (B,) float, c (B, C)) -> (B, P)`` with attribute ``T``. task_net: `TaskNetwork`.
    c: (B, C) condition (from the encoder; gradients flow into it). x: (B, N, 3) query points, occ: (B, N) labels.
    variant: 'A' (target th_t - eta s, detached: only th_t1 is trained; th_t is computed without a graph) or
        'B' (th_t1 - th_t matched to -eta s: both trained).
    eta: teacher step size. t_sampling: 'uniform' | 'sqrt' (`sample_t`). step_rule: 'sgd' | 'normalized' |
        'adam' (`step`). normalize_loss: divide by stopgrad(eta^2 mean_b ||S_b||^2 / P), S_b the sample's summed
        teacher steps, so ~1 is the noise floor.
    generator: for sampling t (and k). t: optional (B,) integer tensor (or an int) in [0, T-1] overriding the
        sampling.
    field_kwargs: extra keyword arguments of every field call (e.g. ``{"tokens": tokens}`` for a field that takes
        per-point condition tokens).
    k_steps: K >= 1 teacher steps per target; k_sampling: 'fixed' (k_b = K) or 'uniform' (k_b ~ U{1..K}); k_b is
        cut to T - t_b.
    target_field: variant A only: the field th_t is taken from (same call signature and T; e.g. an EMA copy);
        None: `field` itself.
    delta_space: form the difference in delta space when the fields allow it (module docstring).
    Returns (loss, stats): stats 't_mean', 'k_mean', 'step_norm' (mean_b ||S_b||), 'raw_loss' (before
    normalisation), 'task_loss' (mean task loss at th_t, the first teacher step's), 'loss'; all detached 0-d
    tensors.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    if isinstance(k_steps, bool) or not isinstance(k_steps, int) or k_steps < 1:
        raise ValueError(f"k_steps: expected an integer >= 1, got {k_steps!r}")
    if k_sampling not in K_SAMPLING_LAWS:
        raise ValueError(f"k_sampling: expected one of {K_SAMPLING_LAWS}, got {k_sampling!r}")
    if target_field is not None and variant != "A":
        raise ValueError("target_field: only variant 'A' takes its target from another field")
    if not isinstance(c, torch.Tensor) or c.ndim != 2:
        raise ValueError(f"c: expected a tensor of shape (B, C), got "
                         f"{tuple(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__}")
    B = c.shape[0]
    _check_points_labels(x, occ, B)
    eta = float(eta)
    T = _field_T(field)
    source = field if target_field is None else target_field
    if source is not field and _field_T(source) != T:
        raise ValueError(f"target_field.T: expected the field's T = {T}, got {_field_T(source)}")
    if t is None:
        t = sample_t(B, T, t_sampling, generator=generator, device=c.device)
    else:
        t = torch.as_tensor(t, device=c.device)
        if t.is_floating_point() or t.is_complex():
            raise ValueError(f"t: expected integer states, got dtype {t.dtype}")
        t = t.expand(B) if t.ndim == 0 else t
        if tuple(t.shape) != (B,):
            raise ValueError(f"t: expected shape ({B},), got {tuple(t.shape)}")
        if B and (int(t.min()) < 0 or int(t.max()) > T - 1):
            raise ValueError(f"t: expected values in [0, T-1] = [0, {T - 1}], got [{int(t.min())}, {int(t.max())}]")
    if k_sampling == "uniform" and k_steps > 1:
        gen_device = generator.device if generator is not None else c.device
        k = torch.randint(1, k_steps + 1, (B,), generator=generator, device=gen_device).to(c.device)
    else:
        k = torch.full((B,), k_steps, dtype=torch.long, device=c.device)
    k = torch.minimum(k, T - t)  # never past T
    t_float = t.to(t_dtype(c.dtype))  # float32 at least: a bf16 c must not round t + 1 onto t
    k_float = k.to(t_float.dtype)
    fkw = dict(field_kwargs or {})

    in_delta_space = delta_space and _delta_space(field) and _delta_space(source)
    # th_t only enters the detached target in variant A: no graph needed there
    with torch.no_grad() if variant == "A" else contextlib.nullcontext():
        c_t = c.detach() if source is not field else c
        if in_delta_space:
            d_t = source.delta(t_float, c_t, **fkw)
            th_t = (source.theta_0 + (t_float / T)[:, None] * d_t).to(source.theta_0.dtype)  # = source(t, c)
        else:
            th_t = source(t_float, c_t, **fkw)
    if in_delta_space:
        d_tk = field.delta(t_float + k_float, c, **fkw)
        _check_field_output(th_t, d_tk, B)
        # Phi(t+k) - Phi(t) = ((t+k) Phi'(t+k) - t Phi'(t)) / T: theta_0 never enters the difference
        step_diff = ((t_float + k_float)[:, None] * d_tk - t_float[:, None] * d_t) / T
    else:
        th_tk = field(t_float + k_float, c, **fkw)
        _check_field_output(th_t, th_tk, B)
        step_diff = th_tk - th_t
    P = th_t.shape[1]

    # the teacher: k_b real steps from th_t (samples that are done keep their weights)
    theta = th_t.detach()
    s_sum = torch.zeros_like(theta)
    task_losses = None
    for j in range(int(k.max()) if B else 0):
        losses_j, g = _losses_and_gradients(task_net, theta, x, occ)
        if task_losses is None:
            task_losses = losses_j
        s = step(g, step_rule) * (j < k).to(theta.dtype)[:, None]
        s_sum = s_sum + s
        theta = theta - eta * s
    if task_losses is None:
        task_losses = torch.zeros(B, dtype=th_t.dtype, device=th_t.device)

    # A: th_tk - stopgrad(th_t - eta S); B: (th_tk - th_t) - stopgrad(-eta S): both (th_tk - th_t) + eta S, with
    # th_t already graph-free in A
    diff = step_diff + (eta * s_sum).detach()
    raw = diff.pow(2).sum(dim=1).div(P).mean()

    if normalize_loss:
        norm = (eta ** 2 * s_sum.pow(2).sum(dim=1).div(P).mean()).detach() + _NORM_TINY
        loss = raw / norm
    else:
        loss = raw
    nan = torch.tensor(float("nan"))
    stats = {
        "t_mean": t.double().mean().detach() if B else nan,
        "k_mean": k.double().mean().detach() if B else nan,
        "step_norm": torch.linalg.vector_norm(s_sum, dim=1).mean().detach(),
        "raw_loss": raw.detach(),
        "task_loss": task_losses.mean(),
        "loss": loss.detach(),
    }
    return loss, stats


def _check_field_output(th_t: torch.Tensor, other: torch.Tensor, B: int) -> None:
    if th_t.ndim != 2 or th_t.shape != other.shape or th_t.shape[0] != B:
        raise ValueError(f"field: expected outputs of shape (B, P) with B = {B}, got {tuple(th_t.shape)} and "
                         f"{tuple(other.shape)}")


def direct_loss(field: Field, task_net, c: torch.Tensor, x: torch.Tensor, occ: torch.Tensor, *,
                field_kwargs: Optional[dict] = None) -> tuple[torch.Tensor, dict]:
    """The `direct` baseline: mean over samples of the task BCE at theta = Phi(T, c), backpropagated end to end.

    field_kwargs: extra keyword arguments of the field call. Returns (loss, {'loss', 'task_loss'}) (the two are
    the same number here).
    """
    theta = field(_t_full(_field_T(field), c), c, **(field_kwargs or {}))
    loss = task_loss_per_sample(task_net, theta, x, occ).mean()
    return loss, {"loss": loss.detach(), "task_loss": loss.detach()}


def weights_loss(field: Field, c: torch.Tensor, theta_star: torch.Tensor, *,
                 field_kwargs: Optional[dict] = None) -> tuple[torch.Tensor, dict]:
    """The `weights` baseline: mean_b || Phi(T, c) - theta*_b ||^2 / P, theta_star (B, P) pre-fitted weights.

    field_kwargs: extra keyword arguments of the field call. Returns (loss, {'loss'}).
    """
    theta = field(_t_full(_field_T(field), c), c, **(field_kwargs or {}))
    if not isinstance(theta_star, torch.Tensor) or theta_star.shape != theta.shape:
        raise ValueError(f"theta_star: expected shape {tuple(theta.shape)} (that of Phi(T, c)), got "
                         f"{tuple(theta_star.shape) if isinstance(theta_star, torch.Tensor) else theta_star!r}")
    P = theta.shape[1]
    loss = (theta - theta_star.to(theta)).pow(2).sum(dim=1).div(P).mean()
    return loss, {"loss": loss.detach()}


def objective_loss(cfg: ObjectiveConfig, field: Field, task_net, c: torch.Tensor,
                   x: Optional[torch.Tensor] = None, occ: Optional[torch.Tensor] = None,
                   theta_star: Optional[torch.Tensor] = None, *,
                   generator: Optional[torch.Generator] = None,
                   t: Optional[torch.Tensor] = None,
                   field_kwargs: Optional[dict] = None,
                   target_field: Optional[Field] = None) -> tuple[torch.Tensor, dict]:
    """The loss of `cfg.kind` on one batch.

    'gradient_matching' and 'direct' need x (B, N, 3) and occ (B, N); 'weights' needs theta_star (B, P) (the
    pre-fitted weights of the batch's shapes, loaded by the trainer from cfg.weights_path). generator / t: see
    `gradient_matching_loss` (ignored by the other kinds); field_kwargs: passed to every field call; target_field:
    gradient matching's th_t source (the trainer's EMA copy; None: the field itself).
    Returns (loss, stats).
    """
    kind = cfg.kind
    if kind in ("gradient_matching", "direct"):
        if x is None or occ is None:
            raise ValueError(f"objective {kind!r}: needs query points x and labels occ")
        if kind == "direct":
            return direct_loss(field, task_net, c, x, occ, field_kwargs=field_kwargs)
        return gradient_matching_loss(field, task_net, c, x, occ, variant=cfg.variant, eta=cfg.eta,
                                      t_sampling=cfg.t_sampling, step_rule=cfg.step_rule,
                                      normalize_loss=cfg.normalize_loss, generator=generator, t=t,
                                      field_kwargs=field_kwargs, k_steps=cfg.k_steps, k_sampling=cfg.k_sampling,
                                      target_field=target_field, delta_space=cfg.delta_space)
    if kind == "weights":
        if theta_star is None:
            raise ValueError("objective 'weights': needs theta_star, the pre-fitted weights of the batch")
        return weights_loss(field, c, theta_star, field_kwargs=field_kwargs)
    raise ValueError(f"objective kind: expected 'gradient_matching', 'direct' or 'weights', got {kind!r}")
