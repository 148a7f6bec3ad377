"""TaskNetwork: layout, batched per-sample weights (values and gradients), positional encoding, theta_0, numpy."""
import json
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from hnf3d.models import ParamLayout, TaskNetwork, positional_encoding
from hnf3d.pipeline.export import task_network_logits

DEFAULT_P = 27 * 128 + 128 + 2 * (128 * 128 + 128) + 128 + 1


def _net(seed=0, **kw):
    torch.manual_seed(seed)
    return TaskNetwork(**kw)


def _per_sample_reference(net, x, params):
    """Logits of sample b computed by the module itself loaded with sample b's weights (one at a time)."""
    layout = net.param_layout()
    return torch.stack([functional_call(net, layout.unflatten(params[b]), (x[b:b + 1],))[0]
                        for b in range(x.shape[0])])


# --- layout ---------------------------------------------------------------------------------------------------

def test_default_layout_is_contiguous_and_sized_from_the_module():
    net = TaskNetwork()
    layout = net.param_layout()
    assert DEFAULT_P == 36_737
    assert layout.total == DEFAULT_P == sum(p.numel() for p in net.parameters())
    assert layout.names == [name for name, _ in net.named_parameters()]
    offset = 0
    for entry, (name, p) in zip(layout, net.named_parameters()):
        assert entry.name == name and entry.shape == tuple(p.shape) and entry.numel == p.numel()
        assert entry.offset == offset
        offset += entry.numel
    assert offset == layout.total
    assert layout["layers.0.weight"].shape == (128, 27)
    assert layout["layers.3.bias"].shape == (1,)


def test_layout_of_a_non_default_config():
    net = TaskNetwork(n_frequencies=2, hidden=[64, 32], activation="softplus")
    layout = net.param_layout()
    assert [e.shape for e in layout] == [(64, 15), (64,), (32, 64), (32,), (1, 32), (1,)]
    assert layout.total == 15 * 64 + 64 + 64 * 32 + 32 + 32 + 1 == sum(p.numel() for p in net.parameters())
    assert layout != TaskNetwork().param_layout()
    assert layout == TaskNetwork(n_frequencies=2, hidden=[64, 32]).param_layout()


def test_flatten_unflatten_round_trip_with_batch_dims():
    net = _net()
    layout = net.param_layout()
    flat = net.flat_parameters()
    parts = layout.unflatten(flat)
    for name, p in net.named_parameters():
        assert torch.equal(parts[name], p.detach())
    assert torch.equal(layout.flatten(parts), flat)
    assert torch.equal(layout.flatten(net.state_dict()), flat)

    batch = torch.randn(5, 2, layout.total)
    parts = layout.unflatten(batch)
    assert parts["layers.1.weight"].shape == (5, 2, 128, 128)
    assert torch.equal(layout.flatten(parts), batch)


def test_layout_dict_round_trip_is_json_and_checked():
    layout = TaskNetwork(hidden=[16]).param_layout()
    data = json.loads(json.dumps(layout.to_dict()))
    assert ParamLayout.from_dict(data) == layout
    data["entries"][1]["offset"] += 1
    with pytest.raises(ValueError, match="offset"):
        ParamLayout.from_dict(data)
    with pytest.raises(ValueError, match="total"):
        ParamLayout.from_dict({**layout.to_dict(), "total": 3})


def test_layout_errors_name_the_problem():
    layout = TaskNetwork().param_layout()
    with pytest.raises(ValueError, match=r"flat: expected shape \(\.\.\., 36737\)"):
        layout.unflatten(torch.zeros(10))
    with pytest.raises(KeyError, match="missing"):
        layout.flatten({})


# --- forward with per-sample weights ----------------------------------------------------------------------------

def test_batched_params_equal_the_module_loaded_with_each_sample():
    net = _net(1)
    B, N = 4, 100
    x = torch.rand(B, N, 3) * 2 - 1
    params = torch.stack([net.theta_0(s) for s in range(B)]) + 0.01 * torch.randn(B, net.param_layout().total)
    out = net(x, params)
    assert out.shape == (B, N)
    torch.testing.assert_close(out, _per_sample_reference(net, x, params), rtol=1e-5, atol=1e-6)
    # a fresh module with load_state_dict agrees as well
    other = TaskNetwork()
    other.load_state_dict(net.param_layout().unflatten(params[2]))
    torch.testing.assert_close(out[2], other(x[2:3])[0], rtol=1e-5, atol=1e-6)


def test_own_weights_and_shared_params_agree():
    net = _net(2, n_frequencies=3, hidden=[32, 16], activation="silu")
    x = torch.rand(3, 50, 3)
    flat = net.flat_parameters()
    own = net(x)
    torch.testing.assert_close(net(x, flat), own, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(net(x, flat.expand(3, -1)), own, rtol=1e-5, atol=1e-6)


def test_gradients_wrt_batched_params_equal_per_sample_gradients():
    net = _net(3).double()
    B, N = 5, 64
    x = torch.rand(B, N, 3, dtype=torch.float64)
    occ = (x.norm(dim=-1) < 0.8).double()
    params = (torch.stack([net.theta_0(s) for s in range(B)]).double()).requires_grad_(True)
    loss = F.binary_cross_entropy_with_logits(net(x, params), occ, reduction="none").mean(dim=1).sum()
    (g,) = torch.autograd.grad(loss, params)
    for b in range(B):
        pb = params[b].detach().clone().requires_grad_(True)
        lb = F.binary_cross_entropy_with_logits(net(x[b:b + 1], pb), occ[b:b + 1])
        (gb,) = torch.autograd.grad(lb, pb)
        torch.testing.assert_close(g[b], gb, rtol=1e-10, atol=1e-12)
    assert g.abs().sum() > 0


class _CountCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def test_batched_forward_has_no_loop_over_samples():
    """The number of torch calls does not grow with B, and a large batch runs and matches the reference."""
    net = _net(4)
    P = net.param_layout().total
    counts = []
    for B in (2, 16):
        mode = _CountCalls()
        with mode:
            net(torch.rand(B, 8, 3), torch.randn(B, P) * 0.05)
        counts.append(mode.calls)
    assert counts[0] == counts[1]

    B, N = 64, 2048
    x = torch.rand(B, N, 3)
    params = net.flat_parameters() + 0.02 * torch.randn(B, P)
    with torch.no_grad():
        out = net(x, params)
    assert out.shape == (B, N) and torch.isfinite(out).all()
    pick = [0, 31, 63]
    torch.testing.assert_close(out[pick], _per_sample_reference(net, x[pick], params[pick]).detach(),
                               rtol=1e-4, atol=1e-5)


def test_forward_rejects_bad_shapes():
    net = TaskNetwork()
    with pytest.raises(ValueError, match=r"x: expected shape \(B, N, 3\)"):
        net(torch.zeros(10, 3))
    with pytest.raises(ValueError, match=r"params: expected shape \(B, P\) = \(2, 36737\)"):
        net(torch.zeros(2, 10, 3), torch.zeros(3, 36737))
    with pytest.raises(ValueError, match="params"):
        net(torch.zeros(2, 10, 3), torch.zeros(100))


# --- positional encoding ----------------------------------------------------------------------------------------

def test_positional_encoding_known_values():
    assert positional_encoding(torch.zeros(3)).tolist() == [0.0] * 3 + ([0.0] * 3 + [1.0] * 3) * 4
    x = torch.tensor([[0.5, 0.25, -1.0]], dtype=torch.float64)
    g = positional_encoding(x, n_frequencies=2)
    assert g.shape == (1, 15)
    expected = [0.5, 0.25, -1.0]
    for k in range(2):
        a = [2 ** k * math.pi * v for v in (0.5, 0.25, -1.0)]
        expected += [math.sin(v) for v in a] + [math.cos(v) for v in a]
    torch.testing.assert_close(g[0], torch.tensor(expected, dtype=torch.float64))
    assert positional_encoding(torch.rand(2, 7, 3)).shape == (2, 7, 27)
    assert torch.equal(positional_encoding(x, 0), x)


# --- theta_0 ----------------------------------------------------------------------------------------------------

def test_theta_0_is_seeded_and_leaves_the_global_rng_alone():
    net = TaskNetwork()
    state = torch.random.get_rng_state()
    a, b, c = net.theta_0(0), net.theta_0(0), net.theta_0(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.shape == (36_737,) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(7)
    assert torch.equal(TaskNetwork().flat_parameters(), net.theta_0(7))
    # PyTorch's default Linear init: |w| <= 1/sqrt(fan_in)
    w0 = net.param_layout().unflatten(a)["layers.0.weight"]
    assert w0.abs().max() <= 1 / math.sqrt(27)


def test_theta_0_follows_the_architecture():
    small = TaskNetwork(hidden=[8])
    assert small.theta_0(0).shape == (small.param_layout().total,)


# --- numpy evaluator --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [{}, {"n_frequencies": 2, "hidden": [32, 16], "activation": "softplus"},
                                    {"n_frequencies": 6, "hidden": [64], "activation": "tanh"}])
def test_numpy_evaluator_equals_forward(config):
    net = TaskNetwork(**config)
    flat = net.theta_0(5) + 0.05 * torch.randn(net.param_layout().total)
    x = torch.rand(1000, 3) * 2 - 1
    with torch.no_grad():
        ref = net(x[None], flat)[0].numpy()
    layout = json.loads(json.dumps(net.param_layout().to_dict()))
    out = task_network_logits(x.numpy(), flat.numpy(), layout, activation=net.activation, chunk=300)
    assert out.shape == (1000,) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-5)
    out64 = task_network_logits(x.numpy().astype(np.float64), flat.numpy(), layout, net.activation)
    np.testing.assert_allclose(out64, ref, atol=1e-5, rtol=1e-5)


def test_numpy_evaluator_checks_its_inputs():
    layout = TaskNetwork().param_layout().to_dict()
    with pytest.raises(ValueError, match=r"flat: expected shape \(36737,\)"):
        task_network_logits(np.zeros((4, 3)), np.zeros(10), layout)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 3\)"):
        task_network_logits(np.zeros((4, 2)), np.zeros(36737), layout)


def test_params_must_match_the_dtype_of_x():
    net = TaskNetwork()
    with pytest.raises(TypeError, match="params: expected dtype torch.float32"):
        net(torch.zeros(1, 4, 3), torch.zeros(36737, dtype=torch.float64))


def test_theta_0_accepts_numpy_integers():
    net = TaskNetwork(hidden=[8])
    assert torch.equal(net.theta_0(np.int64(3)), net.theta_0(3))
    with pytest.raises(TypeError, match="seed"):
        net.theta_0(1.5)
