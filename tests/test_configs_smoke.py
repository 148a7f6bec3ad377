"""Every shipped config in configs/ loads and trains for 2 steps (on a tiny folder of meshes, with tiny networks
set by --set overrides), and a misspelt key is reported by name with its file (exit 2).

The image configs are run with a point-cloud input and the pointnet encoder (the mesh-folder dataset has no
renders); their image settings are checked on the loaded config instead.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hnf3d.config import load_config  # noqa: E402
from hnf3d.models import TaskNetwork  # noqa: E402
from hnf3d.training import load_checkpoint, save_checkpoint  # noqa: E402
from hnf3d.cli import train as train_cli_module  # noqa: E402

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
EXPECTED = {"base", "synthetic_pc", "synthetic_img", "shapenet_pc", "shapenet_img", "synthetic_pc_direct",
            "synthetic_pc_weights"}


def load_cli():
    return train_cli_module


@pytest.fixture(scope="module")
def meshes(tmp_path_factory) -> Path:
    import trimesh

    folder = tmp_path_factory.mktemp("smoke_meshes")
    for i in range(4):
        mesh = (trimesh.creation.icosphere(subdivisions=1, radius=0.3 + 0.1 * i) if i % 2 == 0
                else trimesh.creation.box(extents=(0.4 + 0.1 * i, 0.5, 0.3)))
        mesh.export(folder / f"m{i}.obj")
    return folder


@pytest.fixture()
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_all_expected_configs_are_shipped():
    assert EXPECTED <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads_and_trains_two_steps(path, meshes, tmp_path, capsys, one_thread):
    cfg = load_config(path)
    assert cfg.name == path.stem
    if "img" in path.stem:
        assert cfg.data.input_type == "image" and cfg.encoder.kind in ("resnet", "local_resnet")
    if path.stem == "shapenet_pc":
        assert (cfg.data.n_input_points, cfg.data.input_noise, cfg.data.n_query_points, cfg.eval.threshold) == \
            (3000, 0.005, 2048, 0.2)
    local = cfg.task_network.kind == "triplane"
    encoder = "local_pointnet" if local else "pointnet"
    sets = ["data.dataset=mesh_folder", f"data.path={meshes}", "data.input_type=pointcloud", f"encoder.kind={encoder}",
            "data.n_query_points=128", "data.n_input_points=128", "task_network.hidden=[16]", "field.width=32",
            "field.depth=1", "field.T=10", "encoder.hidden=32", "encoder.c_dim=32", "training.batch_size=2",
            "training.validate_every=2", "training.checkpoint_every=2", "training.device=cpu"]
    if local:  # small planes; the U-Net needs the resolution divisible by 2^(depth - 1)
        sets += ["task_network.resolution=8", "task_network.channels=4", "encoder.plane_channels=4",
                 "field.width=4", "field.depth=2", "field.cond_dim=8"]
    if cfg.data.extra_paths:  # the stand-in mesh folder is the one data root
        sets.append("data.extra_paths=[]")
    if cfg.data.scan_fraction:  # scans need pointcloud.npz (tests/data/test_shapenet_dataset.py runs them)
        sets.append("data.scan_fraction=0")
    if cfg.training.init_from:  # a run of the full-size network (tests/training/test_trainer.py runs it)
        sets.append("training.init_from=null")
    if cfg.objective.kind == "weights":
        # the tools/fit_shapes.py output format: theta_star (S, P), theta_0 (P,), metadata fit_shapes.models
        net = TaskNetwork(cfg.task_network.n_frequencies, [16])
        theta_0 = net.theta_0(cfg.training.seed)
        weights = tmp_path / "weights.safetensors"
        save_checkpoint(weights, tensors={"theta_star": theta_0 + 0.1 * torch.randn(4, theta_0.numel()),
                                          "theta_0": theta_0},
                        metadata={"fit_shapes": {"models": [{"category": "default", "model": f"m{i}"}
                                                            for i in range(4)]}})
        sets.append(f"objective.weights_path={weights}")
    args = ["--config", str(path), "--out", str(tmp_path / "run"), "--max-steps", "2", "--quiet"]
    for s in sets:
        args += ["--set", s]
    rc = load_cli().main(args)
    assert rc == 0, capsys.readouterr().err
    _, meta = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert meta["step"] == 2 and meta["extra"]["config"]["objective"]["kind"] == cfg.objective.kind
    assert (tmp_path / "run" / "config.yaml").is_file()


def test_typo_in_config_key_is_reported_with_file(tmp_path, capsys):
    bad = tmp_path / "typo.yaml"
    bad.write_text(f"inherit_from: {REPO / 'configs' / 'base.yaml'}\ntraining:\n  lr_rate: 3e-4\n")
    rc = load_cli().main(["--config", str(bad), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "training.lr_rate" in err and str(bad) in err
