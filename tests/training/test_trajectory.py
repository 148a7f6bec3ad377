"""tools/trajectory.py: a tiny model trained 3 steps, its trajectory against the real optimiser (teacher)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_trainer import CONFIG, make_meshes, tiny_overrides  # noqa: E402
from hnf3d.cli import trajectory as trajectory_cli  # noqa: E402


def _tool():
    return trajectory_cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from hnf3d.config import load_config
    from hnf3d.training.trainer import Trainer

    meshes = make_meshes(tmp_path_factory.mktemp("meshes"))
    sets = [s for s in tiny_overrides(meshes) if s != "--set"]
    sets += ["training.checkpoint_every=3", "objective.step_rule=sgd", "objective.eta=1.0"]
    out = tmp_path_factory.mktemp("run")
    trainer = Trainer(load_config(CONFIG, sets), out_dir=out, progress=False)
    trainer.train(max_steps=3)
    trainer.close()
    return out / "last.safetensors"


def test_trajectory_json(checkpoint, tmp_path, capsys):
    out = tmp_path / "traj.json"
    assert _tool().main(["--checkpoint", str(checkpoint), "--shapes", "3", "--every", "2", "--out", str(out)]) == 0
    assert "dist_abs" in capsys.readouterr().out
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert data["T"] == 10 and len(data["shapes"]) == 3
    assert [r["t"] for r in rows] == [0, 2, 4, 6, 8, 10]
    first = rows[0]
    assert first["dist_abs"] == 0.0 and first["per_shape"]["dist_abs"] == [0.0, 0.0, 0.0]
    assert first["dist_rel"] is None  # the teacher has not moved yet
    assert first["iou_phi"] == first["iou_teacher"] and first["loss_phi"] == first["loss_teacher"]
    for r in rows:
        for key in ("iou_phi", "iou_teacher"):
            assert 0.0 <= r[key] <= 1.0
            assert all(0.0 <= v <= 1.0 for v in r["per_shape"][key])
        if r["t"] > 0:
            assert r["dist_abs"] > 0 and r["dist_rel"] is not None and r["dist_rel"] > 0
    teacher_loss = [r["loss_teacher"] for r in rows]
    assert all(b < a for a, b in zip(teacher_loss, teacher_loss[1:])), teacher_loss
    assert not list(tmp_path.glob(".traj.json.*"))  # no temp file left behind


def test_bad_checkpoint_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage not a safetensors file")
    tool = _tool()
    assert tool.main(["--checkpoint", str(bad), "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trajectory: error:") and "\n" not in err
    assert tool.main(["--checkpoint", str(tmp_path / "missing.safetensors")]) == 2
    assert not (tmp_path / "t.json").exists()
