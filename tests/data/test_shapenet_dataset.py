"""ShapeNetDataset on a tiny ONet-layout dataset written here, and on the two real ShapeNet samples."""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from scipy.spatial import cKDTree
from torch.utils.data import DataLoader

from hnf3d.data.shapenet import ShapeNetDataset, collate

N_POINTS = 4000  # points.npz / pointcloud.npz size in the synthetic data (ONet: 100000)
N_VIEWS = 4
RADIUS = 0.3
CATS = {"04379243": "table", "02828884": "bench"}
MODELS = {"04379243": ["t0", "t1", "t2"], "02828884": ["b0", "b1"]}


def _view_color(view: int) -> tuple[int, int, int]:
    return (40 * view + 20, 128, 255 - 40 * view)


def write_model(folder: Path, seed: int, n_views: int = N_VIEWS) -> dict:
    """One model in the ONet layout (a sphere of radius 0.3), written as ONet writes it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    loc = rng.normal(size=3)
    scale = float(rng.uniform(0.5, 2.0))
    pts = rng.uniform(-0.55, 0.55, size=(N_POINTS, 3)).astype(np.float16)
    occ = np.linalg.norm(pts.astype(np.float32), axis=1) < RADIUS
    np.savez(folder / "points.npz", points=pts, occupancies=np.packbits(occ), loc=loc, scale=scale)
    d = rng.normal(size=(N_POINTS, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    np.savez(folder / "pointcloud.npz", points=(RADIUS * d).astype(np.float16), normals=d.astype(np.float16),
             loc=loc, scale=scale)
    img_dir = folder / "img_choy2016"
    img_dir.mkdir()
    cams = {}
    for v in range(n_views):
        Image.new("RGB", (137, 137), _view_color(v)).save(img_dir / ("%03d.jpg" % v), quality=95)
        cams[f"camera_mat_{v}"] = np.diag([149.84, 149.84, 1.0]) + v
        cams[f"world_mat_{v}"] = np.hstack([np.eye(3), np.full((3, 1), float(v))])
    np.savez(img_dir / "cameras.npz", **cams)
    return {"points": pts, "occ": occ, "loc": loc, "scale": scale}


@pytest.fixture()
def tiny(tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "onet"
    root.mkdir()
    with open(root / "metadata.yaml", "w") as fh:
        yaml.safe_dump({s: {"id": s, "name": n} for s, n in CATS.items()}, fh)
    truth = {}
    for k, (synset, models) in enumerate(MODELS.items()):
        for j, m in enumerate(models):
            truth[m] = write_model(root / synset / m, seed=10 * k + j)
        for split in ("train", "test"):
            (root / synset / f"{split}.lst").write_text("\n".join(models) + "\n\n")
    return root, truth


def test_item_fields_and_labels(tiny):
    root, truth = tiny
    ds = ShapeNetDataset(root, split="train", n_input_points=500, n_query_points=256)
    assert len(ds) == 5
    assert "04379243 (table): 3" in repr(ds) and "02828884 (bench): 2" in repr(ds)
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"inputs", "points", "points.occ", "category", "model", "idx", "loc", "scale"}
        assert item["inputs"].shape == (500, 3) and item["inputs"].dtype == torch.float32
        assert item["points"].shape == (256, 3) and item["points"].dtype == torch.float32
        assert item["points.occ"].shape == (256,) and item["points.occ"].dtype == torch.float32
        assert item["loc"].shape == (3,) and item["scale"].shape == () and item["loc"].dtype == torch.float32
        assert item["idx"] == i and item["category"] in CATS
        t = truth[item["model"]]
        np.testing.assert_allclose(item["loc"].numpy(), t["loc"], rtol=1e-6)
        np.testing.assert_allclose(item["scale"].item(), t["scale"], rtol=1e-6)
        # every query point is one of the file's points (plus the 1e-4 jitter), with that point's label
        src = t["points"].astype(np.float32)
        dist, j = cKDTree(src).query(item["points"].numpy())
        assert dist.max() < 1e-3
        assert len(np.unique(j)) == 256  # subsampled without replacement
        np.testing.assert_array_equal(item["points.occ"].numpy(), t["occ"][j].astype(np.float32))
        assert set(np.unique(item["points.occ"].numpy())) <= {0.0, 1.0}


def test_noise_levels(tiny):
    root, truth = tiny
    ds = ShapeNetDataset(root, split="test", n_input_points=2000, input_noise=0.05, n_query_points=None)
    item = ds[0]
    t = truth[item["model"]]
    assert item["points"].shape == (N_POINTS, 3)  # None = all points, in file order
    jitter = item["points"].numpy() - t["points"].astype(np.float32)
    assert 0.7e-4 < jitter.std() < 1.3e-4
    np.testing.assert_array_equal(item["points.occ"].numpy(), t["occ"].astype(np.float32))
    radial = np.linalg.norm(item["inputs"].numpy(), axis=1) - RADIUS
    assert 0.04 < radial.std() < 0.06
    clean = ShapeNetDataset(root, split="test", n_input_points=2000, input_noise=0.0)[0]
    r = np.linalg.norm(clean["inputs"].numpy(), axis=1)
    np.testing.assert_allclose(r, RADIUS, atol=2e-3)  # float16 rounding only


def _view_of(item) -> int:
    v = int(round(item["camera_mat"][2, 2].item() - 1))
    red = item["inputs"][0].mean().item() * 255
    assert abs(red - _view_color(v)[0]) < 4  # the image and the cameras belong to the same view
    return v


def test_image_views(tiny):
    root, _ = tiny
    test = ShapeNetDataset(root, split="test", input_type="img", img_size=64)
    for i in range(len(test)):
        item = test[i]
        assert item["inputs"].shape == (3, 64, 64) and item["inputs"].dtype == torch.float32
        assert 0 <= item["inputs"].min() and item["inputs"].max() <= 1
        assert item["camera_mat"].shape == (3, 3) and item["world_mat"].shape == (3, 4)
        assert item["camera_mat"].dtype == torch.float32
        assert _view_of(item) == 0
        assert item["world_mat"][0, 3].item() == 0
    train = ShapeNetDataset(root, split="train", input_type="image", img_size=32)
    seen = set()
    for epoch in range(4):
        train.set_epoch(epoch)
        seen.update(_view_of(train[i]) for i in range(len(train)))
    assert len(seen) >= 3  # random views at train time
    fixed = ShapeNetDataset(root, split="train", input_type="img", img_size=32, view=2)
    assert {_view_of(fixed[i]) for i in range(len(fixed))} == {2}
    batch = collate([test[0], test[1]])
    assert batch["inputs"].shape == (2, 3, 64, 64) and batch["camera_mat"].shape == (2, 3, 3)


def test_reproducibility(tiny):
    root, _ = tiny
    a = ShapeNetDataset(root, n_input_points=100, n_query_points=64, seed=3)
    b = ShapeNetDataset(root, n_input_points=100, n_query_points=64, seed=3)
    for i in (0, 4, 2):
        for key in ("inputs", "points", "points.occ"):
            assert torch.equal(a[i][key], b[i][key])
    assert torch.equal(a[1]["inputs"], a[1]["inputs"])  # no hidden state between calls
    first = a[1]
    a.set_epoch(1)
    assert not torch.equal(first["inputs"], a[1]["inputs"])
    assert not torch.equal(first["points"], a[1]["points"])
    a.set_epoch(0)
    assert torch.equal(first["points"], a[1]["points"])
    other = ShapeNetDataset(root, n_input_points=100, n_query_points=64, seed=4)
    assert not torch.equal(first["inputs"], other[1]["inputs"])
    with pytest.raises(ValueError):
        a.set_epoch(-1)
    # the inputs of an item do not depend on whether its points file exists (independent streams)
    (root / "02828884" / "b1" / "points.npz").unlink()
    assert torch.equal(ShapeNetDataset(root, n_input_points=100, seed=3)[1]["inputs"], b[1]["inputs"])


def test_dataloader_workers_and_collate(tiny):
    root, _ = tiny
    ds = ShapeNetDataset(root, n_input_points=100, n_query_points=64, seed=1)
    ds.set_epoch(2)
    serial = list(DataLoader(ds, batch_size=2, collate_fn=collate, num_workers=0))
    parallel = list(DataLoader(ds, batch_size=2, collate_fn=collate, num_workers=2))
    assert len(serial) == len(parallel) == 3
    for s, p in zip(serial, parallel):
        assert s.keys() == p.keys()
        for key, value in s.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, p[key]), key
            else:
                assert value == p[key]
    batch = serial[0]
    assert batch["inputs"].shape == (2, 100, 3) and batch["points.occ"].shape == (2, 64)
    assert batch["loc"].shape == (2, 3) and batch["scale"].shape == (2,)
    assert batch["idx"].tolist() == [0, 1] and isinstance(batch["model"], list)
    assert batch["category"] == ["02828884", "02828884"]  # sorted synsets


def test_categories_and_metadata(tiny):
    root, _ = tiny
    assert len(ShapeNetDataset(root, categories=["bench"])) == 2
    assert len(ShapeNetDataset(root, categories="04379243")) == 3
    with pytest.raises(ValueError, match="chair"):
        ShapeNetDataset(root, categories=["chair"])
    (root / "metadata.yaml").unlink()
    ds = ShapeNetDataset(root, split="test")
    assert len(ds) == 5 and sorted(ds.categories) == sorted(CATS)
    assert len(ShapeNetDataset(root, split=None)) == 5
    with pytest.raises(FileNotFoundError, match="val.lst"):
        ShapeNetDataset(root, split="val")


@pytest.mark.parametrize("text, problem", [
    ("a: [unclosed\n", r"not valid YAML \(line 2"),
    ("- just\n- a list\n", "holds a list, expected a mapping"),
])
def test_bad_metadata_is_one_line_naming_the_file(tiny, text, problem):
    root, _ = tiny
    (root / "metadata.yaml").write_text(text)
    with pytest.raises(ValueError, match=problem) as info:
        ShapeNetDataset(root)
    message = str(info.value)
    assert message.startswith(str(root / "metadata.yaml")) and "\n" not in message


def _index(ds, model: str) -> int:
    return [m for _, m in ds.models].index(model)


def test_errors_name_the_file(tiny):
    root, _ = tiny
    pc = root / "04379243" / "t1" / "pointcloud.npz"
    pts = root / "04379243" / "t2" / "points.npz"
    cams = root / "02828884" / "b0" / "img_choy2016" / "cameras.npz"
    pc.unlink()
    data = pts.read_bytes()
    pts.write_bytes(data[: len(data) // 2])  # truncated
    np.savez(cams, camera_mat_0=np.eye(3))  # world_mat_0 missing
    ds = ShapeNetDataset(root, split="test")
    with pytest.raises(FileNotFoundError, match=re.escape(str(pc))):
        ds[_index(ds, "t1")]
    with pytest.raises(ValueError, match=re.escape(str(pts))):
        ds[_index(ds, "t2")]
    img = ShapeNetDataset(root, split="test", input_type="img")
    with pytest.raises(ValueError, match=re.escape(str(cams)) + ".*world_mat_0"):
        img[_index(img, "b0")]
    bad_key = root / "02828884" / "b1" / "points.npz"
    np.savez(bad_key, points=np.zeros((10, 3), np.float16), loc=np.zeros(3), scale=1.0)
    with pytest.raises(ValueError, match=re.escape(str(bad_key)) + ".*occupancies"):
        ds[_index(ds, "b1")]
    bad_shape = root / "04379243" / "t0" / "points.npz"
    np.savez(bad_shape, points=np.zeros((10, 2), np.float16), occupancies=np.packbits(np.ones(10, bool)),
             loc=np.zeros(3), scale=1.0)
    with pytest.raises(ValueError, match=re.escape(str(bad_shape)) + ".*shape"):
        ds[_index(ds, "t0")]
    (root / "02828884" / "b0" / "img_choy2016" / "000.jpg").write_bytes(b"not a jpeg")
    cams.unlink()
    write_cams = {f"camera_mat_{v}": np.eye(3) for v in range(N_VIEWS)}
    write_cams.update({f"world_mat_{v}": np.zeros((3, 4)) for v in range(N_VIEWS)})
    np.savez(cams, **write_cams)
    with pytest.raises(ValueError, match="000.jpg"):
        img[_index(img, "b0")]


def test_skip_bad(tiny, caplog):
    root, _ = tiny
    missing_pc = root / "04379243" / "t1" / "pointcloud.npz"
    missing_pts = root / "02828884" / "b0" / "points.npz"
    missing_pc.unlink()
    missing_pts.unlink()
    with caplog.at_level(logging.WARNING, logger="hnf3d.data"):
        ds = ShapeNetDataset(root, split="test", skip_bad=True)
    assert len(ds) == 3
    assert [(c, m) for c, m, _ in ds.skipped] == [("02828884", "b0"), ("04379243", "t1")]
    assert str(missing_pts) in ds.skipped[0][2] and str(missing_pc) in ds.skipped[1][2]
    assert str(missing_pc) in caplog.text and "skipped=2" in repr(ds)
    assert all("points" in ds[i] for i in range(len(ds)))
    # image inputs do not need pointcloud.npz: only the model without points.npz goes
    img = ShapeNetDataset(root, split="test", input_type="img", skip_bad=True, img_size=16)
    assert len(img) == 4 and [m for _, m, _ in img.skipped] == ["b0"]
    # without skip_bad the model lacking points.npz simply has no points fields
    plain = ShapeNetDataset(root, split="test", input_type="img", img_size=16)
    b0, b1 = plain[_index(plain, "b0")], plain[_index(plain, "b1")]
    assert "points" not in b0 and "points" in b1
    with pytest.raises(ValueError, match="different fields"):
        collate([b1, b0])


# ---------------------------------------------------------------------------------------------- real ShapeNet
REAL_MODELS = {"04379243": "1a15e651e26622b0e5c7ea227b17d897", "02828884": "1a40eaf5919b1b3f3eaa2b95b99dae6"}


@pytest.fixture()
def real_onet(real_data, tmp_path) -> Path:
    src = real_data / "shapenet_onet"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    root = tmp_path / "shapenet_onet"
    shutil.copytree(src, root)
    for synset, model in REAL_MODELS.items():
        (root / synset / "test.lst").write_text(model + "\n")
    return root


def test_real_shapenet_pointcloud(real_onet):
    ds = ShapeNetDataset(real_onet, split="test")
    assert len(ds) == 2 and "table" in repr(ds)
    for i in range(2):
        item = ds[i]
        assert "points" not in item and "points.occ" not in item  # no points.npz in the sample
        assert item["inputs"].shape == (3000, 3) and item["inputs"].dtype == torch.float32
        assert REAL_MODELS[item["category"]] == item["model"]
        with np.load(real_onet / item["category"] / item["model"] / "pointcloud.npz") as npz:
            np.testing.assert_allclose(item["loc"].numpy(), npz["loc"].astype(np.float32))
            np.testing.assert_allclose(item["scale"].item(), float(npz["scale"]))
            surface = npz["points"].astype(np.float32)
        d, _ = cKDTree(surface).query(item["inputs"].numpy())
        assert np.median(d) < 0.01  # noise 0.005 around surface points
        assert np.abs(item["inputs"].numpy()).max() < 0.55
    batch = collate([ds[0], ds[1]])
    assert batch["inputs"].shape == (2, 3000, 3)


def test_real_shapenet_image(real_onet):
    ds = ShapeNetDataset(real_onet, split="test", input_type="img", categories=["table", "bench"])
    for i in range(2):
        item = ds[i]
        assert "points" not in item
        img = item["inputs"]
        assert img.shape == (3, 224, 224) and img.dtype == torch.float32
        assert 0 <= img.min() and img.max() <= 1
        assert (img > 0.95).all(0).float().mean() > 0.3  # white background
        with np.load(real_onet / item["category"] / item["model"] / "img_choy2016" / "cameras.npz") as cams:
            np.testing.assert_allclose(item["camera_mat"].numpy(), cams["camera_mat_0"].astype(np.float32))
            np.testing.assert_allclose(item["world_mat"].numpy(), cams["world_mat_0"].astype(np.float32))
        with np.load(real_onet / item["category"] / item["model"] / "pointcloud.npz") as npz:
            np.testing.assert_allclose(item["loc"].numpy(), npz["loc"].astype(np.float32))
            np.testing.assert_allclose(item["scale"].item(), float(npz["scale"]))


def test_extra_paths_join_the_splits_of_several_roots(tiny, tmp_path):
    from hnf3d.config import config_from_dict
    from hnf3d.training.trainer import build_datasets

    root, _ = tiny
    for synset in CATS:
        (root / synset / "val.lst").write_text("")
    other = tmp_path / "other"
    write_model(other / "blob" / "x0", seed=99)
    (other / "blob" / "train.lst").write_text("x0\n")
    (other / "blob" / "val.lst").write_text("x0\n")
    cfg = config_from_dict({"data": {"path": str(root), "extra_paths": [str(other)], "n_query_points": 64,
                                     "n_input_points": 32}})
    train, val = build_datasets(cfg)
    assert len(train) == 5 + 1 and len(val) == 0 + 1
    last = train[5]
    assert (last["category"], last["model"], last["idx"]) == ("blob", "x0", 5)
    alone = ShapeNetDataset(other, split="train", n_input_points=32, n_query_points=64,
                            seed=cfg.training.seed + 1)
    assert torch.equal(last["inputs"], alone[0]["inputs"])  # part k draws with seed + k
    train.set_epoch(3)
    alone.set_epoch(3)
    assert torch.equal(train[5]["inputs"], alone[0]["inputs"])
    assert not torch.equal(train[5]["inputs"], last["inputs"])
    with pytest.raises(IndexError):
        train[6]

    cfg = config_from_dict({"data": {"dataset": "mesh_folder", "path": str(root), "extra_paths": [str(other)]}})
    with pytest.raises(ValueError, match="extra_paths"):
        build_datasets(cfg)


def test_scan_fraction_gives_scan_like_inputs_in_their_own_frame(tiny):
    """data.scan_fraction: the input becomes a simulated partial scan, re-normalised to its bounding box as the
    Reconstructor normalises a user's scan; the query points, loc and scale move with it, so that every field
    still describes the same object in world units. 0 changes nothing."""
    root, truth = tiny
    plain = ShapeNetDataset(root, split="train", n_input_points=500, n_query_points=256)
    zero = ShapeNetDataset(root, split="train", n_input_points=500, n_query_points=256, scan_fraction=0.0)
    scans = ShapeNetDataset(root, split="train", n_input_points=500, n_query_points=256, scan_fraction=1.0)
    for i in range(len(plain)):
        a, z, s = plain[i], zero[i], scans[i]
        for key in ("inputs", "points", "points.occ", "loc", "scale"):
            assert torch.equal(a[key], z[key]), key
        assert torch.equal(s["inputs"], scans[i]["inputs"])  # seeded
        x = s["inputs"].numpy().astype(np.float64)
        lo, hi = x.min(0), x.max(0)
        assert (hi - lo).max() == pytest.approx(1.0, abs=1e-5)  # its own bounding box is the unit box
        np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-5)
        np.testing.assert_array_equal(s["points.occ"].numpy(), a["points.occ"].numpy())

        def world(item, key):
            return item[key].numpy().astype(np.float64) * item["scale"].item() + item["loc"].numpy()

        np.testing.assert_allclose(world(s, "points"), world(a, "points"), atol=1e-4)
        # the scan lies on the object (the sphere of radius RADIUS in the file's unit frame)
        t = truth[s["model"]]
        unit = (world(s, "inputs") - t["loc"]) / t["scale"]
        assert np.abs(np.linalg.norm(unit, axis=1) - RADIUS).max() < 0.08
    with pytest.raises(ValueError, match="scan_fraction"):
        ShapeNetDataset(root, split="train", scan_fraction=1.5)
    with pytest.raises(ValueError, match="scan_fraction"):
        ShapeNetDataset(root, split="train", input_type="img", scan_fraction=0.5)
