"""benchmarks/gm_ablation.py: its runs resolve to valid configs that differ from configs/local_pc_gm.yaml only in
what they say, and the report reads a run's log into the figures docs/gradient_matching.md cites."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import gm_ablation as ga  # noqa: E402


@pytest.mark.parametrize("name", sorted(ga.RUNS))
def test_runs_resolve_and_change_only_their_switches(name):
    from hnf3d.config import config_to_dict, load_config

    cmd = ga.train_command(name)
    assert cmd[:5] == ["tools/train.py", "--config", ga.CONFIG, "--out", ga.run_dir(name)]
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    cfg = load_config(str(REPO / ga.CONFIG), overrides=sets)
    assert cfg.training.max_steps == ga.STEPS and cfg.training.probe_every > 0
    assert ga.STEPS % cfg.training.validate_every == 0
    base = config_to_dict(load_config(str(REPO / ga.CONFIG), overrides=ga.LAYOUT))
    run = config_to_dict(cfg)
    changed = {f"{sec}.{k}" for sec in run if isinstance(run[sec], dict) for k in run[sec]
               if run[sec][k] != base[sec][k]}
    # out_dir moves with --out, not with --set; every switch the run names changes its value
    assert changed == {s.split("=")[0] for s in ga.RUNS[name][1]}


def test_summarise_reads_a_log(tmp_path, monkeypatch):
    monkeypatch.setattr(ga, "REPO", tmp_path)
    folder = tmp_path / ga.run_dir("k8")
    folder.mkdir(parents=True)
    header = "step,loss,task_loss,raw_loss,step_norm,t_mean,k_mean,grad_norm,lr,skipped,probe_iou,probe_task_loss,val_iou,seconds"
    rows = [header]
    for s in range(1, 501):
        probe = f"{0.1 * s / 500:.4f},{1.0 / s:.4f}" if s % 100 == 0 else ","
        val = f"{s / 1000:.3f}" if s % 250 == 0 else ""
        rows.append(f"{s},1.0,0.5,1e-6,1.0,500,8,2.0,1e-4,0,{probe},{val},{2.0 * s}")
    (folder / "log.csv").write_text("\n".join(rows) + "\n")
    r = ga.summarise("k8")
    assert r["steps"] == 500 and r["complete"] is False and r["val_iou"] == {"250": 0.25, "500": 0.5}
    assert r["best_val_iou"] == 0.5 and r["skipped"] == 0 and r["seconds_per_update"] == pytest.approx(2.0)
    assert r["task_loss_at_T_falls_every_window"] is True  # 1/s falls from window to window
    with pytest.raises(FileNotFoundError, match="gm_ablation.py train --run k1"):
        ga.summarise("k1")


def test_plot_trajectory_writes_a_png(tmp_path):
    rows = [{"t": t, "iou_phi": t / 1000, "iou_teacher": t / 900, "dist_rel": None if t == 0 else 0.5}
            for t in (0, 500, 1000)]
    doc = {"rows": rows, "step_rule": "sgd", "eta": 1.0, "shapes": ["a/b"] * 8}
    path = tmp_path / "traj.json"
    path.write_text(json.dumps(doc))
    ga.plot_trajectory(path, tmp_path / "t.png", "k8")
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
