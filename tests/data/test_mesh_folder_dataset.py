"""MeshFolderDataset on small synthetic folders: an icosphere and a box, flat and per-category layouts."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from torch.utils.data import DataLoader

from hnf3d.data.mesh_folder import MeshFolderDataset, collate

SPHERE_R, SPHERE_C = 2.0, np.array([1.0, 2.0, 3.0])
BOX_EXT, BOX_C = np.array([1.0, 2.0, 4.0]), np.array([-5.0, 0.0, 1.0])


def sphere() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3, radius=SPHERE_R).apply_translation(SPHERE_C)


def box() -> trimesh.Trimesh:
    return trimesh.creation.box(BOX_EXT).apply_translation(BOX_C)


@pytest.fixture()
def flat(tmp_path) -> Path:
    root = tmp_path / "flat"
    root.mkdir()
    sphere().export(root / "ball.ply")
    box().export(root / "crate.obj")
    return root


def _sphere_radius(item) -> float:
    return SPHERE_R / item["scale"].item()


def _box_signed_margin(points: np.ndarray, half: np.ndarray) -> np.ndarray:
    """> 0 inside, < 0 outside: distance to the nearest face plane (exact enough away from edges)."""
    return (half - np.abs(points)).min(axis=1)


def _item(ds, model):
    return ds[[m for _, m, _ in ds.files].index(model)]


def test_flat_layout_labels_and_normalisation(flat):
    ds = MeshFolderDataset(flat, n_input_points=1000, input_noise=0.0, n_query_points=1000, seed=0)
    assert len(ds) == 2 and ds.layout == "flat" and ds.categories == ["default"]
    assert "default: 2" in repr(ds)

    ball = _item(ds, "ball")
    assert set(ball) == {"inputs", "points", "points.occ", "category", "model", "idx", "loc", "scale"}
    assert ball["category"] == "default"
    for key, shape in (("inputs", (1000, 3)), ("points", (1000, 3)), ("points.occ", (1000,)),
                       ("loc", (3,)), ("scale", ())):
        assert ball[key].shape == shape and ball[key].dtype == torch.float32, key
    np.testing.assert_allclose(ball["loc"].numpy(), SPHERE_C, atol=1e-5)  # bbox centre of the icosphere
    r = _sphere_radius(ball)
    assert 0.49 < r < 0.51  # largest side of the bbox = 1
    pts, occ = ball["points"].numpy(), ball["points.occ"].numpy()
    assert set(np.unique(occ)) <= {0.0, 1.0}
    dist = np.linalg.norm(pts, axis=1)
    away = np.abs(dist - r) > 0.02
    assert away.sum() > 400
    np.testing.assert_array_equal(occ[away], (dist[away] < r).astype(np.float32))
    # inputs lie on the normalised surface, and loc/scale map them back onto the world sphere
    radial = np.linalg.norm(ball["inputs"].numpy(), axis=1)
    assert np.abs(radial - r).max() < 0.005  # icosphere facets
    world = ball["inputs"].numpy() * ball["scale"].item() + ball["loc"].numpy()
    assert np.abs(np.linalg.norm(world - SPHERE_C, axis=1) - SPHERE_R).max() < 0.02

    crate = _item(ds, "crate")
    np.testing.assert_allclose(crate["loc"].numpy(), BOX_C, atol=1e-5)
    np.testing.assert_allclose(crate["scale"].item(), BOX_EXT.max(), rtol=1e-6)
    half = BOX_EXT / BOX_EXT.max() / 2
    pts, occ = crate["points"].numpy(), crate["points.occ"].numpy()
    margin = _box_signed_margin(pts, half)
    away = np.abs(margin) > 0.01
    np.testing.assert_array_equal(occ[away], (margin[away] > 0).astype(np.float32))
    assert occ.sum() > 50
    inp = crate["inputs"].numpy()
    assert np.abs(_box_signed_margin(inp, half)).max() < 1e-5
    world = inp * crate["scale"].item() + crate["loc"].numpy()
    assert (np.abs(world - BOX_C) <= BOX_EXT / 2 + 1e-5).all()


def test_query_mix_and_noise(flat):
    sigma, frac = 0.02, 0.25
    ds = MeshFolderDataset(flat, n_input_points=2000, input_noise=0.01, n_query_points=800,
                           near_surface_fraction=frac, near_surface_sigma=sigma, padding=0.2)
    ball = _item(ds, "ball")
    r = _sphere_radius(ball)
    pts = ball["points"].numpy()
    n_near = int(round(800 * frac))
    uniform, near = pts[: 800 - n_near], pts[800 - n_near:]
    assert np.abs(uniform).max() <= 0.6 + 1e-6 and np.abs(uniform).max() > 0.55  # [-0.5 - 0.1, 0.5 + 0.1]^3
    off = np.linalg.norm(near, axis=1) - r
    assert 0.8 * sigma < off.std() < 1.2 * sigma
    # share of all queries within 3 sigma of the surface: the near ones plus the few uniform ones that fall there
    close = (np.abs(np.linalg.norm(pts, axis=1) - r) < 3 * sigma).mean()
    assert frac < close < frac + 0.2
    radial = np.linalg.norm(ball["inputs"].numpy(), axis=1) - r
    assert 0.008 < radial.std() < 0.012
    only_uniform = MeshFolderDataset(flat, n_input_points=10, n_query_points=100, near_surface_fraction=0.0)
    assert only_uniform[0]["points"].shape == (100, 3)
    no_queries = MeshFolderDataset(flat, n_input_points=10, n_query_points=0)
    assert "points" not in no_queries[0] and "points.occ" not in no_queries[0]


def test_deterministic(flat):
    kwargs = dict(n_input_points=200, n_query_points=128, seed=5)
    a, b = MeshFolderDataset(flat, **kwargs), MeshFolderDataset(flat, **kwargs)
    first = [a[i] for i in range(2)]
    for i in (1, 0):
        for key in ("inputs", "points", "points.occ", "loc", "scale"):
            assert torch.equal(first[i][key], b[i][key]), key
    a.set_epoch(3)
    assert not torch.equal(first[0]["inputs"], a[0]["inputs"])
    assert not torch.equal(first[0]["points"], a[0]["points"])
    b.set_epoch(3)
    assert torch.equal(a[1]["points"], b[1]["points"])
    c = MeshFolderDataset(flat, **dict(kwargs, seed=6))
    assert not torch.equal(first[0]["points"], c[0]["points"])
    serial = list(DataLoader(a, batch_size=2, collate_fn=collate, num_workers=0))
    parallel = list(DataLoader(a, batch_size=2, collate_fn=collate, num_workers=2))
    assert torch.equal(serial[0]["points"], parallel[0]["points"])
    assert torch.equal(serial[0]["inputs"], parallel[0]["inputs"])
    assert serial[0]["points.occ"].shape == (2, 128) and serial[0]["model"] == ["ball", "crate"]


def test_per_category_layout_and_splits(tmp_path):
    root = tmp_path / "cats"
    (root / "balls").mkdir(parents=True)
    (root / "boxes").mkdir()
    sphere().export(root / "balls" / "b1.off")
    sphere().apply_scale(0.5).export(root / "balls" / "b2.stl")
    box().export(root / "boxes" / "x1.glb")
    box().export(root / "boxes" / "x2.ply")
    (root / "balls" / "train.lst").write_text("b2\n\n")
    ds = MeshFolderDataset(root, n_input_points=50, n_query_points=64)
    assert ds.layout == "categories" and ds.categories == ["balls", "boxes"] and len(ds) == 4
    assert "balls: 2" in repr(ds) and "boxes: 2" in repr(ds)
    items = [ds[i] for i in range(4)]
    assert [(it["category"], it["model"]) for it in items] == [
        ("balls", "b1"), ("balls", "b2"), ("boxes", "x1"), ("boxes", "x2")]
    for it in items:
        assert it["points"].shape == (64, 3) and it["points.occ"].sum() > 0
    np.testing.assert_allclose(items[2]["loc"].numpy(), BOX_C, atol=1e-5)  # GLB keeps the geometry
    train = MeshFolderDataset(root, split="train", n_input_points=50, n_query_points=64)
    # balls has a train list; boxes has none, so all its files are used
    assert [(c, m) for c, m, _ in train.files] == [("balls", "b2"), ("boxes", "x1"), ("boxes", "x2")]
    assert len(MeshFolderDataset(root, categories="boxes")) == 2
    with pytest.raises(ValueError, match="chairs"):
        MeshFolderDataset(root, categories=["chairs"])
    (root / "boxes" / "val.lst").write_text("x1\nx9\n")
    with pytest.raises(FileNotFoundError, match="x9"):
        MeshFolderDataset(root, split="val")


def test_corrupt_mesh(flat, caplog):
    bad = flat / "broken.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 100\nproperty float x\nend_header\n\x00")
    ds = MeshFolderDataset(flat, n_input_points=50, n_query_points=32)
    assert len(ds) == 3
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        _item(ds, "broken")
    assert _item(ds, "ball")["points"].shape == (32, 3)  # the good ones still load
    with caplog.at_level(logging.WARNING, logger="hnf3d.data"):
        report = ds.validate()
    assert [p for p, _ in report] == [str(bad)]
    assert report[0][1] and str(bad) in caplog.text
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(bad))):
        _item(ds, "broken")


def test_real_meshes(real_data, tmp_path):
    """A watertight real mesh (the libigl knight) and a non-watertight one (the teapot) load and get labels."""
    names = ["decimated-knight_libigl.off", "teapot.obj"]
    srcs = [real_data / "meshes" / n for n in names]
    if not all(s.is_file() for s in srcs):
        pytest.skip("real meshes not found")
    root = tmp_path / "real"
    root.mkdir()
    for s in srcs:
        (root / s.name).write_bytes(s.read_bytes())
    ds = MeshFolderDataset(root, n_input_points=500, input_noise=0.0, n_query_points=512)
    assert ds.validate() == []
    for i in range(len(ds)):
        item = ds[i]
        occ = item["points.occ"].numpy()
        assert 0.01 < occ[:256].mean() < 0.6  # some, not all, uniform queries are inside
        inp = item["inputs"].numpy()
        assert np.abs(inp).max() <= 0.5 + 1e-5 and np.isclose(np.ptp(inp, axis=0).max(), 1.0, atol=0.05)
        mesh = trimesh.load(srcs[[n.split(".")[0] for n in names].index(item["model"])], process=False,
                            force="mesh")
        world = inp * item["scale"].item() + item["loc"].numpy()
        _, dist, _ = trimesh.proximity.closest_point(mesh, world[:100])
        assert dist.max() < 1e-4 * item["scale"].item()
