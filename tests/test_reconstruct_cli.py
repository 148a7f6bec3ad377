"""hnf3d.cli.reconstruct (tools/reconstruct.py): the main job on the shipped example, every real input format,
and bad inputs, each found before the work starts."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from hnf3d.cli import reconstruct
from hnf3d.io import load_mesh, load_point_cloud, save_point_cloud

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "chair_scan.ply"


def run(args, capsys):
    code = reconstruct.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.err


# Units and frame: a wrong unit or a lost offset would put the mesh orders of magnitude away. With the default
# refinement most meshes match their input's box within 4% of its size; the tolerance leaves room for the worst
# real inputs (the teapot's open bottom, the very noisy ABC scan: 22% and 28%). benchmarks/reconstruct.py measures
# fidelity; tests/test_reconstruction.py checks exact equivariance to a change of units.
BBOX_TOL = 0.35


def bbox_close(mesh, points, tol=BBOX_TOL):
    lo, hi = points.min(0), points.max(0)
    size = (hi - lo).max()
    return np.abs(mesh.bounds - np.stack([lo, hi])).max() < tol * size


def test_main_job_on_the_shipped_example(tmp_path, capsys):
    scan = tmp_path / "chair_scan.ply"
    shutil.copy(EXAMPLE, scan)
    code, err = run(["--pc", scan], capsys)  # no flags beyond the input
    assert code == 0, err
    out = tmp_path / "chair_scan_hnf3d.ply"  # default name, next to the input
    mesh = load_mesh(out)
    assert mesh.is_watertight and len(mesh.faces) > 1000
    points = load_point_cloud(scan).points
    # millimetres in, millimetres out, on the scan's points: a wrong frame or unit misses by far more than 2%, and
    # so does a lost part (60 smoothing neighbours lost the top of the back: 15%). The smoothing once thinned this
    # clean scan's slats and legs (a third of its points ended farther than 1% from the mesh, the feet 3.4% off);
    # its fits now keep to each wall's side of the predicted surface (docs/reconstruction.md, step 0)
    assert bbox_close(mesh, points, 0.02)
    from benchmarks.refine_settings import example_fit

    assert example_fit(mesh, points.astype(np.float64))["points_far"] < 0.1
    for stage in ("read", "encode", "refine", "extract", "write", "total"):
        assert f"{stage} " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chair_scan.ply", "chair_scan_hnf3d.ply"]


def test_refine_preview_and_output_formats(tmp_path, capsys):
    code, err = run(["--pc", EXAMPLE, "--out", tmp_path / "m.obj", "--refine", "10", "--resolution", "64",
                     "--preview", tmp_path / "m.png", "--threshold", "0.4", "--seed", "3"], capsys)
    assert code == 0, err
    assert "refine " in err and "pseudo_labels " in err
    from PIL import Image

    with Image.open(tmp_path / "m.png") as img:
        assert img.size == (512, 512)
    assert load_mesh(tmp_path / "m.obj").is_watertight


def test_trim_gives_an_open_mesh_and_says_so(tmp_path, capsys):
    code, err = run(["--pc", EXAMPLE, "--out", tmp_path / "m.ply", "--refine", "5", "--resolution", "64", "--trim"],
                    capsys)
    assert code == 0, err
    assert f"faces farther than {reconstruct.TRIM_DISTANCE:g} from every point (the mesh is open there)" in err
    assert "watertight False" in err and not load_mesh(tmp_path / "m.ply").is_watertight


def _real_inputs(real):
    """(name, file, points for the bbox check) of every real point-cloud input."""
    scans = real / "scans"
    yield "ply_rangescan", scans / "stanford_bunny_rangescan_bun000.ply"
    yield "pcd_ascii_normals", scans / "pcl_bun0.pcd"
    yield "pcd_binary_compressed", scans / "pcl_milk.pcd"
    yield "abc_npy", next((real / "abc" / "04_pts").glob("*.npy"))
    for i, npz in enumerate(sorted((real / "shapenet_onet").glob("*/*/pointcloud.npz"))):
        yield f"onet_pointcloud_npz{i}", npz  # 100k float16 points + normals (the normals are used by --refine)


def test_every_real_scan_format(real_data, tmp_path, capsys):
    for name, path in _real_inputs(real_data):
        src = path
        if path.name.endswith(".xyz.npy"):  # the ABC scan: a plain (N, 3) float32 .npy
            src = tmp_path / "abc.npy"
            shutil.copy(path, src)
        out = tmp_path / f"{name}.ply"
        code, err = run(["--pc", src, "--out", out, "--resolution", "64"], capsys)
        assert code == 0, f"{name}: {err}"
        mesh = load_mesh(out)
        pts = load_point_cloud(src).points
        assert mesh.is_watertight, name
        assert bbox_close(mesh, pts), name


def test_every_real_mesh_sampled_with_noise(real_data, tmp_path, capsys):
    from hnf3d.ops import sample_surface

    for path in sorted((real_data / "meshes").glob("*")):
        mesh = load_mesh(path)
        s = sample_surface(mesh.vertices, mesh.faces, 3000, seed=0).points.numpy().astype(np.float64)
        size = (s.max(0) - s.min(0)).max()
        pts = s + np.random.default_rng(0).normal(0, 0.005 * size, s.shape)
        src = tmp_path / f"{path.stem}.xyz"
        save_point_cloud(pts, src)
        code, err = run(["--pc", src, "--out", tmp_path / f"{path.stem}_out.ply", "--resolution", "64"], capsys)
        assert code == 0, f"{path.name}: {err}"
        out = load_mesh(tmp_path / f"{path.stem}_out.ply")
        assert out.is_watertight and bbox_close(out, pts), path.name
    # a mesh file given directly is sampled, including raw ShapeNet triangle soups (missing .mtl: a warning only)
    raw = sorted((real_data / "shapenet_raw").glob("*/*/model_normalized.obj"))
    for i, path in enumerate([real_data / "meshes" / "decimated-knight_libigl.off", *raw]):
        code, err = run(["--pc", path, "--out", tmp_path / f"k{i}.ply", "--resolution", "32", "--refine", "0"],
                        capsys)
        assert code == 0 and "sampled 100000 points" in err, f"{path}: {err}"
        assert load_mesh(tmp_path / f"k{i}.ply").is_watertight


def test_real_images(real_data, tmp_path, capsys):
    images = sorted((real_data / "shapenet_onet").glob("*/*/img_choy2016/000.jpg"))
    images += sorted((real_data / "images" / "onet_demo").glob("*"))
    assert images
    for i, img in enumerate(images):
        out = tmp_path / f"img{i}.ply"
        code, err = run(["--image", img, "--out", out, "--resolution", "64"], capsys)
        assert code == 0, f"{img}: {err}"
        mesh = load_mesh(out)
        assert mesh.is_watertight and np.abs(mesh.vertices).max() <= 0.551


def _bad(tmp_path, capsys, args, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = run(args, capsys)
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("reconstruct: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temp file


def test_bad_inputs(tmp_path, capsys):
    few = tmp_path / "few.xyz"
    save_point_cloud(np.random.default_rng(0).random((15, 3)), few)
    _bad(tmp_path, capsys, ["--pc", few], f"--pc {few}: 15 usable points")
    line = tmp_path / "line.xyz"
    save_point_cloud(np.linspace(0, 1, 300)[:, None] * np.array([[1.0, 2.0, 3.0]]), line)
    _bad(tmp_path, capsys, ["--pc", line], f"--pc {line}: the points are collinear")
    dup = tmp_path / "dup.xyz"
    save_point_cloud(np.repeat(np.random.default_rng(0).random((10, 3)), 5, axis=0), dup)
    _bad(tmp_path, capsys, ["--pc", dup], "10 usable points")
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"not a ply file at all\n")
    _bad(tmp_path, capsys, ["--pc", garbage], "garbage.ply")
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not an image")
    _bad(tmp_path, capsys, ["--image", fake], "fake.png: not a readable image")
    _bad(tmp_path, capsys, ["--pc", tmp_path / "missing.ply"], "missing.ply: file not found")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.ply", "--resolution", "100"], "resolution")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.ply", "--threshold", "1.5"], "--threshold")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "nowhere" / "x.ply"], "does not exist")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.doc"], "--out")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.ply", "--preview", tmp_path / "p.jpg"],
         "--preview")
    _bad(tmp_path, capsys, ["--image", fake, "--refine", "5"], "--refine")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.ply", "--refine", "-1"], "--refine")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--image", fake], "not allowed with")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--refine-init", "zeros"], "--refine-init")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "x.ply", "--checkpoint", garbage], "garbage.ply")
    unknown = tmp_path / "scan.abc"
    unknown.write_text("1 2 3\n")
    _bad(tmp_path, capsys, ["--pc", unknown, "--out", tmp_path / "x.ply"], "unknown file type")


def test_nan_points_are_reported(tmp_path, capsys):
    pts = load_point_cloud(EXAMPLE).points.astype(np.float64)
    pts[::100] = np.nan
    src = tmp_path / "nan.npy"
    np.save(src, pts)
    code, err = run(["--pc", src, "--out", tmp_path / "o.ply", "--resolution", "32", "--refine", "0"], capsys)
    assert code == 0, err
    assert f"{len(pts[::100])}" in err and "NaN" in err


def test_readme_starts_with_the_two_commands():
    """The README's first two commands: the main job on the shipped example (tested above) and the tests."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands[0] == "bash scripts/setup.sh && .venv/bin/python tools/reconstruct.py --pc examples/chair_scan.ply"
    assert commands[1] == "bash scripts/setup.sh && .venv/bin/python -m pytest -q"
    assert (ROOT / shlex.split(commands[0])[-1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh && .venv/bin/python -m pytest -q" in ci


# ------------------------------------------------------------------ hardening: every bad input before the work
@pytest.fixture
def no_work(monkeypatch):
    """Loading the model is the start of the work: an argument, path or input file error must be found first."""
    from hnf3d.pipeline.reconstructor import Reconstructor

    def refuse(*args, **kwargs):
        raise AssertionError("the work started before the arguments and inputs were checked")

    monkeypatch.setattr(Reconstructor, "load", refuse)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels (the data is a few bytes: a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_bad_paths_and_arguments_before_the_work(tmp_path, capsys, no_work):
    folder = tmp_path / "in"
    folder.mkdir()
    scan = folder / "scan.ply"
    shutil.copy(EXAMPLE, scan)
    (folder / "link.ply").symlink_to(scan)
    (folder / "taken_hnf3d.ply").mkdir()  # the default output name of taken.ply is a directory
    shutil.copy(EXAMPLE, folder / "taken.ply")
    photo = folder / "photo.png"
    photo.write_bytes(_png_header(64, 64))
    cases = [
        (["--pc", ""], "--pc: empty path"),
        (["--image", ""], "--image: empty path"),
        (["--pc", folder], "is a directory"),
        (["--image", folder], "is a directory"),
        (["--pc", scan, "--out", folder], "--out"),
        (["--pc", folder / "taken.ply"], "taken_hnf3d.ply: is a directory"),
        (["--pc", scan, "--out", scan], "refusing to overwrite"),  # the user's scan, replaced by a mesh
        (["--pc", scan, "--out", folder / ".." / "in" / "scan.ply"], "refusing to overwrite"),
        (["--pc", folder / "link.ply", "--out", scan], "refusing to overwrite"),
        (["--image", photo, "--out", tmp_path / "m.ply", "--preview", photo], "refusing to overwrite"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--device", "meta"], "--device"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--device", "tpu:9"], "--device"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--seed", "-1"], "--seed"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--resolution", "2048"], "--resolution"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--trim", "0"], "--trim"),
        (["--pc", scan, "--out", tmp_path / "m.ply", "--trim", "nan"], "--trim"),
        (["--image", photo, "--out", tmp_path / "m.ply", "--trim"], "--trim: trimming needs a point cloud"),
    ]
    for args, message in cases:
        _bad(tmp_path, capsys, args, message)
    assert scan.read_bytes() == EXAMPLE.read_bytes()


def test_seed_is_checked_whatever_the_input_size(tmp_path, capsys, no_work):
    few = tmp_path / "few.xyz"
    save_point_cloud(np.random.default_rng(0).random((100, 3)), few)  # fewer points than the encoder takes
    _bad(tmp_path, capsys, ["--pc", few, "--seed", "-1"], "--seed")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "m.ply", "--seed", "-5"], "--seed")


def test_permissions_checked_before_the_work(tmp_path, capsys, monkeypatch, no_work):
    """An unreadable input and an output folder without write permission (os.access is faked: tests may run as
    root, for whom chmod denies nothing)."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    secret = tmp_path / "secret.ply"
    shutil.copy(EXAMPLE, secret)
    real_access = os.access

    def access(path, mode, **kwargs):
        path = os.fspath(path)
        if path == str(locked) and mode & os.W_OK or path == str(secret) and mode & os.R_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    _bad(tmp_path, capsys, ["--pc", secret, "--out", tmp_path / "m.ply"], "secret.ply: permission denied")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", locked / "m.ply"], "permission denied")
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "m.ply", "--preview", locked / "p.png"],
         "--preview")


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root ignores file permissions")
def test_real_permissions(tmp_path, capsys, no_work):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", locked / "m.ply"], "permission denied")
    finally:
        locked.chmod(0o700)


def test_bad_file_contents_before_the_work(tmp_path, capsys, no_work):
    rng = np.random.default_rng(0)
    for name, kind in (("noise.stl", "STL"), ("noise.obj", "OBJ"), ("noise.off", "OFF")):
        path = tmp_path / name
        path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
        _bad(tmp_path, capsys, ["--pc", path, "--out", tmp_path / "m.ply"], f"not a valid {kind} file")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(30000, 30000))  # 900 megapixels declared in 100 bytes
    _bad(tmp_path, capsys, ["--image", bomb, "--out", tmp_path / "m.ply"], "refused before decoding")
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(9000, 9000))  # under PIL's own limit, over hnf3d's MAX_IMAGE_PIXELS
    _bad(tmp_path, capsys, ["--image", big, "--out", tmp_path / "m.ply"], "more than the 67108864 accepted")


def test_mesh_ply_is_sampled_not_read_as_vertices(tmp_path, capsys):
    """A .ply with faces is a mesh: its surface is sampled (an 8-vertex box is not 8 points)."""
    import trimesh

    box = trimesh.creation.box(extents=(300.0, 200.0, 100.0))
    box.apply_translation((1000.0, 0.0, -50.0))
    src = tmp_path / "box.ply"
    src.write_bytes(box.export(file_type="ply"))
    code, err = run(["--pc", src, "--out", tmp_path / "m.ply", "--refine", "0", "--resolution", "32"], capsys)
    assert code == 0, err
    assert "a mesh; sampled 100000 points" in err
    mesh = load_mesh(tmp_path / "m.ply")
    assert mesh.is_watertight and bbox_close(mesh, np.asarray(box.vertices))


def test_nan_vertices_of_a_mesh_are_a_message_not_a_warning(tmp_path, capsys):
    import warnings

    import trimesh

    from hnf3d.io import NonFiniteWarning

    box = trimesh.creation.box()
    lines = [f"v {x} {y} {z}" for x, y, z in box.vertices] + ["v nan 0 0"]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces] + ["f 1 2 9"]
    src = tmp_path / "holes.obj"
    src.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteWarning)  # a raw warning escaping the tool fails here
        code, err = run(["--pc", src, "--out", tmp_path / "m.ply", "--refine", "0", "--resolution", "32"], capsys)
    assert code == 0, err
    notice = [line for line in err.splitlines() if "NaN/Inf" in line]
    assert len(notice) == 1 and notice[0].startswith("reconstruct: ") and "holes.obj: 1 vertices" in notice[0]
    assert "Warning" not in err


def test_empty_reconstruction_exit_1_no_file(tmp_path, capsys, monkeypatch):
    import trimesh

    from hnf3d.pipeline.reconstructor import Reconstructor

    class Empty:
        def reconstruct(self, *args, **kwargs):
            mesh = trimesh.Trimesh()
            mesh.metadata["hnf3d"] = {"threshold": 0.5, "messages": [], "timings": {}}
            return mesh

    monkeypatch.setattr(Reconstructor, "load", lambda *a, **k: Empty())
    before = sorted(tmp_path.iterdir())
    code, err = run(["--pc", EXAMPLE, "--out", tmp_path / "m.ply", "--preview", tmp_path / "m.png"], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reconstruct: error: the reconstruction is empty")
    assert sorted(tmp_path.iterdir()) == before


def test_failed_write_leaves_no_file(tmp_path, capsys, monkeypatch):
    """An error while writing (disk full, ...) is one line, exit 2, and leaves neither output nor temp file."""
    import trimesh

    from hnf3d.pipeline.reconstructor import Reconstructor

    class Box:
        def reconstruct(self, *args, **kwargs):
            mesh = trimesh.creation.box()
            mesh.metadata["hnf3d"] = {"threshold": 0.5, "messages": [], "timings": {}}
            return mesh

    monkeypatch.setattr(Reconstructor, "load", lambda *a, **k: Box())

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "m.ply"))

    monkeypatch.setattr(trimesh.Trimesh, "export", full)
    _bad(tmp_path, capsys, ["--pc", EXAMPLE, "--out", tmp_path / "m.ply"], "m.ply: no space left on device")
