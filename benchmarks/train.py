#!/usr/bin/env python
"""Training throughput (shapes per second) and peak memory per objective at the default sizes.

    PYTHONPATH=. python benchmarks/train.py [--quick] [--steps N] [--device cpu|cuda] [--config YAML] [--out PATH]

Model: `build_model` of --config (default configs/base.yaml: task network 3x128, field width 256 depth 4, pointnet
encoder; batch 32 shapes, 3000 input points, 2048 queries; configs/local_pc.yaml: the local triplane family).
FLOPs per step (forward + backward of one step, torch.utils.flop_counter: matrix products and convolutions) are
reported beside the seconds (benchmarks/_flops.py). --quick: batch 4, 512 input points, 256 queries, field 64x2,
encoder 64, task network 3x32. Objectives: gradient_matching A, gradient_matching B, direct, weights.
Data: synthetic in-memory batches (no dataset on disk): per shape a sphere of random radius r in [0.2, 0.45];
inputs are random points on it (plus the config's input noise), queries uniform in [-0.55, 0.55]^3 with labels
|x| < r; for `weights` a random theta_star (theta_0 + noise). Each step: forward, backward, Adam step (as the
Trainer does); 2 warm-up steps, then the median of N timed steps.

Peak memory: on CUDA torch.cuda.max_memory_allocated (reset before each objective). On CPU the growth of the
process's peak RSS (resource.getrusage ru_maxrss) over the objective's steps -- tracemalloc does not see torch's
allocations. ru_maxrss is a high-water mark of the whole process, so an objective that needs less than an earlier
one shows ~0 growth; `peak_rss_mib` (the absolute high-water mark after the objective) is reported too, and the
objectives are run from the cheapest expected (weights) to the most expensive (gradient matching B) so the
growth figures are meaningful.

Gradient-matching breakdown (separately timed pieces of one step, same batch): encoder forward, one field
evaluation without graph (th_t of variant A), one field evaluation with graph, the per-sample-gradient pass of
the task loss at th_t, and the extra cost of the step vs `direct` (which needs one field evaluation and the task
loss only).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks._flops import FlopCount
from benchmarks._harness import environment, format_table, write_json_atomic
from hnf3d.config import load_config
from hnf3d.training.objectives import per_sample_gradients
from hnf3d.models.build import build_model
from hnf3d.training.trainer import ObjectiveModel

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = {  # run order: cheapest expected first (see the module docstring on ru_maxrss)
    "weights": ["objective.kind=weights"],
    "direct": ["objective.kind=direct"],
    "gradient_matching_A": ["objective.kind=gradient_matching", "objective.variant=A"],
    "gradient_matching_B": ["objective.kind=gradient_matching", "objective.variant=B"],
}
QUICK = ["training.batch_size=4", "data.n_input_points=512", "data.n_query_points=256", "field.width=64",
         "field.depth=2", "encoder.c_dim=64", "encoder.hidden=64", "task_network.hidden=[32, 32, 32]",
         "task_network.resolution=16"]


def _rss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024  # bytes on macOS, KiB on Linux


def make_batch(cfg, P: int, device: torch.device, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    B, n_in, n_q = cfg.training.batch_size, cfg.data.n_input_points, cfg.data.n_query_points
    r = 0.2 + 0.25 * torch.rand(B, 1, 1, generator=g)
    d = torch.randn(B, n_in, 3, generator=g)
    inputs = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12) * r
    inputs = inputs + cfg.data.input_noise * torch.randn(inputs.shape, generator=g)
    x = (torch.rand(B, n_q, 3, generator=g) - 0.5) * 1.1
    occ = (x.norm(dim=-1) < r[:, :, 0]).float()
    theta_star = 0.1 * torch.randn(B, P, generator=g)
    return {k: v.to(device) for k, v in dict(inputs=inputs, x=x, occ=occ, theta_star=theta_star).items()}


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device, n: int) -> list[float]:
    out = []
    for _ in range(n):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def bench_objective(name: str, overrides: list[str], base: list[str], steps: int, device: torch.device,
                    warmup: int = 2, config: Path = ROOT / "configs" / "base.yaml") -> tuple[dict, object, dict]:
    cfg = load_config(config, overrides=base + overrides)
    torch.manual_seed(cfg.training.seed)
    model = build_model(cfg).to(device)
    objective = ObjectiveModel(model, cfg.objective)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.training.lr)
    P = model.field.theta_0.numel() if hasattr(model.field, "theta_0") else None
    if P is None:
        with torch.no_grad():
            P = model.predict_theta(torch.zeros(1, 8, 3, device=device)).shape[1]
    batch = make_batch(cfg, P, device)
    t_gen = torch.Generator().manual_seed(cfg.training.seed)

    def one_step():
        t = None
        if cfg.objective.kind == "gradient_matching":
            t = torch.randint(0, model.field.T, (cfg.training.batch_size,), generator=t_gen).to(device)
        loss, _ = objective(batch["inputs"], x=batch["x"], occ=batch["occ"], t=t, theta_star=batch["theta_star"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = _rss_mib()
    with FlopCount() as counter:
        one_step()  # also the first warm-up step
    _timed(one_step, device, max(warmup - 1, 0))
    times = _timed(one_step, device, steps)
    B = cfg.training.batch_size
    med = statistics.median(times)
    rec = {
        "objective": name,
        "batch_size": B,
        "n_params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "P": int(P),
        "steps": steps,
        "warmup": warmup,
        "step_s_median": med,
        "step_s_min": min(times),
        "step_s_all": times,
        "shapes_per_s": B / med,
        "flops_per_step": int(counter.total),
        "gflops_per_s": counter.total / med / 1e9,
    }
    if device.type == "cuda":
        rec["peak_mem_mib"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
        rec["peak_mem_kind"] = "torch.cuda.max_memory_allocated"
    else:
        rss1 = _rss_mib()
        rec["peak_mem_mib"] = rss1 - rss0
        rec["peak_rss_mib"] = rss1
        rec["peak_mem_kind"] = "ru_maxrss growth (process high-water mark; 0 = no higher than before)"
    return rec, model, batch


def gm_breakdown(model, batch, steps: int, device: torch.device) -> dict:
    """Times of the pieces of a gradient-matching step (forward pieces only, no optimiser step)."""
    field, task_net = model.field, model.task_net
    B = batch["inputs"].shape[0]
    t = torch.full((B,), float(field.T // 2), device=device)
    with torch.no_grad():
        c0 = model.encoder(batch["inputs"])
        th0 = field(t, c0)
    n = max(steps, 1)

    def enc():
        with torch.no_grad():
            model.encoder(batch["inputs"])

    def field_nograd():
        with torch.no_grad():
            field(t, c0)

    def field_fwd_bwd():
        field(t, c0).pow(2).sum().backward()

    def psg():
        per_sample_gradients(task_net, th0, batch["x"], batch["occ"])

    out = {}
    for key, fn in (("encoder_forward_s", enc), ("field_eval_nograd_s", field_nograd),
                    ("field_eval_fwd_bwd_s", field_fwd_bwd), ("per_sample_gradients_s", psg)):
        fn()
        out[key] = statistics.median(_timed(fn, device, n))
    model.zero_grad(set_to_none=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per objective (median reported)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--config", default=str(ROOT / "configs" / "base.yaml"), help="the model's config (YAML)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/train-<device>.json)")
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error("--steps must be >= 1")
    device = torch.device(args.device)
    env = environment(args.device)
    base = QUICK if args.quick else []
    t_start = time.perf_counter()
    records, bd = {}, None
    for name, ov in OBJECTIVES.items():
        rec, model, batch = bench_objective(name, ov, base, args.steps, device, config=Path(args.config))
        records[name] = rec
        print(f"{name}: {rec['step_s_median']:.3f} s/step", flush=True)
        if name == "gradient_matching_A":
            bd = gm_breakdown(model, batch, args.steps, device)
        del model, batch
    d = records["direct"]["step_s_median"]
    for k in ("gradient_matching_A", "gradient_matching_B"):
        records[k]["extra_vs_direct_s"] = records[k]["step_s_median"] - d
        records[k]["ratio_vs_direct"] = records[k]["step_s_median"] / d
    bd["note"] = ("forward pieces timed in isolation on the same batch; gradient matching = encoder + 2 field "
                  "evaluations (variant A: one without graph) + per-sample-gradient pass + backward through the "
                  "field; direct = encoder + 1 field evaluation + task loss + backward through task net and field")
    bd["gm_A_extra_vs_direct_s"] = records["gradient_matching_A"]["extra_vs_direct_s"]
    bd["gm_B_extra_vs_direct_s"] = records["gradient_matching_B"]["extra_vs_direct_s"]
    env["loadavg_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    result = {
        "benchmark": "train",
        "quick": args.quick,
        "sizes": ("quick: " + ", ".join(QUICK)) if args.quick else
        f"{Path(args.config).name}" + (" (configs/base.yaml defaults: batch 32, 3000 input points, 2048 queries, "
                                       "task 3x128, field 256x4, pointnet)" if Path(args.config).name == "base.yaml"
                                       else ""),
        "config": str(Path(args.config).resolve().relative_to(ROOT)) if Path(args.config).resolve().is_relative_to(ROOT)
        else Path(args.config).name,
        "environment": env,
        "objectives": records,
        "gradient_matching_breakdown": bd,
        "runtime_s": time.perf_counter() - t_start,
    }
    rows = [[k, r["batch_size"], f"{r['step_s_median']:.4f}", f"{r['shapes_per_s']:.2f}",
             f"{r['peak_mem_mib']:.1f}", f"{r.get('ratio_vs_direct', 1.0 if k == 'direct' else float('nan')):.2f}"]
            for k, r in records.items()]
    print(format_table(rows, ["objective", "B", "s/step", "shapes/s", "peak MiB", "x direct"]))
    print("gradient-matching pieces (s): " + ", ".join(f"{k}={v:.4f}" for k, v in bd.items() if k.endswith("_s")))
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"train-{args.device}.json"
    write_json_atomic(out, result)
    print(f"wrote {out} ({result['runtime_s']:.1f} s)")
    return result


if __name__ == "__main__":
    main()
