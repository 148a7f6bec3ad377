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


@pytest.mark.parametrize("input_kind", sorted(cs.INPUTS))
def test_study_runs_resolve(input_kind):
    spec = cs.INPUTS[input_kind]
    for method in cs.METHODS:
        cfg = cs.study_config(input_kind, method)
        assert cfg.training.max_steps == spec["steps"] and cfg.training.keep_steps == spec["budgets"]
        assert cfg.data.input_type == input_kind
        assert cfg.objective.kind == ("gradient_matching" if method.startswith("gm_") else method)
        if method.startswith("gm_"):
            assert cfg.objective.variant == method[3]
        cmd = cs.train_command(input_kind, method)
        assert cmd[:3] == ["tools/train.py", "--config", spec["config"]] and cs.run_dir(input_kind, method) in cmd
    # the weights targets are fitted with the configs' task network and theta_0 seed
    cfg = cs.study_config(input_kind, "weights")
    fit = cs.FIT_ARGS
    assert fit[fit.index("--hidden") + 1] == ",".join(str(h) for h in cfg.task_network.hidden)
    assert int(fit[fit.index("--n-frequencies") + 1]) == cfg.task_network.n_frequencies
    assert int(fit[fit.index("--theta0-seed") + 1]) == cfg.training.seed


def test_log_summary_windows(tmp_path):
    log = tmp_path / "log.csv"
    rows = ["step,loss,task_loss,raw_loss,step_norm,t_mean,val_iou,seconds"]
    rows += [f"{s},1.0,{0.1 if s <= 4 else 100.0},,{s},5,,{s}" for s in range(1, 8)]
    log.write_text("\n".join(rows) + "\n")
    out = cs.log_summary(log, window=4)
    assert [(w["first_step"], w["last_step"]) for w in out] == [(1, 4), (5, 7)]
    assert out[0]["task_loss_median"] == 0.1 and out[1]["task_loss_median"] == 100.0  # the divergence shows
    assert out[0]["step_norm_max"] == 4 and out[1]["step_norm_max"] == 7 and out[1]["loss_median"] == 1.0
