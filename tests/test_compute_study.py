"""benchmarks/compute_study.py: the FLOP count of a training step, the crossing interpolation, the claim check and
the study's run definitions (they must resolve to valid configs with the budgets kept)."""
import math
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "training"))

from benchmarks import compute_study as cs  # noqa: E402
from test_trainer import make_meshes  # noqa: E402


@pytest.fixture(scope="module")
def meshes(tmp_path_factory):
    return make_meshes(tmp_path_factory.mktemp("study_meshes"))


def tiny_config(meshes, *sets):
    from hnf3d.config import load_config

    base = ["data.dataset=mesh_folder", f"data.path={meshes}", "data.n_query_points=128", "data.n_input_points=128",
            "task_network.hidden=[16]", "field.width=32", "field.depth=1", "field.T=10", "encoder.hidden=32",
            "encoder.c_dim=32", "training.device=cpu"]
    return load_config(str(REPO / "configs" / "synthetic_pc.yaml"), overrides=[*base, *sets])


def test_flop_count_matches_torch_flop_counter_and_scales_with_batch(meshes):
    from torch.utils.flop_counter import FlopCounterMode

    a = torch.randn(8, 16)
    w = torch.randn(16, 32, requires_grad=True)
    with cs.FlopCount() as ours, FlopCounterMode(display=False) as theirs:
        (a @ w).square().sum().backward()
    # the forward matmul and the weight gradient (a needs none), 2 FLOPs per multiply-add
    assert ours.total == theirs.get_total_flops() == 2 * 2 * 8 * 16 * 32

    direct2 = cs.step_flops(tiny_config(meshes, "objective.kind=direct", "training.batch_size=2"))
    direct4 = cs.step_flops(tiny_config(meshes, "objective.kind=direct", "training.batch_size=4"))
    gm4 = cs.step_flops(tiny_config(meshes, "objective.kind=gradient_matching", "training.batch_size=4"))
    assert direct2 > 0 and direct4 == 2 * direct2  # every op of a step is per shape
    # gradient matching evaluates the field twice and takes per-sample task gradients: more work than direct
    assert gm4 > direct4


CURVE = [{"step": s, "iou": iou, "total_seconds": sec, "total_flops": sec * 1e9, "fit_seconds": fit,
          "fit_flops": fit * 1e9} for s, iou, sec, fit in ((1, 0.2, 10.0, 0.0), (2, 0.4, 100.0, 0.0),
                                                            (3, 0.5, 1000.0, 0.0))]


def test_interpolate_compute():
    assert cs.interpolate_compute(CURVE, "iou", 0.1, "total_seconds") == 10.0  # reached at the first snapshot
    # halfway in IoU between 10 s and 100 s: halfway in log-compute
    assert cs.interpolate_compute(CURVE, "iou", 0.3, "total_seconds") == pytest.approx(math.sqrt(1000.0))
    assert cs.interpolate_compute(CURVE, "iou", 0.5, "total_seconds") == 1000.0
    assert cs.interpolate_compute(CURVE, "iou", 0.6, "total_seconds") is None


def weights_curve(ious, seconds, fit):
    return {"points": [{"step": i + 1, "iou": q, "total_seconds": s + fit, "total_flops": (s + fit) * 1e9,
                        "fit_seconds": fit, "fit_flops": fit * 1e9} for i, (q, s) in enumerate(zip(ious, seconds))]}


def test_claim_holds_and_fails():
    gm = {"points": CURVE}
    # weights reach 0.4 for 300 s in all (200 s of fitting); gradient matching reaches 0.4 at 100 s: 3x
    w = weights_curve([0.3, 0.4], [50.0, 100.0], 200.0)
    c = cs.claim({"gm_A": gm, "weights": w})
    assert c["holds"] is True and c["total_seconds"]["ratio_weights_over_gm_A"] == pytest.approx(3.0)
    assert c["total_seconds"]["weights_fit_share"] == pytest.approx(200 / 300)
    assert c["statement"].startswith("holds")
    # weights better than gradient matching ever gets: does not hold
    c = cs.claim({"gm_A": gm, "weights": weights_curve([0.55, 0.6], [50.0, 100.0], 200.0)})
    assert c["holds"] is False and c["total_seconds"]["gm_A_to_reach_weights_iou"] is None
    assert c["statement"].startswith("does not hold")
    # the highest IoU both reach is gradient matching's best, 0.5 (1000 s); weights pass it at their first
    # snapshot (250 s): 0.25x
    assert c["common"]["iou"] == 0.5
    assert c["common"]["total_seconds"]["ratio_weights_over_gm_A"] == pytest.approx(0.25)
    # the baseline's best snapshot sets the bar and its compute, not its last one
    c = cs.claim({"gm_A": gm, "weights": weights_curve([0.4, 0.35], [100.0, 200.0], 200.0)})
    assert c["weights_best_step"] == 1 and c["total_seconds"]["ratio_weights_over_gm_A"] == pytest.approx(3.0)
    # reached, but at under 2x less compute: not "several times"
    c = cs.claim({"gm_A": gm, "weights": weights_curve([0.4], [50.0], 100.0)})
    assert c["holds"] is False and c["total_seconds"]["ratio_weights_over_gm_A"] == pytest.approx(1.5)
    assert "incomplete" in cs.claim({"gm_A": gm})["status"]
    # of two gradient matching A runs, the claim takes the one that reaches the bar with less compute
    slow = {"points": [dict(p, total_seconds=p["total_seconds"] * 10) for p in CURVE]}
    c = cs.claim({"gm_A": slow, "gm_A_lr1e-4": gm, "weights": weights_curve([0.3, 0.4], [50.0, 100.0], 200.0)})
    assert c["gm_A_run"] == "gm_A_lr1e-4" and c["total_seconds"]["ratio_weights_over_gm_A"] == pytest.approx(3.0)


@pytest.mark.parametrize("study, input_kind", [(st, kind) for st in cs.STUDIES.values() for kind in sorted(st.inputs)],
                         ids=lambda v: getattr(v, "name", v))
def test_study_runs_resolve(study, input_kind):
    spec = study.inputs[input_kind]
    for method in study.methods:
        cfg = cs.study_config(input_kind, method, study)
        assert cfg.training.max_steps == spec["steps"] and cfg.training.keep_steps == spec["budgets"]
        assert cfg.data.input_type == input_kind and cfg.data.path.endswith(study.data)
        assert cfg.objective.kind == ("gradient_matching" if method.startswith("gm") else method)
        if method.startswith("gm_"):
            assert cfg.objective.variant == method[3]
        if study.scoring == "trainer":  # every budget's snapshot carries the trainer's validation IoU
            assert all(b % cfg.training.validate_every == 0 for b in spec["budgets"])
        cmd = cs.train_command(input_kind, method, study)
        assert cmd[:3] == ["tools/train.py", "--config", spec["config"]]
        assert cs.run_dir(input_kind, method, study) in cmd
    # the weights targets are fitted with the configs' task network and theta_0 seed
    cfg = cs.study_config(input_kind, "weights", study)
    fit = dict(zip(study.fit_args[::2], study.fit_args[1::2]))
    task = cs._fit_task_network(fit)
    from hnf3d.models.build import build_task_network

    assert task.config() == build_task_network(cfg).config()
    assert int(fit["--theta0-seed"]) == cfg.training.seed
    assert cs.fit_command(study)[:5] == ["tools/fit_shapes.py", "--data", study.data, "--out", study.fit_file]


def test_local_study_trains_the_shipped_gradient_matching_config():
    """The local study's gm run and configs/local_pc_gm.yaml (what a user trains) are the same objective."""
    from hnf3d.config import load_config

    run = cs.study_config("pointcloud", "gm", cs.LOCAL)
    user = load_config(str(REPO / "configs" / "local_pc_gm.yaml"))
    assert run.objective == user.objective
    for key in ("lr", "lr_schedule", "warmup_steps", "grad_clip", "guard", "batch_size", "seed"):
        assert getattr(run.training, key) == getattr(user.training, key), key
    assert run.field == user.field and run.task_network == user.task_network and run.encoder == user.encoder


def test_matched_steps_and_falling_windows():
    log_falls = [{"probe_task_loss_median": v} for v in (0.3, 0.2, 0.15)]
    assert cs.falls_every_window(log_falls) is True
    assert cs.falls_every_window(log_falls + [{"probe_task_loss_median": 0.16}]) is False
    assert cs.falls_every_window([{"loss_median": 1.0}]) is None
    methods = {"gm": {"points": [{"step": 250, "iou": 0.5}, {"step": 500, "iou": 0.7}], "log": log_falls},
               "direct": {"points": [{"step": 250, "iou": 0.6}, {"step": 500, "iou": 0.71}], "log": []},
               "weights": {"points": [{"step": 250, "iou": 0.3}, {"step": 500, "iou": 0.4}], "log": []}}
    m = cs.matched_steps(methods, ("gm",))
    assert m["per_step"]["500"] == {"gm": 0.7, "direct": 0.71, "weights": 0.4}
    assert m["gm_minus_direct_at_500"] == pytest.approx(-0.01) and m["gm_minus_weights_at_500"] == pytest.approx(0.3)
    assert m["gm_task_loss_at_T_falls_every_window"] is True


def test_log_summary_windows(tmp_path):
    log = tmp_path / "log.csv"
    rows = ["step,loss,task_loss,raw_loss,step_norm,t_mean,skipped,probe_iou,probe_task_loss,val_iou,seconds"]
    rows += [f"{s},1.0,{0.1 if s <= 4 else 100.0},,{s},5,{s // 5},{s / 10 if s % 2 else ''},{1 / s if s % 2 else ''},,{s}"
             for s in range(1, 8)]
    log.write_text("\n".join(rows) + "\n")
    out = cs.log_summary(log, window=4)
    assert [(w["first_step"], w["last_step"]) for w in out] == [(1, 4), (5, 7)]
    assert out[0]["task_loss_median"] == 0.1 and out[1]["task_loss_median"] == 100.0  # the divergence shows
    assert out[0]["step_norm_max"] == 4 and out[1]["step_norm_max"] == 7 and out[1]["loss_median"] == 1.0
    # the probe rows (odd steps): steps 1, 3 then 5, 7
    assert out[0]["probe_task_loss_median"] == pytest.approx((1 + 1 / 3) / 2)
    assert out[1]["probe_iou_median"] == pytest.approx(0.6) and out[1]["skipped"] == 1


def test_trainer_scoring_reads_the_logged_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(cs, "_val_objects", lambda input_kind, study: 300)
    log = tmp_path / "log.csv"
    rows = ["step,loss,val_iou,seconds"] + [f"{s},1.0,{s / 2000 if s % 250 == 0 else ''},{3.0 * s}"
                                            for s in range(1, 1501)]
    log.write_text("\n".join(rows) + "\n")
    out = cs._logged_scores(log, "pointcloud", "gm", cs.LOCAL)
    assert sorted(out) == cs.LOCAL.inputs["pointcloud"]["budgets"]
    meta, res = out[1000]
    assert res == {"mean": {"iou": 0.5}, "objects": 300} and meta["extra"]["seconds"] == 3000.0
    log.write_text("\n".join(rows[:1001]) + "\n")  # stopped at step 1000
    with pytest.raises(FileNotFoundError, match="no validation IoU at step 1500"):
        cs._logged_scores(log, "pointcloud", "gm", cs.LOCAL)
