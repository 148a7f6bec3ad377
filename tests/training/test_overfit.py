"""Overfitting experiment (benchmarks/overfit.py, docs/gradient_matching.md): 8 procedural shapes from point-cloud
input, each objective trained for a fixed number of CPU steps; IoU of the task network at Phi(T, c).

Seeded and deterministic. Each run takes more than a minute on 2 CPU cores (direct ~1.5-3 min, gradient
matching ~2-3.5 min per seed, three seeds, depending on load), hence the `acceptance` marker: they run with `pytest --acceptance` (CI does).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from _tools import load_script  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    return load_script("benchmarks/overfit.py", "overfit_bench")


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def data(bench):
    return bench.make_data()


def test_data_is_deterministic_and_balanced(bench, data):
    assert data["inputs"].shape == (8, 512, 3) and data["x_eval"].shape == (8, 20000, 3)
    occupied = data["occ_eval"].mean(1)
    assert ((occupied > 0.005) & (occupied < 0.9)).all(), occupied
    again = bench.make_data()
    for k in data:
        torch.testing.assert_close(data[k], again[k], rtol=0, atol=0)


@pytest.mark.acceptance
def test_direct_reaches_target(bench, data):
    rec = bench.run(bench.CONFIGS[bench.CHOSEN["direct"]], data, teacher=False)
    assert rec["iou"] > rec["iou_theta_0"]
    assert rec["iou"] >= bench.TARGETS["direct"], rec["iou_per_shape"]


@pytest.mark.acceptance
def test_gradient_matching_reaches_target(bench, data):
    """Gradient matching A, plain SGD targets, eta 1, T 1000, t ~ floor(T sqrt(u)), normalised loss, field Adam
    lr 3e-4, 2000 updates (docs/gradient_matching.md), mean over three seeds of the field and of t, on one thread
    (benchmarks/results/overfit_seeds.json: 0.858, 0.864, 0.819). One run moves by up to 0.14 IoU with
    rounding-level changes (seed 0 gave 0.722 on two threads), so one seed cannot tell a regression from chaos."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the benchmark's JSON was measured: the float reduction order is part of the run
    try:
        runs = [bench.run(replace(bench.CONFIGS[bench.CHOSEN["gm"]], seed=seed), data, teacher=False)
                for seed in (0, 1, 2)]
    finally:
        torch.set_num_threads(threads)
    assert all(r["iou"] > r["iou_theta_0"] for r in runs)
    mean = sum(r["iou"] for r in runs) / len(runs)
    assert mean >= bench.TARGETS["gm"], [r["iou"] for r in runs]


def test_short_runs_are_deterministic(bench, data):
    """A few-step smoke run of each objective: finite, deterministic records."""
    for name in (bench.CHOSEN["direct"], bench.CHOSEN["gm"], "gm_B_eta1_T1000"):
        cfg = replace(bench.CONFIGS[name], steps=3)
        a = bench.run(cfg, data, teacher=False)
        b = bench.run(cfg, data, teacher=False)
        assert a["iou_per_shape"] == b["iou_per_shape"]
        assert all(0.0 <= v <= 1.0 for v in a["iou_per_shape"])
