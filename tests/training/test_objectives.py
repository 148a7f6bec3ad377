"""hnf3d.training.objectives: gradient matching (A/B), direct and weights losses, checked against hand computations."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from hnf3d.config import ObjectiveConfig
from hnf3d.models.task_network import TaskNetwork
from hnf3d.training.objectives import (
    direct_loss,
    gradient_matching_loss,
    objective_loss,
    per_sample_gradients,
    sample_t,
    step,
    task_loss_per_sample,
    weights_loss,
)


class TinyField(nn.Module):
    """Phi(t, c) = theta_0 + (t / T) * MLP(c ++ t / T), default (non-zero) init, so Phi(0, c) = theta_0."""

    def __init__(self, theta_0: torch.Tensor, C: int, T: int, hidden: int = 16, seed: int = 0):
        super().__init__()
        self.T = T
        self.register_buffer("theta_0", theta_0.clone())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Linear(C + 1, hidden), nn.Tanh(), nn.Linear(hidden, theta_0.numel()))

    def forward(self, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s = (t / self.T).to(c.dtype)[:, None]
        return self.theta_0 + s * self.net(torch.cat([c, s], dim=1))


def make_problem(B=3, N=32, C=5, T=10, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = TaskNetwork(n_frequencies=1, hidden=[4]).to(dtype)
    th0 = net.theta_0(seed).to(dtype)
    field = TinyField(th0, C, T, seed=seed).to(dtype)
    c = torch.randn(B, C, generator=g, dtype=dtype)
    x = torch.rand(B, N, 3, generator=g, dtype=dtype) * 2 - 1
    occ = (x.norm(dim=-1) < 0.6).to(dtype)
    return net, field, c, x, occ


def loop_gradients(net, theta, x, occ):
    """Per-sample gradients, one sample at a time, each from that sample's loss alone."""
    out = []
    for b in range(theta.shape[0]):
        leaf = theta[b].detach().clone().requires_grad_(True)
        logits = net(x[b:b + 1], leaf)[0]
        loss = F.binary_cross_entropy_with_logits(logits, occ[b])
        (gb,) = torch.autograd.grad(loss, leaf)
        out.append(gb)
    return torch.stack(out)


def hand_step(g, rule, eps=1e-8):
    P = g.shape[1]
    rows = []
    for gb in g:
        if rule == "sgd":
            rows.append(gb)
        elif rule == "normalized":
            rows.append(gb / (math.sqrt(float((gb ** 2).sum())) + eps) * math.sqrt(P))
        else:
            rows.append(torch.stack([v / (abs(float(v)) + eps) for v in gb]))
    return torch.stack(rows)


# ------------------------------------------------------------------------------------------------------------
# task loss and per-sample gradients


def test_task_loss_per_sample_matches_loop():
    net, field, c, x, occ = make_problem()
    theta = field(torch.full((3,), 4.0, dtype=c.dtype), c)
    got = task_loss_per_sample(net, theta, x, occ)
    assert got.shape == (3,)
    for b in range(3):
        want = F.binary_cross_entropy_with_logits(net(x[b:b + 1], theta[b])[0], occ[b])
        torch.testing.assert_close(got[b], want, rtol=1e-12, atol=1e-12)
    # bool labels work the same
    torch.testing.assert_close(task_loss_per_sample(net, theta, x, occ.bool()), got)


def test_per_sample_gradients_match_loop():
    net, field, c, x, occ = make_problem(B=4)
    theta = field(torch.full((4,), 3.0, dtype=c.dtype), c)  # has a graph: must not be used
    g = per_sample_gradients(net, theta, x, occ)
    assert g.shape == theta.shape
    assert not g.requires_grad
    torch.testing.assert_close(g, loop_gradients(net, theta, x, occ), rtol=1e-10, atol=1e-12)
    assert g.abs().sum() > 0
    # also under no_grad (e.g. when called from a validation loop)
    with torch.no_grad():
        torch.testing.assert_close(per_sample_gradients(net, theta, x, occ), g)
    # nothing reached the field's parameters
    assert all(p.grad is None for p in field.parameters())


# ------------------------------------------------------------------------------------------------------------
# sample_t and step rules


@pytest.mark.parametrize("law", ["uniform", "sqrt"])
def test_sample_t_range_and_dtype(law):
    T = 7
    t = sample_t(5000, T, law, generator=torch.Generator().manual_seed(0))
    assert t.dtype == torch.long and t.shape == (5000,)
    assert int(t.min()) == 0 and int(t.max()) == T - 1
    assert set(t.tolist()) == set(range(T))


def test_sample_t_laws_means_and_determinism():
    T, n = 1000, 200_000
    u = sample_t(n, T, "uniform", generator=torch.Generator().manual_seed(1)).double().mean().item()
    s = sample_t(n, T, "sqrt", generator=torch.Generator().manual_seed(1)).double().mean().item()
    assert abs(u - (T - 1) / 2) < 0.01 * T
    assert abs(s - 2 * T / 3) < 0.01 * T  # E[floor(T sqrt(u))] = 2T/3 - ~0.5
    a = sample_t(10, T, "sqrt", generator=torch.Generator().manual_seed(3))
    b = sample_t(10, T, "sqrt", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="law"):
        sample_t(4, T, "log")
    with pytest.raises(ValueError, match="T"):
        sample_t(4, 0, "uniform")


@pytest.mark.parametrize("rule", ["sgd", "normalized", "adam"])
def test_step_rules(rule):
    g = torch.randn(3, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g[0, :5] = 0.0
    s = step(g, rule)
    torch.testing.assert_close(s, hand_step(g, rule), rtol=1e-12, atol=1e-12)
    if rule == "normalized":  # RMS 1 per parameter
        torch.testing.assert_close(s.norm(dim=1), torch.full((3,), math.sqrt(50), dtype=s.dtype))
    if rule == "adam":
        assert torch.equal(s[0, :5], torch.zeros(5, dtype=s.dtype))
        torch.testing.assert_close(s[:, 5:].abs(), torch.ones_like(s[:, 5:]), rtol=1e-4, atol=0)
    with pytest.raises(ValueError, match="rule"):
        step(g, "rmsprop")


# ------------------------------------------------------------------------------------------------------------
# gradient matching against a hand computation


@pytest.mark.parametrize("variant", ["A", "B"])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("rule", ["sgd", "normalized", "adam"])
def test_gradient_matching_equals_hand_computation(variant, normalize, rule):
    net, field, c, x, occ = make_problem(B=3, T=10)
    t = torch.tensor([0, 4, 9])
    eta = 0.7
    loss, stats = gradient_matching_loss(field, net, c, x, occ, variant=variant, eta=eta, step_rule=rule,
                                         normalize_loss=normalize, t=t)
    # by hand, one sample at a time
    P = field.theta_0.numel()
    th_t = torch.stack([field(t[b:b + 1].double(), c[b:b + 1])[0] for b in range(3)]).detach()
    th_t1 = torch.stack([field(t[b:b + 1].double() + 1, c[b:b + 1])[0] for b in range(3)]).detach()
    g = loop_gradients(net, th_t, x, occ)
    s = hand_step(g, rule)
    terms, norms = [], []
    for b in range(3):
        if variant == "A":
            d = th_t1[b] - (th_t[b] - eta * s[b])
        else:
            d = (th_t1[b] - th_t[b]) + eta * s[b]
        terms.append(float((d ** 2).sum()) / P)
        norms.append(eta ** 2 * float((s[b] ** 2).sum()) / P)
    raw = sum(terms) / 3
    want = raw / (sum(norms) / 3 + 1e-30) if normalize else raw
    assert abs(loss.item() - want) <= 1e-6 * max(1.0, abs(want))
    assert abs(stats["raw_loss"].item() - raw) <= 1e-6 * max(1.0, raw)
    assert stats["t_mean"].item() == pytest.approx(13 / 3)
    assert stats["step_norm"].item() == pytest.approx(float(s.norm(dim=1).mean()), rel=1e-9)
    want_task = float(task_loss_per_sample(net, th_t, x, occ).mean())
    assert stats["task_loss"].item() == pytest.approx(want_task, rel=1e-9)
    assert all(not v.requires_grad for v in stats.values())
    assert loss.requires_grad


def test_t_zero_state_is_theta_0_and_t_validation():
    net, field, c, x, occ = make_problem(T=5)
    torch.testing.assert_close(field(torch.zeros(3, dtype=c.dtype), c), field.theta_0.expand(3, -1))
    with pytest.raises(ValueError, match="t"):
        gradient_matching_loss(field, net, c, x, occ, t=torch.tensor([0, 1, 5]))  # T-1 = 4 is the last
    with pytest.raises(ValueError, match="variant"):
        gradient_matching_loss(field, net, c, x, occ, variant="C")
    loss, _ = gradient_matching_loss(field, net, c, x, occ, t=2)  # an int broadcasts
    assert torch.isfinite(loss)


class SplitField(nn.Module):
    """Phi(t, c) = theta_0 + (t/T) * (W_even c if t is even else W_odd c): the outputs at t and t+1 come from
    separate parameters, so the gradient reaching each tells which prediction is trained."""

    def __init__(self, theta_0, C, T):
        super().__init__()
        self.T = T
        self.register_buffer("theta_0", theta_0.clone())
        g = torch.Generator().manual_seed(5)
        P = theta_0.numel()
        self.even = nn.Parameter(0.1 * torch.randn(P, C, generator=g, dtype=theta_0.dtype))
        self.odd = nn.Parameter(0.1 * torch.randn(P, C, generator=g, dtype=theta_0.dtype))

    def forward(self, t, c):
        is_even = (t.round().long() % 2 == 0).to(c.dtype)[:, None]
        out = is_even * (c @ self.even.T) + (1 - is_even) * (c @ self.odd.T)
        return self.theta_0 + (t / self.T).to(c.dtype)[:, None] * out


@pytest.mark.parametrize("variant", ["A", "B"])
def test_which_prediction_is_trained(variant):
    net, _, c, x, occ = make_problem(B=3, T=10)
    field = SplitField(net.theta_0(0).double(), c.shape[1], 10)
    t = torch.tensor([2, 4, 6])  # th_t uses `even`, th_t1 uses `odd`
    loss, _ = gradient_matching_loss(field, net, c, x, occ, variant=variant, t=t)
    loss.backward()
    assert field.odd.grad is not None and field.odd.grad.abs().sum() > 0
    if variant == "A":
        assert field.even.grad is None or field.even.grad.abs().sum() == 0
    else:
        assert field.even.grad is not None and field.even.grad.abs().sum() > 0


def test_no_second_order_terms():
    """The loss's gradient is the same as with th_t replaced by a constant (A) / with g a constant (B), i.e. it
    never differentiates through the task gradient; backward works with create_graph=False."""
    net, field, c, x, occ = make_problem(B=3, T=10)
    t = torch.tensor([1, 5, 8])
    for variant in ("A", "B"):
        field.zero_grad()
        loss, _ = gradient_matching_loss(field, net, c, x, occ, variant=variant, t=t)
        grads = torch.autograd.grad(loss, list(field.parameters()), create_graph=False)
        # by hand with the step frozen as a constant
        th_t = field(t.double(), c)
        th_t1 = field(t.double() + 1, c)
        s = loop_gradients(net, th_t.detach(), x, occ)
        P = th_t.shape[1]
        if variant == "A":
            d = th_t1 - (th_t.detach() - s)
        else:
            d = (th_t1 - th_t) + s
        norm = float((s ** 2).sum(1).div(P).mean()) + 1e-30
        hand = (d ** 2).sum(1).div(P).mean() / norm
        want = torch.autograd.grad(hand, list(field.parameters()))
        for a, b in zip(grads, want):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------------------------
# baselines and dispatcher


def test_direct_loss_equals_hand_bce():
    net, field, c, x, occ = make_problem(B=3, T=10)
    loss, stats = direct_loss(field, net, c, x, occ)
    theta = field(torch.full((3,), 10.0, dtype=c.dtype), c)
    want = sum(F.binary_cross_entropy_with_logits(net(x[b:b + 1], theta[b])[0], occ[b]) for b in range(3)) / 3
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=1e-12)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in field.parameters())
    assert stats["loss"].item() == pytest.approx(loss.item())


def test_weights_loss_equals_hand_mse():
    net, field, c, x, occ = make_problem(B=3, T=10)
    theta_star = torch.randn(3, field.theta_0.numel(), generator=torch.Generator().manual_seed(2),
                             dtype=torch.float64)
    loss, stats = weights_loss(field, c, theta_star)
    theta = field(torch.full((3,), 10.0, dtype=c.dtype), c).detach()
    P = theta.shape[1]
    want = sum(float(((theta[b] - theta_star[b]) ** 2).sum()) / P for b in range(3)) / 3
    assert loss.item() == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="theta_star"):
        weights_loss(field, c, theta_star[:, :-1])


def test_objective_loss_dispatch():
    net, field, c, x, occ = make_problem(B=3, T=10)
    t = torch.tensor([0, 3, 9])
    cfg = ObjectiveConfig(kind="gradient_matching", variant="B", eta=0.5, step_rule="normalized",
                          normalize_loss=False)
    got, _ = objective_loss(cfg, field, net, c, x, occ, t=t)
    want, _ = gradient_matching_loss(field, net, c, x, occ, variant="B", eta=0.5, step_rule="normalized",
                                     normalize_loss=False, t=t)
    torch.testing.assert_close(got, want)
    got, _ = objective_loss(ObjectiveConfig(kind="direct"), field, net, c, x, occ)
    torch.testing.assert_close(got, direct_loss(field, net, c, x, occ)[0])
    theta_star = torch.zeros(3, field.theta_0.numel(), dtype=torch.float64)
    got, _ = objective_loss(ObjectiveConfig(kind="weights"), field, net, c, theta_star=theta_star)
    torch.testing.assert_close(got, weights_loss(field, c, theta_star)[0])
    with pytest.raises(ValueError, match="theta_star"):
        objective_loss(ObjectiveConfig(kind="weights"), field, net, c, x, occ)
    with pytest.raises(ValueError, match="occ"):
        objective_loss(ObjectiveConfig(kind="direct"), field, net, c, x)


# ------------------------------------------------------------------------------------------------------------
# a tiny end-to-end fit


def _iou(net, theta, x, occ):
    pred = net(x, theta) > 0
    o = occ > 0.5
    return ((pred & o).sum(1).float() / (pred | o).sum(1).clamp(min=1).float()).mean().item()


@pytest.mark.parametrize("variant", ["A"])
def test_gradient_matching_overfits_four_spheres(variant):
    torch.manual_seed(0)
    T, B = 20, 4
    net = TaskNetwork(n_frequencies=1, hidden=[8])
    th0 = net.theta_0(0)
    field = TinyField(th0, B, T, hidden=32)
    radii = torch.tensor([0.4, 0.55, 0.7, 0.85])
    c = torch.eye(B)
    g = torch.Generator().manual_seed(1)
    xv = torch.rand(B, 2048, 3, generator=g) * 2 - 1
    ov = (xv.norm(dim=-1) < radii[:, None]).float()
    opt = torch.optim.Adam(field.parameters(), lr=1e-3)
    for _ in range(300):
        x = torch.rand(B, 256, 3, generator=g) * 2 - 1
        occ = (x.norm(dim=-1) < radii[:, None]).float()
        loss, stats = gradient_matching_loss(field, net, c, x, occ, variant=variant, eta=1.0, t_sampling="sqrt",
                                             normalize_loss=True, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    with torch.no_grad():
        iou_0 = _iou(net, th0.expand(B, -1), xv, ov)
        iou_T = _iou(net, field(torch.full((B,), float(T)), c), xv, ov)
    assert iou_T > iou_0 + 0.1, (iou_0, iou_T)


class KwargField(TinyField):
    """TinyField with an extra keyword (like HyperNetField's condition tokens)."""

    def forward(self, t, c, scale=None):
        if scale is None:
            raise ValueError("scale is required")
        return self.theta_0 + scale * (super().forward(t, c) - self.theta_0)


def test_field_kwargs_reach_every_field_call():
    net, field, c, x, occ = make_problem(B=3, T=10)
    kfield = KwargField(field.theta_0, c.shape[1], 10).double()
    kfield.load_state_dict(field.state_dict())
    t = torch.tensor([1, 2, 3])
    kw = {"scale": 1.0}
    for variant in ("A", "B"):
        got, _ = gradient_matching_loss(kfield, net, c, x, occ, variant=variant, t=t, field_kwargs=kw)
        want, _ = gradient_matching_loss(field, net, c, x, occ, variant=variant, t=t)
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(direct_loss(kfield, net, c, x, occ, field_kwargs=kw)[0],
                               direct_loss(field, net, c, x, occ)[0])
    theta_star = torch.zeros(3, field.theta_0.numel(), dtype=torch.float64)
    for kind in ("gradient_matching", "direct", "weights"):
        got, _ = objective_loss(ObjectiveConfig(kind=kind), kfield, net, c, x, occ, theta_star, t=t,
                                field_kwargs={"scale": 2.0})
        assert torch.isfinite(got)
    with pytest.raises(ValueError, match="scale"):
        direct_loss(kfield, net, c, x, occ)


# ---------------------------------------------------------------------------------------------------------------
# Numerics: t in float32 at least; the matching difference in delta space


class _FullVectors(nn.Module):
    """Hides a HyperNetField's `delta`: the objective then forms Phi(t+1) - Phi(t) from two full weight vectors
    (the former computation), the reference the delta-space form is compared with."""

    def __init__(self, field):
        super().__init__()
        self.inner = field
        self.T = field.T

    def forward(self, t, c):
        return self.inner(t, c)


def _hypernet_problem(theta_shift=100.0, B=8):
    """A small HyperNetField with random (non-zero) weights around a large theta_0 (theta_0 dominates theta)."""
    from hnf3d.models import HyperNetField

    torch.manual_seed(0)
    net = TaskNetwork(n_frequencies=1, hidden=[8])
    field = HyperNetField(net.param_layout(), net.theta_0(0) + theta_shift, c_dim=4, T=1000, width=16, depth=1,
                          heads=2)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in field.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    c = torch.randn(B, 4, generator=g)
    x = torch.rand(B, 64, 3, generator=g) * 2 - 1
    occ = (x.norm(dim=-1) < 0.5).float()
    t = torch.tensor([0, 10, 100, 300, 500, 700, 900, 998])[:B]
    return net, field, c, x, occ, t


@pytest.mark.parametrize("variant", ["A", "B"])
def test_delta_space_difference_equals_full_vectors_in_float64_and_is_more_accurate_in_float32(variant):
    import copy

    net, field, c, x, occ, t = _hypernet_problem()
    net64, field64 = copy.deepcopy(net).double(), copy.deepcopy(field).double()
    kw = dict(variant=variant, t=t, step_rule="adam", eta=1e-4, normalize_loss=False)

    def raw(f, n, *args):
        return gradient_matching_loss(f, n, *args, **kw)[1]["raw_loss"].item()

    args64 = (c.double(), x.double(), occ.double())
    ref = raw(field64, net64, *args64)
    assert ref > 0
    # float64: the two forms are the same number
    assert abs(raw(_FullVectors(field64), net64, *args64) - ref) <= 1e-10 * ref
    # float32: subtracting two vectors of ~100 loses the small step's digits; the delta form keeps them
    err_new = abs(raw(field, net, c, x, occ) - ref)
    err_old = abs(raw(_FullVectors(field), net, c, x, occ) - ref)
    assert err_new < err_old / 10, (err_new, err_old, ref)
    # the loss still trains the same parameters: gradients of both forms agree in float64
    grads = []
    for f in (field64, _FullVectors(field64)):
        f.zero_grad()
        gradient_matching_loss(f, net64, *args64, **kw)[0].backward()
        grads.append(torch.cat([p.grad.flatten() for p in field64.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-14)


class _RecordingField(TinyField):
    def forward(self, t, c):
        self.seen = getattr(self, "seen", []) + [t]
        return super().forward(t, c.float())  # the field itself runs in float32 (as under autocast)


def test_t_is_float32_whatever_the_dtype_of_c():
    """A bf16 condition (autocast encoder) must not round t + 1 onto t: bf16 holds 300 but not 301."""
    net, _, c, x, occ = make_problem(B=2, T=1000, dtype=torch.float32)
    field = _RecordingField(net.theta_0(0), c.shape[1], 1000)
    gradient_matching_loss(field, net, c.to(torch.bfloat16), x, occ, t=torch.tensor([300, 300]))
    t_seen, t1_seen = field.seen
    assert t_seen.dtype == torch.float32 and t1_seen.dtype == torch.float32
    assert t_seen.tolist() == [300.0, 300.0] and t1_seen.tolist() == [301.0, 301.0]
    field.seen = []
    direct_loss(field, net, c.to(torch.bfloat16), x, occ)
    assert field.seen[0].dtype == torch.float32 and field.seen[0].tolist() == [1000.0, 1000.0]


# ---------------------------------------------------------------------------------------------------------------
# Stability switches (issue 13): multi-step targets, a separate target field, the delta-space switch


def _teacher_by_hand(net, theta, x, occ, k, eta, rule):
    """Sample b takes k[b] steps theta <- theta - eta step(g), one sample at a time (loop_gradients)."""
    rows = []
    for b in range(theta.shape[0]):
        th = theta[b:b + 1].detach().clone()
        for _ in range(int(k[b])):
            g = loop_gradients(net, th, x[b:b + 1], occ[b:b + 1])
            th = th - eta * hand_step(g, rule)
        rows.append(th)
    return torch.cat(rows)


@pytest.mark.parametrize("rule", ["sgd", "adam"])
def test_multi_step_target_is_k_real_teacher_steps(rule):
    net, field, c, x, occ = make_problem(B=3, T=10)
    t = torch.tensor([0, 4, 8])  # the last sample's k = 3 is cut to T - t = 2
    eta = 0.5
    loss, stats = gradient_matching_loss(field, net, c, x, occ, t=t, eta=eta, step_rule=rule, k_steps=3,
                                         normalize_loss=False)
    k = torch.tensor([3, 3, 2])
    target = _teacher_by_hand(net, field(t.double(), c).detach(), x, occ, k, eta, rule)
    expected = (field((t + k).double(), c).detach() - target).pow(2).sum(1).div(target.shape[1]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    assert stats["k_mean"].item() == pytest.approx(8 / 3)
    # normalised: divided by eta^2 mean ||sum of the steps||^2 / P
    norm_loss, _ = gradient_matching_loss(field, net, c, x, occ, t=t, eta=eta, step_rule=rule, k_steps=3)
    moved = (field(t.double(), c).detach() - target).pow(2).sum(1).div(target.shape[1]).mean()
    assert norm_loss.item() == pytest.approx(expected.item() / moved.item(), rel=1e-9)


def test_one_step_is_the_original_objective_and_uniform_k_is_seeded():
    net, field, c, x, occ = make_problem(B=4, T=20)
    t = torch.tensor([0, 3, 11, 19])
    one = gradient_matching_loss(field, net, c, x, occ, t=t)[0]
    assert one.item() == gradient_matching_loss(field, net, c, x, occ, t=t, k_steps=1, k_sampling="uniform")[0].item()

    def draw(seed):
        stats = gradient_matching_loss(field, net, c, x, occ, t=torch.zeros(4, dtype=torch.long), k_steps=5,
                                       k_sampling="uniform", generator=torch.Generator().manual_seed(seed))[1]
        return stats["k_mean"].item()

    assert draw(0) == draw(0)
    assert {draw(s) for s in range(8)} != {5.0}  # some draws take fewer than K steps
    assert all(1.0 <= draw(s) <= 5.0 for s in range(8))
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="k_steps"):
            gradient_matching_loss(field, net, c, x, occ, t=t, k_steps=bad)
    with pytest.raises(ValueError, match="k_sampling"):
        gradient_matching_loss(field, net, c, x, occ, t=t, k_sampling="sqrt")


def test_target_field_gives_th_t_and_gets_no_gradient():
    import copy

    net, field, c, x, occ = make_problem(B=3, T=10)
    target = copy.deepcopy(field)
    with torch.no_grad():
        for p in target.parameters():
            p.mul_(0.5)
    t = torch.tensor([1, 5, 9])
    loss, _ = gradient_matching_loss(field, net, c, x, occ, t=t, target_field=target, normalize_loss=False)
    th_t = target(t.double(), c).detach()
    g = loop_gradients(net, th_t, x, occ)
    expected = (field((t + 1).double(), c).detach() - (th_t - g)).pow(2).sum(1).div(th_t.shape[1]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    loss.backward()
    assert all(p.grad is None for p in target.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in field.parameters())
    with pytest.raises(ValueError, match="target_field"):
        gradient_matching_loss(field, net, c, x, occ, t=t, target_field=target, variant="B")
    short = copy.deepcopy(target)
    short.T = 5
    with pytest.raises(ValueError, match="target_field.T"):
        gradient_matching_loss(field, net, c, x, occ, t=t, target_field=short)


def test_delta_space_switch_forms_the_difference_from_full_vectors():
    """delta_space=False must give what a field without `delta` gives (the reference form), bit for bit."""
    net, field, c, x, occ, t = _hypernet_problem()
    kw = dict(t=t, step_rule="adam", eta=1e-4, normalize_loss=False, k_steps=2)
    off = gradient_matching_loss(field, net, c, x, occ, delta_space=False, **kw)[1]["raw_loss"].item()
    full = gradient_matching_loss(_FullVectors(field), net, c, x, occ, **kw)[1]["raw_loss"].item()
    on = gradient_matching_loss(field, net, c, x, occ, **kw)[1]["raw_loss"].item()
    assert off == full and on != off
