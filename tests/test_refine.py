"""hnf3d.pipeline.refine: winding-number pseudo-labels and test-time optimisation of the task network."""
import numpy as np
import pytest
import torch
import trimesh

from hnf3d.models import TaskNetwork
from hnf3d.models.triplane import TriplaneTaskNetwork, plane_roughness
from hnf3d.pipeline.refine import outward_directions, pseudo_labels, refine_theta


@pytest.fixture(scope="module")
def sphere_cloud():
    mesh = trimesh.creation.icosphere(4, 0.35)
    pts, faces = trimesh.sample.sample_surface(mesh, 2000, seed=0)
    return torch.tensor(pts, dtype=torch.float32), torch.tensor(mesh.face_normals[faces], dtype=torch.float32)


def test_pseudo_labels_match_the_inside_and_are_seeded(sphere_cloud):
    p, n = sphere_cloud
    data = pseudo_labels(p, n, n_uniform=4000, n_near=4000, seed=3)
    assert data.queries.shape == (8000, 3) and data.labels.shape == (8000,)
    truth = (data.queries.norm(dim=1) < 0.35).float()
    far = (data.queries.norm(dim=1) - 0.35).abs() > 0.01  # within 1% of the surface the point density decides
    assert (data.labels[far] == truth[far]).float().mean() > 0.99
    again = pseudo_labels(p, n, n_uniform=4000, n_near=4000, seed=3)
    assert torch.equal(again.queries, data.queries) and torch.equal(again.labels, data.labels)
    other = pseudo_labels(p, n, n_uniform=4000, n_near=4000, seed=4)
    assert not torch.equal(other.queries, data.queries)


def test_a_shell_keeps_a_sheet_that_the_winding_number_erases():
    """A flat open sheet (zero thickness, normals +y): its winding number is about +-1/2 on its two sides, so no
    query is inside; with shell=s the queries within s of a point are, and the others keep their labels."""
    rng = np.random.default_rng(0)
    xz = rng.uniform(-0.4, 0.4, (3000, 2))
    p = torch.tensor(np.stack([xz[:, 0], np.zeros(3000), xz[:, 1]], 1), dtype=torch.float32)
    n = torch.tensor([[0.0, 1.0, 0.0]]).expand(3000, 3).contiguous()
    bare = pseudo_labels(p, n, n_uniform=2000, n_near=4000, seed=1)
    shell = pseudo_labels(p, n, n_uniform=2000, n_near=4000, seed=1, shell=0.005)
    assert torch.equal(bare.queries, shell.queries)
    near = shell.queries[:, 1].abs() < 0.003
    inner = near & (shell.queries[:, [0, 2]].abs() < 0.35).all(1)
    assert bare.labels[inner].mean() < 0.5  # the sheet is gone without the shell (about +-1/2 on both sides)
    assert shell.labels[inner].mean() > bare.labels[inner].mean() + 0.3  # 3000 points: about 0.015 apart
    from scipy.spatial import cKDTree

    dist = torch.from_numpy(cKDTree(p.numpy()).query(shell.queries.numpy())[0])
    assert torch.equal(shell.labels[dist >= 0.005], bare.labels[dist >= 0.005])
    assert bool((shell.labels[dist < 0.005] == 1).all())


def test_refinement_fits_the_shape_and_is_deterministic(sphere_cloud):
    torch.manual_seed(0)
    p, n = sphere_cloud
    data = pseudo_labels(p, n, n_uniform=8000, n_near=8000, seed=0)
    net = TaskNetwork(n_frequencies=4, hidden=[64, 64, 64])
    theta0 = net.theta_0(0)
    theta, losses = refine_theta(net, theta0, data, steps=150, batch=4096, seed=1)
    assert len(losses) == 150 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    x = (torch.rand(20000, 3, generator=torch.Generator().manual_seed(5)) - 0.5) * 1.1
    with torch.no_grad():
        pred = net(x[None], theta)[0] > 0
    truth = x.norm(dim=1) < 0.35
    iou = (pred & truth).sum() / (pred | truth).sum()
    assert iou > 0.9, float(iou)
    theta_again, _ = refine_theta(net, theta0, data, steps=150, batch=4096, seed=1)
    assert torch.equal(theta, theta_again)
    unchanged, none = refine_theta(net, theta0, data, steps=0)
    assert torch.equal(unchanged, theta0) and none == []
    with pytest.raises(ValueError, match="steps"):
        refine_theta(net, theta0, data, steps=-1)


def test_outward_directions_and_the_prior_pull(sphere_cloud):
    torch.manual_seed(0)
    p, n = sphere_cloud
    data = pseudo_labels(p, n, n_uniform=8000, n_near=8000, seed=0)
    net = TaskNetwork(n_frequencies=4, hidden=[64, 64, 64])
    theta, _ = refine_theta(net, net.theta_0(0), data, steps=150, batch=4096, seed=1)
    # the fitted sphere's occupancy falls outwards: -grad points along the radius at its surface points
    out = outward_directions(net, theta, p.numpy(), chunk=700)  # chunks give the same result as one pass
    assert out.shape == (len(p), 3)
    assert np.allclose(out, outward_directions(net, theta, p.numpy()), atol=1e-5)
    cos = (out * p.numpy()).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(p.numpy(), axis=1)
    assert np.mean(cos > 0.7) > 0.95, np.mean(cos > 0.7)
    # the pull towards the start: a strong prior keeps theta near it, none lets it move
    free, _ = refine_theta(net, theta, data, steps=30, lr=1e-2, batch=2048, seed=2)
    held, _ = refine_theta(net, theta, data, steps=30, lr=1e-2, batch=2048, seed=2, prior=1e6)
    assert (held - theta).abs().mean() < 0.5 * (free - theta).abs().mean()
    with pytest.raises(ValueError, match="prior"):
        refine_theta(net, theta, data, steps=1, prior=-1.0)


def test_confidence_drops_the_ambiguous_labels_and_keeps_the_certain_ones():
    """A noisy sphere: the queries kept at confidence c are those with |w - 1/2| >= c, plus the shell's and the
    ones beyond the bounds; the kept labels are those of the full set (nothing relabelled), and they are more
    often right than the dropped ones."""
    mesh = trimesh.creation.icosphere(4, 0.35)
    pts, faces = trimesh.sample.sample_surface(mesh, 2000, seed=0)
    noisy = pts + np.random.default_rng(0).normal(0.0, 0.01, pts.shape)
    p = torch.tensor(noisy, dtype=torch.float32)
    n = torch.tensor(mesh.face_normals[faces], dtype=torch.float32)
    bounds = (np.full(3, -0.3), np.full(3, 0.3))  # cuts the sphere: the queries beyond are certain (outside)
    full = pseudo_labels(p, n, n_uniform=3000, n_near=6000, seed=2, bounds=bounds)
    kept = pseudo_labels(p, n, n_uniform=3000, n_near=6000, seed=2, bounds=bounds, confidence=0.3)
    assert 0 < len(kept.queries) < len(full.queries)
    index = {tuple(q): i for i, q in enumerate(full.queries.tolist())}
    rows = torch.tensor([index[tuple(q)] for q in kept.queries.tolist()])
    assert torch.equal(full.labels[rows], kept.labels)
    dropped = torch.ones(len(full.queries), dtype=torch.bool)
    dropped[rows] = False
    truth = ((full.queries.norm(dim=1) < 0.35) & (full.queries.abs() <= 0.3).all(1)).float()
    right = (full.labels == truth).float()
    assert right[rows].mean() > right[dropped].mean() + 0.1
    beyond = ~(full.queries.abs() <= 0.3).all(1)
    assert bool(beyond[dropped].logical_not().all())  # a query beyond the bounds is never dropped
    with_shell = pseudo_labels(p, n, n_uniform=3000, n_near=6000, seed=2, bounds=bounds, confidence=0.3,
                               shell=0.01)
    assert len(with_shell.queries) > len(kept.queries)  # the shell's queries are labelled whatever w says


def test_the_surface_term_puts_the_points_on_the_boundary(sphere_cloud):
    """From a sphere of radius 0.3 fitted to labels, the surface term alone (no labels' weight in the points'
    direction: the labels are of the same sphere) moves the boundary onto points at radius 0.35."""
    torch.manual_seed(0)
    p, n = sphere_cloud  # radius 0.35
    net = TaskNetwork(n_frequencies=4, hidden=[64, 64, 64])
    small = pseudo_labels(p * (0.3 / 0.35), n, n_uniform=8000, n_near=8000, seed=0)
    theta, _ = refine_theta(net, net.theta_0(0), small, steps=150, batch=4096, seed=1)

    def mean_prob(th):
        with torch.no_grad():
            return float(torch.sigmoid(net(p[None], th)[0]).mean())

    pulled, _ = refine_theta(net, theta, small, steps=100, batch=2048, seed=2, surface=10.0, points=p, lr=1e-3)
    assert mean_prob(theta) < 0.3 and abs(mean_prob(pulled) - 0.5) < abs(mean_prob(theta) - 0.5) - 0.1
    again, _ = refine_theta(net, theta, small, steps=100, batch=2048, seed=2, surface=10.0, points=p, lr=1e-3)
    assert torch.equal(pulled, again)
    with pytest.raises(ValueError, match="points"):
        refine_theta(net, theta, small, steps=1, surface=1.0)
    with pytest.raises(ValueError, match="surface"):
        refine_theta(net, theta, small, steps=1, surface=-1.0, points=p)


def test_plane_roughness_is_zero_for_linear_features_and_grows_with_wiggles():
    u = torch.linspace(-1, 1, 16)
    ramp = (3 * u[None, :] - 2 * u[:, None] + 0.5).expand(3, 4, 16, 16)  # linear along rows and columns
    assert float(plane_roughness(ramp)) < 1e-10
    wiggle = ramp + 0.1 * (-1.0) ** torch.arange(16)  # a node-scale zigzag along u: second differences +-0.4
    assert float(plane_roughness(wiggle)) == pytest.approx(0.16, rel=1e-4)
    with pytest.raises(ValueError, match="planes"):
        plane_roughness(torch.zeros(3, 4, 2, 2))
    # the robust penalty (scale s): about d^2 / 2s below s, about |d| - s beyond, so a sharp feature ten times
    # taller costs about ten times more, not a hundred
    assert float(plane_roughness(ramp, scale=0.01)) < 1e-6
    small = ramp + 0.001 * (-1.0) ** torch.arange(16)  # second differences +-0.004
    assert float(plane_roughness(small, scale=0.01)) == pytest.approx(np.sqrt(0.004 ** 2 + 1e-4) - 0.01, rel=1e-3)
    tall = float(plane_roughness(ramp + 1.0 * (-1.0) ** torch.arange(16), scale=0.01))
    short = float(plane_roughness(ramp + 0.1 * (-1.0) ** torch.arange(16), scale=0.01))
    assert 9 < tall / short < 11


def test_the_roughness_term_smooths_a_triplane_refinement(sphere_cloud):
    """Noisy labels (10% flipped) of a sphere, refined into a triplane network from its zero planes: the roughness
    term leaves smoother planes and still fits the sphere; a global (MLP) network has no planes to smooth and is
    refused."""
    torch.manual_seed(0)
    p, n = sphere_cloud
    data = pseudo_labels(p, n, n_uniform=8000, n_near=8000, seed=0)
    flip = torch.rand(len(data.labels), generator=torch.Generator().manual_seed(1)) < 0.1
    data.labels = torch.where(flip, 1 - data.labels, data.labels)
    net = TriplaneTaskNetwork(resolution=32, channels=8, hidden=[32])
    theta0 = net.theta_0(0)
    free, _ = refine_theta(net, theta0, data, steps=150, lr=1e-2, batch=4096, seed=1)
    smooth, _ = refine_theta(net, theta0, data, steps=150, lr=1e-2, batch=4096, seed=1, roughness=100.0)

    def roughness(th):
        return float(plane_roughness(th[:net.plane_numel].view(3, 8, 32, 32)))

    assert roughness(smooth) < 0.5 * roughness(free)
    x = (torch.rand(20000, 3, generator=torch.Generator().manual_seed(5)) - 0.5) * 1.1
    far = (x.norm(dim=1) - 0.35).abs() > 0.05
    with torch.no_grad():
        inside = net(x[None], smooth)[0] > 0
    assert (inside[far] == (x[far].norm(dim=1) < 0.35)).float().mean() > 0.95
    again, _ = refine_theta(net, theta0, data, steps=150, lr=1e-2, batch=4096, seed=1, roughness=100.0)
    assert torch.equal(smooth, again)
    with pytest.raises(ValueError, match="roughness"):
        refine_theta(net, theta0, data, steps=1, roughness=-1.0)
    with pytest.raises(ValueError, match="roughness_scale"):
        refine_theta(net, theta0, data, steps=1, roughness=1.0, roughness_scale=-0.01)
    mlp = TaskNetwork(n_frequencies=4, hidden=[16])
    with pytest.raises(ValueError, match="triplane"):
        refine_theta(mlp, mlp.theta_0(0), data, steps=1, roughness=1.0)
