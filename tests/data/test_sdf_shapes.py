"""Analytic SDF shapes (hnf3d.data.procedural.sdf, organic, mechanical), their surface (sdf_surface) and the ONet
writer / data-set builder (hnf3d.data.build_sdf, `make_shapes --onet`)."""
from __future__ import annotations

import json
from functools import reduce

import numpy as np
import pytest

from hnf3d.cli import make_shapes
from hnf3d.data.build import MARKER, is_complete
from hnf3d.data.build_sdf import THIN, build_sdf_object, check_solid, mesh_pieces
from hnf3d.data.procedural import SDF_FAMILIES, make_sdf_shape, rng_for
from hnf3d.data.procedural import sdf as S
from hnf3d.data.procedural.sdf_surface import extract_surface, occupancy, sample_surface, tight_bounds

FAMILIES = sorted(SDF_FAMILIES)
RNG = np.random.default_rng(12345)


def _points(shape, n: int, pad: float = 0.1, seed: int = 0) -> np.ndarray:
    lo, hi = shape.bounds
    span = float((hi - lo).max())
    return np.random.default_rng(seed).uniform(lo - pad * span, hi + pad * span, size=(n, 3))


@pytest.fixture(scope="module")
def surfaces():
    """family -> (shape, marching-cubes mesh, 4000 projected samples, normals, bounding box) for seed 0."""
    out = {}
    for family in FAMILIES:
        shape = make_sdf_shape(family, 0)
        mesh = extract_surface(shape)
        pts, nrm = sample_surface(shape, mesh, 4000, np.random.default_rng(0))
        out[family] = (shape, mesh, pts, nrm, tight_bounds(shape, mesh, pts))
    return out


# ------------------------------------------------------------------------------------------- primitives, ops

def _primitives():
    rot = S.random_rotation(np.random.default_rng(3))
    return {
        "sphere": S.Sphere(0.3),
        "ellipsoid": S.Ellipsoid([0.3, 0.15, 0.1]),
        "roundbox": S.RoundBox([0.3, 0.2, 0.1], 0.04),
        "plate": S.Plate(0.3, 0.2, 0.03, 0.05, 0.01),
        "cylinder": S.Cylinder(0.2, 0.25, 0.03),
        "ring": S.Ring(0.25, 0.08, 0.1, 0.02),
        "torus": S.Torus(0.25, 0.07),
        "cone": S.Cone(0.25, 0.2, 0.05),
        "capsule": S.Capsule([-0.2, 0.0, 0.1], [0.2, 0.1, -0.1], 0.08),
        "roundcone": S.RoundCone([-0.2, 0.0, 0.1], [0.2, 0.1, -0.1], 0.12, 0.05),
        "transformed": S.Transformed(S.RoundBox([0.2, 0.1, 0.15], 0.02), rot, [0.1, -0.2, 0.3], 1.7),
        "union": S.Union([S.Capsule([0.1 * i, 0.0, 0.0], [0.1 * i + 0.1, 0.05, 0.0], 0.03) for i in range(-4, 4)]),
        "smooth_union": S.SmoothUnion([S.Sphere(0.2), S.Transformed(S.Sphere(0.15), None, [0.25, 0, 0])], 0.08),
        "subtract": S.Subtract(S.RoundBox([0.3, 0.2, 0.2], 0.02), [S.Cylinder(0.1, 0.3)]),
        "smooth_subtract": S.SmoothSubtract(S.RoundBox([0.3, 0.2, 0.2]), S.Sphere(0.2), 0.05),
        "intersect": S.Intersect([S.Sphere(0.3), S.HalfSpace([1, 1, 0], 0.1)]),
    }


EXACT = ("sphere", "roundbox", "cylinder", "ring", "torus", "cone", "capsule", "roundcone", "transformed", "union")


@pytest.mark.parametrize("name", sorted(_primitives()))
def test_nodes_are_1_lipschitz_bounds_with_their_float_type(name):
    node = _primitives()[name]
    lo, hi = node.bounds
    lo, hi = np.maximum(lo, -1), np.minimum(hi, 1)
    P = RNG.uniform(lo - 0.2, hi + 0.2, size=(4000, 3))
    step = RNG.normal(size=P.shape)
    step *= RNG.uniform(1e-4, 0.2, size=(len(P), 1)) / np.linalg.norm(step, axis=1, keepdims=True)
    f = node(np.ascontiguousarray(P.T))
    g = node(np.ascontiguousarray((P + step).T))
    assert np.all(np.abs(f - g) <= np.linalg.norm(step, axis=1) * (1 + 1e-9) + 1e-12)
    assert f.dtype == np.float64 and node(np.ascontiguousarray(P.T, dtype=np.float32)).dtype == np.float32
    inside = f < 0
    assert 0 < inside.sum() < len(P)
    # bounds are conservative: nothing inside beyond them
    blo, bhi = node.bounds
    assert not np.any(inside & ((P < blo - 1e-12) | (P > bhi + 1e-12)).any(1))


@pytest.mark.parametrize("name", EXACT)
def test_exact_primitives_give_the_distance_to_their_surface(name):
    from scipy.spatial import cKDTree

    node = _primitives()[name]
    shape = S.SDFShape(name, node)
    mesh = extract_surface(shape, 64)
    n = 20_000
    surface, _ = sample_surface(shape, mesh, n, np.random.default_rng(1))
    P = _points(shape, 1500, pad=0.3)  # below CULL_POINTS: the union is not capped
    f = shape.sdf(P)
    d, _ = cKDTree(surface).query(P)
    tri = mesh.vertices[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    gap = 2 * float(np.sqrt(area / n))  # the samples' spacing, generously
    on = 1e-4 * float(np.ptp(mesh.vertices, axis=0).max())  # how close to the zero set the samples are
    assert np.all(d - np.abs(f) > -on) and np.all(d - np.abs(f) < gap), (d - np.abs(f)).min()


def test_transform_scales_distances_and_moves_the_solid():
    R = S.random_rotation(np.random.default_rng(0))
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1)
    t, s = np.array([0.3, -1.0, 2.0]), 2.5
    P = RNG.normal(size=(1000, 3)) * 2
    f = S.Transformed(S.Sphere(0.4), R, t, s)(np.ascontiguousarray(P.T))
    assert np.allclose(f, np.linalg.norm(P - t, axis=1) - s * 0.4)
    box = S.RoundBox([0.3, 0.2, 0.1], 0.02)
    moved = S.Transformed(box, R, t, s)
    local = ((P - t) @ R) / s
    assert np.allclose(moved(np.ascontiguousarray(P.T)), s * box(np.ascontiguousarray(local.T)))
    with pytest.raises(ValueError):
        S.Transformed(box, np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError):
        S.Transformed(box, None, None, 0.0)


def test_round_cone_matches_the_reference_formula():
    def reference(P, a, b, r1, r2):  # Inigo Quilez's sdRoundCone
        ba = b - a
        l2, rr = ba @ ba, r1 - r2
        a2, il2 = l2 - rr * rr, 1 / l2
        pa = P - a
        y = pa @ ba
        z = y - l2
        x2 = ((pa * l2 - np.outer(y, ba)) ** 2).sum(1)
        y2, z2, k = y * y * l2, z * z * l2, np.sign(rr) * rr * rr * ((pa * l2 - np.outer(y, ba)) ** 2).sum(1)
        return np.where(np.sign(z) * a2 * z2 > k, np.sqrt(x2 + z2) * il2 - r2,
                        np.where(np.sign(y) * a2 * y2 < k, np.sqrt(x2 + y2) * il2 - r1,
                                 (np.sqrt(x2 * a2 * il2) + y * rr) * il2 - r1))

    rng = np.random.default_rng(0)
    for _ in range(30):
        a = rng.normal(size=3) * 0.3
        b = a + rng.normal(size=3) * 0.2
        r1 = rng.uniform(0.02, 0.2)
        r2 = float(np.clip(r1 + rng.uniform(-0.8, 0.8) * np.linalg.norm(b - a), 0.01, None))
        P = rng.normal(size=(2000, 3)) * 0.4 + a
        got = S.RoundCone(a, b, r1, r2)(np.ascontiguousarray(P.T))
        assert np.allclose(got, reference(P, a, b, r1, r2), atol=1e-12)


def test_culled_union_is_the_capped_min():
    rng = np.random.default_rng(4)
    kids = [S.Capsule(rng.uniform(-0.4, 0.4, 3), rng.uniform(-0.4, 0.4, 3), rng.uniform(0.02, 0.06))
            for _ in range(30)] + [S.Transformed(S.Ellipsoid([0.1, 0.05, 0.08]), None, [0.2, 0.2, 0.2])]
    union = S.Union(kids)
    lo, hi = union.bounds
    cap = S.CULL_CAP * float((hi - lo).max())
    P = rng.uniform(lo - 1.0, hi + 1.0, size=(50_000, 3))  # inside and beyond the culling grid
    for dtype in (np.float64, np.float32):
        Q = np.ascontiguousarray(P.T, dtype=dtype)
        plain = reduce(np.minimum, (k(Q) for k in kids))
        culled = union(Q)
        assert culled.dtype == dtype
        assert np.allclose(culled, np.minimum(plain, cap), atol=1e-6 if dtype == np.float32 else 1e-12)
        assert np.array_equal(culled < 0, plain < 0)


def test_occupancy_equals_the_float64_sign(surfaces):
    shape, _, pts, nrm, _ = surfaces["csg"]
    near = pts + RNG.normal(scale=1e-3, size=pts.shape)
    near = np.concatenate([near, pts, _points(shape, 5000)])
    assert np.array_equal(occupancy(shape, near), shape.sdf(near) < 0)


# --------------------------------------------------------------------------------------------- the families

@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_shape(family):
    P = _points(make_sdf_shape(family, 5), 3000)
    a = make_sdf_shape(family, 5).sdf(P)
    b = make_sdf_shape(family, 5).sdf(P)
    c = SDF_FAMILIES[family](rng_for(family, 5)).sdf(P)
    assert a.tobytes() == b.tobytes() == c.tobytes()
    assert make_sdf_shape(family, 5).params == make_sdf_shape(family, 5).params
    others = [make_sdf_shape(family, s).sdf(P) for s in (6, 7)]
    assert all(not np.array_equal(a, o) for o in others)


@pytest.mark.parametrize("family", FAMILIES)
def test_many_seeds_build_without_error(family):
    for seed in range(150):
        shape = make_sdf_shape(family, seed)
        lo, hi = shape.bounds
        assert np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()
        assert 0 < shape.params["min_feature"] < float((hi - lo).max())


def test_unknown_family_and_bad_seed():
    with pytest.raises(ValueError, match="unknown SDF family"):
        make_sdf_shape("chair", 0)
    with pytest.raises(ValueError, match="seed"):
        make_sdf_shape("blob", -1)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_one_solid_that_the_mesh_agrees_with(family, surfaces):
    import torch

    from hnf3d.ops import occupancy as mesh_occupancy

    shape, mesh, pts, nrm, (lo, hi) = surfaces[family]
    size = float((hi - lo).max())
    centre = (lo + hi) / 2
    uniform = centre + RNG.uniform(-0.55, 0.55, size=(20_000, 3)) * size
    inside = shape.sdf(uniform) < 0
    assert 0.0005 < inside.mean() < 0.6, inside.mean()
    by_mesh = mesh_occupancy(torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces),
                             torch.from_numpy(uniform), method="winding").numpy().astype(bool)
    assert (by_mesh == inside).mean() >= 0.99
    assert mesh_pieces(mesh.vertices, mesh.faces, (4 * mesh.h) ** 2) == 1
    assert check_solid(shape, mesh, pts, nrm, size) is None
    # the thinnest part the family drew is at least THIN of the solid's largest side
    assert shape.params["min_feature"] >= THIN * size


@pytest.mark.parametrize("family", FAMILIES)
def test_surface_samples_lie_on_the_zero_set_with_outward_normals(family, surfaces):
    shape, _, pts, nrm, (lo, hi) = surfaces[family]
    size = float((hi - lo).max())
    assert np.abs(shape.sdf(pts)).max() < 1e-4 * size
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1)
    step = 2e-3 * size
    assert (shape.sdf(pts + step * nrm) > 0).mean() > 0.99 and (shape.sdf(pts - step * nrm) < 0).mean() > 0.99
    # the box is tight: samples touch all six faces
    assert np.allclose(pts.min(0), lo, atol=2e-2 * size) and np.allclose(pts.max(0), hi, atol=2e-2 * size)


def test_check_solid_refuses_pieces_and_thin_walls():
    apart = S.SDFShape("apart", S.Union([S.Sphere(0.2), S.Transformed(S.Sphere(0.2), None, [0.6, 0, 0])]))
    # a rectangular tube with walls of 0.75% of its largest side (half of THIN)
    shell = S.SDFShape("shell", S.Subtract(S.RoundBox([0.4, 0.3, 0.3]), S.RoundBox([0.394, 0.31, 0.294])))
    solid = S.SDFShape("solid", S.Subtract(S.RoundBox([0.4, 0.3, 0.3]), S.RoundBox([0.38, 0.31, 0.28])))
    for shape, why in ((apart, "separate surface pieces"), (shell, "thinner than"), (solid, None)):
        mesh = extract_surface(shape)
        pts, nrm = sample_surface(shape, mesh, 4000, np.random.default_rng(0))
        lo, hi = tight_bounds(shape, mesh, pts)
        got = check_solid(shape, mesh, pts, nrm, float((hi - lo).max()))
        assert got is None if why is None else why in got, got


# ------------------------------------------------------------------------------------------- the ONet writer

N = 3000


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdf") / "data"
    assert make_shapes.main(["--onet", str(out), "--count-per-family", "2", "--points", str(N), "--workers", "1",
                             "--quiet"]) == 0
    return out


def test_layout_files_and_formats(tiny_set):
    import yaml

    meta = yaml.safe_load((tiny_set / "metadata.yaml").read_text())
    assert sorted(meta) == FAMILIES and meta["tube"] == {"id": "tube", "name": "tube"}
    for family in FAMILIES:
        listed = sorted(sum(((tiny_set / family / f"{s}.lst").read_text().split() for s in ("train", "val", "test")),
                            []))
        assert listed == [f"{family}_00000", f"{family}_00001"]
        obj = tiny_set / family / f"{family}_00000"
        assert is_complete(obj) and sorted(p.name for p in obj.iterdir()) == sorted(
            [MARKER, "points.npz", "points_surface.npz", "pointcloud.npz"])
        info = json.loads((obj / MARKER).read_text())
        assert info["family"] == family and info["seed"] == 0 and info["draw"] == 0
        with np.load(obj / "points.npz") as d:
            assert d["points"].dtype == np.float16 and d["points"].shape == (N, 3)
            assert np.abs(d["points"]).max() <= 0.5505 and d["loc"].dtype == np.float32 and d["scale"].shape == ()
            occ = np.unpackbits(d["occupancies"])[:N].astype(bool)
            world = d["points"].astype(np.float64) * float(d["scale"]) + d["loc"]
        shape = make_sdf_shape(family, 0)
        assert np.array_equal(occ, shape.sdf(world) < 0)  # labels of the float16 points, from the SDF
        with np.load(obj / "pointcloud.npz") as d:
            assert d["points"].dtype == d["normals"].dtype == np.float16 and d["points"].shape == (N, 3)
            p = d["points"].astype(np.float64)
            assert np.allclose(p.min(0) + p.max(0), 0, atol=3e-2) and abs(np.ptp(p, axis=0).max() - 1) < 3e-2
            residual = np.abs(shape.sdf(p * float(d["scale"]) + d["loc"])) / float(d["scale"])
            assert residual.max() < 1e-3  # float16 rounding of points on the zero set
        with np.load(obj / "points_surface.npz") as d:
            assert sorted(d.files) == ["loc", "occupancies", "points", "scale"]
            occ = np.unpackbits(d["occupancies"])[:N]
            assert 0.1 < occ.mean() < 0.9


def test_written_set_loads_with_shapenet_dataset(tiny_set):
    from hnf3d.data import ShapeNetDataset

    for split in ("train",):
        ds = ShapeNetDataset(tiny_set, split=split, input_type="pointcloud")
        assert len(ds) == 10
        item = ds[0]
        assert item["inputs"].ndim == 2 and item["inputs"].shape[1] == 3
        assert item["points"].shape[1] == 3 and set(item["points.occ"].unique().tolist()) <= {0.0, 1.0}
        assert item["category"] in FAMILIES


def test_resume_skips_finished_objects(tiny_set, capsys):
    before = {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*.npz")}
    assert make_shapes.main(["--onet", str(tiny_set), "--count-per-family", "2", "--points", str(N), "--workers",
                             "1", "--quiet"]) == 0
    assert "built 0, skipped-finished 10, failed 0" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*.npz")} == before


def test_build_object_is_deterministic(tmp_path):
    for name in ("a", "b"):
        build_sdf_object("plate", 3, tmp_path / name, n_points=2000, n_surface=2000)
    for file in ("points.npz", "points_surface.npz", "pointcloud.npz"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


@pytest.mark.parametrize("argv, name", [
    (["--families", "blob,chair"], "--families"),
    (["--count-per-family", "0"], "--count-per-family"),
    (["--workers", "0"], "--workers"),
    (["--val", "0.8", "--test", "0.3"], "--val"),
    (["--views", "-2"], "--views"),
    (["--per-category", "3"], "--per-category"),
    (["--out", "X"], "--out or --onet"),
])
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, name):
    assert make_shapes.main(["--onet", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_cli_mesh_mode_refuses_sdf_options(tmp_path, capsys):
    assert make_shapes.main(["--out", str(tmp_path / "m"), "--families", "blob"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--families" in err
