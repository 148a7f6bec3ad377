"""Trainer: exact resume after SIGKILL, corrupt checkpoints, outputs, and DDP (2 gloo processes) == 1 process.

Tiny everything (a folder of 6 small meshes, a 16-unit task network, a 1-block field of width 32, T = 10) so the
whole file runs in well under a minute on 2 CPU cores. Subprocesses run with OMP_NUM_THREADS=1 (the same setting
torchrun uses) so that runs compared with each other use the same kernels.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hnf3d.training import CheckpointError, load_checkpoint  # noqa: E402
from hnf3d.cli import train as train_cli_module  # noqa: E402

CONFIG = str(REPO / "configs" / "synthetic_pc.yaml")


def make_meshes(folder: Path, n: int = 6) -> Path:
    import trimesh

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if i % 2 == 0:
            mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.3 + 0.1 * i)
        else:
            mesh = trimesh.creation.box(extents=(0.5 + 0.1 * i, 0.4, 0.3 + 0.05 * i))
        mesh.export(folder / f"shape{i}.obj")
    return folder


def tiny_overrides(meshes: Path) -> list[str]:
    sets = [
        "data.dataset=mesh_folder", f"data.path={meshes}", "data.n_query_points=256", "data.n_input_points=256",
        "task_network.hidden=[16]", "field.width=32", "field.depth=1", "field.T=10", "encoder.hidden=32",
        "encoder.c_dim=32", "training.batch_size=4", "training.checkpoint_every=2", "training.validate_every=3",
        "training.device=cpu",
    ]
    out = []
    for s in sets:
        out += ["--set", s]
    return out


def run_cli(args: list[str], env_extra: dict | None = None, torchrun: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("HNF3D_TEST_KILL_AT_STEP", None)
    env.update(env_extra or {})
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}",
               str(REPO / "tools" / "train.py")]
    else:
        cmd = [sys.executable, str(REPO / "tools" / "train.py")]
    return subprocess.run(cmd + ["--quiet", *args], env=env, capture_output=True, text=True, timeout=300)


def load_cli():
    return train_cli_module


def model_tensors(path: Path) -> dict[str, torch.Tensor]:
    tensors, _ = load_checkpoint(path)
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def meshes(tmp_path_factory) -> Path:
    return make_meshes(tmp_path_factory.mktemp("meshes"))


@pytest.fixture(scope="module")
def straight_run(meshes, tmp_path_factory) -> Path:
    """Run A: 6 steps without interruption."""
    out = tmp_path_factory.mktemp("run_a")
    proc = run_cli(["--config", CONFIG, "--out", str(out), "--max-steps", "6", *tiny_overrides(meshes),
                    "--set", "training.keep_steps=[2,5]"])
    assert proc.returncode == 0, proc.stderr
    return out


def test_outputs_of_a_run(straight_run):
    out = straight_run
    for name in ("config.yaml", "last.safetensors", "best.safetensors", "log.csv"):
        assert (out / name).is_file(), name
    with open(out / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[2]["val_iou"] and rows[5]["val_iou"] and not rows[0]["val_iou"]
    tensors, meta = load_checkpoint(out / "last.safetensors")
    extra = meta["extra"]
    assert meta["step"] == 6
    assert extra["config"]["field"]["T"] == 10 and extra["layout"]
    assert torch.equal(tensors["theta_0"], tensors["model.field.theta_0"])
    _, best = load_checkpoint(out / "best.safetensors")
    assert best["extra"]["val_iou"] == pytest.approx(max(float(r["val_iou"]) for r in rows if r["val_iou"]))
    # training.keep_steps: model-only snapshots at exactly those steps, loadable as a trained model
    assert sorted(p.name for p in out.glob("step_*.safetensors")) == ["step_000002.safetensors",
                                                                      "step_000005.safetensors"]
    snap_tensors, snap = load_checkpoint(out / "step_000005.safetensors")
    assert snap["step"] == 5 and not any(k.startswith("optim.") for k in snap_tensors)
    assert snap["extra"]["seconds"] <= extra["seconds"]
    from hnf3d.models.build import load_trained_model

    _, model, _ = load_trained_model(out / "step_000002.safetensors")
    assert max_diff(model_tensors(out / "step_000002.safetensors"),
                    {f"model.{k}": v for k, v in model.state_dict().items()}) == 0.0


def test_resume_after_sigkill_is_exact(meshes, straight_run, tmp_path):
    out = tmp_path / "run_b"
    args = ["--config", CONFIG, "--out", str(out), "--max-steps", "6", *tiny_overrides(meshes)]
    # The trainer's test hook: SIGKILL itself right after step 5 (last checkpoint: step 4).
    killed = run_cli(args, {"HNF3D_TEST_KILL_AT_STEP": "5"})
    assert killed.returncode == -9, killed.stderr
    _, meta = load_checkpoint(out / "last.safetensors")
    assert meta["step"] == 4
    resumed = run_cli([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert max_diff(model_tensors(out / "last.safetensors"),
                    model_tensors(straight_run / "last.safetensors")) <= 1e-6
    with open(out / "log.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4, 5, 6]


def test_truncated_checkpoint_resume_exits_2(meshes, straight_run, tmp_path, capsys):
    train_cli = load_cli()

    out = tmp_path / "run_c"
    out.mkdir()
    data = (straight_run / "last.safetensors").read_bytes()
    (out / "last.safetensors").write_bytes(data[: len(data) // 2])
    rc = train_cli.main(["--config", CONFIG, "--out", str(out), "--resume", "--quiet", *tiny_overrides(meshes)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and str(out / "last.safetensors") in err and "truncated" in err
    with pytest.raises(CheckpointError):
        load_checkpoint(out / "last.safetensors")


def test_resume_without_checkpoint_exits_2(meshes, tmp_path, capsys):
    train_cli = load_cli()

    rc = train_cli.main(["--config", CONFIG, "--out", str(tmp_path / "none"), "--resume", "--quiet",
                         *tiny_overrides(meshes)])
    assert rc == 2 and "no checkpoint" in capsys.readouterr().err


def test_ddp_two_processes_equal_one(meshes, tmp_path):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available in this torch build")
    # normalize_loss off: its normaliser is a per-process batch mean (trainer docstring)
    common = ["--config", CONFIG, "--max-steps", "3", *tiny_overrides(meshes), "--set",
              "objective.normalize_loss=false", "--set", "training.validate_every=0"]
    single = run_cli([*common, "--out", str(tmp_path / "single")])
    assert single.returncode == 0, single.stderr
    ddp = run_cli([*common, "--out", str(tmp_path / "ddp")], torchrun=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    diff = max_diff(model_tensors(tmp_path / "single" / "last.safetensors"),
                    model_tensors(tmp_path / "ddp" / "last.safetensors"))
    assert diff <= 1e-5


def test_learning_rate_schedules():
    from types import SimpleNamespace

    from hnf3d.config import config_from_dict
    from hnf3d.training.trainer import Trainer

    cfg = config_from_dict({"training": {"lr": 1e-3, "max_steps": 100, "lr_schedule": "cosine"}})
    lr = [Trainer.learning_rate(SimpleNamespace(cfg=cfg), s) for s in (0, 50, 100, 150)]
    assert lr[0] == pytest.approx(1e-3) and lr[1] == pytest.approx(5e-4) and lr[2] == lr[3] == pytest.approx(0.0)
    constant = config_from_dict({"training": {"lr": 1e-3, "max_steps": 100}})
    assert Trainer.learning_rate(SimpleNamespace(cfg=constant), 70) == 1e-3


def test_init_from_starts_from_the_checkpoints_weights(meshes, straight_run, tmp_path):
    """training.init_from (fine-tuning): the model starts as the checkpoint's, the optimiser and step afresh; a
    checkpoint of another architecture or a missing file is refused with one line and exit 2."""
    from hnf3d.config import load_config
    from hnf3d.training.trainer import Trainer

    sets = tiny_overrides(meshes)[1::2]
    source = straight_run / "last.safetensors"
    cfg = load_config(CONFIG, [*sets, f"training.init_from={source}"])
    trainer = Trainer(cfg, tmp_path / "fine", progress=False)
    try:
        assert trainer.step == 0
        assert max_diff(model_tensors(source), {f"model.{k}": v for k, v in trainer.model.state_dict().items()}) == 0
    finally:
        trainer.close()
    fresh = Trainer(load_config(CONFIG, sets), tmp_path / "fresh", progress=False)
    try:  # without init_from the same config starts elsewhere: the test above is not vacuous
        assert max_diff(model_tensors(source), {f"model.{k}": v for k, v in fresh.model.state_dict().items()}) > 0
    finally:
        fresh.close()
    args = ["--config", CONFIG, "--out", str(tmp_path / "bad"), "--max-steps", "1", *tiny_overrides(meshes)]
    other = run_cli([*args, "--set", f"training.init_from={source}", "--set", "field.width=16"])
    missing = run_cli([*args, "--set", f"training.init_from={tmp_path / 'none.safetensors'}"])
    for proc, word in ((other, "init_from"), (missing, "none.safetensors")):
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and word in lines[0] and "Traceback" not in proc.stderr, proc.stderr
