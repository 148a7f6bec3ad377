"""Input hardening of the inference pipeline (issue 11, section 3): point clouds (gross outliers, float64 extremes,
degenerate clouds, argument checks) and images (decompression bombs, blank images, 16-bit and float pixels)."""
import io
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from hnf3d.data.procedural import CATEGORIES, make_shape
from hnf3d.data.transforms import load_image
from hnf3d.io.image import MAX_IMAGE_PIXELS, read_image
from hnf3d.pipeline.inputs import OUTLIER_FACTOR, clean_points, image_tensor
from hnf3d.pipeline.reconstructor import Reconstructor


@pytest.fixture(scope="module")
def rec():
    return Reconstructor.load("default", device="cpu")


@pytest.fixture(scope="module")
def image_rec():
    return Reconstructor.load("default-image", device="cpu")


@pytest.fixture(scope="module")
def sphere():
    """3000 points on the unit sphere, float64."""
    v = np.random.default_rng(0).normal(size=(3000, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _outlier_messages(points) -> list:
    return [m for m in clean_points(points).messages if "outlier" in m]


# ---------------------------------------------------------------- point clouds: gross outliers
def test_gross_outliers_are_dropped_with_a_count(rec, sphere):
    one = np.r_[sphere, [[1e30, 0.0, 0.0]]]
    c = clean_points(one)
    assert len(c.points) == 3000 and np.abs(c.points).max() <= 1.0
    assert "dropped 1 of 3001 points as gross outliers" in " | ".join(c.messages)
    several = np.r_[sphere[:500], [[1e30, 0, 0], [0, -1e6, 0], [1.7e308, 1.7e308, -1.7e308], [0, 0, 200.0]]]
    assert "dropped 4 of 504 points as gross outliers" in " | ".join(clean_points(several).messages)
    mesh = rec.reconstruct(one, resolution=32)  # the object, not a blob the size of the outlier's distance
    assert np.abs(mesh.bounds).max() < 1.2 and "gross outliers" in " | ".join(mesh.metadata["hnf3d"]["messages"])


def test_outlier_rule_keeps_sparse_and_elongated_shapes():
    rng = np.random.default_rng(1)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    sparse = np.r_[corners, rng.random((10, 3))]  # 18 points: a sparse but legitimate cloud
    assert len(clean_points(sparse).points) == 18 and not _outlier_messages(sparse)
    # a lamp-like cloud: 90% of the points on a small base, a long thin arm 30 base radii high
    base = rng.normal(size=(2700, 3)) * [0.05, 0.05, 0.01]
    arm = np.c_[rng.normal(size=(300, 2)) * 0.005, np.linspace(0, 1.5, 300)]
    assert not _outlier_messages(np.r_[base, arm])
    # and a point just inside the rule's reach stays: it is a rule about gross outliers only
    far = np.r_[base, [[0.0, 0.0, 0.5 * OUTLIER_FACTOR * 0.05]]]
    assert not _outlier_messages(far)


def test_outlier_rule_keeps_every_procedural_shape():
    for category in CATEGORIES:
        for seed in range(2):
            m = make_shape(category, seed)
            for p in (np.asarray(m.vertices), np.asarray(m.sample(2000, seed=0))):  # vertices bunch up: harder
                assert not _outlier_messages(p), category


def test_outlier_rule_keeps_every_real_scan_and_mesh(real_data):
    from hnf3d.io import load_point_cloud

    clouds = {}
    for f in sorted((real_data / "scans").glob("*.p*")):
        clouds[f.name] = np.asarray(load_point_cloud(f).points, np.float64)
    clouds["abc"] = np.load(next((real_data / "abc" / "04_pts").glob("*.npy"))).astype(np.float64)
    for f in sorted((real_data / "meshes").glob("*")):
        m = trimesh.load(f, force="mesh")
        clouds[f.name] = np.asarray(m.vertices)
        clouds[f.name + " (samples)"] = np.asarray(m.sample(3000, seed=0))
    for f in sorted((real_data / "shapenet_onet").glob("*/*/pointcloud.npz")):
        clouds[f.parent.name] = np.load(f)["points"].astype(np.float64)
    assert len(clouds) >= 10
    for name, p in clouds.items():
        c = clean_points(p)  # nor are any of them collinear / coplanar
        assert not [m for m in c.messages if "outlier" in m], name


# ---------------------------------------------------------------- point clouds: float64 extremes
def test_float64_extremes_give_finite_meshes(rec, sphere):
    unit = rec.reconstruct(sphere, resolution=32)
    for scale, offset in ((1e299, 3e299), (1e39, -1e39), (1e-200, 1e-199)):
        world = rec.reconstruct(sphere * scale + offset, resolution=32)
        assert np.isfinite(world.vertices).all() and not world.metadata["hnf3d"]["messages"]
        np.testing.assert_array_equal(world.faces, unit.faces)
        np.testing.assert_allclose(world.vertices, unit.vertices * scale + offset, rtol=1e-6, atol=1e-3 * scale)
    assert np.isfinite(rec.reconstruct(sphere * 1e299, resolution=32, normalize="spacing").vertices).all()
    for huge in (sphere * 1e308, sphere * 1e301):  # the box of the mesh around them would overflow float64
        with pytest.raises(ValueError, match="points: coordinates reach .* beyond the supported magnitude"):
            rec.reconstruct(huge, resolution=32)


def test_normals_of_any_length(rec, sphere):
    a = rec.reconstruct(sphere, sphere, resolution=32, refine_steps=2)
    b = rec.reconstruct(sphere, sphere * 1e39, resolution=32, refine_steps=2)  # beyond float32 range
    np.testing.assert_allclose(b.vertices, a.vertices, atol=1e-5)
    zero = sphere.copy()
    zero[5] = 0
    c = clean_points(sphere, zero)
    assert c.normals is None and "ignored the normals" in c.messages[0]
    with pytest.raises(ValueError, match="normals: expected real numbers"):
        clean_points(sphere, sphere + 1j)


# ---------------------------------------------------------------- point clouds: degenerate input, dtypes, counts
def test_collinear_and_coplanar_points_are_refused_before_any_work(rec):
    rng = np.random.default_rng(2)
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    t = rng.random(500)
    line = np.c_[t, 2 * t, -t] * 7 + 100.0
    plane = (np.c_[rng.random((500, 2)), np.zeros(500)] @ rotation) * 0.01 + [5.0, -3.0, 2.0]
    for points, what in ((line, "collinear"), (line + rng.normal(size=line.shape) * 1e-9, "collinear"),
                         (plane, "coplanar"), (plane.astype(np.float32), "coplanar")):
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match=f"points: the points are {what}: a surface needs points that span 3D"):
            rec.reconstruct(points, refine_steps=300)
        assert time.perf_counter() - t0 < 1.0
    # thin but solid: a 30 cm sheet 0.1 mm thick, sampled on both faces, is not coplanar
    sheet = np.c_[rng.random((2000, 2)) * 0.3, rng.integers(0, 2, 2000) * 1e-4]
    assert len(clean_points(sheet).points) == 2000


def test_point_arrays_must_be_real_and_large_enough(rec, sphere):
    for bad, match in ((sphere + 1j, "points: expected real numbers, got an array of dtype complex"),
                       (sphere.astype(str), "points: expected real numbers"),
                       (sphere.astype(object), "points: expected real numbers"),
                       ([[0, 0, 0], [1, 1]], "points: expected an array of shape")):
        with pytest.raises(ValueError, match=match):
            rec.reconstruct(bad, resolution=32)
    with pytest.raises(ValueError, match="points: 15 usable points .* at least 16"):
        rec.reconstruct(sphere[:15], resolution=32)
    with pytest.raises(ValueError, match="max_points: expected an integer >= 16, got 5"):
        clean_points(sphere, max_points=5)
    integers = np.round(sphere * 100).astype(np.int64)  # integer coordinates are real numbers
    assert len(rec.reconstruct(integers, resolution=32).faces) > 0


# ---------------------------------------------------------------- public arguments
BAD_POINT_ARGS = [
    ({"refine_steps": 2.7}, "refine_steps: expected an integer"),
    ({"refine_steps": True}, "refine_steps: expected an integer"),
    ({"refine_steps": -1}, "refine_steps: expected an integer >= 0"),
    ({"seed": -1}, "seed: expected an integer >= 0"),
    ({"seed": 1.0}, "seed: expected an integer"),
    ({"threshold": 0.0}, "threshold: expected a finite number in"),
    ({"threshold": float("nan")}, "threshold: expected a finite number in"),
    ({"threshold": "0.5"}, "threshold: expected a number"),
    ({"normalize": "unit"}, "normalize: expected one of 'bbox', 'spacing'"),
    ({"max_points": 5}, "max_points: expected an integer >= 16"),
    ({"max_points": 3000.0}, "max_points: expected an integer"),
    ({"refine_lr": 0.0}, "refine_lr: expected a finite number in"),
    ({"refine_lr": float("inf")}, "refine_lr: expected a finite number in"),
]


@pytest.mark.parametrize("kwargs,match", BAD_POINT_ARGS)
def test_reconstruct_and_predict_weights_check_every_argument(rec, sphere, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rec.reconstruct(sphere, resolution=32, **kwargs)
    with pytest.raises(ValueError, match=match):
        rec.predict_weights(sphere, **kwargs)


def test_image_and_load_arguments_are_checked(image_rec):
    image = np.full((64, 64, 3), 255, np.uint8)
    image[16:48, 20:44] = 40
    for kwargs, match in (({"resolution": 64.0}, "resolution: expected an integer"),
                          ({"resolution": 100}, "resolution: expected 32 x 2"),
                          ({"threshold": 1}, "threshold: expected a finite number")):
        with pytest.raises(ValueError, match=match):
            image_rec.reconstruct_image(image, **kwargs)
    with pytest.raises(ValueError, match="refine_steps: refinement needs a point cloud"):
        image_rec.predict_weights(image=image, refine_steps=3)
    assert image_rec.predict_weights(image=image).weights.ndim == 1
    for path, match in (("", "path: expected a checkpoint path"), (None, "path: expected"), (3, "path: expected")):
        with pytest.raises(ValueError, match=match):
            Reconstructor.load(path)
    for device in ("meta", "tpu", "cuda:99" if torch.cuda.is_available() else "cuda"):
        with pytest.raises(ValueError, match="device: "):
            Reconstructor.load("default", device=device)


# ---------------------------------------------------------------- images
def _png_declaring(width: int, height: int) -> bytes:
    """A real 4x4 PNG whose IHDR chunk is patched to declare width x height (CRC recomputed)."""
    buf = io.BytesIO()
    Image.new("L", (4, 4), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # chunk type + 13 bytes of header data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def _object_image(size: int = 96) -> np.ndarray:
    """(size, size, 3) uint8: a dark box on white."""
    img = np.full((size, size, 3), 255, np.uint8)
    img[size // 4:3 * size // 4, size // 3:2 * size // 3] = (30, 60, 90)
    return img


def test_decompression_bombs_are_refused_from_the_header(tmp_path):
    for (w, h) in ((30000, 30000), (9000, 9000)):  # beyond PIL's own limit, and between ours and PIL's
        f = tmp_path / f"bomb_{w}.png"
        f.write_bytes(_png_declaring(w, h))
        assert f.stat().st_size < 200 and w * h > MAX_IMAGE_PIXELS
        for read in (read_image, lambda p: load_image(p, 64), lambda p: image_tensor(p, 64)):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not escape either
                with pytest.raises(ValueError, match=f"^{f}: the image.* refused before decoding|^{f}: the image is "
                                                     f"{w} x {h}"):
                    read(f)
            assert time.perf_counter() - t0 < 1.0
    with pytest.raises(ValueError, match="more than .* accepted"):
        image_tensor(np.zeros((9000, 8000), np.uint8), 64)


def test_unreadable_image_files_are_one_line(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    for path, match in ((junk, f"{junk}: not a readable image"), (tmp_path, f"{tmp_path}: is a directory"),
                        ("", "image path: empty")):
        with pytest.raises(ValueError, match=match) as exc:
            image_tensor(path, 64)
        assert "\n" not in str(exc.value)


def test_blank_images_hold_no_object(tmp_path, image_rec):
    white = tmp_path / "white.png"
    Image.new("RGB", (137, 137), "white").save(white)
    transparent = np.zeros((64, 64, 4), np.uint8)  # fully transparent: white, like the training renders' background
    for image, name in ((white, str(white)), (np.full((64, 64, 3), 255, np.uint8), "image"),
                        (np.zeros((64, 64)), "image"), (Image.new("L", (50, 80), 128), "image"),
                        (transparent, "image"), (torch.full((3, 40, 40), 0.3), "image")):
        with pytest.raises(ValueError, match=f"^{name}: the image holds no object"):
            image_tensor(image, 64)
    with pytest.raises(ValueError, match=f"{white}: the image holds no object"):
        image_rec.reconstruct_image(white, resolution=32)
    small = np.full((224, 224, 3), 255, np.uint8)
    small[100:108, 100:108] = 0  # 0.13% of the pixels: a small object is still an object
    assert image_tensor(small, 224).min() == 0


def test_real_images_hold_an_object(real_data):
    files = sorted((real_data / "images").rglob("*.jpg")) + sorted((real_data / "shapenet_onet").rglob("*.jpg"))
    assert len(files) >= 9
    for f in files:
        assert image_tensor(f, 224).shape == (3, 224, 224)


def test_16bit_images_keep_their_content(tmp_path):
    gray16 = np.full((64, 64), 3000, np.uint16)
    gray16[16:48, 20:44] = 50000
    expected = np.round(gray16.astype(np.float64) / 65535 * 255) / 255  # the same picture, in 8-bit levels
    f = tmp_path / "gray16.png"
    Image.fromarray(gray16).save(f)
    with Image.open(f) as img:
        assert img.mode.startswith("I")
    for image in (f, gray16, Image.fromarray(gray16), Image.fromarray(gray16.astype(np.int32)),
                  gray16.astype(np.float32) / 65535):
        t = image_tensor(image, 64).numpy()
        for channel in t:
            np.testing.assert_allclose(channel, expected, atol=1.01 / 255)
    np.testing.assert_allclose(load_image(f).numpy()[0], expected, atol=1.01 / 255)


def test_pixel_dtypes_and_ranges(tmp_path):
    img = _object_image()
    ref = image_tensor(img, 64)
    for same in (img.astype(np.float64) / 255, torch.from_numpy(img).permute(2, 0, 1),
                 np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])):
        assert torch.allclose(image_tensor(same, 64), ref, atol=1.01 / 255)
    assert image_tensor(img[..., :1], 64).shape == (3, 64, 64)  # (H, W, 1) gray
    assert image_tensor(img[..., 0] > 128, 64).shape == (3, 64, 64)  # bool
    for bad, match in ((img.astype(np.float32), r"float pixels must lie in \[0, 1\], got values in \[30, 255\]"),
                       (img / 255.0 - 0.2, r"float pixels must lie in \[0, 1\]"),
                       (np.where(img > 0, np.nan, 0.5), "pixels contain NaN or Inf"),
                       (img.astype(np.int64), "expected pixels of dtype uint8 .* got int64"),
                       (img + 0j, "expected real-valued pixels"),
                       (img[..., :2], r"expected an \(H, W\), \(H, W, 3\) or \(H, W, 4\) array"),
                       (torch.from_numpy(img).permute(2, 0, 1).float(), r"float pixels must lie in \[0, 1\]")):
        with pytest.raises(ValueError, match="^image: " + match):
            image_tensor(bad, 64)


def test_transparent_background_is_white_for_files_and_arrays(tmp_path):
    rgba = np.zeros((96, 96, 4), np.uint8)  # transparent black background
    rgba[24:72, 32:64] = (30, 60, 90, 255)
    f = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(f)
    from_file, from_array = image_tensor(f, 64), image_tensor(rgba, 64)
    assert torch.equal(from_file, from_array) and from_file[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert torch.equal(load_image(f, 64), from_file)
