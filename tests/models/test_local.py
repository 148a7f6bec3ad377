"""The local model family: triplane task network, local encoder and U-Net field (docs/design.md section 8)."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from hnf3d.config import ConfigError, config_from_dict
from hnf3d.models.build import build_model, check_model_config
from hnf3d.models.local_encoder import LocalPointNet, cell_index
from hnf3d.models.local_field import LocalField
from hnf3d.models.local_image_encoder import QUERY_RES, LocalImageEncoder
from hnf3d.models.triplane import BOX, PLANE_AXES, TriplaneTaskNetwork, sample_planes
from hnf3d.pipeline import export
from hnf3d.training.objectives import direct_loss, gradient_matching_loss

SMALL = dict(resolution=8, channels=4, n_frequencies=2, hidden=(16, 16))


def _local_config(**over):
    cfg = {"task_network": {"kind": "triplane", "resolution": 8, "channels": 4, "n_frequencies": 2,
                            "hidden": [16, 16]},
           "encoder": {"kind": "local_pointnet", "c_dim": 8, "hidden": 8, "plane_channels": 4},
           "field": {"kind": "unet", "width": 4, "depth": 2, "cond_dim": 8, "T": 10}}
    for key, value in over.items():
        section, name = key.split(".")
        cfg.setdefault(section, {})[name] = value
    return config_from_dict(cfg)


def test_layout_planes_first_and_theta_0_seeded():
    net = TriplaneTaskNetwork(**SMALL)
    layout = net.param_layout()
    assert layout.names[0] == "planes" and layout["planes"].shape == (3, 4, 8, 8)
    assert layout.total == sum(TriplaneTaskNetwork.parameter_numels(8, 4, 2, (16, 16)))
    a, b, c = net.theta_0(3), net.theta_0(3), net.theta_0(4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.count_nonzero(a[: layout["planes"].numel]) == 0  # planes start empty


def test_sample_planes_matches_a_hand_bilinear():
    torch.manual_seed(0)
    planes = torch.randn(1, 3, 2, 5, 5, dtype=torch.float64)
    x = (torch.rand(1, 7, 3, dtype=torch.float64) * 2 - 1) * BOX
    got = sample_planes(planes, x)[0]
    want = torch.zeros(7, 2, dtype=torch.float64)
    for k, (a, b) in enumerate(PLANE_AXES):
        for n in range(7):
            pu, pv = [(x[0, n, ax] / BOX + 1) / 2 * 4 for ax in (a, b)]
            u0, v0 = min(int(pu), 3), min(int(pv), 3)
            fu, fv = pu - u0, pv - v0
            g = planes[0, k]
            want[n] += ((1 - fu) * (1 - fv) * g[:, v0, u0] + fu * (1 - fv) * g[:, v0, u0 + 1]
                        + (1 - fu) * fv * g[:, v0 + 1, u0] + fu * fv * g[:, v0 + 1, u0 + 1])
    torch.testing.assert_close(got, want)


def test_batched_weights_equal_one_at_a_time_and_numpy_export():
    torch.manual_seed(1)
    net = TriplaneTaskNetwork(**SMALL).double()
    P = net.param_layout().total
    theta = torch.randn(3, P, dtype=torch.float64) * 0.3
    x = torch.rand(3, 50, 3, dtype=torch.float64) * 1.3 - 0.65  # some beyond the box: border padding
    batched = net(x, theta)
    for b in range(3):
        torch.testing.assert_close(net(x[b:b + 1], theta[b]), batched[b:b + 1])
        numpy = export.task_network_logits(x[b].numpy(), theta[b].numpy(), net.param_layout().to_dict(), "relu")
        np.testing.assert_allclose(numpy, batched[b].numpy(), rtol=1e-10, atol=1e-10)
    assert export.BOX == BOX and export.PLANE_AXES == PLANE_AXES


def test_a_plane_change_is_local():
    net = TriplaneTaskNetwork(**SMALL).double()
    theta = net.theta_0(0).double()
    G = net.param_layout()["planes"]
    bumped = theta.clone()
    grid = bumped[G.offset: G.offset + G.numel].view(G.shape)
    grid[0, :, 0, 0] += 5.0  # the xy plane's corner node at (x, y) = (-BOX, -BOX)
    near = torch.tensor([[[-0.54, -0.54, 0.0]]], dtype=torch.float64)
    far = torch.tensor([[[0.3, 0.3, 0.0]]], dtype=torch.float64)
    assert not torch.allclose(net(near, bumped), net(near, theta))
    torch.testing.assert_close(net(far, bumped), net(far, theta))


def test_cell_index_and_encoder_shapes():
    pts = torch.tensor([[[-0.55, -0.55, -0.55], [0.549, 0.0, 0.549], [2.0, -2.0, 0.0]]])
    idx = cell_index(pts, 4)
    assert idx.shape == (1, 3, 3)
    assert idx[0, :, 0].tolist() == [0, 0, 0]
    assert idx[0, 0, 2].item() == 0 * 4 + 3  # x beyond +BOX -> u = 3, y beyond -BOX -> v = 0
    enc = LocalPointNet(resolution=8, out_channels=4, c_dim=6, hidden=8)
    c = enc(torch.rand(2, 100, 3) - 0.5)
    assert c.shape == (2, enc.out_dim) == (2, 3 * 4 * 64 + 6)
    # order invariance: the code and planes do not depend on the order of the points
    p = torch.rand(1, 100, 3) - 0.5
    torch.testing.assert_close(enc(p), enc(p[:, torch.randperm(100)]), rtol=1e-5, atol=1e-5)


def test_field_starts_at_theta_0_and_is_differentiable():
    torch.manual_seed(0)
    net = TriplaneTaskNetwork(**SMALL)
    enc = LocalPointNet(resolution=8, out_channels=4, c_dim=6, hidden=8)
    field = LocalField(net.param_layout(), net.theta_0(0), in_channels=4, c_dim=6, T=10, width=4, levels=2)
    c = enc(torch.rand(2, 64, 3) - 0.5)
    torch.testing.assert_close(field(10.0, c), field.theta_0.expand(2, -1))
    assert torch.count_nonzero(field.delta(5.0, c)) == 0
    x, occ = torch.rand(2, 32, 3) - 0.5, (torch.rand(2, 32) > 0.5).float()
    loss, _ = direct_loss(field, net, c, x, occ)
    loss.backward()
    assert field.out.weight.grad.abs().sum() > 0 and field.decoder_head[2].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="c: expected a tensor of shape"):
        field.check_inputs(1.0, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="t: expected a value in"):
        field(11.0, c)


def test_gradient_matching_runs_on_the_local_field():
    torch.manual_seed(0)
    net = TriplaneTaskNetwork(**SMALL)
    enc = LocalPointNet(resolution=8, out_channels=4, c_dim=6, hidden=8)
    field = LocalField(net.param_layout(), net.theta_0(0), in_channels=4, c_dim=6, T=10, width=4, levels=2)
    c = enc(torch.rand(2, 64, 3) - 0.5)
    x, occ = torch.rand(2, 32, 3) - 0.5, (torch.rand(2, 32) > 0.5).float()
    for variant in ("A", "B"):
        loss, logs = gradient_matching_loss(field, net, c, x, occ, variant=variant, eta=1.0)
        assert torch.isfinite(loss)
        grads = torch.autograd.grad(loss, [field.out.weight], retain_graph=True, allow_unused=True)
        assert grads[0] is not None


def test_build_from_config_and_family_checks():
    cfg = _local_config()
    model = build_model(cfg)
    assert isinstance(model.task_net, TriplaneTaskNetwork) and isinstance(model.field, LocalField)
    theta = model.predict_theta(torch.rand(2, 100, 3) - 0.5)
    assert theta.shape == (2, model.task_net.param_layout().total)
    assert check_model_config(cfg) > 0
    with pytest.raises(ConfigError, match="'field.kind': 'unet'"):
        check_model_config(_local_config(**{"field.kind": "transformer"}))
    with pytest.raises(ConfigError, match="does not read data.input_type 'image'"):
        check_model_config(_local_config(**{"data.input_type": "image"}))
    with pytest.raises(ConfigError, match="'encoder.kind': 'local_pointnet'"):
        check_model_config(_local_config(**{"encoder.kind": "pointnet"}))
    with pytest.raises(ConfigError, match="field"):
        check_model_config(_local_config(**{"field.depth": 5}))  # 8 is not divisible by 2^4


def test_grid_sample_convention_is_border_align_corners():
    # the numpy evaluator copies these two choices; this pins them on the torch side
    planes = torch.arange(4.0).view(1, 1, 2, 2)
    corner = F.grid_sample(planes, torch.tensor([[[[1.0, -1.0]]]]), align_corners=True, padding_mode="border")
    beyond = F.grid_sample(planes, torch.tensor([[[[3.0, -3.0]]]]), align_corners=True, padding_mode="border")
    assert corner.item() == 1.0 and beyond.item() == 1.0


def _local_image_config(**over):
    over = {"data.input_type": "image", "data.img_size": 64, "encoder.kind": "local_resnet", "encoder.hidden": 8,
            "task_network.resolution": 32, **over}
    return _local_config(**over)


def test_local_image_encoder_layout_and_model():
    torch.manual_seed(0)
    enc = LocalImageEncoder(resolution=32, out_channels=4, c_dim=8, width=8, img_size=64, n_layers=1, heads=2,
                            mid=8)
    images = torch.rand(2, 3, 64, 64)
    c = enc(images)
    assert c.shape == (2, enc.out_dim) and enc.out_dim == 3 * 4 * 32 * 32 + 8
    # each sample's planes depend on its own image only, and on the image
    c0 = enc(images[:1])
    torch.testing.assert_close(c0, c[:1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(enc(torch.rand(1, 3, 64, 64))[:, :enc.plane_numel], c0[:, :enc.plane_numel])
    # gradients reach the backbone through the planes (not only through the code)
    enc(images)[:, :enc.plane_numel].square().sum().backward()
    assert enc.backbone.stem[0].weight.grad.abs().sum() > 0 and enc.queries.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="resolution: expected 16 times a power of two"):
        LocalImageEncoder(resolution=48, img_size=64)
    with pytest.raises(ValueError, match="images: expected shape"):
        enc(torch.rand(1, 3, 32, 32))
    assert QUERY_RES == 16

    cfg = _local_image_config()
    model = build_model(cfg)
    assert isinstance(model.encoder, LocalImageEncoder) and isinstance(model.field, LocalField)
    theta = model.predict_theta(torch.rand(2, 3, 64, 64))
    assert theta.shape == (2, model.task_net.param_layout().total)
    with pytest.raises(ConfigError, match="does not read data.input_type 'pointcloud'"):
        check_model_config(_local_image_config(**{"data.input_type": "pointcloud"}))
    with pytest.raises(ConfigError, match="'encoder.kind': 'local_resnet'"):
        check_model_config(_local_image_config(**{"encoder.kind": "resnet"}))
