"""The build_dataset tool (hnf3d.cli.build_dataset) and hnf3d.data.build: meshes -> the ONet layout
(docs/protocol.md)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from hnf3d.cli import build_dataset as cli
from hnf3d.data.build import (
    MARKER,
    MIN_VOLUME_FRACTION,
    DegenerateMeshError,
    build_dataset,
    build_object,
    is_complete,
    split_ids,
)

REPO = Path(__file__).resolve().parents[2]
N = 3000  # points per file in these tests (100k by default)


def run(meshes, out, *extra) -> int:
    return cli.main(["--meshes", str(meshes), "--out", str(out), "--points", str(N), "--quiet", *extra])


# shapes with an analytic inside test in their own frame; the builder normalises by the bounding box
def sphere():
    return trimesh.creation.icosphere(subdivisions=4, radius=2.0)


def box():
    return trimesh.creation.box(extents=[1.0, 0.6, 0.4])


def torus():
    return trimesh.creation.torus(major_radius=1.0, minor_radius=0.3, major_sections=64, minor_sections=32)


def inside_analytic(name: str, p: np.ndarray) -> np.ndarray:
    """(inside, distance to the boundary) in normalised coordinates."""
    if name == "sphere":
        d = np.linalg.norm(p, axis=1) - 0.5
        return d < 0, np.abs(d)
    if name == "box":
        h = np.array([0.5, 0.3, 0.2])
        q = np.abs(p) - h
        return (q < 0).all(1), np.abs(q.max(1))
    scale = 2 * 1.3  # torus: largest side = 2 (R + r), axis z
    big, small = 1.0 / scale, 0.3 / scale
    d = np.hypot(np.hypot(p[:, 0], p[:, 1]) - big, p[:, 2]) - small
    return d < 0, np.abs(d)


SHAPES = {"sphere": sphere, "box": box, "torus": torus}


@pytest.fixture(scope="module")
def two_categories(tmp_path_factory):
    root = tmp_path_factory.mktemp("meshes")
    (root / "cat_a").mkdir()
    (root / "cat_b").mkdir()
    offsets = {"sphere": [3.0, 1.0, -2.0], "box": [-1.0, 0.5, 4.0], "torus": [0.2, -7.0, 1.0]}
    for name, make in SHAPES.items():
        mesh = make()
        mesh.apply_translation(offsets[name])
        mesh.export(root / "cat_a" / f"{name}.obj")
    box_b = box()
    box_b.export(root / "cat_b" / "box.ply")
    sphere_b = sphere()
    sphere_b.export(root / "cat_b" / "sphere.ply")
    out = tmp_path_factory.mktemp("onet")
    assert run(root, out, "--views", "3", "--workers", "2", "--seed", "5", "--val", "0.3", "--test", "0.3") == 0
    return root, out


def test_layout_keys_and_dtypes(two_categories):
    _, out = two_categories
    meta = yaml.safe_load((out / "metadata.yaml").read_text())
    assert meta == {"cat_a": {"id": "cat_a", "name": "cat_a"}, "cat_b": {"id": "cat_b", "name": "cat_b"}}
    for cat, ids in (("cat_a", ["box", "sphere", "torus"]), ("cat_b", ["box", "sphere"])):
        for mid in ids:
            obj = out / cat / mid
            assert is_complete(obj)
            pts = np.load(obj / "points.npz")
            assert sorted(pts.files) == ["loc", "occupancies", "points", "scale"]
            assert pts["points"].dtype == np.float16 and pts["points"].shape == (N, 3)
            assert pts["occupancies"].dtype == np.uint8 and pts["occupancies"].shape == ((N + 7) // 8,)
            assert pts["loc"].dtype == np.float32 and pts["loc"].shape == (3,)
            assert pts["scale"].dtype == np.float32 and pts["scale"].shape == ()
            pc = np.load(obj / "pointcloud.npz")
            assert sorted(pc.files) == ["loc", "normals", "points", "scale"]
            assert pc["points"].dtype == np.float16 and pc["normals"].dtype == np.float16
            assert pc["points"].shape == pc["normals"].shape == (N, 3)
            surf = np.load(obj / "points_surface.npz")
            assert sorted(surf.files) == ["loc", "occupancies", "points", "scale"]
            cams = np.load(obj / "img_choy2016" / "cameras.npz")
            assert sorted(cams.files) == sorted([f"camera_mat_{i}" for i in range(3)] +
                                                [f"world_mat_{i}" for i in range(3)])
            assert sorted(p.name for p in (obj / "img_choy2016").glob("*.jpg")) == ["000.jpg", "001.jpg", "002.jpg"]
    assert not list(out.glob("*/.*.tmp-*"))  # no temp folders left


@pytest.mark.parametrize("name", ["sphere", "box", "torus"])
def test_points_labels_and_surface(two_categories, name):
    root, out = two_categories
    obj = out / "cat_a" / name
    pts = np.load(obj / "points.npz")
    p = pts["points"].astype(np.float64)
    labels = np.unpackbits(pts["occupancies"])[:N].astype(bool)
    assert np.abs(p.min(0) + 0.55).max() < 0.02 and np.abs(p.max(0) - 0.55).max() < 0.02
    truth, dist = inside_analytic(name, p)
    clear = dist > 0.01  # the tessellated surface differs from the analytic one by less than this
    assert (labels[clear] == truth[clear]).mean() == 1.0
    assert 0.01 < labels.mean() < 0.9
    # world = p * scale + loc recovers the source mesh's frame
    mesh = trimesh.load(root / "cat_a" / f"{name}.obj", process=False)
    lo, hi = mesh.bounds
    np.testing.assert_allclose(pts["loc"], (lo + hi) / 2, rtol=1e-6, atol=1e-6)
    assert float(pts["scale"]) == pytest.approx((hi - lo).max(), rel=1e-6)
    pc = np.load(obj / "pointcloud.npz")
    q = pc["points"].astype(np.float64)
    _, d = inside_analytic(name, q)
    assert np.quantile(d, 0.99) < 0.01
    world = q * float(pc["scale"]) + pc["loc"].astype(np.float64)
    _, dist_world, _ = trimesh.proximity.closest_point(mesh, world[:500])
    assert dist_world.max() < 2e-3 * float(pc["scale"])
    n = pc["normals"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=2e-3)
    near = np.load(obj / "points_surface.npz")
    _, dn = inside_analytic(name, near["points"].astype(np.float64))
    assert 0.004 < np.median(dn) < 0.02  # N(0, 0.01^2) around the surface


def test_rendered_views_show_the_points(two_categories):
    from PIL import Image

    from hnf3d.vis.render import project

    _, out = two_categories
    for name in ("sphere", "box", "torus"):
        obj = out / "cat_a" / name
        pc = np.load(obj / "pointcloud.npz")
        world = pc["points"].astype(np.float64) * float(pc["scale"]) + pc["loc"].astype(np.float64)
        cams = np.load(obj / "img_choy2016" / "cameras.npz")
        for i in range(3):
            img = np.asarray(Image.open(obj / "img_choy2016" / f"{i:03d}.jpg").convert("RGB"))
            assert img.shape == (137, 137, 3)
            uv = np.floor(project(world, cams[f"camera_mat_{i}"], cams[f"world_mat_{i}"])).astype(int)
            ok = ((uv >= 0) & (uv < 137)).all(1)
            fg = img.min(-1) < 240
            assert (ok & fg[uv[:, 1].clip(0, 136), uv[:, 0].clip(0, 136)]).mean() >= 0.95


def test_splits_partition_and_are_deterministic(two_categories, tmp_path):
    root, out = two_categories
    for cat, ids in (("cat_a", {"box", "sphere", "torus"}), ("cat_b", {"box", "sphere"})):
        lists = {s: (out / cat / f"{s}.lst").read_text().split() for s in ("train", "val", "test")}
        together = lists["train"] + lists["val"] + lists["test"]
        assert sorted(together) == sorted(ids) and len(set(together)) == len(together)
        assert lists["train"]
    # same seed, same split (the split depends on the ids and the seed only)
    again = tmp_path / "again"
    assert run(root, again, "--no-render", "--no-surface", "--seed", "5", "--val", "0.3", "--test", "0.3",
               "--workers", "1") == 0
    for cat in ("cat_a", "cat_b"):
        for s in ("train", "val", "test"):
            assert (again / cat / f"{s}.lst").read_text() == (out / cat / f"{s}.lst").read_text()
    assert not (again / "cat_a" / "box" / "img_choy2016").exists()
    assert not (again / "cat_a" / "box" / "points_surface.npz").exists()
    ids = [f"m{i:02d}" for i in range(50)]
    a, b = split_ids(ids, 3, 0.1, 0.2), split_ids(ids, 3, 0.1, 0.2)
    assert a == b and (len(a["train"]), len(a["val"]), len(a["test"])) == (35, 5, 10)
    assert split_ids(ids, 4, 0.1, 0.2) != a


def _mtimes(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_resume_and_bad_files(tmp_path, capsys):
    meshes = tmp_path / "flat"
    meshes.mkdir()
    for name, make in SHAPES.items():
        make().export(meshes / f"{name}.obj")
    trimesh.creation.cylinder(radius=0.3, height=1.0).export(meshes / "cyl.ply")
    out = tmp_path / "out"
    assert run(meshes, out, "--views", "1", "--no-surface", "--workers", "1") == 0
    assert "built 4, skipped-finished 0, failed 0" in capsys.readouterr().out
    assert set(yaml.safe_load((out / "metadata.yaml").read_text())) == {"default"}

    kept = {name: _mtimes(out / "default" / name) for name in ("sphere", "cyl")}
    import shutil

    shutil.rmtree(out / "default" / "box")  # never written
    (out / "default" / "torus" / MARKER).unlink()  # killed before its marker: must be redone
    stale = out / "default" / ".box.tmp-99999-0"
    stale.mkdir()
    (stale / "points.npz").write_bytes(b"half")
    (meshes / "garbage.obj").write_bytes(os.urandom(3000))
    (meshes / "garbage2.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 9\n" + os.urandom(50))
    with open(meshes / "flat.obj", "w") as f:  # zero area: every triangle is a line
        f.write("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nf 1 2 3\n")

    assert run(meshes, out, "--views", "1", "--no-surface", "--workers", "1") == 0
    captured = capsys.readouterr()
    assert "built 2, skipped-finished 2, failed 3" in captured.out
    for name in ("default/garbage", "default/garbage2", "default/flat"):
        assert name in captured.out and name in captured.err
    assert "zero surface area" in captured.out
    for name, before in kept.items():
        assert _mtimes(out / "default" / name) == before
    for name in ("box", "torus"):
        assert is_complete(out / "default" / name)
    assert not stale.exists()
    log = (out / "build_log.txt").read_text()
    assert "FAILED default/garbage " in log and "FAILED default/flat " in log and "zero surface area" in log
    listed = sorted(sum(((out / "default" / f"{s}.lst").read_text().split() for s in ("train", "val", "test")), []))
    assert listed == ["box", "cyl", "sphere", "torus"]

    # a third run has nothing to do
    assert run(meshes, out, "--views", "1", "--no-surface", "--workers", "1") == 0
    assert "built 0, skipped-finished 4, failed 3" in capsys.readouterr().out

    # every mesh bad: exit 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.obj").write_bytes(os.urandom(500))
    assert run(bad, tmp_path / "bad_out", "--workers", "1") == 1


def test_degenerate_meshes_raise(tmp_path):
    p = tmp_path / "point.obj"
    p.write_text("v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n")
    with pytest.raises(DegenerateMeshError, match="zero extent"):
        build_object(p, tmp_path / "o1", n_points=10, n_surface=10, n_views=0)
    p = tmp_path / "line.obj"
    p.write_text("v 0 0 0\nv 1 1 1\nv 2 2 2\nf 1 2 3\n")
    with pytest.raises(DegenerateMeshError, match="zero surface area"):
        build_object(p, tmp_path / "o2", n_points=10, n_surface=10, n_views=0)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


# meshes whose labels do not describe a solid: open sheets get only the robust labelling's shell (a lone triangle
# 0.3% of the points, a square 0.6%, none of it enclosed); a closed needle 0.1% thick gets no inside point at all
DEGENERATE_LABELS = {
    "triangle.obj": ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "shell around open surfaces"),
    "square.off": ("OFF\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n3 0 2 3\n", "shell around open surfaces"),
    "needle.stl": (None, "nothing inside"),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE_LABELS))
def test_degenerate_labels_are_refused(tmp_path, name):
    text, why = DEGENERATE_LABELS[name]
    path = tmp_path / name
    if text is None:
        trimesh.creation.box(extents=[1.0, 0.001, 0.001]).export(path)
    else:
        path.write_text(text)
    with pytest.raises(DegenerateMeshError, match="degenerate labels") as info:
        build_object(path, tmp_path / "o", n_points=N, n_surface=N, n_views=0)
    message = str(info.value)
    assert str(path) in message and why in message and "% of the 3000 uniform points inside" in message
    assert "\n" not in message
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp-*"))


def test_labels_leaking_outside_the_object_are_refused(tmp_path, monkeypatch):
    """All-inside labels (a labelling failure: the padding around the object is inside) are refused too."""
    import torch

    import hnf3d.ops

    box().export(tmp_path / "box.obj")
    monkeypatch.setattr(hnf3d.ops, "occupancy", lambda v, f, q, **kw: torch.ones(len(q), dtype=torch.bool))
    with pytest.raises(DegenerateMeshError, match=r"100\.00% of the 3000 uniform points inside, and 100% of those "
                                                  r"beyond the mesh's bounding box"):
        build_object(tmp_path / "box.obj", tmp_path / "o", n_points=N, n_surface=0, near_surface=False, n_views=0)
    assert not (tmp_path / "o").exists()


def _inside_share(obj: Path) -> float:
    with np.load(obj / "points.npz") as d:
        return float(np.unpackbits(d["occupancies"])[: len(d["points"])].mean())


def test_thin_valid_objects_are_kept(tmp_path):
    """The thinnest valid shapes have less inside than a lone triangle's shell, yet real volume: they build. A
    procedural rifle (~0.13% inside) and an open-top box given as sheets (a cup: 3% inside, ~0.2% enclosed)."""
    from hnf3d.data.procedural import make_shape

    make_shape("rifle", 0).export(tmp_path / "rifle.ply")
    cup = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    cup = trimesh.Trimesh(cup.vertices, cup.faces[cup.face_normals[:, 1] < 0.5], process=False)  # no top face
    cup.export(tmp_path / "cup.obj")
    shares = {}
    for name in ("rifle.ply", "cup.obj"):
        build_object(tmp_path / name, tmp_path / name[:-4], n_points=20_000, n_surface=0, near_surface=False,
                     n_views=0)
        shares[name] = _inside_share(tmp_path / name[:-4])
    assert MIN_VOLUME_FRACTION < shares["rifle.ply"] < 0.0028  # below a lone triangle's 0.28%
    assert 0.01 < shares["cup.obj"] < 0.1


def test_degenerate_labels_are_skipped_and_reported_by_the_builder(tmp_path, capsys):
    meshes = tmp_path / "m"
    meshes.mkdir()
    box().export(meshes / "box.obj")
    (meshes / "triangle.obj").write_text(DEGENERATE_LABELS["triangle.obj"][0])
    out = tmp_path / "out"
    assert run(meshes, out, "--no-render", "--no-surface", "--workers", "1") == 0
    captured = capsys.readouterr()
    assert "built 1, skipped-finished 0, failed 1" in captured.out
    for text in (captured.out, captured.err, (out / "build_log.txt").read_text()):
        assert "default/triangle" in text and str(meshes / "triangle.obj") in text and "degenerate labels" in text
    assert not (out / "default" / "triangle").exists()
    assert sorted(sum(((out / "default" / f"{s}.lst").read_text().split() for s in ("train", "val", "test")),
                      [])) == ["box"]


def test_real_thin_soup_keeps_enclosed_volume(real_data, tmp_path):
    """The raw ShapeNet bench (thin slats, a triangle soup labelled 'robust') is a valid object, not a sheet."""
    bench = next((real_data / "shapenet_raw" / "02828884").glob("*/model_normalized.obj"))
    build_object(bench, tmp_path / "bench", n_points=20_000, n_surface=0, near_surface=False, n_views=0)
    assert 0.002 < _inside_share(tmp_path / "bench") < 0.01


BAD_METADATA = {
    "syntax": b"a: [unclosed\n  b: c\n",
    "binary": bytes(range(256)) * 4,
    "scalar": b"just some words\n",
    "list": b"- chair\n- table\n",
    "nested": b"[" * 5000 + b"]" * 5000,
}


@pytest.mark.parametrize("kind", sorted(BAD_METADATA) + ["directory"])
def test_unparsable_metadata_is_refused_before_any_work(tmp_path, capsys, kind):
    meshes = tmp_path / "m"
    meshes.mkdir()
    box().export(meshes / "box.obj")
    out = tmp_path / "out"
    out.mkdir()
    meta = out / "metadata.yaml"
    if kind == "directory":
        meta.mkdir()
    else:
        meta.write_bytes(BAD_METADATA[kind])
    with pytest.raises(ValueError, match="metadata.yaml") as info:
        build_dataset(meshes, out, n_views=0, workers=1, near_surface=False, n_points=N, n_surface=0, progress=False)
    assert str(meta) in str(info.value) and "\n" not in str(info.value)
    assert run(meshes, out, "--no-render", "--no-surface", "--workers", "1") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(meta) in err and "Traceback" not in err
    # nothing built, nothing logged, the user's file untouched
    assert sorted(p.name for p in out.iterdir()) == ["metadata.yaml"]
    assert meta.is_dir() if kind == "directory" else meta.read_bytes() == BAD_METADATA[kind]


def test_existing_metadata_is_kept_and_extended(tmp_path):
    meshes = tmp_path / "m"
    (meshes / "chairs").mkdir(parents=True)
    box().export(meshes / "chairs" / "box.obj")
    out = tmp_path / "out"
    out.mkdir()
    (out / "metadata.yaml").write_text("# mine\nother: {id: other, name: my own class}\n")
    build_dataset(meshes, out, n_views=0, workers=1, near_surface=False, n_points=N, n_surface=0, progress=False)
    assert yaml.safe_load((out / "metadata.yaml").read_text()) == {
        "other": {"id": "other", "name": "my own class"}, "chairs": {"id": "chairs", "name": "chairs"}}


def test_build_object_is_deterministic(tmp_path):
    p = tmp_path / "t.obj"
    torus().export(p)
    t = build_object(p, tmp_path / "a", n_points=500, n_surface=500, n_views=1, seed=3)
    build_object(p, tmp_path / "b", n_points=500, n_surface=500, n_views=1, seed=3)
    assert {"load", "sample", "label", "render", "write", "total"} <= set(t)
    for name in ("points.npz", "pointcloud.npz", "points_surface.npz"):
        a, b = np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_real_meshes_build(real_data, tmp_path, capsys):
    """Watertight, open and soup meshes from real data, and raw ShapeNet (synset/id/model.obj) all build."""
    import shutil

    meshes = tmp_path / "real"
    shutil.copytree(real_data / "meshes", meshes / "misc")
    out = tmp_path / "out"
    assert run(meshes, out, "--views", "1", "--no-surface", "--workers", "1") == 0
    assert "failed 0" in capsys.readouterr().out
    built = sorted(p.name for p in (out / "misc").iterdir() if is_complete(p))
    assert built == sorted(p.stem for p in (real_data / "meshes").iterdir())
    for name in built:
        occ = np.unpackbits(np.load(out / "misc" / name / "points.npz")["occupancies"])[:N]
        assert 0.003 < occ.mean() < 0.7, name
    raw_out = tmp_path / "raw_out"
    assert run(real_data / "shapenet_raw", raw_out, "--views", "1", "--no-surface", "--workers", "1") == 0
    assert "built 2, skipped-finished 0, failed 0" in capsys.readouterr().out
    meta = yaml.safe_load((raw_out / "metadata.yaml").read_text())
    assert meta["04379243"]["name"] == "table" and meta["02828884"]["name"] == "bench"
    table = raw_out / "04379243" / "1a15e651e26622b0e5c7ea227b17d897"
    assert is_complete(table)
    occ = np.unpackbits(np.load(table / "points.npz")["occupancies"])[:N].astype(bool)
    assert occ.any()  # a triangle soup with zero enclosed volume still gets an inside (robust occupancy)


@pytest.mark.parametrize("argv,named", [
    (["--meshes", "/nonexistent/meshes_dir", "--out", "OUT"], "--meshes"),
    (["--out", "OUT"], "--meshes"),
    (["--meshes", "MESHES", "--out", "OUT", "--val", "0.9", "--test", "0.2"], "--val"),
    (["--meshes", "MESHES", "--out", "OUT", "--views", "-1"], "--views"),
    (["--meshes", "MESHES", "--out", "OUT", "--workers", "0"], "--workers"),
    (["--meshes", "EMPTY", "--out", "OUT"], "--meshes"),
])
def test_cli_bad_arguments(tmp_path, capsys, argv, named):
    (tmp_path / "m").mkdir()
    (tmp_path / "e").mkdir()
    box().export(tmp_path / "m" / "box.obj")
    subs = {"MESHES": str(tmp_path / "m"), "OUT": str(tmp_path / "o"), "EMPTY": str(tmp_path / "e")}
    argv = [subs.get(a, a) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert named in err
    if argv[0] == "--meshes" and "nonexistent" in argv[1]:
        assert err.strip().count("\n") == 0 and "/nonexistent/meshes_dir" in err
    assert not (tmp_path / "o" / "metadata.yaml").exists()


def test_round_trip_through_shapenet_dataset(two_categories):
    """What build_dataset writes, ShapeNetDataset reads back: ONet's keys, dtypes, packbits labels and ranges."""
    import torch

    from hnf3d.data import ShapeNetDataset, collate

    _, out = two_categories
    ds = ShapeNetDataset(out, split=None, input_type="pointcloud", n_query_points=None, n_input_points=500)
    assert len(ds) == 5 and not ds.skipped
    for i in range(len(ds)):
        item = ds[i]
        raw = np.load(out / item["category"] / item["model"] / "points.npz")
        labels = np.unpackbits(raw["occupancies"])[:N].astype(np.float32)
        # the reader keeps every point (n_query_points=None) in file order, with ONet's 1e-4 jitter
        assert item["points"].shape == (N, 3) and item["points"].dtype == torch.float32
        assert np.abs(item["points"].numpy() - raw["points"].astype(np.float32)).max() < 1e-3
        assert np.array_equal(item["points.occ"].numpy(), labels)
        assert np.abs(item["points"].numpy()).max() <= 0.55 + 1e-3
        assert torch.allclose(item["loc"], torch.from_numpy(raw["loc"])) and float(item["scale"]) == raw["scale"]
        assert item["inputs"].shape == (500, 3)
    batch = collate([ds[0], ds[1]])
    assert batch["points"].shape == (2, N, 3) and len(batch["model"]) == 2
    img = ShapeNetDataset(out, split=None, input_type="img", img_size=64, n_query_points=16)[0]
    assert img["inputs"].shape == (3, 64, 64) and 0 <= img["inputs"].min() and img["inputs"].max() <= 1


def test_overlapping_parts_get_union_labels_and_an_exposed_point_cloud(tmp_path):
    """A procedural chair (closed parts overlapping, no boolean union): uniform labels equal the union of the
    parts, and pointcloud.npz holds no point buried inside another part."""
    from hnf3d.data.procedural import make_parts
    from hnf3d.data.normalization import unit_box_normalization
    from hnf3d.ops import winding_number

    parts = make_parts("chair", 11)
    mesh = trimesh.util.concatenate(parts)
    mesh.export(tmp_path / "chair.obj")
    build_object(tmp_path / "chair.obj", tmp_path / "out", n_points=N, n_surface=0, near_surface=False, n_views=0,
                 seed=1)
    norm = unit_box_normalization(mesh.vertices)
    pts = np.load(tmp_path / "out" / "points.npz")
    p = pts["points"].astype(np.float64)
    labels = np.unpackbits(pts["occupancies"])[:N].astype(bool)
    union = np.zeros(N, bool)
    for part in parts:
        union |= winding_number(norm.apply(part.vertices), part.faces, p, backend="torch").numpy() > 0.5
    assert labels.any() and (labels == union).mean() > 0.999
    pc = np.load(tmp_path / "out" / "pointcloud.npz")
    q, n = pc["points"].astype(np.float64), pc["normals"].astype(np.float64)
    # a buried sample has solid on both sides of its face (w is undefined exactly on a face, so step off it)
    def solid(x):
        return sum(winding_number(norm.apply(part.vertices), part.faces, x, backend="cpu").numpy()
                   for part in parts) > 0.5
    buried = solid(q + 0.004 * n) & solid(q - 0.004 * n)
    assert buried.mean() < 0.01
