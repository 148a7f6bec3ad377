#!/usr/bin/env python
"""Which point-cloud model to ship: models compared on validation shapes the project owns (never on the real
evaluation data), one pass and after refinement, full inputs and scan-like ones.

    PYTHONPATH=. python benchmarks/scan_training.py --checkpoint local --checkpoint CANDIDATE.safetensors ...
        [--steps 300] [--out benchmarks/results/scan-training.json]

The candidates are models fine-tuned on simulated partial scans (configs/local_pc_scan*.yaml, data.scan_fraction;
hnf3d.data.partial_scan), exported with the shipped model's refinement settings. Every model reconstructs the
validation shapes of benchmarks/refine_settings.py (`validation_cases`), grouped:
- `full`: the 13 shapes sampled all over (3000 points, noise 0.005), as the ONet protocol samples;
- `dense`: the six procedural shapes as dense noisy scans (20,000 points, noise 0.015);
- `partial furniture`: simulated scans of the six procedural furniture-like shapes (one view, three views with
  noise 1%, six views with a part missing; the scanner of tools/simulate_scan.py);
- `partial solids`: the same scans of a new solid of each SDF family (blob, tube, plate, mechanical, csg), the
  rounded solids real objects often are.
Scored against the whole shape: F@1% of the one-pass mesh, of the refined mesh (--steps) and of the refined mesh
trimmed at hnf3d.pipeline.trim.TRIM_DISTANCE. The JSON has every score, the means per group and overall, and the
model the rule picks: the best overall mean of the refined (watertight, the CLI's default) mesh among the models
that lose no group's refined mean by more than 0.02 against the first (shipped) model.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import environment, format_table, write_json_atomic  # noqa: E402
from benchmarks.refine_settings import (MAX_GROUP_LOSS, admissible, case_f1, group_of,  # noqa: E402
                                        validation_cases)

ROOT = Path(__file__).resolve().parents[1]
SCORES = ("one_pass", "refined", "trimmed")


def pick(models: list[dict]) -> str:
    """The name of the model the rule picks (module docstring); models[0] is the shipped one."""
    base = {g: v["refined_mean"] for g, v in models[0]["groups"].items()}
    ok = [m for m in models if admissible({g: v["refined_mean"] for g, v in m["groups"].items()}, base)]
    return max(ok, key=lambda m: m["overall"]["refined_mean"])["name"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", action="append", required=True, help="a model (repeat; the first is the "
                    "shipped one the others are measured against)")
    ap.add_argument("--steps", type=int, default=300, help="refinement steps (the CLI's default)")
    ap.add_argument("--sdf-data", default=str(ROOT / "datasets" / "sdf"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scan-training.json"))
    args = ap.parse_args(argv)

    import torch

    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.pipeline.trim import TRIM_DISTANCE, trim_reconstruction

    torch.manual_seed(0)
    cases, skipped = validation_cases(Path(args.sdf_data), dense=True, partial=True, solids=True)
    groups = [group_of(c["name"]) for c in cases]
    print(f"{len(cases)} validation shapes" + (f"; skipped: {skipped}" if skipped else ""), flush=True)

    models = []
    for checkpoint in args.checkpoint:
        rec = Reconstructor.load(checkpoint, device="cpu")
        rows = []
        for c in cases:
            refined = rec.reconstruct(c["input"], refine_steps=args.steps)
            rows.append({"one_pass": case_f1(rec.reconstruct(c["input"]), c), "refined": case_f1(refined, c),
                         "trimmed": case_f1(trim_reconstruction(refined, c["input"], TRIM_DISTANCE)[0], c)})
            print(f"  {checkpoint}: {c['name']}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()),
                  flush=True)

        def means(sel):
            return {f"{k}_mean": float(np.mean([r[k] for r, s in zip(rows, sel) if s])) for k in SCORES}

        name = checkpoint  # as given: the exported candidates share their file name (local_pointcloud)
        models.append({"name": name, "checkpoint": rec.source, "model": rec.info, "scores": rows,
                       "groups": {g: means([x == g for x in groups]) for g in dict.fromkeys(groups)},
                       "overall": means([True] * len(cases))})
    chosen = pick(models)
    record = {"benchmark": "scan_training", "steps": args.steps, "trim_distance": TRIM_DISTANCE,
              "environment": environment("cpu", ("torch", "numpy")), "cases": [c["name"] for c in cases],
              "groups": groups, "skipped": skipped, "max_group_loss": MAX_GROUP_LOSS, "models": models,
              "chosen": chosen}
    write_json_atomic(args.out, record)
    header = ["model", "group", *SCORES]
    table = [[m["name"], g, *(f"{v[f'{k}_mean']:.3f}" for k in SCORES)]
             for m in models for g, v in [*m["groups"].items(), ("all", m["overall"])]]
    print(format_table(table, header))
    print(f"chosen: {chosen}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
