"""hnf3d.training.fitting and tools/fit_shapes.py: per-shape task-network fitting from theta_0."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hnf3d.models import TaskNetwork
from hnf3d.io.checkpoint import load_checkpoint
from hnf3d.training.fitting import fit_task_networks, macs_per_point
from hnf3d.cli import fit_shapes as fit_shapes_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def spheres(S=4, N=2048, seed=0, point_seed=None):
    """S spheres of different radii and centres (from seed); queries uniform in [-0.55, 0.55]^3 (from
    point_seed, default seed), labels inside."""
    g = torch.Generator().manual_seed(seed)
    centres = (torch.rand(S, 1, 3, generator=g) - 0.5) * 0.2
    radii = torch.linspace(0.25, 0.4, S).view(S, 1)
    gp = torch.Generator().manual_seed(seed if point_seed is None else point_seed)
    x = (torch.rand(S, N, 3, generator=gp) - 0.5) * 1.1
    occ = ((x - centres).norm(dim=-1) < radii).float()
    return x, occ


def iou(task, theta, x, occ):
    with torch.no_grad():
        pred = task(x, theta) > 0
    gt = occ > 0.5
    return ((pred & gt).sum(1).float() / (pred | gt).sum(1).clamp_min(1).float())


@pytest.fixture(scope="module")
def small_task():
    return TaskNetwork(n_frequencies=2, hidden=(32, 32))


def test_fit_spheres_raises_iou(small_task):
    task = small_task
    theta_0 = task.theta_0(0)
    x, occ = spheres()
    x_eval, occ_eval = spheres(N=8192, point_seed=1)  # the same spheres, fresh points
    theta, compute = fit_task_networks(task, theta_0, x, occ, steps=300, lr=1e-2, batch_points=1024, seed=0)
    assert theta.shape == (4, theta_0.numel()) and not theta.requires_grad
    before = iou(task, theta_0.expand(4, -1), x_eval, occ_eval)
    after = iou(task, theta, x_eval, occ_eval)
    assert (after > before).all(), (before, after)
    assert (after > 0.9).all(), after
    for key in ("wall_seconds", "cpu_seconds", "flops", "steps"):
        assert compute[key] > 0, key
    assert compute["steps"] == 300 and compute["shapes"] == 4 and compute["batch_points"] == 1024
    assert compute["flops"] == 300 * 4 * 1024 * 6 * macs_per_point(task)


def test_macs_per_point_default():
    assert macs_per_point(TaskNetwork()) == 27 * 128 + 128 * 128 * 2 + 128


@pytest.mark.parametrize("optimizer,batch_points", [("adam", 256), ("sgd", None)])
def test_parallel_equals_alone(small_task, optimizer, batch_points):
    task = small_task
    theta_0 = task.theta_0(3)
    x, occ = spheres(S=3, N=512)
    lr = 1e-2 if optimizer == "adam" else 1.0
    together, _ = fit_task_networks(task, theta_0, x, occ, steps=25, lr=lr, optimizer=optimizer,
                                    batch_points=batch_points, seed=7)
    for s in range(3):
        alone, _ = fit_task_networks(task, theta_0, x[s:s + 1], occ[s:s + 1], steps=25, lr=lr,
                                     optimizer=optimizer, batch_points=batch_points, seed=7 + s)
        torch.testing.assert_close(together[s], alone[0], atol=1e-5, rtol=1e-5)


def test_seed_sequence_and_zero_steps(small_task):
    task = small_task
    theta_0 = task.theta_0(0)
    x, occ = spheres(S=2, N=256)
    a, _ = fit_task_networks(task, theta_0, x, occ, steps=5, batch_points=64, seed=[10, 11])
    b, _ = fit_task_networks(task, theta_0, x, occ, steps=5, batch_points=64, seed=10)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c, comp = fit_task_networks(task, theta_0, x, occ, steps=0)
    torch.testing.assert_close(c, theta_0.expand(2, -1))
    assert comp["flops"] == 0


@pytest.mark.parametrize("kwargs", [{"optimizer": "lbfgs"}, {"steps": -1}, {"lr": 0.0}, {"batch_points": 0},
                                    {"seed": [1, 2, 3]}])
def test_bad_arguments(small_task, kwargs):
    x, occ = spheres(S=2, N=64)
    with pytest.raises(ValueError):
        fit_task_networks(small_task, small_task.theta_0(0), x, occ, **kwargs)


def test_bad_shapes(small_task):
    x, occ = spheres(S=2, N=64)
    with pytest.raises(ValueError):
        fit_task_networks(small_task, small_task.theta_0(0), x, occ[:, :10])
    with pytest.raises(ValueError):
        fit_task_networks(small_task, small_task.theta_0(0)[:-1], x, occ)


def _load_tool():
    return fit_shapes_cli


def test_cli_writes_loadable_file(tmp_path):
    import trimesh

    data = tmp_path / "meshes"
    data.mkdir()
    trimesh.creation.icosphere(subdivisions=2, radius=1.0).export(data / "ball.obj")
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(data / "brick.obj")
    out = tmp_path / "new" / "folder" / "fits.safetensors"  # --out's folder is made (before fitting)
    tool = _load_tool()
    rc = tool.main(["--data", str(data), "--out", str(out), "--steps", "5", "--hidden", "16,16",
                    "--n-query-points", "256", "--batch-points", "128", "--quiet"])
    assert rc == 0
    tensors, meta = load_checkpoint(out)
    fit = meta["fit_shapes"]
    assert tensors["theta_star"].shape == (2, TaskNetwork(hidden=(16, 16)).param_layout().total)
    assert [m["model"] for m in fit["models"]] == ["ball", "brick"]
    assert fit["steps"] == 5 and fit["compute"]["flops"] > 0 and fit["compute"]["wall_seconds"] > 0
    assert fit["compute"]["cpu_seconds"] > 0 and fit["compute"]["shapes"] == 2
    torch.testing.assert_close(tensors["theta_0"], TaskNetwork(hidden=(16, 16)).theta_0(0))


def test_cli_fits_the_task_network_of_a_config(tmp_path, capsys):
    """--config: the triplane of configs/local_pc.yaml (its planes shrunk to keep the test small) is fitted; it
    cannot be combined with the MLP's own options."""
    import trimesh
    import yaml

    from hnf3d.config import load_config
    from hnf3d.models.build import build_task_network

    data = tmp_path / "meshes"
    data.mkdir()
    trimesh.creation.icosphere(subdivisions=2, radius=1.0).export(data / "ball.obj")
    cfg_path = tmp_path / "tri.yaml"
    cfg_path.write_text(yaml.safe_dump({"inherit_from": str(ROOT / "configs" / "local_pc.yaml"),
                                        "task_network": {"resolution": 8, "channels": 2}}))
    out = tmp_path / "fits.safetensors"
    common = ["--data", str(data), "--out", str(out), "--steps", "3", "--n-query-points", "256", "--batch-points",
              "128", "--quiet", "--config", str(cfg_path)]
    assert _load_tool().main(common) == 0
    task = build_task_network(load_config(str(cfg_path)))
    tensors, meta = load_checkpoint(out)
    assert meta["fit_shapes"]["task_network"] == task.config()
    assert tensors["theta_star"].shape == (1, task.param_layout().total)
    torch.testing.assert_close(tensors["theta_0"], task.theta_0(0))
    assert not torch.equal(tensors["theta_star"][0], tensors["theta_0"])
    assert _load_tool().main([*common, "--hidden", "16"]) == 2
    assert "--config" in capsys.readouterr().err


def test_cli_bad_data(tmp_path, capsys):
    tool = _load_tool()
    assert tool.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "fit_shapes: error" in capsys.readouterr().err
