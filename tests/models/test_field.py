"""HyperNetField: Phi(0, c) == theta_0 exactly, zero init, chunk tokens, gradient flow, conditioning, composition
with TaskNetwork, determinism, input validation."""
import pytest
import torch
from torch import nn

from hnf3d.models import HyperNetField, ParamLayout, TaskNetwork

C_DIM = 8
T = 100


def _small_field(seed=0, layout=None, theta_0=None, **kw):
    """A small field (width 32, depth 2) over a small task network (or the given layout)."""
    torch.manual_seed(seed)
    if layout is None:
        net = TaskNetwork(n_frequencies=1, hidden=(16, 16))
        layout, theta_0 = net.param_layout(), net.theta_0(seed)
    kw = {"width": 32, "depth": 2, "heads": 4, **kw}
    return HyperNetField(layout, theta_0, c_dim=C_DIM, T=T, **kw)


def _train(field, steps, c, t, target=None, lr=1e-2):
    """A few Adam steps of MSE(field(t, c), target) (target: random by default)."""
    if target is None:
        target = torch.randn(c.shape[0], field.layout.total, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(field.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = (field(t, c) - target).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_zero_init_gives_theta_0_for_all_t():
    field = _small_field()
    c = torch.randn(5, C_DIM)
    for t in (0, 1, 37, T, torch.tensor([0, 3, 50, 99, 100]), torch.tensor([0.5, 2.25, 7.0, 99.9, 100.0])):
        out = field(t, c)
        assert out.shape == (5, field.layout.total)
        assert torch.equal(out, field.theta_0.expand(5, -1))
    assert torch.equal(field.delta(T, c), torch.zeros(5, field.layout.total))


def test_t0_is_theta_0_exactly_after_training():
    field = _small_field()
    c = torch.randn(4, C_DIM)
    _train(field, 3, c, torch.full((4,), float(T)))
    c2 = torch.randn(6, C_DIM)
    assert field.delta(T, c2).abs().max() > 0  # Phi' is no longer zero
    assert torch.equal(field(0, c2), field.theta_0.expand(6, -1))
    assert torch.equal(field(torch.zeros(6, dtype=torch.long), c2), field.theta_0.expand(6, -1))
    assert torch.equal(field(torch.zeros(6), c2), field.theta_0.expand(6, -1))
    assert not torch.equal(field(T, c2), field.theta_0.expand(6, -1))


def test_theta_0_is_a_persistent_buffer_and_config_rebuilds():
    field = _small_field()
    _train(field, 2, torch.randn(2, C_DIM), T)
    state = field.state_dict()
    assert torch.equal(state["theta_0"], field.theta_0)
    assert "theta_0" not in dict(field.named_parameters())
    cfg = field.config()
    assert cfg["T"] == T and isinstance(field.T, int)
    assert {"width", "depth", "heads", "max_token_size", "T", "c_dim"} <= set(cfg)
    rebuilt = HyperNetField(field.layout, torch.zeros(field.layout.total), **cfg)
    rebuilt.load_state_dict(state)
    c = torch.randn(3, C_DIM)
    assert torch.equal(rebuilt(0, c), field.theta_0.expand(3, -1))
    torch.testing.assert_close(rebuilt(T, c), field(T, c), rtol=0, atol=0)


def test_linear_in_t_over_T_for_fixed_delta():
    field = _small_field()
    c = torch.randn(3, C_DIM)
    _train(field, 3, c, T)
    t = torch.tensor([10.0, 40.0, 90.0])
    expect = field.theta_0 + (t / T)[:, None] * field.delta(t, c)
    torch.testing.assert_close(field(t, c), expect)


def test_chunking_covers_flat_vector_and_heads_write_their_slice():
    layout = ParamLayout.from_named_tensors([("a", torch.zeros(10, 10)), ("b", torch.zeros(7)),
                                             ("c", torch.zeros(3, 11))])  # 100, 7, 33 elements
    P = layout.total
    field = _small_field(layout=layout, theta_0=torch.randn(P), max_token_size=16)
    # a: ceil(100/16) = 7 chunks, b: 1, c: ceil(33/16) = 3
    assert field.n_tokens == 7 + 1 + 3
    names = [n for n, _, _ in field.token_table]
    assert names[7] == "b" and names[0].startswith("a[") and names[-1].startswith("c[")
    pos = 0
    for (_, off, length), head in zip(field.token_table, field.heads_out):
        assert off == pos and 1 <= length <= 16 and head.out_features == length
        pos += length
    assert pos == P
    c = torch.randn(4, C_DIM)
    base = field(T, c)
    assert base.shape == (4, P)
    for j in (0, 6, 7, 9):
        with torch.no_grad():
            field.heads_out[j].bias.add_(1.0)
        out = field(T, c)
        with torch.no_grad():
            field.heads_out[j].bias.sub_(1.0)
        _, off, length = field.token_table[j]
        changed = (out != base).any(dim=0)
        expect = torch.zeros(P, dtype=torch.bool)
        expect[off:off + length] = True
        assert torch.equal(changed, expect), f"head {j}"
        torch.testing.assert_close(out[:, off:off + length], base[:, off:off + length] + 1.0)


def test_default_layout_tokens_and_parameter_count():
    torch.manual_seed(0)
    net = TaskNetwork()
    layout = net.param_layout()
    assert layout.total == 36737
    field = HyperNetField(layout, net.theta_0(0), c_dim=256, T=10000)
    assert field.n_tokens == 14  # 16,384-element hidden weights -> 4 tokens each at max_token_size 4096
    assert sum(p.numel() for p in field.parameters()) == 14_507_905
    assert sum(p.numel() for p in field.heads_out.parameters()) == 257 * 36737
    field_ct = HyperNetField(layout, net.theta_0(0), c_dim=256, T=10000, cond_tokens=True)
    assert sum(p.numel() for p in field_ct.parameters()) == 14_507_905 + 65_792


def test_gradient_reaches_every_parameter_after_leaving_zero_init():
    field = _small_field()
    c = torch.randn(4, C_DIM)
    target = torch.randn(4, field.layout.total)
    # step 1 moves the zero heads, step 2 the zero adaLN modulations (gates); then every parameter has a gradient
    _train(field, 2, c, T, target=target)
    field.zero_grad()
    (field(T, c) - target).pow(2).mean().backward()
    for name, p in field.named_parameters():
        assert p.grad is not None and p.grad.abs().max() > 0, name
    # and already after one step, the heads and the adaLN modulations get gradients
    field = _small_field()
    _train(field, 1, c, T, target=target)
    field.zero_grad()
    (field(T, c) - target).pow(2).mean().backward()
    for name, p in field.named_parameters():
        if name.startswith("heads_out") or "modulation" in name:
            assert p.grad is not None and p.grad.abs().max() > 0, name


def test_conditioning_matters_overfit_two_conditions():
    field = _small_field()
    c = torch.randn(2, C_DIM)
    P = field.layout.total
    target = field.theta_0 + torch.randn(2, P, generator=torch.Generator().manual_seed(3)) * 0.5
    losses = _train(field, 200, c, T, target=target, lr=3e-3)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
    out = field(T, c)
    assert (out[0] - out[1]).abs().max() > 0.1
    # each output is nearer its own target than the other one
    d = torch.cdist(out.detach(), target)
    assert d[0, 0] < d[0, 1] and d[1, 1] < d[1, 0]


def test_composes_with_task_network():
    torch.manual_seed(0)
    net = TaskNetwork()
    field = HyperNetField(net.param_layout(), net.theta_0(0), c_dim=C_DIM, T=T, width=32, depth=1, heads=2)
    c = torch.randn(4, C_DIM, requires_grad=True)
    x = torch.rand(4, 50, 3) * 2 - 1
    logits = net(x, params=field(torch.tensor([0, 10, 50, 100]), c))
    assert logits.shape == (4, 50)
    torch.testing.assert_close(net(x, params=field(0, c))[0], net(x[:1], params=net.theta_0(0))[0])
    logits.sum().backward()
    for head in field.heads_out:  # zero heads: gradient reaches them (not past them yet)
        assert head.weight.grad is not None and head.weight.grad.abs().max() > 0


def test_cond_tokens():
    field = _small_field(cond_tokens=True, token_dim=5)
    c = torch.randn(3, C_DIM)
    toks = torch.randn(3, 7, 5)
    assert torch.equal(field(T, c, toks), field.theta_0.expand(3, -1))
    opt = torch.optim.Adam(field.parameters(), lr=1e-2)
    target = torch.randn(3, field.layout.total)
    for _ in range(3):
        opt.zero_grad()
        (field(T, c, toks) - target).pow(2).mean().backward()
        opt.step()
    assert torch.equal(field(0, c, toks), field.theta_0.expand(3, -1))
    a, b = field(T, c, toks), field(T, c, toks + 1.0)
    assert not torch.equal(a, b)  # the tokens are attended to
    assert field(T, c, torch.randn(3, 2, 5)).shape == (3, field.layout.total)  # any number K of tokens
    with pytest.raises(ValueError, match="tokens"):  # a missing / extra tokens argument: checked on every call
        field(T, c)
    with pytest.raises(ValueError, match="tokens"):
        _small_field()(T, c, toks)
    with pytest.raises(ValueError, match="tokens"):  # wrong token size: check_inputs names it
        field.check_inputs(T, c, torch.randn(3, 7, 4))
    with pytest.raises(RuntimeError):  # and forward, which does not re-check, still fails
        field(T, c, torch.randn(3, 7, 4))
    field.check_inputs(T, c, toks)


def test_deterministic_given_seed():
    c = torch.randn(3, C_DIM)
    outs = []
    for _ in range(2):
        field = _small_field(seed=5)
        _train(field, 3, c, T)
        outs.append((field(T, c), [p.detach().clone() for p in field.parameters()]))
    assert torch.equal(outs[0][0], outs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(outs[0][1], outs[1][1]))
    other = _small_field(seed=6)
    assert not torch.equal(other.token_embed, _small_field(seed=5).token_embed)


def test_input_validation():
    """check_inputs names the bad argument; forward converts but does not re-check (it is in the training loop's
    hot path), yet a wrong shape still fails there rather than giving a silent wrong result."""
    field = _small_field()
    c = torch.randn(2, C_DIM)
    check = field.check_inputs
    check(0, c)
    check(torch.tensor([0, 3]), c)
    check(torch.tensor(3), c)
    with pytest.raises(ValueError, match="c:"):
        check(0, torch.randn(2, C_DIM + 1))
    with pytest.raises(ValueError, match="c:"):
        check(0, torch.randn(C_DIM))
    with pytest.raises(TypeError, match="c:"):
        check(0, torch.zeros(2, C_DIM, dtype=torch.long))
    with pytest.raises(TypeError, match="c:"):
        check(0, c.numpy())
    with pytest.raises(ValueError, match="t:"):
        check(torch.zeros(3), c)
    with pytest.raises(ValueError, match="t:"):
        check(T + 1, c)
    with pytest.raises(ValueError, match="t:"):
        check(-1, c)
    with pytest.raises(TypeError, match="t:"):
        check("0", c)
    with pytest.raises(TypeError, match="t:"):
        check(True, c)
    with pytest.raises(TypeError, match="t:"):
        check(torch.zeros(2, dtype=torch.bool), c)
    # forward: Python numbers are still range-checked (free), wrong shapes fail inside torch
    with pytest.raises(ValueError, match="t:"):
        field(T + 1, c)
    with pytest.raises(ValueError, match="t:"):
        field(-1, c)
    with pytest.raises(RuntimeError):
        field(0, torch.randn(2, C_DIM + 1))
    with pytest.raises(RuntimeError):
        field(torch.zeros(3), c)
    assert field(T, c.double()).dtype == torch.float32  # other float dtypes are cast to the field's
    torch.testing.assert_close(field(T, c.double()), field(T, c))
    assert field(torch.tensor(3), c).shape == (2, field.layout.total)  # 0-d tensor broadcast


def test_forward_does_not_run_the_checks(monkeypatch):
    field = _small_field()
    c = torch.randn(2, C_DIM)
    want = field(torch.tensor([1, 2]), c)

    def fail(*args, **kwargs):
        raise AssertionError("forward re-checked its inputs")

    monkeypatch.setattr(field, "check_inputs", fail)
    torch.testing.assert_close(field(torch.tensor([1, 2]), c), want)
    field.delta(T, c)


def _randomised(field):
    """`field` with every parameter drawn at random (the zero-initialised heads and modulations included), so
    that its output depends on t through the embedding, not only through the t / T factor."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in field.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return field


def test_t_stays_float32_in_a_bf16_field():
    """bf16 rounds 301 to 300: t must not take the field's (or the code's) reduced dtype before the embedding."""
    field = _randomised(_small_field())
    T_big = 1000
    field.T = T_big
    bf = field.to(torch.bfloat16)
    c = torch.randn(2, C_DIM).to(torch.bfloat16)
    for t0, t1 in ((300, 301), (torch.tensor([300, 300]), torch.tensor([301, 301])),
                   (torch.tensor([300.0, 300.0]), torch.tensor([301.0, 301.0]))):
        d0, d1 = bf.delta(t0, c), bf.delta(t1, c)
        assert d0.dtype == torch.bfloat16
        assert not torch.equal(d0, d1), (t0, t1)
        out = bf(t0, c)
        assert out.dtype == torch.bfloat16
        assert not torch.equal(out, bf(t1, c))
    # the embedding itself: float32 whatever dtype t arrives in, distinct for 300 and 301
    from hnf3d.models.field import timestep_embedding
    emb = timestep_embedding(torch.tensor([300, 301]), 32)
    assert emb.dtype == torch.float32 and not torch.equal(emb[0], emb[1])
    # a float32 field fed a bf16 code (autocast encoder) sees t exactly too
    f32 = _randomised(_small_field())
    f32.T = T_big
    cb = torch.randn(2, C_DIM).to(torch.bfloat16)
    assert not torch.equal(f32.delta(300, cb), f32.delta(301, cb))


    net = TaskNetwork(n_frequencies=1, hidden=(16,))
    layout = net.param_layout()
    with pytest.raises(ValueError, match="theta_0"):
        HyperNetField(layout, torch.zeros(layout.total + 1), C_DIM, T)
    with pytest.raises(ValueError, match="width"):
        HyperNetField(layout, torch.zeros(layout.total), C_DIM, T, width=30, heads=4)
    with pytest.raises(ValueError, match="T"):
        HyperNetField(layout, torch.zeros(layout.total), C_DIM, 0)
    with pytest.raises(TypeError, match="layout"):
        HyperNetField(layout.to_dict(), torch.zeros(layout.total), C_DIM, T)


def test_is_a_module_with_float64_theta_0():
    net = TaskNetwork(n_frequencies=1, hidden=(8,))
    field = HyperNetField(net.param_layout(), net.theta_0(0).double(), C_DIM, T, width=16, depth=1, heads=2)
    assert isinstance(field, nn.Module)
    assert all(p.dtype == torch.float64 for p in field.parameters())
    out = field(torch.tensor([0, T]), torch.randn(2, C_DIM, dtype=torch.float64))
    assert out.dtype == torch.float64 and torch.equal(out[0], field.theta_0)
