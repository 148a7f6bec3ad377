"""hnf3d.cli.evaluate (tools/evaluate.py): the ONet/ConvONet benchmark on an ONet-layout data set
(docs/protocol.md)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from hnf3d.cli import evaluate as cli
from tests._tools import REPO

N_POINTS = 30_000  # per npz file: dense enough that a perfect mesh scores Chamfer-L1 < 0.005
CATS = ("chair", "table")
SEEDS = (0, 1, 2)  # per category; test = the first two


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """(data root, folder of the ground-truth meshes in the normalised frame: <cat>/<id>.ply)."""
    from hnf3d.data.build import build_dataset
    from hnf3d.data.procedural import make_shape
    from hnf3d.io import load_mesh

    src = tmp_path_factory.mktemp("src")
    for cat in CATS:
        (src / cat).mkdir()
        for s in SEEDS:
            make_shape(cat, s).export(src / cat / f"m{s}.ply")
    root = tmp_path_factory.mktemp("onet")
    summary = build_dataset(src, root, n_views=0, workers=1, seed=0, val=0.0, test=0.5, near_surface=False,
                            n_points=N_POINTS, n_surface=0, progress=False)
    assert len(summary.built) == len(CATS) * len(SEEDS)
    gt = tmp_path_factory.mktemp("gt_meshes")
    for cat in CATS:
        (root / cat / "test.lst").write_text("m0\nm1\n")
        (root / cat / "train.lst").write_text("m2\n")
        (gt / cat).mkdir()
        for s in SEEDS:
            mesh = load_mesh(src / cat / f"m{s}.ply")
            with np.load(root / cat / f"m{s}" / "points.npz") as d:
                loc, scale = d["loc"].astype(np.float64), float(d["scale"])
            mesh.vertices = (mesh.vertices - loc) / scale  # world = normalised * scale + loc
            mesh.export(gt / cat / f"m{s}.ply")
    return root, gt


def run(capsys, *argv):
    """(exit code, stdout, stderr lines) of hnf3d.cli.evaluate.main."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def mean_of_class_means(rows, key):
    cats = sorted({r["category"] for r in rows})
    return float(np.mean([np.mean([r[key] for r in rows if r["category"] == c]) for c in cats]))


def test_model_end_to_end_and_cache(dataset, tmp_path, capsys):
    root, _ = dataset
    out = tmp_path / "eval"
    copy = tmp_path / "copy.json"
    code, stdout, err = run(capsys, "--checkpoint", "default", "--data", root, "--split", "test",
                            "--resolution", 32, "--out", out, "--json", copy)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {"results.md", "results.csv", "results.json", "cache"}
    doc = results(out)
    assert doc["method"] == "hnf3d" and doc["settings"]["resolution"] == 32 and doc["settings"]["seed"] == 0
    assert json.loads(copy.read_text()) == doc  # --json: the same document
    assert doc["model"] == {"objective": "direct", "variant": None, "input": "pointcloud", "step": 4000,
                            "config": "local_pc_scan_mix"}
    rows = doc["objects"]
    assert sorted((r["category"], r["model"]) for r in rows) == [(c, m) for c in CATS for m in ("m0", "m1")]
    for key in ("iou", "chamfer_l1", "normal_consistency", "fscore@0.01"):
        assert doc["mean"][key] == pytest.approx(mean_of_class_means(rows, key), rel=1e-12)
    assert doc["computed"] == 4 and doc["reused"] == 0
    # the table: printed and in results.md, Chamfer-L1 x10 and labelled
    md = (out / "results.md").read_text()
    assert "Chamfer-L1 x10" in md and "mean (of class means)" in stdout
    mean_line = next(line for line in md.splitlines() if "mean (of class means)" in line)
    assert f"{doc['mean']['chamfer_l1'] * 10:.4f}" in mean_line
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and "chamfer_l1" in csv_lines[0].split(",")
    assert any("4 computed, 0 reused" in line for line in err)
    cached = sorted((out / "cache").glob("*/*.json"))
    assert len(cached) == 4
    mtimes = [p.stat().st_mtime_ns for p in cached]

    # same settings: nothing recomputed, same numbers
    code, _, err = run(capsys, "--checkpoint", "default", "--data", root, "--resolution", 32, "--out", out)
    assert code == 0 and any("0 computed, 4 reused" in line for line in err)
    assert [p.stat().st_mtime_ns for p in cached] == mtimes
    assert results(out)["mean"] == doc["mean"]

    # an interrupted run (one object missing from the cache) resumes
    cached[0].unlink()
    code, _, err = run(capsys, "--checkpoint", "default", "--data", root, "--resolution", 32, "--out", out,
                       "--quiet")
    assert code == 0 and results(out)["computed"] == 1 and results(out)["reused"] == 3

    # another threshold: not reused
    code, _, err = run(capsys, "--checkpoint", "default", "--data", root, "--resolution", 32, "--out", out,
                       "--threshold", "0.3")
    assert code == 0 and any("4 computed, 0 reused" in line for line in err)
    assert results(out)["settings"]["threshold"] == 0.3


def test_config_evaluates_its_trained_run(dataset, tmp_path, capsys):
    """--config CFG scores CFG's training.out_dir/best.safetensors, exactly as --checkpoint would."""
    root, _ = dataset
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(REPO / "hnf3d" / "pretrained" / "pointcloud.safetensors", run_dir / "best.safetensors")
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(f"inherit_from: {REPO / 'configs' / 'default_pc.yaml'}\ntraining:\n  out_dir: {run_dir}\n")
    args = ["--data", root, "--resolution", 32, "--categories", CATS[0], "--quiet"]
    code, _, err = run(capsys, "--config", cfg, *args, "--out", tmp_path / "a")
    assert code == 0, err
    code, _, err = run(capsys, "--checkpoint", "global", *args, "--out", tmp_path / "b")
    assert code == 0, err
    a, b = results(tmp_path / "a"), results(tmp_path / "b")
    assert a["checkpoint"] == str(run_dir / "best.safetensors")
    assert {k: v for k, v in a["mean"].items() if k != "seconds"} == {k: v for k, v in b["mean"].items()
                                                                       if k != "seconds"}
    # a config whose run was never trained: one line naming the config and the missing checkpoint
    cfg.write_text(f"inherit_from: {REPO / 'configs' / 'default_pc.yaml'}\ntraining:\n  out_dir: {tmp_path}/none\n")
    code, _, err = run(capsys, "--config", cfg, *args, "--out", tmp_path / "c")
    assert code == 2 and len(err) == 1 and "--config" in err[0] and "best.safetensors not found" in err[0]
    assert not (tmp_path / "c").exists()


def test_ground_truth_meshes_score_perfectly(dataset, tmp_path, capsys):
    root, gt = dataset
    out = tmp_path / "eval"
    code, _, err = run(capsys, "--meshes", gt, "--data", root, "--out", out, "--quiet")
    assert code == 0, err
    doc = results(out)
    assert doc["method"] == "meshes" and not doc["problems"]
    for r in doc["objects"]:
        assert r["status"] == "ok"
        assert r["iou"] >= 0.97, r
        assert r["chamfer_l1"] < 0.005, r
    assert doc["mean"]["fscore@0.02"] > 0.95


def test_missing_mesh_is_an_empty_mesh(dataset, tmp_path, capsys):
    root, gt = dataset
    meshes = tmp_path / "meshes"
    shutil.copytree(gt / "table", meshes / "table")
    (meshes / "table" / "m1.ply").unlink()
    out = tmp_path / "eval"
    code, _, err = run(capsys, "--meshes", meshes, "--data", root, "--categories", "table", "--out", out, "--quiet")
    assert code == 0
    warnings = [line for line in err if "warning" in line]
    assert len(warnings) == 1 and "table/m1" in warnings[0] and "missing" in warnings[0]
    doc = results(out)
    row = next(r for r in doc["objects"] if r["model"] == "m1")
    assert row["status"].startswith("missing")
    # ONet's policy (hnf3d.eval.metrics.empty_mesh_metrics)
    assert row["chamfer_l1"] == row["accuracy"] == row["completeness"] == pytest.approx(math.sqrt(3))
    assert row["chamfer_l2"] == 3.0 and row["normal_consistency"] == -1.0 and row["iou"] == 0.0
    assert row["fscore@0.01"] == row["fscore@0.015"] == row["fscore@0.02"] == 0.0
    ok = next(r for r in doc["objects"] if r["model"] == "m0")
    assert doc["mean"]["iou"] == pytest.approx(ok["iou"] / 2)
    assert doc["problems"] == [{"category": "table", "model": "m1", "status": row["status"]}]
    # adding the mesh invalidates that object's cache entry only
    shutil.copy(gt / "table" / "m1.ply", meshes / "table" / "m1.ply")
    code, _, err = run(capsys, "--meshes", meshes, "--data", root, "--categories", "table", "--out", out, "--quiet")
    assert code == 0 and not err
    doc = results(out)
    assert doc["computed"] == 1 and doc["reused"] == 1 and doc["mean"]["iou"] > 0.97


def test_poisson_baseline(dataset, tmp_path, capsys):
    pytest.importorskip("open3d")
    root, _ = dataset
    out = tmp_path / "eval"
    code, _, err = run(capsys, "--baseline", "poisson", "--poisson-depth", 6, "--data", root, "--categories",
                       "chair", "--limit", 1, "--out", out, "--quiet")
    assert code == 0, err
    doc = results(out)
    assert doc["method"] == "poisson" and doc["depth"] == 6 and len(doc["objects"]) == 1
    assert doc["objects"][0]["faces"] > 0 and doc["objects"][0]["chamfer_l1"] < 0.1


def test_poisson_trim_and_same_inputs(dataset):
    pytest.importorskip("open3d")
    from hnf3d.eval.poisson import poisson_baseline
    from hnf3d.eval.protocol import protocol_dataset

    root, _ = dataset
    full, _ = protocol_dataset(str(root), split="test", seed=0)
    sub, cats = protocol_dataset(str(root), split="test", categories=["table"], seed=0)
    assert cats == ["table"]
    i = full.models.index(("table", "m0"))
    # an object's noisy input does not depend on the category selection (every method gets the same points)
    assert np.array_equal(full[i]["inputs"].numpy(), sub[i]["inputs"].numpy())
    pts = full[i]["inputs"].numpy()
    assert pts.shape == (3000, 3)
    mesh, _ = poisson_baseline(pts, depth=6)
    trimmed, _ = poisson_baseline(pts, depth=6, density_quantile=0.2)
    assert 0 < len(trimmed.vertices) < len(mesh.vertices)


@pytest.mark.parametrize("argv, needle", [
    (["--checkpoint", "default", "--baseline", "poisson"], "not allowed with argument"),
    (["--data", "{root}"], "one of the arguments"),
    (["--checkpoint", "default", "--data", "{missing}"], "--data"),
    (["--checkpoint", "default", "--data", "{root}", "--split", "nosuch"], "--split nosuch"),
    (["--checkpoint", "{missing}/x.safetensors", "--data", "{root}"], "checkpoint not found"),
    (["--checkpoint", "{junk}", "--data", "{root}"], "junk.safetensors"),
    (["--meshes", "{missing}", "--data", "{root}"], "--meshes"),
    (["--baseline", "poisson", "--data", "{root}", "--threshold", "0.3"], "--threshold"),
    (["--checkpoint", "default", "--data", "{root}", "--categories", "nosuch"], "nosuch"),
    (["--checkpoint", "default", "--data", "{root}", "--resolution", "48"], "--resolution"),
    (["--checkpoint", "default", "--data", "{root}", "--json", "{missing}/r.json"], "--json"),
    (["--config", "{missing}/exp.yaml", "--data", "{root}"], "--config"),
])
def test_bad_arguments_one_line_exit_2(dataset, tmp_path, capsys, argv, needle):
    root, _ = dataset
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    argv = [a.format(root=root, missing=tmp_path / "missing", junk=junk) for a in argv]
    code, stdout, err = run(capsys, *argv, "--out", tmp_path / "out", "--quiet")
    assert code == 2
    assert len(err) == 1 and err[0].startswith("evaluate: error:") and needle in err[0], err
    assert not (tmp_path / "out").exists()
