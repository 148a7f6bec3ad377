"""Test-time refinement: a few real optimisation steps of the task network, starting from theta = Phi(T, c).

The field's prediction is a prior learned from the training shapes; a scan unlike them (a different category, a
real object with fine detail) deserves a surface that follows its own points. We continue the optimisation the
field was trained to shortcut, on this one shape:

1. pseudo-labels: space is labelled inside/outside by the point cloud's generalised winding number
   (hnf3d.ops.point_cloud_winding_number, Barill et al. 2018) with consistently oriented normals
   (hnf3d.pipeline.normals), at query points spread uniformly over the box and concentrated near the points (where the
   surface is decided). A model whose eval.refine_orient is 'field' orients the normals by its own prediction
   (`outward_directions`: the gradient of f(x; Phi(T, c))): the spanning-tree orientation flips about half of
   them on thin parts (chair seats, table tops), which turns the labels of such shapes to noise;
   A model with eval.refine_shell > 0 also labels a thin shell around the points inside, so that parts thinner
   than the noise (sheets, legs, zero-thickness CAD surfaces) are not erased by labels that read outside on both
   of their sides;
   eval.refine_confidence > 0 drops the labels whose winding number is that close to 1/2;
2. N Adam steps of the task loss (binary cross-entropy on those labels) on theta, from theta = Phi(T, c), plus
   eval.refine_prior times the mean squared distance to Phi(T, c), which keeps the prediction where the labels
   say little, plus eval.refine_surface times the cross-entropy of the scan points towards 1/2 (the points lie on
   the decision boundary, and their noise averages out), plus, for a triplane network, eval.refine_roughness
   times the roughness of its feature planes (hnf3d.models.triplane.plane_roughness: noisy labels otherwise
   wrinkle the surface at the planes' node spacing). A dense, noisy scan is smoothed before all of this
   (hnf3d.pipeline.denoise, eval.refine_denoise).

The winding number alone is noisy where the scan is noisy or sparse; the small task network, initialised at the
field's prediction, smooths it and fills holes with the prior. All randomness comes from `seed`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_float, check_int

__all__ = ["PseudoLabels", "outward_directions", "pseudo_labels", "refine_theta"]


@dataclass
class PseudoLabels:
    """Training data of one shape's refinement: queries (Q, 3) float32 and labels (Q,) float32 in {0, 1}."""

    queries: torch.Tensor
    labels: torch.Tensor


def pseudo_labels(points: torch.Tensor, normals: torch.Tensor, *, box: float = 1.1, n_uniform: int = 20_000,
                  n_near: int = 40_000, sigmas: tuple[float, float] = (0.02, 0.005), seed: int = 0,
                  bounds: tuple | None = None, shell: float = 0.0, confidence: float = 0.0) -> PseudoLabels:
    """Inside/outside labels from the winding number of the oriented point cloud (points, normals), both (N, 3)
    in the normalised frame. Queries: n_uniform uniform in [-box/2, box/2]^3, and n_near points displaced from
    random input points by Gaussian noise, half with each sigma of `sigmas` (fractions of the unit box).
    bounds: optional (lo (3,), hi (3,)): queries outside this box are labelled outside whatever the winding
    number says (an object lies within the bounding box of points sampled all over it; where a scan is open or
    inconsistently oriented, its winding number is not reliable far from the points).
    shell > 0: queries closer than `shell` to a point are labelled inside. A part thinner than the scan's noise
    (a sheet, a chair leg, a zero-thickness CAD surface) has no winding-number inside: both of its sides read
    about +-1/2, so the labels would erase it; the shell keeps a slab the occupancy grid can hold. On a solid
    part it moves the surface out by at most `shell`.
    confidence in [0, 0.45]: queries whose winding number w has |w - 1/2| < confidence are dropped (unless the
    shell or the bounds label them): near a noisy or open part of the scan w is a coin toss, and a label drawn
    from it moves the surface by the noise; without them the surface term and the prior place the surface there."""
    from ..ops import estimate_point_areas, point_cloud_winding_number

    points = points.float()
    normals = normals.float()
    g = torch.Generator().manual_seed(int(seed))
    uniform = (torch.rand(n_uniform, 3, generator=g) - 0.5) * box
    near = []
    for i, sigma in enumerate(sigmas):
        m = n_near // len(sigmas) + (1 if i < n_near % len(sigmas) else 0)
        pick = torch.randint(0, len(points), (m,), generator=g)
        near.append(points[pick] + sigma * torch.randn(m, 3, generator=g))
    queries = torch.cat([uniform, *near]).contiguous()
    areas = estimate_point_areas(points)
    wn = point_cloud_winding_number(points, normals, queries, areas)
    wn = wn.cpu()
    inside = wn > 0.5
    keep = (wn - 0.5).abs() >= confidence
    if shell:
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(points.cpu().numpy()).query(queries.numpy(), k=1)
        in_shell = torch.from_numpy(dist < shell)
        inside |= in_shell
        keep |= in_shell
    if bounds is not None:
        lo, hi = (torch.as_tensor(np.asarray(b), dtype=queries.dtype) for b in bounds)
        in_bounds = ((queries >= lo) & (queries <= hi)).all(1)
        inside &= in_bounds
        keep |= ~in_bounds
    return PseudoLabels(queries[keep].contiguous(), inside[keep].float())


def outward_directions(task_net, theta: torch.Tensor, points: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """(N, 3) float64: -grad_x f(x; theta) at `points` (N, 3), the directions out of the shape that the
    occupancy logits f of theta (P,) give (logits grow inside). Used to orient a scan's normals by the prior."""
    theta = theta.detach().float()
    out = []
    with torch.enable_grad():
        for lo in range(0, len(points), chunk):
            x = torch.as_tensor(np.ascontiguousarray(points[lo:lo + chunk]), dtype=torch.float32,
                                device=theta.device)[None].requires_grad_(True)
            (grad,) = torch.autograd.grad(task_net(x, theta).sum(), x)
            out.append(-grad[0].double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 3))


def refine_theta(task_net, theta: torch.Tensor, data: PseudoLabels, *, steps: int, lr: float = 1e-3,
                 batch: int = 8192, seed: int = 0, prior: float = 0.0, surface: float = 0.0,
                 points: torch.Tensor | None = None, surface_batch: int = 2048,
                 roughness: float = 0.0, roughness_scale: float = 0.0) -> tuple[torch.Tensor, list[float]]:
    """theta (P,) after `steps` Adam steps of BCE(task_net(queries; theta), labels) + prior * mean((theta -
    theta_start)^2) + surface * BCE(task_net(points; theta), 1/2) + roughness * plane_roughness(G,
    roughness_scale) on random batches of `data` (and of `points` (N, 3), surface_batch of them per step).

    The surface term puts the scan points on the decision boundary. Its gradient at a point is sigmoid(f) - 1/2:
    bounded, so a noisy point pulls the surface by a bounded amount and the noise of many points averages out,
    where a winding-number label near them would flip with the noise.

    The roughness term (a TriplaneTaskNetwork only; G: its feature planes in theta) penalises the second
    differences of the features, not their values: it irons out the node-scale wrinkles that noisy labels leave
    and keeps the shape the features describe, at a cost to parts as thin as a node or two (a bench's slats),
    which a roughness_scale > 0 (the robust penalty) pulls less.

    task_net: a `hnf3d.models.TaskNetwork` or `TriplaneTaskNetwork` (evaluated functionally with the given
    weights; its own parameters are untouched). prior >= 0: the pull towards the starting theta (the field's
    prediction), which keeps the predicted shape where the pseudo-labels say little. Returns (theta (P,)
    detached, on theta's device, the loss of each step)."""
    steps = check_int("steps", steps, min_value=0)
    lr = check_float("lr", lr, min_value=0.0, open_interval=True)
    prior = check_float("prior", prior, min_value=0.0)
    surface = check_float("surface", surface, min_value=0.0)
    roughness = check_float("roughness", roughness, min_value=0.0)
    roughness_scale = check_float("roughness_scale", roughness_scale, min_value=0.0)
    if surface and (points is None or not len(points)):
        raise ValueError("points: the surface term needs the scan points")
    if roughness and not hasattr(task_net, "plane_numel"):
        raise ValueError(f"roughness: the roughness term needs a triplane task network, got "
                         f"{type(task_net).__name__}")
    device = theta.device
    start = theta.detach().clone().float()
    weights = start.clone().requires_grad_(True)
    optim = torch.optim.Adam([weights], lr=lr)
    q = data.queries.to(device)
    y = data.labels.to(device)
    g = torch.Generator().manual_seed(int(seed))
    p = None if not surface else points.float().to(device)
    half = torch.full((surface_batch,), 0.5, device=device)
    if roughness:
        from ..models.triplane import plane_roughness

        plane_shape = (3, task_net.channels, task_net.resolution, task_net.resolution)  # G leads theta
    losses = []
    with torch.enable_grad():
        for _ in range(int(steps)):
            pick = torch.randint(0, len(q), (min(batch, len(q)),), generator=g).to(device)
            x = q[pick]
            if surface:  # one forward pass over the queries and the points
                x = torch.cat([x, p[torch.randint(0, len(p), (surface_batch,), generator=g).to(device)]])
            logits = task_net(x[None], weights)[0]
            loss = F.binary_cross_entropy_with_logits(logits[:len(pick)], y[pick])
            if surface:
                loss = loss + surface * F.binary_cross_entropy_with_logits(logits[len(pick):], half)
            if prior:
                loss = loss + prior * (weights - start).pow(2).mean()
            if roughness:
                planes = weights[:task_net.plane_numel].view(plane_shape)
                loss = loss + roughness * plane_roughness(planes, roughness_scale)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
    return weights.detach(), losses
