"""hnf3d.cli.simulate_scan (tools/simulate_scan.py) and hnf3d.data.scan: a deterministic simulated depth scan,
and the shipped example."""
from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

from hnf3d.cli import simulate_scan as tool
from hnf3d.data.procedural import make_shape
from hnf3d.data.scan import simulate_scan
from hnf3d.io import load_point_cloud
from hnf3d.ops import closest_point

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chair_scan.ply"
EXAMPLE_README = REPO / "examples" / "README.md"


@pytest.fixture(scope="module")
def chair():
    return make_shape("chair", 0)


def test_deterministic_by_seed(chair):
    a = simulate_scan(chair, views=3, resolution=40, seed=0)
    b = simulate_scan(chair, views=3, resolution=40, seed=0)
    c = simulate_scan(chair, views=3, resolution=40, seed=1)
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape[1] == 3 and len(a) > 500
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_points_on_surface_within_noise(chair):
    size = float(chair.extents.max())
    exact = simulate_scan(chair, views=4, resolution=48, noise=0.0, seed=2)
    d = closest_point(chair.vertices, chair.faces, exact).distance.numpy()
    assert d.max() < 1e-4 * size
    sigma = 0.002
    noisy = simulate_scan(chair, views=4, resolution=48, noise=sigma, seed=2)
    d = closest_point(chair.vertices, chair.faces, noisy).distance.numpy()
    assert d.max() < 6 * sigma * size  # Gaussian range noise: nothing far off the surface
    assert d.mean() > 0.2 * sigma * size  # ... but the noise is really there
    # the cameras look from all around: the points cover the whole bounding box footprint in x and z
    lo, hi = noisy.min(axis=0), noisy.max(axis=0)
    np.testing.assert_allclose(hi - lo, chair.extents, rtol=0.05)


def test_max_points_is_a_seeded_subset(chair):
    full = simulate_scan(chair, views=2, resolution=32, noise=0.0, seed=0)
    sub = simulate_scan(chair, views=2, resolution=32, noise=0.0, seed=0, max_points=100)
    assert len(full) > 100 and len(sub) == 100
    rows = {tuple(p) for p in full.tolist()}
    assert all(tuple(p) in rows for p in sub.tolist())


def test_tool_units_and_offset(tmp_path, capsys):
    out = tmp_path / "scan.xyz"
    rc = tool.main(["--out", str(out), "--resolution", "48", "--size", "500", "--offset=-1000,200.5,3000",
                    "--max-points", "2000"])
    assert rc == 0
    assert "2000 points" in capsys.readouterr().out
    cloud = load_point_cloud(out)
    assert cloud.normals is None and len(cloud.points) == 2000
    lo, hi = cloud.points.min(axis=0), cloud.points.max(axis=0)
    assert abs(float((hi - lo).max()) - 500) < 0.03 * 500
    np.testing.assert_allclose((lo + hi) / 2, [-1000, 200.5, 3000], atol=0.05 * 500)


def _documented_command() -> list[str]:
    text = EXAMPLE_README.read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("python tools/simulate_scan.py")]
    assert len(lines) == 1, "examples/README.md must show exactly one regenerate command"
    argv = shlex.split(lines[0])[2:]
    i = argv.index("--out")
    assert argv[i + 1] == "examples/chair_scan.ply"
    return argv[:i] + argv[i + 2:]


def test_shipped_example_is_what_the_documented_command_writes(tmp_path):
    argv = _documented_command()
    out = tmp_path / "chair_scan.ply"
    assert tool.main(argv + ["--out", str(out), "--quiet"]) == 0
    shipped = load_point_cloud(EXAMPLE)
    regenerated = load_point_cloud(out)
    assert shipped.normals is None
    assert shipped.points.shape == regenerated.points.shape
    # bit-identical on the machine that wrote it; a different Embree build may move a coordinate by float noise
    np.testing.assert_allclose(shipped.points, regenerated.points, rtol=0, atol=1e-2)
    assert EXAMPLE.stat().st_size < 1_000_000
    lo, hi = shipped.points.min(axis=0), shipped.points.max(axis=0)
    assert float((hi - lo).max()) > 100 and np.abs((lo + hi) / 2).max() > 100  # millimetres, not the unit box


@pytest.mark.parametrize(
    "args, names",
    [
        (["--shape", "stool"], "--shape"),
        (["--views", "0"], "--views"),
        (["--offset", "1,2"], "--offset"),
        (["--offset", "1,x,3"], "--offset"),
        (["--resolution", "0"], "--resolution"),
        (["--noise", "-0.1"], "--noise"),
        (["--size", "0"], "--size"),
        (["--max-points", "0"], "--max-points"),
        (["--seed", "-1"], "--seed"),
        (["--missing", "-0.1"], "--missing"),
        (["--mesh", "{tmp}/none.obj"], "--mesh"),
        (["--mesh", "{tmp}/none.obj", "--shape", "chair"], "--mesh"),
        (["--out", "{tmp}/scan.obj"], "--out"),
        (["--out", "{tmp}/missing/scan.ply"], "missing"),
        ([], "--out"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, names):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if not any(a == "--out" for a in args) and args != []:
        args += ["--out", str(tmp_path / "scan.ply")]
    assert tool.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("simulate_scan: error: ")
    assert "Traceback" not in err and names in err
    assert list(tmp_path.iterdir()) == []


def test_scan_function_rejects_bad_values(chair):
    for kwargs in ({"views": 0}, {"resolution": 0}, {"noise": -1.0}, {"seed": -1}, {"max_points": 0},
                   {"missing": -1.0}, {"missing": float("nan")}):
        with pytest.raises(ValueError):
            simulate_scan(chair, **kwargs)


def test_missing_drops_one_ball_of_hits_and_keeps_the_rest(chair):
    """missing=r: exactly the hits of the full scan farther than r x size from one of them remain (same rays,
    same noise), so missing=0 gives the scans it always gave."""
    size = float(chair.extents.max())
    full = simulate_scan(chair, views=3, resolution=40, noise=0.0, seed=4)
    cut = simulate_scan(chair, views=3, resolution=40, noise=0.0, seed=4, missing=0.2)
    assert 0 < len(cut) < 0.95 * len(full)
    rows = {tuple(p) for p in full.tolist()}
    assert all(tuple(p) in rows for p in cut.tolist())
    gone = np.array([p for p in full.tolist() if tuple(p) not in {tuple(q) for q in cut.tolist()}])
    centre = gone.mean(0)  # the removed hits form one ball of radius 0.2 * size
    assert np.linalg.norm(gone - centre, axis=1).max() < 0.4 * size + 1e-6
    np.testing.assert_array_equal(simulate_scan(chair, views=3, resolution=40, noise=0.0, seed=4, missing=0.0),
                                  full)


def test_tool_scans_a_mesh_file_in_its_own_frame(tmp_path, chair):
    mesh_file = tmp_path / "chair.obj"
    chair.export(mesh_file)
    out = tmp_path / "scan.ply"
    assert tool.main(["--mesh", str(mesh_file), "--out", str(out), "--views", "2", "--resolution", "32",
                      "--noise", "0", "--quiet"]) == 0
    pts = load_point_cloud(out).points
    d = closest_point(chair.vertices, chair.faces, pts).distance.numpy()
    assert len(pts) > 100 and d.max() < 1e-3 * float(chair.extents.max())  # the mesh's frame and units
    scaled = tmp_path / "scaled.ply"
    assert tool.main(["--mesh", str(mesh_file), "--out", str(scaled), "--views", "2", "--resolution", "32",
                      "--noise", "0", "--size", "10", "--offset", "0,0,0", "--quiet"]) == 0
    s = load_point_cloud(scaled).points
    assert abs(float(np.ptp(s, axis=0).max()) - 10.0 * float(np.ptp(pts, axis=0).max() / chair.extents.max())) < 0.1
