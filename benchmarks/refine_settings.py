#!/usr/bin/env python
"""Choose a model's refinement settings on validation shapes the project owns (never on the real evaluation data).

    PYTHONPATH=. python benchmarks/refine_settings.py --checkpoint local
        [--study labels|terms|batch|denoise|sigmas|gate|sides|snap|roughness|budget|robust|trim] [--steps 300]

Validation shapes, none of them in any training set and none of them third-party data:
- six procedural ShapeNet-like shapes (chair, table, bench, lamp, airplane, car; `make_shape(category, 900_000 + i)`,
  seeds no data set uses): thin seats, legs, wings and table tops, the geometry real furniture scans have;
- the first validation object of each analytic SDF family in datasets/sdf (blob, tube, plate, mechanical, csg),
  skipped with a note when that data set is not built;
- two open, zero-thickness surfaces, as CAD and ModelNet meshes often are (`open_shapes`): a bowl (the lower part
  of a sphere) and a curved sheet on four legs thinner than the noise.
Each is put in the unit box; 3000 surface points (seed 0) + Gaussian noise 0.005 are the input, as the protocol
samples; the ground truth is 100k surface points and normals (the SDF sets: pointcloud.npz). The `terms` study
adds dense noisy scans: the six procedural shapes again, 20,000 points with noise 0.015 (`DENSE`), where the noise
is a sizeable part of a point's neighbourhood (hnf3d.pipeline.denoise).

Variants (the model's `eval` settings, everything else as the CLI runs it: `Reconstructor.reconstruct(points,
refine_steps=--steps)`), one study at a time (STUDIES):
- `labels`: normals oriented by the spanning tree or by the field's prediction, the pull towards the prediction
  (`eval.refine_prior`) at a few weights, and the shell labelled inside around the points (`eval.refine_shell`);
- `terms` (issue 14), on the chosen labels: dropping the ambiguous winding-number labels
  (`eval.refine_confidence`), the surface term (`eval.refine_surface`) and smoothing noisy scans first
  (`eval.refine_denoise`);
- `batch`, on the terms study's choice: fewer labelled queries per step (`eval.refine_batch`), for speed; the
  seconds of each variant over all cases are in the JSON;
- `denoise`, on the shipped settings: the smoothing's radius and most neighbours per quadric fit;
- `sigmas`, on the shipped settings: the spreads of the near-surface labelled queries;
- `gate`, on the shipped settings: the smoothing only for scans whose estimated noise is at least a threshold
  (`eval.refine_denoise_noise`), on the validation shapes, the dense scans and the partial scans of the procedural
  shapes and of a new solid of each SDF family (`solids`): a clean dense scan of thin parts gains nothing from
  the smoothing and can lose those parts to it;
- `sides`, on the shipped settings and the gate study's cases: each quadric fit of the smoothing over all the
  neighbours within its radius, or only over those on the point's side of the predicted surface
  (`eval.refine_denoise_sides`), which keeps the two walls of a thin part apart, and the same at a larger radius;
  each variant also reconstructs the shipped example scan (examples/chair_scan.ply, no ground truth): the
  fraction of its points farther than 1% of its size from the mesh, and how far the boxes differ (`example_fit`).
  Rule (as benchmarks/scan_training.py's): the best mean among the variants that lose no group of cases (full,
  dense, partial furniture, partial solids) more than 0.02 of its mean against the first;
- `snap`, on the shipped settings and the sides study's cases (and example scan, and rule): the refined mesh as
  extracted, extracted from logits smoothed by a Gaussian (`eval.refine_smooth`; hnf3d.pipeline.extraction),
  with its vertices moved onto quadric fits of the scan points within a radius, at most k points per fit
  (`eval.refine_snap`, `eval.refine_snap_k`; hnf3d.pipeline.snap), and both;
- `roughness`, on the shipped settings and the sides study's cases (and example scan, and rule): the weight of
  refinement's roughness term on the triplane's feature planes (`eval.refine_roughness`;
  hnf3d.models.triplane.plane_roughness), at ROUGHNESS;
- `budget` (issue 14: 3 s for a 3000-point scan), on the shipped settings and the sides study's cases (and example
  scan): fewer labelled queries per step (`eval.refine_batch`, BUDGET_BATCHES; a step's time is about
  proportional to them). Rule (`budget_choice`): the smallest batch that the group rule admits against the first
  variant and whose mean is within BUDGET_LOSS of the best admitted one's;
- `robust`, on the shipped settings and the sides study's cases (and example scan, and rule): the roughness
  term as the roughness study chose it (squared second differences), none, and robust
  (`eval.refine_roughness_scale` = ROBUST_SCALE, at ROBUST_WEIGHTS), which pulls the sharp features of parts a
  plane node thick less;
- `trim` (issue 14): the refined mesh watertight, and trimmed at each distance of TRIMS (`reconstruct(trim=d)`:
  the faces farther than d from every point dropped), on the validation shapes, the dense scans and simulated
  partial scans of the six procedural shapes (PARTIAL: one view, three noisy views, six views with a part
  missing), where the watertight surface guesses what the scanner never saw.
Metrics: F@1% (hnf3d.eval.metrics), per shape and mean.
JSON: benchmarks/results/refine-settings-<checkpoint name>.json (`labels`), ...-<name>-<study>.json (the others).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import environment, format_table, write_json_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("chair", "table", "bench", "lamp", "airplane", "car")
SDF_FAMILIES = ("blob", "tube", "plate", "mechanical", "csg")
SEED_BASE = 900_000  # procedural seeds no data set uses (the data sets use 0 .. a few thousand)
DENSE = {"points": 20_000, "noise": 0.015}  # the terms study's dense noisy scans
#: the trim study's partial scans of the procedural shapes (the scanner model of tools/simulate_scan.py):
#: (name, views, noise as a fraction of the size, missing radius / size), as benchmarks/reconstruct.py simulates
PARTIAL = (("1 view", 1, 0.002, 0.0), ("3 views, noise 1%", 3, 0.01, 0.0), ("6 views, part missing", 6, 0.002, 0.2))
MAX_GROUP_LOSS = 0.02  # a candidate may not lose more than this on any group's mean (`admissible`)
#: the shipped example scan (README's main job; the sides study): a clean, dense scan of a chair with thin slats
EXAMPLE_SCAN_PATH = ROOT / "examples" / "chair_scan.ply"
TRIMS = (0.01, 0.015, 0.02, 0.03, 0.05)  # the trim study's distances (fractions of the unit box)
ROUGHNESS = (0.0, 30.0, 100.0, 300.0, 1000.0)  # the roughness study's weights
ROBUST_WEIGHTS = (10.0, 30.0, 100.0)  # the robust study's weights of the robust roughness penalty
ROBUST_SCALE = 0.01  # ... and its scale (the predicted planes' second differences are about 0.15 RMS)
BUDGET_BATCHES = (4096, 3072, 2048)  # the budget study's labelled queries per step, the shipped number first
BUDGET_LOSS = 0.005  # the budget study's rule: a smaller batch may lose at most this much of the mean F@1%


def _study_best(name: str, study: str) -> dict:
    """The `best` record of an earlier study's JSON for checkpoint `name` (a later study starts from its choice)."""
    import json

    path = ROOT / "benchmarks" / "results" / f"refine-settings-{name}-{study}.json"
    if not path.is_file():
        raise SystemExit(f"refine_settings: error: {path} not found (run --study {study} first)")
    return json.loads(path.read_text())["best"]


def _variants_labels(name: str) -> list[dict]:
    settings = (("tree", 0.0, 0.0), ("field", 0.0, 0.0), ("field", 10.0, 0.0), ("field", 30.0, 0.0),
                ("field", 100.0, 0.0), ("field", 100.0, 0.0025), ("field", 100.0, 0.005), ("field", 100.0, 0.0075))
    return [{"refine_orient": o, "refine_prior": p, "refine_shell": s} for o, p, s in settings]


def _variants_terms(name: str) -> list[dict]:
    chosen = {"refine_orient": "field", "refine_prior": 100.0, "refine_shell": 0.005}  # the labels study's choice
    # (confidence, surface, denoise radius); a first run with denoising by the 30 nearest neighbours (not a radius)
    # erased the sparse chair and bench (F@1% 0.92 -> 0.43): hnf3d.pipeline.denoise says why
    terms = ((0.0, 0.0, 0.0), (0.2, 0.0, 0.0), (0.0, 0.3, 0.0), (0.0, 1.0, 0.0), (0.2, 1.0, 0.0), (0.0, 0.0, 0.02),
             (0.0, 1.0, 0.015), (0.0, 1.0, 0.02), (0.0, 1.0, 0.03), (0.2, 1.0, 0.02))
    return [{**chosen, "refine_confidence": c, "refine_surface": s, "refine_denoise": d} for c, s, d in terms]


def _variants_batch(name: str) -> list[dict]:
    """The terms study's choice (read from its JSON) at fewer labelled queries per step: refinement's time is
    about proportional to them."""
    chosen = {k: v for k, v in _study_best(name, "terms").items() if k != "mean"}
    return [{**chosen, "refine_batch": b} for b in (8192, 4096, 2048)]


def _variants_denoise(name: str) -> list[dict]:
    """The smoothing's radius with at most k neighbours per fit (`eval.refine_denoise`, `eval.refine_denoise_k`),
    the other settings the shipped model's: k = 30 fills a radius of only about 0.024 on a 20,000-point scan, so a
    larger radius needs more neighbours to mean anything."""
    return [{"refine_denoise": r, "refine_denoise_k": k} for r, k in ((0.03, 30), (0.03, 60), (0.045, 80),
                                                                      (0.06, 120))]


def _variants_sigmas(name: str) -> list[dict]:
    """The spreads of the near-surface labelled queries (`eval.refine_sigmas`), the other settings the shipped
    model's: wider ones label more of the space a noisy scan's surface may move through, the narrowest keeps
    thin parts."""
    return [{"refine_sigmas": list(s)} for s in ((0.02, 0.005), (0.02, 0.01), (0.03, 0.005), (0.04, 0.005),
                                                  (0.06, 0.005), (0.04, 0.01), (0.04, 0.02, 0.005),
                                                  (0.04, 0.005, 0.005))]


def _variants_gate(name: str) -> list[dict]:
    """The smoothing gated by the scan's estimated noise (`eval.refine_denoise_noise`: smooth only when the median
    quadric-fit residual is at least this), the other settings the shipped model's; 0 smooths every scan dense
    enough to fit, and the last variant never smooths."""
    return [{"refine_denoise_noise": g} for g in (0.0, 0.003, 0.004, 0.005, 0.006)] + [{"refine_denoise": 0.0}]


def _variants_sides(name: str) -> list[dict]:
    """The smoothing over all neighbours within its radius, or only over those on the point's side of the predicted
    surface (`eval.refine_denoise_sides`), the other settings the shipped model's, and the sided smoothing at a
    larger radius (sides keep the walls of thin parts apart, which a larger radius would otherwise merge)."""
    return [{"refine_denoise_sides": False}, {"refine_denoise_sides": True},
            {"refine_denoise_sides": True, "refine_denoise": 0.045, "refine_denoise_k": 80}]


def _variants_snap(name: str) -> list[dict]:
    """The refined mesh as extracted, from logits smoothed by a Gaussian of one grid cell (`eval.refine_smooth`),
    snapped onto the scan (`eval.refine_snap`, `eval.refine_snap_k`) and both, the other settings the shipped
    model's."""
    cell = 1.1 / 128  # a cell of the CLI's default extraction grid
    return [{"refine_smooth": 0.0, "refine_snap": 0.0}, {"refine_smooth": cell, "refine_snap": 0.0},
            {"refine_smooth": 0.0, "refine_snap": 0.05, "refine_snap_k": 30},
            {"refine_smooth": cell, "refine_snap": 0.05, "refine_snap_k": 30}]


def _variants_roughness(name: str) -> list[dict]:
    """The roughness study: refinement's roughness term at each weight of ROUGHNESS, the other settings the
    shipped ones."""
    return [{"refine_roughness": w} for w in ROUGHNESS]


def _variants_robust(name: str) -> list[dict]:
    """The robust study: the roughness term as the roughness study chose it (read from its JSON; first), none, and
    the robust penalty at each weight of ROBUST_WEIGHTS (scale ROBUST_SCALE), the other settings the shipped ones."""
    chosen = _study_best(name, "roughness")["refine_roughness"]
    return [{"refine_roughness": chosen, "refine_roughness_scale": 0.0},
            {"refine_roughness": 0.0, "refine_roughness_scale": 0.0},
            *({"refine_roughness": w, "refine_roughness_scale": ROBUST_SCALE} for w in ROBUST_WEIGHTS)]


def _variants_budget(name: str) -> list[dict]:
    """The budget study: the shipped settings at each of BUDGET_BATCHES labelled queries per step."""
    return [{"refine_batch": b} for b in BUDGET_BATCHES]


def _variants_trim(name: str) -> list[dict]:
    """The shipped settings, watertight and trimmed at each of TRIMS (`Reconstructor.reconstruct(trim=...)`)."""
    return [{"trim": None}] + [{"trim": d} for d in TRIMS]


STUDIES = {"labels": _variants_labels, "terms": _variants_terms, "batch": _variants_batch,
           "denoise": _variants_denoise, "sigmas": _variants_sigmas, "trim": _variants_trim, "gate": _variants_gate,
           "sides": _variants_sides, "snap": _variants_snap, "roughness": _variants_roughness,
           "budget": _variants_budget, "robust": _variants_robust}
RULED = ("sides", "snap", "roughness", "budget", "robust")  # the studies whose choice follows the group rule (`admissible`), with
# the example scan


def _label(variant: dict) -> str:
    if variant.get("trim", 0) is None:
        return "watertight"

    def fmt(v):
        if isinstance(v, bool):
            return "on" if v else "off"
        return "/".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}"

    return ", ".join(v if isinstance(v, str) else f"{k.removeprefix('refine_')} {fmt(v)}" for k, v in variant.items())


def _noisy(points: np.ndarray, noise: float = 0.005) -> np.ndarray:
    rng = np.random.default_rng(0)
    return points + rng.normal(0.0, noise, points.shape)


def open_shapes() -> dict:
    """Two open surfaces without thickness: {'bowl': the part of a unit sphere below y = 0.2, 'sheet_on_legs': a
    1 x 0.8 sheet waved along x, on four legs of radius 0.008}."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4)
    bowl = trimesh.Trimesh(sphere.vertices, sphere.faces[sphere.triangles_center[:, 1] < 0.2], process=False)
    corners = np.array([[-0.5, 0.0, -0.4], [0.5, 0.0, -0.4], [0.5, 0.0, 0.4], [-0.5, 0.0, 0.4]])
    v, f = trimesh.remesh.subdivide_to_size(corners, np.array([[0, 1, 2], [0, 2, 3]]), max_edge=0.02)
    v[:, 1] = 0.15 * np.sin(3.0 * v[:, 0])
    upright = trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])  # the cylinder's axis z -> y
    legs = [trimesh.creation.cylinder(radius=0.008, height=0.5,
                                      transform=trimesh.transformations.translation_matrix([x, -0.25, z]) @ upright)
            for x in (-0.45, 0.45) for z in (-0.35, 0.35)]
    return {"bowl": bowl, "sheet_on_legs": trimesh.util.concatenate([trimesh.Trimesh(v, f, process=False)] + legs)}


def _mesh_case(name: str, v: np.ndarray, f: np.ndarray, points: int = 3000, noise: float = 0.005) -> dict:
    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.ops import sample_surface

    v = unit_box_normalization(v).apply(v)
    gt = sample_surface(v, f, 100_000, seed=1)
    inp = sample_surface(v, f, points, seed=0).points.cpu().numpy().astype(np.float64)
    return {"name": name, "input": _noisy(inp, noise), "gt_points": gt.points.cpu().numpy(),
            "gt_normals": gt.normals.cpu().numpy()}


def validation_cases(sdf_root: Path, dense: bool = False, partial: bool = False,
                     solids: bool = False) -> tuple[list[dict], list[str]]:
    """[{name, input (3000, 3), gt_points, gt_normals}] in the unit box, and notes on what was skipped; dense: also
    the procedural shapes as dense noisy scans (DENSE); partial: also their simulated partial scans (PARTIAL),
    scored against the whole shape; solids: also the PARTIAL scans of one new solid of each SDF family
    (`sdf_solid`), the rounded solids real objects often are."""
    from hnf3d.data.procedural import make_shape

    cases, skipped = [], []
    for i, cat in enumerate(CATEGORIES):
        mesh = make_shape(cat, SEED_BASE + i)
        cases.append(_mesh_case(f"{cat}_{SEED_BASE + i}", np.asarray(mesh.vertices), np.asarray(mesh.faces)))
    for fam in SDF_FAMILIES:
        listing = sdf_root / fam / "val.lst"
        names = listing.read_text().split() if listing.is_file() else []
        if not names:
            skipped.append(f"{fam}: {listing} not found (build datasets/sdf: datasets/README.md)")
            continue
        with np.load(sdf_root / fam / names[0] / "pointcloud.npz", allow_pickle=False) as d:
            p, n = d["points"].astype(np.float64), d["normals"].astype(np.float64)
        pick = np.random.default_rng(0).choice(len(p), 3000, replace=False)
        cases.append({"name": f"{fam}/{names[0]}", "input": _noisy(p[pick]), "gt_points": p, "gt_normals": n})
    for name, mesh in open_shapes().items():
        cases.append(_mesh_case(name, np.asarray(mesh.vertices), np.asarray(mesh.faces)))
    for i, cat in enumerate(CATEGORIES if dense else ()):
        mesh = make_shape(cat, SEED_BASE + i)
        cases.append(_mesh_case(f"{cat}_{SEED_BASE + i}_dense", np.asarray(mesh.vertices), np.asarray(mesh.faces),
                                DENSE["points"], DENSE["noise"]))
    for i, cat in enumerate(CATEGORIES if partial else ()):
        cases += _partial_cases(f"{cat}_{SEED_BASE + i}", make_shape(cat, SEED_BASE + i))
    for i, fam in enumerate(SDF_FAMILIES if solids else ()):
        cases += _partial_cases(f"{fam}_{SEED_BASE + i}", sdf_solid(fam, SEED_BASE + i))
    return cases, skipped


def case_f1(mesh, case: dict) -> float:
    """F@1% of `mesh` against a validation case's ground truth (its whole shape)."""
    from hnf3d.eval.metrics import mesh_metrics

    return float(mesh_metrics(mesh, case["gt_points"], case["gt_normals"], seed=0)["fscore@0.01"])


def group_of(name: str) -> str:
    """The group of a validation case from its name (validation_cases' naming): 'full', 'dense', 'partial
    furniture' or 'partial solids'."""
    if name.endswith("_dense"):
        return "dense"
    if ", " in name:
        return "partial furniture" if name.split("_")[0] in CATEGORIES else "partial solids"
    return "full"


def group_means(scores, names) -> dict:
    """{group: mean of the `scores` of the cases `names` in it} (group_of)."""
    groups = [group_of(n) for n in names]
    return {g: float(np.mean([s for s, x in zip(scores, groups) if x == g])) for g in dict.fromkeys(groups)}


def admissible(means: dict, base: dict) -> bool:
    """The studies' rule: no group's mean (`means`, {group: mean}) below its `base` mean by more than
    MAX_GROUP_LOSS."""
    return all(means[g] >= base[g] - MAX_GROUP_LOSS for g in base)


def budget_choice(candidates: list[dict]) -> dict:
    """The budget study's rule (the batch study's before it): of the `candidates` (rows with "refine_batch" and
    "mean": those the group rule admits), the one with the fewest queries per step whose mean is within BUDGET_LOSS
    of the best."""
    top = max(r["mean"] for r in candidates)
    return min((r for r in candidates if r["mean"] >= top - BUDGET_LOSS), key=lambda r: r["refine_batch"])


def example_fit(mesh, points: np.ndarray) -> dict:
    """How well a reconstruction keeps a scan without ground truth (the shipped example): {'points_far': the
    fraction of the scan's points (N, 3) farther than 1% of its size from the mesh (200k surface samples, seed 0),
    'box_miss': the largest gap between the mesh's and the scan's bounding boxes, per side, / that size}."""
    import trimesh
    from scipy.spatial import cKDTree

    size = float((points.max(0) - points.min(0)).max())
    surface = np.asarray(trimesh.sample.sample_surface(mesh, 200_000, seed=0)[0])
    far = float(np.mean(cKDTree(surface).query(points)[0] > 0.01 * size))
    gap = np.abs(np.r_[mesh.bounds[0] - points.min(0), mesh.bounds[1] - points.max(0)]).max()
    return {"points_far": far, "box_miss": float(gap / size)}


def sdf_solid(family: str, seed: int):
    """The marching-cubes mesh (vertices, faces) of the solid of SDF family `family` drawn with `seed` (the first
    non-empty draw), at 128 cells along its largest side, as tools/build_dataset.py meshes them."""
    from hnf3d.data.procedural import SDF_FAMILIES, rng_for
    from hnf3d.data.procedural.sdf_surface import extract_surface

    rng = rng_for(family, seed)
    while True:  # a family draws an empty solid rarely; the next draw from the same generator is the fallback
        try:
            return extract_surface(SDF_FAMILIES[family](rng), 128)
        except ValueError:
            continue


def _partial_cases(name: str, mesh) -> list[dict]:
    """The PARTIAL scans of `mesh` (put in the unit box first), each scored against 100k points of the whole."""
    import trimesh

    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.data.scan import simulate_scan
    from hnf3d.ops import sample_surface

    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    v = unit_box_normalization(v).apply(v)
    gt = sample_surface(v, f, 100_000, seed=1)
    cases = []
    for label, views, noise, missing in PARTIAL:
        scan = simulate_scan(trimesh.Trimesh(v, f, process=False), views=views, noise=noise, missing=missing, seed=0,
                             max_points=20_000).astype(np.float64)
        cases.append({"name": f"{name}, {label}", "input": scan, "gt_points": gt.points.cpu().numpy(),
                      "gt_normals": gt.normals.cpu().numpy()})
    return cases


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="local")
    ap.add_argument("--study", choices=sorted(STUDIES), default="labels", help="which settings to vary")
    ap.add_argument("--steps", type=int, default=300, help="refinement steps (the CLI's default)")
    ap.add_argument("--sdf-data", default=str(ROOT / "datasets" / "sdf"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from hnf3d.pipeline.reconstructor import Reconstructor
    from hnf3d.pipeline.trim import trim_reconstruction

    torch.manual_seed(0)
    rec = Reconstructor.load(args.checkpoint, device="cpu")
    cases, skipped = validation_cases(Path(args.sdf_data), dense=args.study != "labels",
                                      partial=args.study in ("trim", "gate", *RULED),
                                      solids=args.study in ("gate", *RULED))
    print(f"{len(cases)} validation shapes" + (f"; skipped: {skipped}" if skipped else ""), flush=True)

    example = None
    if args.study in RULED:
        from hnf3d.io import load_point_cloud

        example = load_point_cloud(EXAMPLE_SCAN_PATH).points.astype(np.float64)
    rows = [{"variant": "one pass", "fscore@0.01": [case_f1(rec.reconstruct(c["input"]), c) for c in cases]}]
    # the trim study trims one refined mesh per case at each distance (what reconstruct(trim=d) does, without
    # refining the same shape once per distance)
    watertight = [rec.reconstruct(c["input"], refine_steps=args.steps) for c in cases] if args.study == "trim" else []
    name = Path(args.checkpoint).stem if Path(args.checkpoint).suffix else args.checkpoint
    for variant in STUDIES[args.study](name):
        for key, value in variant.items():
            if key != "trim":  # an argument of reconstruct, not an eval setting
                setattr(rec.config.eval, key, value)
        t0 = time.perf_counter()
        if "trim" in variant:
            trim = variant["trim"]
            scores = [case_f1(m if trim is None else trim_reconstruction(m, c["input"], trim)[0], c)
                      for m, c in zip(watertight, cases)]
        else:
            scores = [case_f1(rec.reconstruct(c["input"], refine_steps=args.steps), c) for c in cases]
        rows.append({"variant": _label(variant), **variant, "fscore@0.01": scores,
                     "seconds": time.perf_counter() - t0})
        if example is not None:  # the thin parts of the shipped example scan, which the smoothing thinned
            rows[-1]["example_scan"] = example_fit(rec.reconstruct(example, refine_steps=args.steps), example)
        print(f"  {rows[-1]['variant']}: mean F@1% {np.mean(scores):.3f}"
              + (f"; example scan: {rows[-1]['example_scan']}" if "example_scan" in rows[-1] else ""), flush=True)
    for row in rows:
        row["mean"] = float(np.mean(row["fscore@0.01"]))
    candidates = rows[1:]
    if args.study in RULED:  # the rule (module docstring), against the first variant
        base = group_means(rows[1]["fscore@0.01"], [c["name"] for c in cases])
        candidates = [r for r in rows[1:] if admissible(group_means(r["fscore@0.01"], [c["name"] for c in cases]),
                                                        base)]
    best = max(candidates, key=lambda r: r["mean"])
    if args.study == "budget":
        best = budget_choice(candidates)
    record = {"benchmark": "refine_settings", "study": args.study, "checkpoint": rec.source, "model": rec.info,
              "steps": args.steps, "environment": environment("cpu", ("torch", "numpy")),
              "cases": [c["name"] for c in cases], "skipped": skipped, "variants": rows,
              "best": {k: v for k, v in best.items() if k.startswith("refine_") or k in ("trim", "mean")}}
    suffix = "" if args.study == "labels" else f"-{args.study}"
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"refine-settings-{name}{suffix}.json"
    write_json_atomic(out, record)
    print(format_table([[r["variant"], f"{r['mean']:.3f}", *(f"{x:.3f}" for x in r["fscore@0.01"])] for r in rows],
                       ["variant", "mean", *(c["name"].split("/")[0] for c in cases)]))
    print(f"best: {record['best']}\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
