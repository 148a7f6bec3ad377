"""hnf3d.vis.preview: shaded ray-cast previews of a mesh (small images, so the suite stays quick)."""
import numpy as np
import pytest
import trimesh
from PIL import Image

from hnf3d.vis.preview import render_preview, save_preview

SIZE = 96
WHITE = np.array([255, 255, 255], dtype=np.uint8)


@pytest.fixture(scope="module")
def sphere():
    return trimesh.creation.icosphere(subdivisions=3)


@pytest.fixture(scope="module")
def sphere_image(sphere):
    return render_preview(sphere, size=SIZE)


def shape_mask(img: np.ndarray, background=WHITE) -> np.ndarray:
    return ~(img == background).all(axis=-1)


def test_sphere_renders_shaded_and_centred(sphere_image):
    img = sphere_image
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    mask = shape_mask(img)
    c = SIZE // 2
    assert mask[c, c]
    assert not mask[0, 0] and not mask[0, -1] and not mask[-1, 0] and not mask[-1, -1]
    assert 0.1 < mask.mean() < 0.8
    # shaded, not flat: many distinct colours and a real brightness range over the shape
    pixels = img[mask].astype(int)
    assert len(np.unique(pixels, axis=0)) > 10
    brightness = pixels.sum(axis=1)
    assert brightness.max() - brightness.min() > 60
    # the shape takes the tint of the default colour (176, 196, 222): blue channel the largest
    assert (pixels[:, 2] >= pixels[:, 0]).all()
    # the silhouette of a sphere is a disc centred in the image
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - (SIZE - 1) / 2) < 1.5 and abs(cols.mean() - (SIZE - 1) / 2) < 1.5
    assert abs((rows.max() - rows.min()) - (cols.max() - cols.min())) <= 2


def test_deterministic(sphere, sphere_image):
    again = render_preview(sphere, size=SIZE)
    np.testing.assert_array_equal(again, sphere_image)
    tuple_input = render_preview((np.asarray(sphere.vertices), np.asarray(sphere.faces)), size=SIZE)
    np.testing.assert_array_equal(tuple_input, sphere_image)


def test_framing_ignores_position_and_scale(sphere, sphere_image):
    moved = sphere.copy()
    moved.apply_scale(1000.0)
    moved.apply_translation((500.0, -20.0, 3.0))
    img = render_preview(moved, size=SIZE)
    assert (shape_mask(img) == shape_mask(sphere_image)).mean() >= 0.99


def test_up_axis_and_view_change_the_picture():
    # a box elongated along y looks tall with y up, and not tall with z up seen from the side along z
    box = trimesh.creation.box(extents=(0.4, 2.0, 0.4))
    tall = shape_mask(render_preview(box, size=SIZE))
    rows, cols = np.nonzero(tall)
    assert rows.max() - rows.min() > 2 * (cols.max() - cols.min())
    flat = shape_mask(render_preview(box, size=SIZE, view=(1.0, 0.0, 0.1), up=(0.0, 0.0, 1.0)))
    rows, cols = np.nonzero(flat)
    assert cols.max() - cols.min() > 2 * (rows.max() - rows.min())


def test_colours_and_empty_mesh(sphere):
    img = render_preview(sphere, size=SIZE, color=(255, 0, 0), background=(0, 0, 0))
    mask = shape_mask(img, np.zeros(3, np.uint8))
    assert (img[~mask] == 0).all()
    assert (img[mask][:, 1:] == 0).all() and (img[mask][:, 0] > 0).all()
    empty = render_preview((np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)), size=32, background=(10, 20, 30))
    assert empty.shape == (32, 32, 3) and empty.dtype == np.uint8
    assert (empty == np.array([10, 20, 30], np.uint8)).all()
    assert (render_preview(trimesh.Trimesh(), size=16) == 255).all()


def test_save_preview_round_trip(sphere, sphere_image, tmp_path):
    out = tmp_path / "sphere.png"
    save_preview(sphere, out, size=SIZE)
    with Image.open(out) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), sphere_image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sphere.png"]


def test_save_preview_bad_paths_leave_nothing(sphere, tmp_path):
    bad = tmp_path / "sphere.jpg"
    with pytest.raises(ValueError, match="sphere.jpg"):
        save_preview(sphere, bad, size=SIZE)
    missing = tmp_path / "no_such_dir" / "sphere.png"
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        save_preview(sphere, missing, size=SIZE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [0, 15, 4097, 32.0, True])
def test_bad_size(sphere, size):
    with pytest.raises(ValueError, match="size"):
        render_preview(sphere, size=size)


@pytest.mark.parametrize("view", [(0.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, -1.0, 0.0), (1.0, float("nan"), 0.0),
                                  (1.0, 0.0)])
def test_bad_view(sphere, view):
    with pytest.raises(ValueError, match="view"):
        render_preview(sphere, size=32, view=view)
