#!/usr/bin/env python
"""Write docs/benchmarks.md from the JSON files in benchmarks/results/ (nothing in it is typed by hand).

    PYTHONPATH=. python benchmarks/report.py            # rewrite docs/benchmarks.md
    PYTHONPATH=. python benchmarks/report.py --check    # exit 1 when docs/benchmarks.md is out of date

Inputs: the comparison table's rows are tools/evaluate.py runs on the synthetic test split, each written with
--json to benchmarks/results/eval-synthetic-test-*.json (ROWS lists them with the command that made each); the
compute studies are benchmarks/results/compute-study-<input>.json, compute-study-local-pointcloud.json and
compute-study-local_img-image.json from benchmarks/compute_study.py (LOCAL_STUDIES); the real-data section is benchmarks/results/real-<family>.json from benchmarks/reconstruct.py (REAL_RUNS). A missing file is an
error naming it and the command that makes it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import compute_study as study  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DOC = REPO / "docs" / "benchmarks.md"
INPUT_NAMES = {"pointcloud": "point cloud (3000 points, noise 0.005)", "image": "image (view 000)"}
METHOD_NAMES = {"gm_A": "gradient matching A", "gm_A_lr1e-4": "gradient matching A, lr 1e-4",
                "gm_B": "gradient matching B", "direct": "direct", "weights": "weights (regress fitted theta*)",
                "gm": "gradient matching A (configs/local_pc_gm.yaml)"}
EVAL = "python tools/evaluate.py --data datasets/synthetic --split test"


def study_row(input_kind: str, method: str) -> dict:
    steps = study.INPUTS[input_kind]["steps"]
    name = f"study-{input_kind}-{method}"
    checkpoint = f"{study.run_dir(input_kind, method)}/step_{steps:06d}.safetensors"
    return {"input": input_kind, "label": METHOD_NAMES[method], "json": f"eval-synthetic-test-{name}.json",
            "checkpoint": checkpoint, "method": method,
            "command": f"{EVAL} --checkpoint {checkpoint} --out eval/{name} --json "
                       f"benchmarks/results/eval-synthetic-test-{name}.json"}


def shipped_row(input_kind: str, name: str, file: str, json_name: str, model_json: str) -> dict:
    """A shipped model's row, recognised in its JSON by the model file it loaded (`source`), so the row stays
    true when the model's shipped name changes."""
    return {"input": input_kind, "label": f"direct, shipped `{name}` (longer training)", "json": json_name,
            "checkpoint": name, "source": f"hnf3d/pretrained/{file}.safetensors", "model_json": model_json,
            "command": f"{EVAL} --checkpoint {name} --out eval/{name} --json benchmarks/results/{json_name}"}


# The comparison table: same architecture and budget for the four objectives per input, then the references.
ROWS = [
    *(study_row("pointcloud", m) for m in ("gm_A", "gm_A_lr1e-4", "gm_B", "direct", "weights")),
    shipped_row("pointcloud", "global", "pointcloud", "eval-synthetic-test-direct-pointcloud.json",
                "model-pointcloud.json"),
    {"input": "pointcloud", "label": "Poisson (Open3D, depth 8)", "json": "eval-synthetic-test-poisson-pointcloud.json",
     "checkpoint": None, "command": f"{EVAL} --baseline poisson --out eval/poisson --json "
                                    f"benchmarks/results/eval-synthetic-test-poisson-pointcloud.json"},
    *(study_row("image", m) for m in ("gm_A", "gm_B", "direct", "weights")),
    shipped_row("image", "global-image", "image", "eval-synthetic-test-direct-image.json", "model-image.json"),
]
COLUMNS = (("iou", "IoU", 1.0), ("chamfer_l1", "Chamfer-L1 x10", 10.0), ("normal_consistency", "NC", 1.0),
           ("fscore@0.01", "F@1%", 1.0), ("fscore@0.02", "F@2%", 1.0))


class MissingResult(Exception):
    pass


def _load(name: str, how: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        raise MissingResult(f"{path.relative_to(REPO)}: missing; make it with: {how}")
    return json.loads(path.read_text())


def _steps(row: dict, doc: dict) -> str:
    if row["checkpoint"] is None:
        return "-"
    if row.get("model_json"):
        return str(_load(row["model_json"], "python tools/export_model.py (see the model card)")["step"])
    return str((doc.get("model") or {}).get("step", "?"))


def comparison_table(input_kind: str) -> str:
    lines = ["| method | training steps | " + " | ".join(c[1] for c in COLUMNS) + " | objects | JSON |",
             "|---|---" + "|---" * len(COLUMNS) + "|---|---|"]
    for row in ROWS:
        if row["input"] != input_kind:
            continue
        doc = _load(row["json"], row["command"])
        key = "source" if "source" in row else "checkpoint"
        if row["checkpoint"] is not None and doc.get(key) != row[key]:
            raise MissingResult(f"{row['json']}: made from {key} {doc.get(key)!r}, expected {row[key]!r}; rerun: "
                                f"{row['command']}")
        mean = doc["mean"]
        cells = [f"{mean[k] * s:.3f}" for k, _, s in COLUMNS]
        n = len(doc["objects"])
        lines.append(f"| {row['label']} | {_steps(row, doc)} | " + " | ".join(cells) + f" | {n} | {row['json']} |")
    return "\n".join(lines)


def reading(input_kind: str) -> str:
    """One sentence per input, from the JSON: the matched-budget ranking by IoU and by F@1%."""
    study_rows = [r for r in ROWS if r["input"] == input_kind and r["json"].startswith("eval-synthetic-test-study-")]
    means = {r["label"]: _load(r["json"], r["command"])["mean"] for r in study_rows}
    by_iou = sorted(means, key=lambda k: -means[k]["iou"])
    steps = study.INPUTS[input_kind]["steps"]
    return (f"At the matched budget ({steps} steps), by test IoU: "
            + ", ".join(f"{k} {means[k]['iou']:.3f}" for k in by_iou)
            + "; by F@1%: " + ", ".join(f"{k} {means[k]['fscore@0.01']:.3f}"
                                        for k in sorted(means, key=lambda k: -means[k]["fscore@0.01"])) + ".")


# Real data (benchmarks/reconstruct.py): one JSON per model family, the same inputs and Poisson in each run.
REAL_RUNS = (("local", "real-local.json"), ("global", "real-global.json"))
REAL_COMMAND = "PYTHONPATH=. python benchmarks/reconstruct.py --checkpoint {name} --out benchmarks/results/{json}"


def real_data_section() -> str:
    """The per-input F@1% table of the real-data runs (one pass, refined, the prior ablation, Poisson), the means
    over the six meshes, and the ShapeNet objects of the runs that have them."""
    runs = {name: _load(json_name, REAL_COMMAND.format(name=name, json=json_name)) for name, json_name in REAL_RUNS}
    local = runs["local"]
    refined, ablation = f"hnf3d_refine{local['refine_steps']}", local["ablation_steps"]
    cols = [("one pass global", "global", "hnf3d"), ("one pass local", "local", "hnf3d"),
            ("refined global", "global", f"hnf3d_refine{runs['global']['refine_steps']}"),
            ("refined local", "local", refined), ("refined local, trimmed", "local", f"{refined}_trim"),
            (f"{ablation} from pred. (local)", "local", f"hnf3d_refine{ablation}_prediction"),
            (f"{ablation} from theta_0 (local)", "local", f"hnf3d_refine{ablation}_theta0"),
            ("Poisson", "local", "poisson"), ("Poisson, trimmed", "local", "poisson_trim")]
    rows = {name: {r["name"]: r for r in doc["quality"]} for name, doc in runs.items()}

    def f1(run, case, method):
        r = rows[run].get(case, {}).get(method)
        return r["fscore@0.01"] if r else None

    def fmt(x):
        return "-" if x is None else f"{x:.3f}"

    lines = ["| input | kind | " + " | ".join(c[0] for c in cols) + " |", "|---|---" + "|---" * len(cols) + "|"]
    for case in local["quality"]:
        lines.append(f"| {case['name']} | {case['kind']} | "
                     + " | ".join(fmt(f1(run, case["name"], m)) for _, run, m in cols) + " |")
    meshes = [c["name"] for c in local["quality"] if c["kind"].startswith("mesh")]
    means = []
    for label, run, m in cols:
        vals = [f1(run, c, m) for c in meshes]
        vals = [v for v in vals if v is not None]
        means.append(f"{sum(vals) / len(vals):.3f} (min {min(vals):.3f})" if vals else "-")
    lines.append(f"| **mean of the {len(meshes)} meshes** | | " + " | ".join(means) + " |")
    n_inputs = len(local["quality"]) + len(local.get("shapenet") or [])
    out = ["## Real data: meshes and scans never trained on", "",
           "`benchmarks/reconstruct.py` (this 2-core CPU), one run per model family: "
           + ", ".join(f"`{REAL_COMMAND.format(name=n, json=j)}`" for n, j in REAL_RUNS)
           + ". Each real mesh of ../shared/data/real sampled as the protocol does (3000 points, noise 0.005, unit "
           "box), the real scans with a ground-truth mesh, and scans simulated from each real mesh with the "
           "scanner model of tools/simulate_scan.py (one view; three views with noise 1%; six views with a part "
           "of radius 0.2 missing), scored against 100k points of the mesh; F@1% per input. Refined = the CLI's "
           "default steps from the model's prediction; the ablation columns start the same refinement from the "
           "prediction and from the untrained theta_0. Poisson is Open3D's, depth 8, in the local run (same "
           "inputs), without and with density trimming (`POISSON_TRIM` in benchmarks/reconstruct.py). Counting "
           "the ShapeNet objects below, the refined local model is at least the better Poisson on "
           f"{n_inputs - len(local['summary']['refined_behind_best_poisson'])} of the {n_inputs} inputs, and "
           f"{local['summary']['refined_best_at_least_best_poisson'].split(' of ')[0]} when it too may trim "
           f"(`--trim`: the faces farther than {local['summary']['trim_distance']:g} from every point dropped, "
           "an open mesh; the better of its two per input); 3000-point refinement takes "
           f"{local['summary']['refine_seconds_3k']:.2f} s on average.", "", "\n".join(lines), ""]
    shapenet = local.get("shapenet") or []
    if shapenet:
        # the global run's image model, where that run scored the ShapeNet views too
        global_image = {r["name"]: r["image"] for r in runs["global"].get("shapenet") or [] if r.get("image")}
        header = ("| object | one pass | refined | refined, trimmed | Poisson | Poisson, trimmed | image, mean of "
                  "views | image, worst view |")
        if global_image:
            header += " global image, mean |"
        out += ["Real ShapeNet objects (shapenet_onet, ONet's frame; ground truth pointcloud.npz), the local run: "
                "point-cloud model on 3000 points of pointcloud.npz + noise 0.005, image model "
                f"(`{local.get('image_checkpoint')}`) on every view (mean and worst view)"
                + (f"; last column: the global run's image model (`{runs['global'].get('image_checkpoint')}`)."
                   if global_image else "."), "", header, "|---" * header.count(" | ") + "|---|"]
        for r in shapenet:
            img = r.get("image") or {}
            out.append(f"| {r['name']} | {fmt(r['hnf3d']['fscore@0.01'])} | {fmt(r[refined]['fscore@0.01'])} | "
                       f"{fmt(r.get(f'{refined}_trim', {}).get('fscore@0.01'))} | "
                       f"{fmt(r['poisson']['fscore@0.01'])} | {fmt(r['poisson_trim']['fscore@0.01'])} | "
                       f"{fmt(img.get('fscore@0.01_mean'))} | "
                       f"{fmt(img.get('fscore@0.01_min'))} |"
                       + (f" {fmt(global_image.get(r['name'], {}).get('fscore@0.01_mean'))} |" if global_image
                          else ""))
        out.append("")
    return "\n".join(out + behind_table(local))


def behind_table(local: dict) -> list[str]:
    """Lines of the real-data section: the inputs where the refined local model at its best (watertight or
    trimmed) is behind Poisson at its best, with each side's precision and recall at 1% (which of surface where
    there is none, or truth the surface misses, holds it back) and the refined F@1% over the run's seeds."""
    spread = local.get("seed_spread") or {}
    if not spread:
        return []
    rows = {r["name"]: r for r in local["quality"] + (local.get("shapenet") or [])}
    lines = ["Where Poisson at its best still leads the refined local model at its best (the run's summary: "
             f"`behind_on_every_seed`, `behind_within_seed_spread`), each refined again with seeds 0-"
             f"{local['seeds'] - 1}. Precision is the share of the output's surface within 1% of the truth, recall "
             "the share of the truth within 1% of the output (F@1% is their harmonic mean).", "",
             "| input | hnf3d at its best: F@1% (precision, recall) | Poisson at its best: F@1% (precision, recall) "
             "| hnf3d at its best over the seeds | behind on every seed |", "|---|---|---|---|---|"]
    every = set(local["summary"]["behind_on_every_seed"])
    for name, x in spread.items():
        ours, theirs = (rows[name][rows[name][k]] for k in ("refined_best", "poisson_best"))
        best = [max(a, b) for a, b in zip(x["refined"], x["refined_trim"])]
        lines.append(f"| {name} | {ours['fscore@0.01']:.3f} ({ours['precision@0.01']:.2f}, "
                     f"{ours['recall@0.01']:.2f}) | {theirs['fscore@0.01']:.3f} ({theirs['precision@0.01']:.2f}, "
                     f"{theirs['recall@0.01']:.2f}) | {min(best):.3f}-{max(best):.3f} | "
                     f"{'yes' if name in every else 'no'} |")
    return lines + [""]


SCAN_TRAINING_COMMAND = ("PYTHONPATH=. python benchmarks/scan_training.py --checkpoint "
                         "runs/local_pc/export/local_pointcloud.safetensors --checkpoint "
                         "runs/local_pc_scan/export/local_pointcloud.safetensors --checkpoint "
                         "runs/local_pc_scan_mix/export/local_pointcloud.safetensors")


def scan_training_section() -> str:
    """Which point-cloud model ships: benchmarks/scan_training.py's group means, one pass and refined, per model."""
    doc = _load("scan-training.json", SCAN_TRAINING_COMMAND)
    groups = list(dict.fromkeys(doc["groups"]))
    lines = ["| model | " + " | ".join(f"{g} ({doc['groups'].count(g)})" for g in groups)
             + f" | all ({len(doc['cases'])}) |", "|---" * (len(groups) + 2) + "|"]
    for m in doc["models"]:
        cells = [m["groups"][g] for g in groups] + [m["overall"]]
        chosen = " **(shipped)**" if m["name"] == doc["chosen"] else ""
        lines.append(f"| {m['model']['name']}{chosen} | "
                     + " | ".join(f"{c['refined_mean']:.3f} ({c['one_pass_mean']:.3f})" for c in cells) + " |")
    return "\n".join([
        "## Which point-cloud model ships: fine-tuning on scan-like inputs", "",
        f"`{SCAN_TRAINING_COMMAND}` (this 2-core CPU; the candidates are exported with the shipped refinement "
        "settings, docs/design.md section 8). The project's validation shapes and their simulated scans, never "
        f"the real data; mean F@1% after {doc['steps']} refinement steps and, in brackets, of the one pass. The "
        f"rule: the best overall refined mean among the models that lose no group by more than "
        f"{doc['max_group_loss']:g} against the first (the model before). The candidates: `python tools/train.py "
        "--config configs/local_pc_scan.yaml` and `configs/local_pc_scan_mix.yaml` (each fine-tuned from "
        "runs/local_pc/best.safetensors), then `tools/export_model.py --checkpoint runs/<run>/best.safetensors "
        "--out-dir runs/<run>/export ...` with the refinement flags of the shipped model (its card); the model "
        "before is the previously shipped file, copied to runs/local_pc/export.", "", *lines, ""])


def _fmt_flops(x: float) -> str:
    return f"{x:.2e}".replace("e+", "e")


def _study_table(doc: dict, quality: tuple) -> list[str]:
    """A compute study's table: per objective and budget the compute columns, then `quality`'s
    ((header, key, scale), ...) columns."""
    lines = ["| objective | steps | training s | fitting s | total s | total FLOPs | "
             + " | ".join(h for h, _, _ in quality) + " |", "|---" * (6 + len(quality)) + "|"]
    for method, run in doc["methods"].items():
        for p in sorted(run["points"], key=lambda p: p["step"]):
            lines.append(f"| {METHOD_NAMES[method]} | {p['step']} | {p['train_seconds']:.0f} | "
                         f"{p['fit_seconds']:.0f} | {p['total_seconds']:.0f} | {_fmt_flops(p['total_flops'])} | "
                         + " | ".join(f"{p[k] * scale:.3f}" for _, k, scale in quality) + " |")
    return lines


def _per_step(doc: dict) -> str:
    """Each objective's measured seconds and counted FLOPs per training step, in words."""
    return "; ".join(f"{METHOD_NAMES[m]} {r['seconds_per_step']:.3f} s, {_fmt_flops(r['flops_per_step'])} FLOPs"
                     for m, r in doc["methods"].items())


def study_section(input_kind: str) -> str:
    doc = _load(f"compute-study-{input_kind}.json", f"python benchmarks/compute_study.py report --input {input_kind}")
    fit = doc["fit"] or {}
    lines = [f"### {INPUT_NAMES[input_kind].split(' (')[0].capitalize()} input: validation split, "
             f"{doc['objects']} objects",
             "",
             f"![compute study, {input_kind}](compute_study_{input_kind}.png)",
             "",
             *_study_table(doc, (("IoU", "iou", 1.0), ("F@1%", "fscore@0.01", 1.0),
                                 ("Chamfer-L1 x10", "chamfer_l1", 10.0)))]
    per_step = _per_step(doc)
    t = doc["timing"]
    fit_s = t["fit_per_shape_step"] * fit["shapes"] * fit["steps"]
    logged = "; ".join(f"{METHOD_NAMES[m]} {max(p['logged_train_seconds'] for p in r['points']):.0f} s"
                       for m, r in doc["methods"].items())
    same = ("gm_A" in doc["methods"] and "gm_A_lr1e-4" in doc["methods"])
    noise = (" Gradient matching A at its two learning rates is the same computation: the difference between "
             "their times is this machine's measurement noise." if same else "")
    lines += ["", f"Per training step (batch 16, measured side by side in one process, one thread): {per_step}."
                  f"{noise} "
                  f"Fitting the {fit['shapes']} training shapes for `weights` ({fit['steps']} Adam steps each, "
                  f"`{doc['fit_command']}`): {t['fit_per_shape_step'] * 1e3:.2f} ms per shape and step, "
                  f"{fit_s:.0f} s in all (measured in this study's process; the same fitting serves both inputs), "
                  f"{_fmt_flops(fit['flops'])} FLOPs. The runs' own wall clocks (data "
                  f"loading and validation included, on a machine shared with the other lane): {logged}; "
                  f"fitting {fit['wall_seconds']:.0f} s."]
    for m, r in doc["methods"].items():
        if m.startswith("gm_") and r.get("log"):
            lines += ["", f"Training log, {METHOD_NAMES[m]}, per {r['log'][0]['last_step']} steps: median task "
                          f"loss at the sampled t " + ", ".join(f"{w['task_loss_median']:.3g}" for w in r["log"])
                      + "; largest teacher step norm " + ", ".join(f"{w['step_norm_max']:.3g}" for w in r["log"])
                      + "."]
    c = doc["claim"]
    lines += ["", f"**The paper's claim on this run: {c.get('statement', c.get('status'))}.**"]
    if "total_seconds" in c:
        s = c["total_seconds"]
        lines += ["", f"Best validation IoU: weights {c['weights_best_iou']:.3f}, gradient matching A "
                      f"{c['gm_A_best_iou']:.3f}"
                      + (f", direct {c['direct_best_iou']:.3f}" if "direct_best_iou" in c else "")
                      + f". The weights baseline's best snapshot (step {c['weights_best_step']}) cost "
                        f"{s['weights_total']:.0f} s in all, {s['weights_fit_share'] * 100:.0f}% of it fitting."]
    return "\n".join(lines)


# The local field's studies (issue 13): the study, its input kind, its headline.
LOCAL_STUDIES = ((study.LOCAL, "pointcloud", "point clouds"), (study.LOCAL_IMG, "image", "single images"))


def local_study_section(local: study.Study, input_kind: str, headline: str) -> str:
    """One compute study of the local field (issue 13): IoU per budget and objective, the matched-step gaps, the
    claim and the gradient-matching run's log windows, all from compute-study-<study>-<input>.json."""
    name = local.results_name(input_kind)
    doc = _load(f"{name}.json", f"PYTHONPATH=. python benchmarks/compute_study.py report --field {local.name}")
    fit, config = doc["fit"], local.inputs[input_kind]["config"]
    batch = yaml.safe_load((REPO / config).read_text())["training"]["batch_size"]
    lines = [f"## Compute study on the local field ({headline}, {doc['data']}, validation split, "
             f"{doc['objects']} objects)", "",
             f"Issue 13's comparison: {config}'s network (the shipped local {INPUT_NAMES[input_kind].split(' (')[0]} "
             "model's architecture) trained with each objective for the same steps on the same data "
             f"(`{local.name.upper()}` in benchmarks/compute_study.py; gradient matching at configs/local_pc_gm.yaml's "
             f"settings). Scored by {doc['protocol']}.", "",
             f"![compute study, local field, {headline}]({name.replace('-', '_')}.png)", "",
             *_study_table(doc, (("IoU", "iou", 1.0),))]
    per_step = _per_step(doc)
    t = doc["timing"]
    lines += ["", f"Per training step (batch {batch}, measured side by side in one process, one thread): "
                  f"{per_step}. Fitting the {fit['shapes']} training shapes for `weights` ({fit['steps']} Adam steps "
                  f"each, `{doc['fit_command']}`): {t['fit_per_shape_step'] * 1e3:.2f} ms per shape and step, "
                  f"{t['fit_per_shape_step'] * fit['shapes'] * fit['steps']:.0f} s in all."]
    m = doc["matched"]
    last = max(int(k) for k in m["per_step"])
    for gm in local.gm_runs:
        gaps = ", ".join(f"{m[f'{gm}_minus_{o}_at_{last}']:+.3f} against {o}" for o in ("direct", "weights")
                         if f"{gm}_minus_{o}_at_{last}" in m)
        falls = m.get(f"{gm}_task_loss_at_T_falls_every_window")
        log = doc["methods"][gm]["log"]
        lines += ["", f"At step {last}, {METHOD_NAMES[gm]}: {gaps} (validation IoU). Task loss of Phi(T, c) on the "
                      "fixed validation batch (training.probe_every), median per window of "
                      f"{log[0]['last_step']} steps: " + ", ".join(f"{w['probe_task_loss_median']:.3g}" for w in log
                                                                  if 'probe_task_loss_median' in w)
                  + f" ({'falls in every window' if falls else 'does not fall in every window'}); task loss at "
                    "the sampled t: " + ", ".join(f"{w['task_loss_median']:.3g}" for w in log)
                  + "; largest teacher step norm: " + ", ".join(f"{w['step_norm_max']:.3g}" for w in log) + "."]
    c = doc["claim"]
    lines += ["", f"**The paper's claim on this run: {c.get('statement', c.get('status'))}.**"]
    return "\n".join(lines)


def render() -> str:
    parts = [
        "# Benchmarks: the synthetic data set and real data",
        "",
        "Generated by `PYTHONPATH=. python benchmarks/report.py` from the JSON files in `benchmarks/results/`; "
        "do not edit by hand (a test checks that this file matches them).",
        "",
        "Data: the synthetic set of datasets/README.md (624 procedural shapes, 13 categories; splits 429 train, "
        "65 val, 130 test). Protocol (docs/protocol.md, hnf3d.eval.protocol): 3000 input points from "
        "pointcloud.npz with noise 0.005 (the same points for every method) or view 000; MISE 32 to 128 at the "
        "model's threshold (0.2); 100k samples; IoU on points.npz; the mean of the class means. Chamfer-L1 is "
        "printed x10 (the JSON files hold it unscaled); F@1% and F@2% are F-scores at those fractions of the "
        "unit box.",
        "",
        "## Comparison table (test split)",
        "",
        "Every row but the shipped models and Poisson is one run of benchmarks/compute_study.py: the "
        "architecture of the shipped model (configs/default_pc.yaml, configs/default_img.yaml), the same data, "
        "seed and number of steps; only the objective differs, each at the settings it was chosen with "
        "(docs/gradient_matching.md: sgd teacher step, eta 1, T 1000, sqrt t sampling, lr 3e-4; direct and "
        "weights lr 5e-4; `METHODS` in the script). Gradient matching A at lr 3e-4 diverged on this training "
        "set (its training log is in the compute study below), so it was run a second time at lr 1e-4. The "
        "shipped models are the `direct` objective trained longer.",
        "",
    ]
    for kind in ("pointcloud", "image"):
        parts += [f"### {INPUT_NAMES[kind].capitalize()}", "", comparison_table(kind), "", reading(kind), ""]
    parts += ["## Compute study: quality against total training compute",
              "",
              "The seed paper's claim: gradient matching reaches the quality of a hypernetwork trained on per-shape "
              "fitted weights at several times less total compute, the fitting included. Each objective is trained "
              "once (same architecture and data as above, one CPU thread per job, two jobs side by side on the "
              "2-core machine) with model snapshots kept at a few step budgets; each snapshot is scored on the "
              "validation split with the protocol above. Compute is counted in seconds (each objective's time per "
              "training step, measured side by side in one process, times the steps; plus the per-shape fitting "
              "for `weights`, measured the same way) and in FLOPs (one real training step counted with torch's "
              "FLOP formulas: matrix products, convolutions, attention; forward and backward; times the steps; "
              "plus the fitting's FLOP estimate). The claim counts as holding when gradient matching reaches the "
              "weights baseline's best validation IoU with at most half the compute that baseline spent to reach "
              "it (interpolated in log-compute between snapshots).",
              ""]
    for kind in ("pointcloud", "image"):
        parts += [study_section(kind), ""]
    for args in LOCAL_STUDIES:
        parts += [local_study_section(*args), ""]
    parts += [real_data_section(), scan_training_section()]
    trainings = [r for r in ROWS if r.get("method")]
    parts += ["## Reproduce",
              "",
              "About 2.5 hours on 2 CPU cores with two jobs at a time (the trainings and evaluations are "
              "independent of each other once the data and the fitted weights exist). Each evaluation caches per "
              "object under its --out folder and resumes when interrupted. The JSONs of the comparison and the "
              "compute study were made on the set these commands built before the procedural shapes were turned "
              "into ShapeNet's frame and the renders moved to ONet's camera distances (docs/design.md section 8); "
              "the same commands now build the turned set, so a rerun gives close but not identical figures.",
              "",
              "```bash",
              "# the data set (datasets/README.md)",
              "python tools/make_shapes.py --out datasets/synthetic_meshes --per-category 48 --seed 0",
              "python tools/build_dataset.py --meshes datasets/synthetic_meshes --out datasets/synthetic --seed 0",
              "# the weights baseline's per-shape targets, then one training per study row",
              "PYTHONPATH=. python benchmarks/compute_study.py fit"]
    parts += [f"PYTHONPATH=. python benchmarks/compute_study.py train --input {r['input']} --method {r['method']}"
              for r in trainings]
    parts += ["# the comparison table"] + [row["command"] for row in ROWS]
    parts += ["# the compute study: scores the snapshots on val, times the steps side by side, plots",
              "PYTHONPATH=. python benchmarks/compute_study.py report --input pointcloud",
              "PYTHONPATH=. python benchmarks/compute_study.py report --input image",
              "# the local field's study (datasets/sdf, datasets/README.md); its gm run is "
              "benchmarks/gm_ablation.py's chosen one",
              *(line for local, kind, _ in LOCAL_STUDIES for line in (
                  f"PYTHONPATH=. python benchmarks/compute_study.py fit --field {local.name}",
                  *(f"PYTHONPATH=. python benchmarks/compute_study.py train --field {local.name} --method {m}"
                    for m in local.curves[kind]),
                  f"PYTHONPATH=. python benchmarks/compute_study.py report --field {local.name}")),
              "PYTHONPATH=. python benchmarks/report.py", "```", ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="report", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 when docs/benchmarks.md differs from the JSON")
    args = p.parse_args(argv)
    try:
        text = render()
    except MissingResult as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"report: {DOC.relative_to(REPO)} is out of date; run: PYTHONPATH=. python benchmarks/report.py",
                  file=sys.stderr)
            return 1
        return 0
    from hnf3d.io import atomic_write

    with atomic_write(DOC) as f:
        f.write(text.encode())
    print(f"report: wrote {DOC.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
