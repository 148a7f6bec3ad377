"""Inside/outside labels of query points for any triangle mesh: closed, with holes, or a ShapeNet-style soup.

Two definitions, picked per mesh (method='auto') or by name:

- 'winding': |generalised winding number| >= 0.5. Exact for closed, consistently oriented meshes (either
  orientation: the absolute value accepts flipped meshes), and degrades gracefully on holes (teapot, spot).
- 'robust': for meshes where the winding number is meaningless (raw ShapeNet: open sheets, double-sided and
  inconsistently oriented faces, w ~ 0 everywhere). A point is inside if it is *enclosed* (none of `n_rays`
  rays in spread directions escapes the mesh) or lies in a thin *shell* of half-width `shell` around the surface,
  which gives sheets a thickness, as ONet's TSDF fusion with its depth offset does. Measured on the raw ShapeNet
  table/bench against ShapeNet's 128^3 solid voxelisation: IoU 0.91 / 0.68 with the shell, 0.67 / 0.44 without.

'auto' uses 'winding' for closed, consistently oriented meshes; otherwise it probes the mesh: if the winding
number marks a clear inside (a non-trivial volume, few ambiguous values) 'winding' is kept, else 'robust'.

Backends: the queries' device decides, through the ops this module calls (winding_number, cast_rays,
closest_point): Triton kernels on CUDA, Embree (Open3D) / point-cloud-utils on CPU, torch as the fallback.
On CPU, a mesh made of ONE closed, consistently oriented part is labelled by Embree ray parity, which equals the
winding-number test there and is ~5x faster (benchmarks/ops.py). The topology check that licenses it costs
~15 ms per 100k faces.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._optional import available
from ._common import check_backend, check_mesh, check_queries
from ._embree import raycasting_scene
from .cast_rays import cast_rays
from .closest_point import closest_point
from .winding_number import winding_number

METHODS = ("auto", "winding", "robust")

#: default number of rays for the enclosure test, and shell half-width as a fraction of the largest bbox side
N_RAYS = 24
SHELL_FRACTION = 1.0 / 256.0


def ray_directions(n: int) -> torch.Tensor:
    """(n, 3) unit vectors spread evenly over the sphere (Fibonacci lattice), in a fixed generic rotation so no
    ray runs along a coordinate axis or plane (CAD meshes are full of axis-aligned edges)."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = (1 - z * z).clamp_min(0).sqrt()
    phi = i * math.pi * (3 - math.sqrt(5))
    d = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=1)
    # fixed rotation: axis-angle (0.3, 0.5, 0.8) normalised, 0.7 rad (Rodrigues)
    k = torch.tensor([0.3, 0.5, 0.8], dtype=torch.float64)
    k = k / k.norm()
    kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
    rot = torch.eye(3, dtype=torch.float64) + math.sin(0.7) * kx + (1 - math.cos(0.7)) * kx @ kx
    return d @ rot.T


def _closed_topology(faces: np.ndarray, n_vertices: int) -> tuple[bool, int]:
    """(closed_and_oriented, n_components) from the faces alone; n_components is 0 when not closed.

    Closed and oriented: every undirected edge is used by exactly two faces, once in each direction. One sort of
    key = 2 * (undirected edge id) + (direction bit): sorted, the keys must come in pairs (2u, 2u + 1). The sorted
    undirected edges then give the graph for the component count without another sort. faces: (F, 3) int64.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    a = faces.reshape(-1)
    b = faces[:, [1, 2, 0]].reshape(-1)
    if (a == b).any() or a.size % 2:  # a face repeating a vertex, or an odd number of edge uses
        return False, 0
    lo = np.minimum(a, b)
    keys = lo * n_vertices + (a + b - lo)
    keys <<= 1
    keys += a < b
    keys.sort()
    first = keys[0::2]
    if not (((first & 1) == 0).all() and (keys[1::2] == first + 1).all()):
        return False, 0
    edge = first >> 1  # each undirected edge once, sorted by (lo, hi): a CSR matrix row by row
    row = edge // n_vertices
    indptr = np.zeros(n_vertices + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_vertices), out=indptr[1:])
    graph = csr_matrix((np.ones(edge.size, dtype=np.int8), edge - row * n_vertices, indptr),
                       shape=(n_vertices, n_vertices))
    n, _ = connected_components(graph, directed=False)
    referenced = np.zeros(n_vertices, dtype=bool)
    referenced[a] = True
    return True, int(n - np.count_nonzero(~referenced))  # unreferenced vertices are components of their own


def mesh_topology(vertices: torch.Tensor, faces: torch.Tensor) -> tuple[bool, int]:
    """(closed_and_oriented, n_components) of a triangle mesh, after merging vertices with identical coordinates
    (STL and per-corner OBJ files duplicate them; a double-sided sheet stored as two separate copies only shows
    up as non-manifold once they are merged).

    closed_and_oriented: every edge shared by exactly two faces, in opposite directions. Such meshes get exact
    labels from the winding number. O(F log F): ~15 ms for 100k faces.
    """
    f = faces.detach().cpu().numpy().astype(np.int64, copy=False)
    v = vertices.detach().cpu().numpy()
    closed, components = _closed_topology(f, len(v))
    if closed and components == 1:
        return True, 1  # one closed piece: merging could only glue it to itself at isolated vertices
    unique, inverse = np.unique(v, axis=0, return_inverse=True)
    if len(unique) < len(v):
        closed, components = _closed_topology(inverse.reshape(-1)[f], len(unique))
    return closed, components


def is_closed_and_oriented(vertices: torch.Tensor, faces: torch.Tensor) -> bool:
    """See mesh_topology."""
    return mesh_topology(vertices, faces)[0]


def _enclosed(v: torch.Tensor, f: torch.Tensor, q: torch.Tensor, n_rays: int, backend: str) -> torch.Tensor:
    """(Q,) bool: True where every one of n_rays rays from the point hits the mesh."""
    dirs = ray_directions(n_rays).to(device=q.device, dtype=q.dtype)
    enclosed = torch.ones(q.shape[0], dtype=torch.bool, device=q.device)
    cpu_scene = q.device.type == "cpu" and backend in ("auto", "cpu") and available("open3d")
    if cpu_scene:  # build the BVH once for all directions
        scene, o3c = raycasting_scene(v, f, "occupancy on CPU")
    for d in dirs:
        idx = enclosed.nonzero().squeeze(1)  # only points still enclosed need more rays
        if idx.numel() == 0:
            break
        origins = q[idx]
        directions = d.expand_as(origins)
        if cpu_scene:
            rays = torch.cat([origins, directions], 1).float().numpy()
            hit = torch.from_numpy(np.isfinite(scene.cast_rays(o3c.Tensor(rays))["t_hit"].numpy()))
        else:
            hit = torch.isfinite(cast_rays(v, f, origins, directions.contiguous(), backend=backend).t_hit)
        enclosed[idx[~hit]] = False
    return enclosed


def _within(v: torch.Tensor, f: torch.Tensor, q: torch.Tensor, radius: float, backend: str) -> torch.Tensor:
    """(Q,) bool: unsigned distance to the surface <= radius."""
    if q.device.type == "cpu" and backend in ("auto", "cpu") and available("open3d"):
        scene, o3c = raycasting_scene(v, f, "occupancy on CPU")
        dist = torch.from_numpy(scene.compute_distance(o3c.Tensor(q.float().numpy())).numpy())
        return dist <= radius
    return closest_point(v, f, q, backend=backend).distance <= radius


def _cpu_parity_possible(q: torch.Tensor, backend: str) -> bool:
    return q.device.type == "cpu" and backend in ("auto", "cpu") and available("open3d")


def _ray_parity(v: torch.Tensor, f: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Embree ray parity (Open3D). Equals |w| >= 0.5 on ONE closed, consistently oriented part only: where closed
    parts overlap w = 2 but a ray crosses an even number of surfaces. One ray: on 100k points against each
    watertight real mesh it disagreed with the winding number nowhere (tests/ops/test_occupancy.py)."""
    scene, o3c = raycasting_scene(v, f, "occupancy on CPU")
    occ = scene.compute_occupancy(o3c.Tensor(q.float().numpy()), nsamples=1)
    return torch.from_numpy(occ.numpy() > 0.5)


def robust_occupancy(v, f, q, *, n_rays: int, shell: float, backend: str) -> torch.Tensor:
    inside = _enclosed(v, f, q, n_rays, backend)
    rest = (~inside).nonzero().squeeze(1)
    if shell > 0 and rest.numel():
        inside[rest] = _within(v, f, q[rest], shell, backend)
    return inside


def choose_method(vertices, faces, *, n_rays: int = N_RAYS, seed: int = 0, backend: str = "auto") -> str:
    """'winding' or 'robust' for this mesh (what method='auto' does).

    Closed and consistently oriented -> 'winding'. Otherwise 2048 probe points uniform in the bounding box are
    labelled both ways: the winding number is trusted when it marks a clear inside, i.e. at least 0.2% of the
    box and at least half of the enclosed volume, with fewer than 5% of probes in the ambiguous band
    0.2 < |w| < 0.8 (soups and double-sided sheets give w ~ 0 or scattered fractional values).
    """
    v, f = check_mesh(vertices, faces)
    if is_closed_and_oriented(v, f):
        return "winding"
    g = torch.Generator().manual_seed(seed)
    lo, hi = v.min(0).values.double().cpu(), v.max(0).values.double().cpu()
    probe = (lo + (hi - lo) * torch.rand(2048, 3, generator=g, dtype=torch.float64)).to(v.device, v.dtype)
    w = winding_number(v, f, probe, backend=backend).abs()
    wind_in = (w >= 0.5).double().mean().item()
    ambiguous = ((w > 0.2) & (w < 0.8)).double().mean().item()
    enclosed = _enclosed(v, f, probe, n_rays, backend).double().mean().item()
    if wind_in >= 0.002 and wind_in >= 0.5 * enclosed and ambiguous < 0.05:
        return "winding"
    return "robust"


def occupancy(vertices, faces, queries, *, method: str = "auto", n_rays: int = N_RAYS, shell: float | None = None,
              backend: str = "auto") -> torch.Tensor:
    """Inside (True) / outside (False) for each query point.

    vertices: (V, 3); faces: (F, 3) int; queries: (Q, 3). method: 'auto' | 'winding' | 'robust' (module docstring).
    n_rays: rays of the enclosure test ('robust'). shell: half-width of the shell around the surface counted as
    inside ('robust'), in the mesh's units; default 1/256 of the largest bounding-box side.
    Returns a (Q,) bool tensor on the queries' device.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    check_backend(backend)
    if isinstance(n_rays, bool) or not isinstance(n_rays, (int, np.integer)) or n_rays < 1:
        raise ValueError(f"n_rays: expected a positive integer, got {n_rays!r}")
    n_rays = int(n_rays)
    if shell is not None and not (isinstance(shell, (int, float, np.floating)) and shell >= 0):
        raise ValueError(f"shell: expected a non-negative distance or None, got {shell!r}")
    q = check_queries(queries)
    v, f = check_mesh(vertices, faces, device=q.device, dtype=q.dtype)
    if q.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool, device=q.device)

    closed, components = mesh_topology(v, f)
    if method == "auto":
        method = "winding" if closed else choose_method(v, f, n_rays=n_rays, backend=backend)
    if method == "winding":
        if closed and components == 1 and _cpu_parity_possible(q, backend):
            return _ray_parity(v, f, q)
        return winding_number(v, f, q, backend=backend).abs() >= 0.5
    if shell is None:
        shell = SHELL_FRACTION * float((v.max(0).values - v.min(0).values).max())
    return robust_occupancy(v, f, q, n_rays=n_rays, shell=float(shell), backend=backend)
