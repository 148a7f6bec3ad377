"""hnf3d.training.stability and its use by the trainer: EMA target, warm-up, clipping, divergence guard, probe."""
from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from hnf3d.config import config_from_dict
from hnf3d.training import load_checkpoint
from hnf3d.training.stability import PATIENCE, DivergenceGuard, EmaTarget, check_stability_settings, warmup_factor
from hnf3d.training.trainer import Trainer

from test_trainer import CONFIG, make_meshes, max_diff, model_tensors, run_cli, tiny_overrides

# every switch on, K sampled: what a resumed run must reproduce exactly
SWITCHES = ["objective.k_steps=3", "objective.k_sampling=uniform", "objective.target_ema=0.9",
            "training.warmup_steps=3", "training.grad_clip=0.5", "training.guard=50", "training.probe_every=2"]


def _sets(values: list[str]) -> list[str]:
    out = []
    for v in values:
        out += ["--set", v]
    return out


@pytest.fixture(scope="module")
def meshes(tmp_path_factory):
    return make_meshes(tmp_path_factory.mktemp("meshes"))


def test_warmup_factor_and_learning_rate():
    assert [warmup_factor(s, 4) for s in (0, 1, 3, 10)] == [0.25, 0.5, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    cfg = config_from_dict({"training": {"lr": 1e-3, "max_steps": 100, "lr_schedule": "cosine", "warmup_steps": 10}})
    lr = [Trainer.learning_rate(SimpleNamespace(cfg=cfg), s) for s in (0, 9, 50)]
    assert lr[0] == pytest.approx(1e-4) and lr[1] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 0.09)))
    assert lr[2] == pytest.approx(5e-4)


def test_ema_target_follows_the_field_and_round_trips():
    field = nn.Linear(3, 2)
    ema = EmaTarget(field, 0.75)
    assert all(not p.requires_grad for p in ema.field.parameters())
    before = [p.detach().clone() for p in field.parameters()]
    with torch.no_grad():
        for p in field.parameters():
            p.add_(1.0)
    ema.update(field)
    for p_ema, p0 in zip(ema.field.parameters(), before):
        torch.testing.assert_close(p_ema, p0 + 0.25)
    other = EmaTarget(nn.Linear(3, 2), 0.75)
    other.load_state_tensors(ema.state_tensors(), "ckpt")
    for a, b in zip(other.field.parameters(), ema.field.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="ckpt: no EMA target"):
        other.load_state_tensors({"model.x": torch.zeros(1)}, "ckpt")
    with pytest.raises(ValueError, match="ckpt: the EMA target does not fit"):
        EmaTarget(nn.Linear(4, 2), 0.5).load_state_tensors(ema.state_tensors(), "ckpt")


def test_divergence_guard_skips_spikes_and_gives_up():
    guard = DivergenceGuard(3.0)
    stats = {"task_loss": torch.tensor(0.5), "step_norm": torch.tensor(1.0)}
    assert guard.trips(stats, 1.0) is None  # nothing to compare with yet
    guard.record(stats, skipped=False)
    assert guard.trips({"task_loss": torch.tensor(1.4), "step_norm": torch.tensor(2.9)}, 1.0) is None
    reason = guard.trips({"task_loss": torch.tensor(0.5), "step_norm": torch.tensor(3.5)}, 1.0)
    assert reason and reason.startswith("step_norm")
    assert guard.trips(stats, float("nan")) == "loss nan"
    guard.record(stats, skipped=True)
    assert guard.skipped == 1 and guard.averages == {"task_loss": 0.5, "step_norm": 1.0}
    restored = DivergenceGuard(3.0)
    restored.load_state(guard.state())
    assert restored.state() == guard.state()
    with pytest.raises(RuntimeError, match="diverged"):
        for _ in range(PATIENCE):
            guard.record(stats, skipped=True)
    off = DivergenceGuard(0.0)
    assert off.trips(stats, float("inf")) is None


@pytest.mark.parametrize("key, value", [("objective.target_ema", 1.0), ("objective.target_ema", -0.1),
                                        ("training.grad_clip", -1.0), ("training.guard", 0.5),
                                        ("training.guard", float("inf"))])
def test_out_of_range_settings_are_named(key, value):
    section, name = key.split(".")
    cfg = config_from_dict({section: {name: value}})
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        check_stability_settings(cfg)
    # the EMA target is a variant A thing
    with pytest.raises(ValueError, match="target_ema"):
        check_stability_settings(config_from_dict({"objective": {"kind": "direct", "target_ema": 0.9}}))


def test_train_cli_refuses_a_bad_setting_in_one_line(meshes, tmp_path):
    proc = run_cli(["--config", CONFIG, "--out", str(tmp_path / "bad"), "--max-steps", "2", *tiny_overrides(meshes),
                    "--set", "training.guard=0.5"])
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "training.guard" in proc.stderr
    assert not (tmp_path / "bad" / "last.safetensors").exists()


@pytest.fixture(scope="module")
def switched_run(meshes, tmp_path_factory):
    out = tmp_path_factory.mktemp("switched")
    proc = run_cli(["--config", CONFIG, "--out", str(out), "--max-steps", "6", *tiny_overrides(meshes),
                    *_sets(SWITCHES)])
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_run_with_every_switch_logs_them(switched_run):
    with open(switched_run / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    # warm-up over 3 updates of the constant lr 1e-4 (synthetic_pc.yaml)
    assert [float(r["lr"]) for r in rows[:4]] == pytest.approx([1e-4 / 3, 2e-4 / 3, 1e-4, 1e-4])
    assert all(float(r["grad_norm"]) > 0 for r in rows) and all(r["skipped"] == "0" for r in rows)
    assert all(1.0 <= float(r["k_mean"]) <= 3.0 for r in rows)
    probed = [r for r in rows if r["probe_iou"]]
    assert [int(r["step"]) for r in probed] == [2, 4, 6]
    assert all(0.0 <= float(r["probe_iou"]) <= 1.0 and float(r["probe_task_loss"]) > 0 for r in probed)
    tensors, meta = load_checkpoint(switched_run / "last.safetensors")
    ema = {k: v for k, v in tensors.items() if k.startswith("ema.")}
    assert ema and set(k[4:] for k in ema) == {k[len("model.field."):] for k in tensors
                                                 if k.startswith("model.field.")}
    # the EMA copy lags the trained field
    assert max(float((ema[k].double() - tensors["model.field." + k[4:]].double()).abs().max()) for k in ema) > 0
    assert meta["extra"]["guard"]["skipped"] == 0 and meta["extra"]["guard"]["averages"]


def test_resume_with_every_switch_is_exact(meshes, switched_run, tmp_path):
    out = tmp_path / "resumed"
    args = ["--config", CONFIG, "--out", str(out), "--max-steps", "6", *tiny_overrides(meshes), *_sets(SWITCHES)]
    killed = run_cli(args, {"HNF3D_TEST_KILL_AT_STEP": "5"})
    assert killed.returncode == -9, killed.stderr
    resumed = run_cli([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    a, _ = load_checkpoint(out / "last.safetensors")
    b, _ = load_checkpoint(switched_run / "last.safetensors")
    assert max_diff(model_tensors(out / "last.safetensors"), model_tensors(switched_run / "last.safetensors")) <= 1e-6
    assert max_diff({k: v for k, v in a.items() if k.startswith("ema.")},
                    {k: v for k, v in b.items() if k.startswith("ema.")}) <= 1e-6
    # a checkpoint written without the EMA target cannot be resumed with one
    plain = tmp_path / "plain"
    base = ["--config", CONFIG, "--out", str(plain), "--max-steps", "2", *tiny_overrides(meshes)]
    assert run_cli(base).returncode == 0
    proc = run_cli([*base, "--max-steps", "4", "--resume", "--set", "objective.target_ema=0.9"])
    assert proc.returncode == 2 and "no EMA target" in proc.stderr, proc.stderr


def test_gradient_clipping_changes_the_update(meshes, tmp_path):
    outs = {}
    for clip in ("0", "1e-9"):
        outs[clip] = tmp_path / f"clip{clip}"
        proc = run_cli(["--config", CONFIG, "--out", str(outs[clip]), "--max-steps", "1", *tiny_overrides(meshes),
                        "--set", f"training.grad_clip={clip}"])
        assert proc.returncode == 0, proc.stderr
    with open(outs["1e-9"] / "log.csv", newline="") as fh:
        norm = float(next(csv.DictReader(fh))["grad_norm"])
    assert norm > 1e-9  # the logged norm is the one before clipping
    assert max_diff(model_tensors(outs["0"] / "last.safetensors"),
                    model_tensors(outs["1e-9"] / "last.safetensors")) > 0
