"""Smoke test of benchmarks/train.py: --quick with one timed step writes a JSON with the four objectives."""
import json

from benchmarks.train import main

OBJECTIVES = ("gradient_matching_A", "gradient_matching_B", "direct", "weights")


def test_benchmark_train_quick(tmp_path):
    out = tmp_path / "train.json"
    result = main(["--quick", "--steps", "1", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["quick"] is True
    assert set(data["objectives"]) == set(OBJECTIVES)
    for name in OBJECTIVES:
        rec = data["objectives"][name]
        assert 0 < rec["step_s_median"] < 30, (name, rec["step_s_median"])
        assert rec["shapes_per_s"] > 0
        assert rec["batch_size"] == 4
        assert rec["peak_mem_mib"] >= 0
    bd = data["gradient_matching_breakdown"]
    for key in ("encoder_forward_s", "field_eval_nograd_s", "field_eval_fwd_bwd_s", "per_sample_gradients_s"):
        assert bd[key] > 0
    assert "environment" in data and data["environment"]["device"]
    assert result["objectives"].keys() == data["objectives"].keys()
