"""Encoders: shapes, permutation invariance, batch independence, batch size 1 in train mode, seeded init, sizes."""
import pytest
import torch

from hnf3d.models import ImageEncoder, ResnetPointNet


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


def _perturb(module, seed=0):
    """Random values in every parameter (zero-initialised residual branches would otherwise hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return module


def test_parameter_counts_match_the_docstrings():
    assert _n_params(ResnetPointNet()) == 1_708_800
    assert "1,708,800" in ResnetPointNet.__doc__
    assert _n_params(ImageEncoder()) == 2_861_920
    assert "2,861,920" in ImageEncoder.__doc__


def test_point_encoder_shapes():
    enc = ResnetPointNet(c_dim=32, hidden=16, n_blocks=3)
    pts = torch.rand(2, 50, 3)
    assert enc(pts).shape == (2, 32)
    c, feats = enc(pts, return_point_features=True)
    assert c.shape == (2, 32) and feats.shape == (2, 50, 16)
    torch.testing.assert_close(c, enc(pts))
    assert ResnetPointNet(c_dim=8, hidden=8, n_blocks=1)(pts).shape == (2, 8)


def test_point_encoder_is_permutation_invariant():
    torch.manual_seed(0)
    enc = _perturb(ResnetPointNet(c_dim=64, hidden=32))
    pts = torch.rand(3, 300, 3) * 2 - 1
    c, feats = enc(pts, return_point_features=True)
    perm = torch.randperm(300)
    c_perm, feats_perm = enc(pts[:, perm], return_point_features=True)
    torch.testing.assert_close(c_perm, c, rtol=0, atol=1e-6)
    torch.testing.assert_close(feats_perm, feats[:, perm], rtol=1e-5, atol=1e-6)  # features follow their points


def test_point_encoder_samples_are_independent():
    torch.manual_seed(1)
    enc = _perturb(ResnetPointNet(c_dim=64, hidden=32))
    pts = torch.rand(3, 200, 3)
    batched = enc(pts)
    for b in range(3):
        torch.testing.assert_close(batched[b], enc(pts[b:b + 1])[0], rtol=1e-5, atol=1e-6)


def test_image_encoder_shapes_and_tokens():
    enc = ImageEncoder(c_dim=16, width=8, img_size=64)
    img = torch.rand(2, 3, 64, 64)
    c, tokens = enc(img, return_tokens=True)
    assert c.shape == (2, 16)
    assert tokens.shape == (2, enc.n_tokens, enc.token_dim) == (2, 4, 64)
    torch.testing.assert_close(c, enc(img))
    assert ImageEncoder().n_tokens == 49


def test_image_encoder_batch_size_one_in_train_mode_and_independent_samples():
    torch.manual_seed(2)
    enc = _perturb(ImageEncoder(c_dim=16, width=8, img_size=64)).train()
    img = torch.rand(3, 3, 64, 64)
    one = enc(img[:1])
    one.sum().backward()  # trains with B = 1 (GroupNorm: no batch statistics)
    assert all(p.grad is not None for p in enc.parameters())
    batched = enc(img)
    torch.testing.assert_close(batched[0], one[0].detach(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(enc.eval()(img), batched.detach(), rtol=1e-5, atol=1e-5)  # train == eval


def test_image_normalisation_buffers_are_not_checkpointed():
    enc = ImageEncoder(c_dim=8, width=8, img_size=32)
    assert not any(k in enc.state_dict() for k in ("mean", "std"))


@pytest.mark.parametrize("make,shape", [(lambda: ResnetPointNet(c_dim=16, hidden=8), (2, 20, 3)),
                                        (lambda: ImageEncoder(c_dim=16, width=8, img_size=32), (2, 3, 32, 32))])
def test_encoders_are_seeded_deterministic(make, shape):
    x = torch.rand(shape)
    torch.manual_seed(3)
    a = make()
    torch.manual_seed(3)
    b = make()
    torch.manual_seed(4)
    c = make()
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and torch.equal(pa, pb)
    assert torch.equal(a(x), b(x))
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_encoders_reject_bad_inputs():
    with pytest.raises(ValueError, match=r"points: expected shape \(B, N, 3\)"):
        ResnetPointNet(c_dim=8, hidden=8)(torch.rand(10, 3))
    with pytest.raises(ValueError, match=r"images: expected shape \(B, 3, 32, 32\)"):
        ImageEncoder(c_dim=8, width=8, img_size=32)(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="width"):
        ImageEncoder(width=12)
