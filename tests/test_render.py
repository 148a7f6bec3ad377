"""hnf3d.vis.render: ONet's camera convention (checked on real ShapeNet samples) and the ray-cast renderer."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from hnf3d.vis.render import (DISTANCE_RANGE, ELEVATION_RANGE_DEG, ONET_CENTER, ONET_FOCAL, look_at, onet_cameras,
                              project, render_view, render_views)

OBJECTS = {  # the two real ShapeNet samples (docs/protocol.md): synset -> model id
    "04379243": "1a15e651e26622b0e5c7ea227b17d897",  # plain table
    "02828884": "1a40eaf5919b1b3f3eaa2b95b99dae6",  # slatted bench
}
WHITE = 240  # a pixel whose darkest channel is below this is object (JPEG noise stays above)


def on_object_fraction(points: np.ndarray, image: np.ndarray, camera_mat, world_mat) -> float:
    """Fraction of world points whose pixel (column floor(u), row floor(v)) is an object pixel."""
    uv = np.floor(project(points, camera_mat, world_mat)).astype(int)
    h, w = image.shape[:2]
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    fg = image.min(axis=-1) < WHITE
    return float((inside & fg[uv[:, 1].clip(0, h - 1), uv[:, 0].clip(0, w - 1)]).mean())


def load_onet(root, synset):
    from PIL import Image

    obj = root / "shapenet_onet" / synset / OBJECTS[synset]
    pc = np.load(obj / "pointcloud.npz")
    cams = np.load(obj / "img_choy2016" / "cameras.npz")
    images = [np.asarray(Image.open(obj / "img_choy2016" / f"{i:03d}.jpg").convert("RGB")) for i in range(24)]
    k = np.stack([cams[f"camera_mat_{i}"] for i in range(24)])
    w = np.stack([cams[f"world_mat_{i}"] for i in range(24)])
    return pc, k, w, images


# measured (floor pixel, darkest channel < 240): table min 0.966 mean 0.995; bench min 0.994 mean 0.9996
@pytest.mark.parametrize("synset,min_view,min_mean", [("04379243", 0.94, 0.98), ("02828884", 0.95, 0.98)])
def test_convention_on_real_shapenet(real_data, synset, min_view, min_mean):
    """uv ~ K (R (p * scale + loc) + t), u = column, v = row: the stored points land on the object pixels."""
    pc, k, w, images = load_onet(real_data, synset)
    p = pc["points"].astype(np.float64)
    world = p * float(pc["scale"]) + pc["loc"].astype(np.float64)
    fractions = [on_object_fraction(world, images[i], k[i], w[i]) for i in range(24)]
    assert min(fractions) >= min_view, fractions
    assert np.mean(fractions) >= min_mean
    np.testing.assert_allclose(k[0], [[ONET_FOCAL, 0, ONET_CENTER], [0, ONET_FOCAL, ONET_CENTER], [0, 0, 1]],
                               atol=1e-6)
    # the other conventions do not fit: transposed pixel axes everywhere, normalised points on the table
    swapped = [on_object_fraction(world, images[i].transpose(1, 0, 2), k[i], w[i]) for i in range(24)]
    assert np.mean(swapped) < 0.6
    if synset == "04379243":
        normalised = [on_object_fraction(p, images[i], k[i], w[i]) for i in range(24)]
        assert np.mean(normalised) < 0.6


def test_renderer_reproduces_real_views(real_data):
    """The raw ShapeNet mesh, aligned to the ONet frame (README), rendered with ONet's own cameras, has the
    silhouettes of ONet's images (measured mean IoU: table 0.984, bench 0.886 (thin slats))."""
    from hnf3d.io import load_mesh

    for synset, min_iou in (("04379243", 0.95), ("02828884", 0.83)):
        pc, k, w, images = load_onet(real_data, synset)
        mesh = load_mesh(real_data / "shapenet_raw" / synset / OBJECTS[synset] / "model_normalized.obj")
        v = np.asarray(mesh.vertices)
        v = np.stack([-v[:, 2], v[:, 1], v[:, 0]], axis=1)  # -90 degrees about +y
        lo, hi = v.min(0), v.max(0)
        world = (v - (lo + hi) / 2) / (hi - lo).max() * float(pc["scale"]) + pc["loc"].astype(np.float64)
        views = render_views(world, mesh.faces, k[::3], w[::3])
        ious = []
        for ours, theirs in zip(views, images[::3]):
            a, b = ours.min(-1) < WHITE, theirs.min(-1) < WHITE
            ious.append((a & b).sum() / (a | b).sum())
        assert np.mean(ious) >= min_iou, (synset, ious)


@pytest.mark.parametrize("synset", sorted(OBJECTS))
def test_our_cameras_follow_the_real_distribution(real_data, synset):
    """ONet's cameras look at the bounding-box centre from 25-30 degrees up, 1.15-1.65 bounding-box diagonals away
    (measured: 1.150-1.644), so the object fills the image as much in our renders as in theirs."""
    pc, k, w, _ = load_onet(real_data, synset)
    p = pc["points"].astype(np.float64) * float(pc["scale"]) + pc["loc"].astype(np.float64)
    lo, hi = p.min(0), p.max(0)
    diagonal = np.linalg.norm(hi - lo)
    ours_k, ours_w = onet_cameras(24, seed=3, loc=pc["loc"].astype(np.float64), scale=float(pc["scale"]),
                                  diagonal=diagonal / float(pc["scale"]))
    for name, ws in (("real", w), ("ours", ours_w)):
        eyes = np.einsum("vji,vj->vi", ws[:, :, :3], -ws[:, :, 3])
        rel = eyes - (lo + hi) / 2
        dist = np.linalg.norm(rel, axis=1) / diagonal
        assert DISTANCE_RANGE[0] - 0.02 <= dist.min() and dist.max() <= DISTANCE_RANGE[1] + 0.02, (name, dist)
        elev = np.degrees(np.arcsin(rel[:, 1] / np.linalg.norm(rel, axis=1)))
        assert ELEVATION_RANGE_DEG[0] - 0.5 <= elev.min() and elev.max() <= ELEVATION_RANGE_DEG[1] + 0.5, name
    # the object's extent in pixels: within 15% of the real views' mean
    extent = lambda ks, ws: np.mean([np.ptp(project(p, ks[i], ws[i]), axis=0).max() for i in range(24)])  # noqa: E731
    assert extent(ours_k, ours_w) == pytest.approx(extent(k, w), rel=0.15)


def test_onet_cameras_geometry():
    loc, scale = np.array([1.0, -2.0, 0.5]), 3.0
    k, w = onet_cameras(24, seed=7, loc=loc, scale=scale)
    assert k.shape == (24, 3, 3) and w.shape == (24, 3, 4)
    np.testing.assert_allclose(k[5], [[ONET_FOCAL, 0, 68.5], [0, ONET_FOCAL, 68.5], [0, 0, 1]])
    az = []
    for i in range(24):
        r, t = w[i, :, :3], w[i, :, 3]
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        eye = -r.T @ t
        rel = (eye - loc) / scale
        elev = np.degrees(np.arcsin(rel[1] / np.linalg.norm(rel)))
        assert 25 - 1e-9 <= elev <= 30 + 1e-9
        az.append(np.degrees(np.arctan2(rel[0], rel[2])) % 360)
        np.testing.assert_allclose(r[2], -rel / np.linalg.norm(rel), atol=1e-12)  # looks at the centre
        assert r[0, 1] == pytest.approx(0.0, abs=1e-12) and r[1, 1] < 0  # no roll, world up = image up
        # 1.15-1.65 bounding-box diagonals (sqrt(3) for the default unit cube) from the centre
        assert DISTANCE_RANGE[0] - 1e-9 <= np.linalg.norm(rel) / np.sqrt(3) <= DISTANCE_RANGE[1] + 1e-9
    assert np.ptp(np.sort(az)) > 300  # spread all around
    k2, w2 = onet_cameras(24, seed=7, loc=loc, scale=scale)
    np.testing.assert_array_equal(w, w2)
    _, w3 = onet_cameras(24, seed=8, loc=loc, scale=scale)
    assert not np.allclose(w, w3)
    _, fixed = onet_cameras(4)
    np.testing.assert_array_equal(fixed, onet_cameras(4)[1])


@pytest.mark.parametrize("shape", ["torus", "box"])
def test_our_views_cover_the_surface(shape):
    """>= 95% of surface points project onto object pixels of every one of our views (thin torus included)."""
    if shape == "torus":
        mesh = trimesh.creation.torus(0.3, 0.08)
    else:
        mesh = trimesh.creation.box([0.2, 1.0, 0.5])
    mesh.apply_translation([3.0, -1.0, 2.0])
    mesh.apply_scale(2.5)
    v = mesh.vertices
    lo, hi = v.min(0), v.max(0)
    loc, scale = (lo + hi) / 2, (hi - lo).max()
    k, w = onet_cameras(12, seed=0, loc=loc, scale=scale, diagonal=np.linalg.norm(hi - lo) / scale)
    views = render_views(v, mesh.faces, k, w)
    assert views.shape == (12, 137, 137, 3) and views.dtype == np.uint8
    points = mesh.sample(5000, return_index=False)
    for i in range(12):
        assert on_object_fraction(points, views[i], k[i], w[i]) >= 0.95
        border = np.concatenate([views[i][0], views[i][-1], views[i][:, 0], views[i][:, -1]])
        assert (border == 255).all()  # fits with a margin
        fg = views[i].min(-1) < WHITE
        assert 0.02 < fg.mean() < 0.8
    one = render_view(v, mesh.faces, k[3], w[3])
    np.testing.assert_array_equal(one, views[3])


def test_background_and_shading():
    mesh = trimesh.creation.icosphere(3)
    k, w = onet_cameras(1)
    img = render_view(mesh.vertices, mesh.faces, k[0], w[0], size=64)
    assert img.shape == (64, 64, 3)
    assert (img[0, 0] == 255).all()
    centre = img[32, 32].astype(int)
    assert (centre < 250).all()
    # Lambertian: the lit side (upper left) is brighter than the lower right
    fg = img.min(-1) < 250
    rows, cols = np.nonzero(fg)
    ul = img[rows[(rows < 32) & (cols < 32)], cols[(rows < 32) & (cols < 32)]].mean()
    lr = img[rows[(rows > 32) & (cols > 32)], cols[(rows > 32) & (cols > 32)]].mean()
    assert ul > lr
    # a camera looking away from the mesh sees nothing
    eye = np.array([0.0, 0.5, 5.0])
    rot = look_at(eye, eye + np.array([0.0, 0.0, 1.0]))
    w_away = np.concatenate([rot, (-rot @ eye)[:, None]], axis=1)
    away = render_view(mesh.vertices, mesh.faces, k[0], w_away, size=32)
    assert (away == 255).all()


def test_adaptive_supersampling_matches_full():
    """Supersampling only the silhouette pixels gives the image of supersampling every pixel, up to the pixels
    whose centre ray and neighbours all miss a sub-pixel sliver."""
    mesh = trimesh.creation.torus(0.3, 0.1)
    k, w = onet_cameras(4, seed=1, diagonal=1.0)
    fast = render_views(mesh.vertices, mesh.faces, k, w, adaptive=True).astype(int)
    full = render_views(mesh.vertices, mesh.faces, k, w, adaptive=False).astype(int)
    # interior pixels: one centre sample against the mean of 4 (shading varies by a few grey levels)
    assert np.abs(fast - full).max() <= 40
    assert ((fast.min(-1) < 255) != (full.min(-1) < 255)).mean() < 0.001  # the same silhouettes
    plain = render_views(mesh.vertices, mesh.faces, k, w, supersample=1)
    assert (fast.min(-1) < 255).sum() >= (plain.min(-1) < 255).sum()  # soft edges add partly covered pixels


def test_bad_camera_and_colour_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="diagonal"):
        onet_cameras(2, seed=0, diagonal=0.0)
    with pytest.raises(ValueError, match="diagonal"):
        onet_cameras(2, seed=0, diagonal=float("nan"))
    mesh = trimesh.creation.box([0.5, 0.5, 0.5])
    k, w = onet_cameras(1, seed=0)
    for bad in ((255, 0, 0), (-1, 0, 0), (1, 2)):
        with pytest.raises(ValueError, match="base_color"):
            render_views(mesh.vertices, mesh.faces, k, w, base_color=bad)
    dark = render_views(mesh.vertices, mesh.faces, k, w, base_color=(40, 40, 40))[0]
    light = render_views(mesh.vertices, mesh.faces, k, w)[0]
    assert dark.min() < light.min()  # the colour reaches the pixels
