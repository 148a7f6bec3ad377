"""The Triton kernels (hnf3d.ops.kernels) against the ops' exact torch backends in float64, and known values.

Without a GPU the kernels run on CPU tensors through Triton's interpreter (TRITON_INTERPRET=1, set below before
triton is imported, as tests/conftest.py also does). The interpreter pays ~35 us per tl op per program, so the
big cases use 256-wide tiles and one ragged case per kernel runs at the GPU-default tiles (sizes that are not
multiples of the tile). The CUDA tests at the end run the kernels natively at realistic sizes; they need a GPU
and the interpreter off: HNF3D_TEST_NATIVE_CUDA=1 pytest tests/ops/test_triton_kernels.py.
"""
import os

if os.environ.get("HNF3D_TEST_NATIVE_CUDA") != "1":  # same rule as tests/conftest.py
    os.environ.setdefault("TRITON_INTERPRET", "1")

import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import trimesh  # noqa: E402

triton = pytest.importorskip("triton", reason="triton is not installed (pip install 'hnf3d[triton]')")
tl = pytest.importorskip("triton.language")

from hnf3d.ops import cast_rays, closest_point, knn, winding_number  # noqa: E402
from hnf3d.ops._common import soup_mesh  # noqa: E402
from hnf3d.ops.closest_point import closest_point_on_triangle  # noqa: E402
from hnf3d.ops.kernels import launcher  # noqa: E402
from hnf3d.ops.point_cloud_winding_number import _pcwn_torch  # noqa: E402
from hnf3d.ops.kernels._common import atan2, interpreting  # noqa: E402

INTERPRET = interpreting()
interpreter_only = pytest.mark.skipif(
    not INTERPRET, reason="CPU tensors run the kernels only under TRITON_INTERPRET=1 (set before triton imports)"
)
native_cuda = pytest.mark.skipif(
    INTERPRET or not torch.cuda.is_available(),
    reason="needs a CUDA GPU and the interpreter off (HNF3D_TEST_NATIVE_CUDA=1)",
)
# the interpreter evaluates with numpy, which warns on the inf / nan that tl.where then discards (eps = 0 case)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:triton")

BIG = 256  # tile side for the big interpreter cases

winding_number_triton = launcher("winding_number")
point_cloud_winding_number_triton = launcher("point_cloud_winding_number")
knn_triton = launcher("knn")
closest_point_triton = launcher("closest_point")
cast_rays_triton = launcher("cast_rays")


# ----------------------------------------------------------------------------------------------------------------
# float64 references: the library's exact chunked torch backends (hnf3d.ops.<op>(..., backend="torch")), fed float64.
# They are checked against analytic truth in tests/ops/test_<op>.py; the kernel tests below add their own analytic
# cases (box distances, sphere hits, every Voronoi region) beside these comparisons.


def ref_winding_number(tri, q):
    return winding_number(*soup_mesh(tri.double()), q.double(), backend="torch")


def ref_pc_winding_number(p, n, a, q, eps):
    # the module's reference itself: the public op fixes its distance floor (EPS) and these tests sweep eps
    return _pcwn_torch(p.double(), n.double(), a.double(), q.double(), eps)


def ref_closest_distance(tri, q):
    return closest_point(*soup_mesh(tri.double()), q.double(), backend="torch").distance


def ref_own_face_distance(tri, q):
    """(Q,) distance from each query q[i] to its own triangle tri[i]. The op answers only the nearest face, so this
    uses its per-pair building block, closest_point_on_triangle (the same Ericson code the torch backend runs)."""
    t, q = tri.double(), q.double()
    return (closest_point_on_triangle(q, t[:, 0], t[:, 1], t[:, 2]) - q).norm(dim=1)


def ref_cast_rays(tri, o, d):
    """Nearest hit t >= 0 (inf on a miss). The kernels are called with t_min = 0, i.e. t > 0: the two differ only
    for a ray starting exactly on a triangle, which no test below has."""
    return cast_rays(*soup_mesh(tri.double()), o.double(), d.double(), backend="torch").t_hit


def ref_knn_dist2(ref, q, k):
    return knn(ref.double(), q.double(), k, backend="torch").distance ** 2


# ----------------------------------------------------------------------------------------------------------------
# inputs


def icosphere(subdivisions=2, flip=False):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    f = m.faces[:, ::-1] if flip else m.faces
    return torch.tensor(m.vertices[f], dtype=torch.float32)


def box_mesh(half=(0.4, 0.3, 0.2)):
    m = trimesh.creation.box(extents=2 * np.asarray(half))
    return torch.tensor(m.vertices[m.faces], dtype=torch.float32)


def soup(n_faces, seed, scale=0.3):
    """Random triangles of varied size and orientation around the unit cube (an open, inconsistent soup)."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n_faces, 1, 3, generator=g) * 2 - 1
    return (centre + scale * torch.randn(n_faces, 3, 3, generator=g)).contiguous()


def points(n, seed, lo=-1.5, hi=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=g) * (hi - lo) + lo


def near_surface(tri, n, seed, sigma=0.01):
    """Queries close to the surface (the hard cases): random points on faces plus small noise."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randint(len(tri), (n,), generator=g)
    w = torch.rand(n, 3, generator=g)
    w = w / w.sum(1, keepdim=True)
    return ((w[:, :, None] * tri[f]).sum(1) + sigma * torch.randn(n, 3, generator=g)).contiguous()


# ----------------------------------------------------------------------------------------------------------------
# atan2 helper


@triton.jit
def _atan2_kernel(y_ptr, x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = i < n
    tl.store(out_ptr + i, atan2(tl.load(y_ptr + i, mask=m), tl.load(x_ptr + i, mask=m)), mask=m)


@interpreter_only
def test_atan2_all_quadrants_axes_and_zero():
    g = torch.Generator().manual_seed(0)
    ang = torch.rand(20000, generator=g, dtype=torch.float64) * 2 * math.pi - math.pi
    rad = torch.exp(torch.randn(20000, generator=g, dtype=torch.float64) * 5)  # radii over ~20 decades
    y, x = (rad * torch.sin(ang)).float(), (rad * torch.cos(ang)).float()
    axes = torch.tensor([[0, 1], [1, 0], [0, -1], [-1, 0], [1, 1], [-1, 1], [1, -1], [-1, -1], [0, 0],
                         [1e-30, 1.0], [1.0, 1e-30], [1e-30, -1.0], [-1e-30, -1.0], [3e30, -2e30]])
    y, x = torch.cat([y, axes[:, 0]]), torch.cat([x, axes[:, 1]])
    out = torch.empty_like(y)
    _atan2_kernel[(1,)](y, x, out, len(y), BLOCK=32768)
    ref = torch.atan2(y.double(), x.double())
    err = (out.double() - ref).abs()
    assert torch.isfinite(out).all()
    assert err.max() <= 1e-6, (err.max(), y[err.argmax()], x[err.argmax()])
    assert out[-6] == 0.0  # atan2(0, 0)


# ----------------------------------------------------------------------------------------------------------------
# winding number


@interpreter_only
def test_winding_number_matches_float64_on_a_soup():
    tri = torch.cat([icosphere(3), soup(720, seed=1)])  # 2000 faces, open and inconsistent
    q = torch.cat([points(1500, seed=2), near_surface(tri, 500, seed=3)])
    out = winding_number_triton(tri, q, block_q=BIG, block_f=BIG)
    assert out.shape == (2000,) and out.dtype == torch.float32
    err = (out.double() - ref_winding_number(tri, q)).abs()
    assert err.max() < 1e-4, err.max()


@interpreter_only
def test_winding_number_icosphere_inside_outside_and_flipped():
    q = points(1000, seed=4)
    r = q.norm(dim=1)
    inside, outside = r < 0.95, r > 1.0  # the icosphere(3) lies between radius 0.994 and 1
    for flip, sign in ((False, 1.0), (True, -1.0)):
        w = winding_number_triton(icosphere(3, flip=flip), q, block_q=BIG, block_f=BIG)
        assert (w[inside] - sign).abs().max() < 1e-4
        assert w[outside].abs().max() < 1e-4


@interpreter_only
def test_winding_number_ragged_at_gpu_tiles():
    tri, q = soup(45, seed=5), points(77, seed=6)
    err = (winding_number_triton(tri, q).double() - ref_winding_number(tri, q)).abs()
    assert err.max() < 1e-5


@interpreter_only
def test_winding_number_degenerate_triangles_and_queries_on_vertices_give_no_nan():
    v = torch.tensor([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [0.3, 0.3, 0.3]])
    tri = torch.stack([v[[0, 1, 2]], v[[0, 0, 0]], v[[0, 0, 1]], v[[3, 3, 3]]])  # collinear, point, segment
    q = torch.cat([v, points(60, seed=7)])
    w = winding_number_triton(tri, q, block_q=BIG, block_f=BIG)
    assert torch.isfinite(w).all()
    assert w.abs().max() < 1e-6  # zero-area triangles subtend no solid angle
    sphere = icosphere(2)
    w = winding_number_triton(sphere, sphere[:, 0].contiguous(), block_q=BIG, block_f=BIG)  # on the surface
    assert torch.isfinite(w).all() and ((w > 0.3) & (w < 0.7)).all()


# ----------------------------------------------------------------------------------------------------------------
# point-cloud winding number


def oriented_cloud(n, seed):
    m = trimesh.creation.icosphere(subdivisions=3)
    pts, fid = trimesh.sample.sample_surface(m, n, seed=seed)
    nrm = m.face_normals[fid]
    area = np.full(n, m.area / n)
    f32 = lambda x: torch.tensor(np.ascontiguousarray(x), dtype=torch.float32)  # noqa: E731
    return f32(pts), f32(nrm), f32(area)


@interpreter_only
def test_point_cloud_winding_number_matches_float64():
    p, n, a = oriented_cloud(3000, seed=8)
    q = torch.cat([points(1500, seed=9), p[:500] + 0.003 * torch.randn(500, 3)])  # incl. very close to points
    for eps in (1e-3, 0.05):
        out = point_cloud_winding_number_triton(p, n, a, q, eps, block_q=BIG, block_n=BIG)
        ref = ref_pc_winding_number(p, n, a, q, eps)
        err = (out.double() - ref).abs() / ref.abs().clamp_min(1.0)
        assert err.max() < 1e-4, (eps, err.max())
    # a randomly sampled sphere (sampling noise ~0.05 near the surface): ~1 well inside, ~0 well outside
    far, inner = q.norm(dim=1) > 1.3, q.norm(dim=1) < 0.7
    assert (out[inner] - 1).abs().max() < 0.1 and out[far].abs().max() < 0.1


@interpreter_only
def test_point_cloud_winding_number_ragged_at_gpu_tiles_and_coincident_points():
    p, n, a = oriented_cloud(45, seed=10)
    q = torch.cat([points(70, seed=11), p[:7]])  # queries exactly on points: eps caps them
    out = point_cloud_winding_number_triton(p, n, a, q, 1e-2)
    assert (out.double() - ref_pc_winding_number(p, n, a, q, 1e-2)).abs().max() < 1e-4
    zero_eps = point_cloud_winding_number_triton(p, n, a, q, 0.0)  # coincident pairs contribute 0, not NaN
    assert torch.isfinite(zero_eps).all()


# ----------------------------------------------------------------------------------------------------------------
# k nearest neighbours


def check_knn(ref, q, k, dist2, index):
    """Tie-agnostic: sorted distances equal the float64 top-k, and each returned index really is at its distance."""
    assert dist2.shape == (len(q), k) and index.shape == (len(q), k) and index.dtype == torch.int64
    assert (dist2[:, 1:] >= dist2[:, :-1]).all()  # ascending
    assert (dist2.double() - ref_knn_dist2(ref, q, k)).abs().max() < 1e-5
    at_index = ((q[:, None].double() - ref[index].double()) ** 2).sum(-1)
    assert (at_index - dist2.double()).abs().max() < 1e-5
    assert (index.sort(1).values.diff(dim=1) != 0).all()  # no point returned twice


@interpreter_only
@pytest.mark.parametrize("k", [1, 4, 16])
def test_knn_matches_float64_top_k(k):
    ref, q = points(2500, seed=12, lo=-1, hi=1), points(2000, seed=13, lo=-1, hi=1)
    dist2, index = knn_triton(ref, q, k, block_q=BIG, block_r=BIG)
    check_knn(ref, q, k, dist2, index)
    if k == 1:
        exact = knn(ref.double(), q.double(), 1, backend="torch").index
        assert (index == exact).float().mean() > 0.999


@interpreter_only
@pytest.mark.parametrize("k", [1, 5])
def test_knn_ragged_at_gpu_tiles(k):
    ref, q = points(45, seed=14), points(77, seed=15)
    check_knn(ref, q, k, *knn_triton(ref, q, k))


@interpreter_only
def test_knn_self_query_and_fewer_references_than_k():
    ref = points(50, seed=16)
    d2, idx = knn_triton(ref, ref, 1, block_q=64, block_r=64)
    assert (idx[:, 0] == torch.arange(50)).all() and (d2 == 0).all()
    d2, idx = knn_triton(ref[:3].contiguous(), ref, 6, block_q=64, block_r=64)  # R = 3 < k = 6
    assert torch.isfinite(d2[:, :3]).all() and (idx[:, :3] >= 0).all()
    assert torch.isinf(d2[:, 3:]).all() and (idx[:, 3:] == -1).all()


# ----------------------------------------------------------------------------------------------------------------
# closest point


@interpreter_only
def test_closest_point_matches_float64_on_a_soup():
    tri = torch.cat([icosphere(3), soup(720, seed=17)])
    q = torch.cat([points(1000, seed=18), near_surface(tri, 500, seed=19, sigma=0.003)])
    dist2, face = closest_point_triton(tri, q, block_q=BIG, block_f=BIG)
    assert dist2.dtype == torch.float32 and face.dtype == torch.int64
    assert (dist2.sqrt().double() - ref_closest_distance(tri, q)).abs().max() < 1e-5
    # the returned face really is at the returned distance
    at_face = ref_own_face_distance(tri[face], q)
    assert (at_face - dist2.sqrt().double()).abs().max() < 1e-5


@interpreter_only
def test_closest_point_box_distance_is_analytic():
    half = torch.tensor([0.4, 0.3, 0.2], dtype=torch.float64)
    q = points(3000, seed=20, lo=-1, hi=1)
    dist2, _ = closest_point_triton(box_mesh(half.tolist()), q, block_q=BIG, block_f=BIG)
    a = q.double().abs() - half
    exact = torch.where((a > 0).any(1), a.clamp_min(0).norm(dim=1), -a.max(1).values)
    assert (dist2.sqrt().double() - exact).abs().max() < 1e-5


@interpreter_only
def test_closest_point_every_voronoi_region_of_one_triangle():
    tri = torch.tensor([[[0.0, 0, 0], [2, 0, 0], [0, 1, 0]]])
    q = torch.tensor([
        [0.5, 0.25, 0.7],  # above the interior: height
        [-1, -1, 0], [3, -0.5, 0], [-0.5, 2, 0.5],  # vertex regions A, B, C
        [1, -1, 0.5], [-1, 0.5, 0], [1.5, 1, 0],  # edge regions AB, AC, BC
    ])
    dist2, face = closest_point_triton(tri, q, block_q=8, block_f=2)
    exact = torch.tensor([0.49, 2, 1.25, 1.5, 1.25, 1, 1.5**2 / 5])  # BC: distance to the line x + 2y = 2
    assert (dist2 - exact).abs().max() < 1e-6
    assert (face == 0).all()


@interpreter_only
def test_closest_point_degenerate_triangles_give_no_nan():
    v = torch.tensor([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    tri = torch.stack([v[[0, 1, 2]], v[[1, 1, 1]], v[[0, 2, 2]]])  # collinear, a point, a segment
    q = points(100, seed=21)
    dist2, face = closest_point_triton(tri, q, block_q=BIG, block_f=4)
    assert torch.isfinite(dist2).all() and (face >= 0).all()
    # never closer than the true distance to the segment [0, 2] x {0} x {0}; exact for the point triangle
    qd = q.double()
    seg = (qd[:, 0] - qd[:, 0].clamp(0, 2)) ** 2 + qd[:, 1] ** 2 + qd[:, 2] ** 2
    assert (dist2.double() >= seg - 1e-6).all()
    d_point, _ = closest_point_triton(tri[1:2].contiguous(), q, block_q=BIG, block_f=4)
    assert (d_point.double() - ((q - v[1]) ** 2).sum(1).double()).abs().max() < 1e-6


@interpreter_only
def test_closest_point_ragged_at_gpu_tiles():
    tri, q = soup(45, seed=22), points(77, seed=23)
    dist2, _ = closest_point_triton(tri, q)
    assert (dist2.sqrt().double() - ref_closest_distance(tri, q)).abs().max() < 1e-5


# ----------------------------------------------------------------------------------------------------------------
# cast rays


@interpreter_only
def test_cast_rays_match_float64_and_hit_the_sphere():
    sphere = icosphere(3)  # 1280 faces, within 0.005 of the unit sphere
    g = torch.Generator().manual_seed(24)
    n = 1000
    o = torch.randn(n, 3, generator=g)
    o = 3 * o / o.norm(dim=1, keepdim=True)
    aim = 0.7 * (torch.rand(n, 3, generator=g) * 2 - 1) / math.sqrt(3)  # |aim| < 0.7: no grazing rays
    d = (aim - o).contiguous()
    d[::2] = d[::2] / d[::2].norm(dim=1, keepdim=True)  # half unit, half not: t is in units of |d|
    t, face = cast_rays_triton(sphere, o, d, 0.0, block_r=BIG, block_f=BIG)
    assert (face >= 0).all()
    ref = ref_cast_rays(sphere, o, d)
    assert ((t.double() - ref).abs() / ref).max() < 1e-5
    # analytic: first intersection with the unit sphere, within the icosphere's facet band
    dd, od = (d.double() ** 2).sum(1), (o.double() * d.double()).sum(1)
    t_sphere = (-od - (od**2 - dd * ((o.double() ** 2).sum(1) - 1)).sqrt()) / dd
    assert ((t.double() - t_sphere) * dd.sqrt()).abs().max() < 0.01  # a ray meets a face within ~2x the band
    # pointing away: miss
    t_away, f_away = cast_rays_triton(sphere, o, (-d).contiguous(), 0.0, block_r=BIG, block_f=BIG)
    assert torch.isinf(t_away).all() and (f_away == -1).all()


@interpreter_only
def test_cast_rays_box_axes_two_sided_and_t_min():
    tri = box_mesh((0.4, 0.3, 0.2))
    o = torch.tensor([[-2.0, 0.1, 0.05], [0.1, 2, -0.03], [0.05, 0.1, -3], [0, 0.05, 0.02]])  # off the diagonals
    d = torch.tensor([[1.0, 0, 0], [0, -2, 0], [0, 0, 1], [1, 0, 0]])
    t, face = cast_rays_triton(tri, o, d, 0.0, block_r=8, block_f=16)
    assert torch.allclose(t, torch.tensor([1.6, 0.85, 2.8, 0.4]), atol=1e-6)  # the last from inside: two-sided
    hit = o + t[:, None] * d
    assert (hit.abs() <= torch.tensor([0.4, 0.3, 0.2]) + 1e-6).all()
    # from a point on the surface, t_min skips the face it starts on and finds the far side
    t2, _ = cast_rays_triton(tri, hit[:1].contiguous(), d[:1].contiguous(), 1e-4, block_r=8, block_f=16)
    assert torch.allclose(t2, torch.tensor([0.8]), atol=1e-6)


@interpreter_only
def test_cast_rays_ragged_at_gpu_tiles():
    tri = soup(45, seed=25)
    o = points(77, seed=26, lo=-2, hi=2)
    d = (points(77, seed=27, lo=-0.5, hi=0.5) - o).contiguous()
    t, face = cast_rays_triton(tri, o, d, 0.0)
    ref = ref_cast_rays(tri, o, d)
    assert (torch.isinf(t) == torch.isinf(ref)).all() and ((face >= 0) == torch.isfinite(t)).all()
    hit = torch.isfinite(ref)
    assert hit.sum() > 5 and ((t[hit].double() - ref[hit]).abs() / ref[hit]).max() < 1e-5


# ----------------------------------------------------------------------------------------------------------------
# launchers: argument checks and empty inputs


@interpreter_only
def test_launchers_reject_bad_arguments_naming_them():
    tri, q = soup(4, seed=28), points(5, seed=29)
    with pytest.raises(TypeError, match="queries.*float32.*float64"):
        winding_number_triton(tri, q.double())
    with pytest.raises(ValueError, match=r"tri: expected shape \(\*, 3, 3\)"):
        closest_point_triton(tri.reshape(-1, 3), q)
    with pytest.raises(ValueError, match="contiguous"):
        knn_triton(q.t().contiguous().t(), q, 1)
    with pytest.raises(ValueError, match="block_f: expected a power of two"):
        cast_rays_triton(tri, q, q, 0.0, block_f=48)
    with pytest.raises(ValueError, match="k: expected an integer >= 1"):
        knn_triton(q, q, 0)
    with pytest.raises(ValueError, match=r"areas: expected shape \(5\)"):
        point_cloud_winding_number_triton(q, q, torch.ones(4), q, 0.1)


@interpreter_only
def test_launchers_handle_empty_inputs():
    tri, q = soup(4, seed=30), points(5, seed=31)
    none_q, none_f = torch.zeros(0, 3), torch.zeros(0, 3, 3)
    assert winding_number_triton(tri, none_q).shape == (0,)
    assert (winding_number_triton(none_f, q) == 0).all()
    d2, f = closest_point_triton(none_f, q)
    assert torch.isinf(d2).all() and (f == -1).all()
    t, f = cast_rays_triton(none_f, q, q, 0.0)
    assert torch.isinf(t).all() and (f == -1).all()
    d2, i = knn_triton(none_q, q, 3)
    assert d2.shape == (5, 3) and torch.isinf(d2).all() and (i == -1).all()


def test_kernels_package_does_not_import_triton():
    code = ("import sys, hnf3d.ops.kernels as k; assert 'triton' not in sys.modules, 'triton imported'; "
            "print(k.KERNEL_MODULES)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert res.returncode == 0, res.stderr


# ----------------------------------------------------------------------------------------------------------------
# native CUDA, GPU-default tiles, realistic sizes


@native_cuda
def test_cuda_winding_number_and_closest_point_at_scale():
    dev = torch.device("cuda")
    tri = torch.cat([icosphere(4), soup(10000 - 5120, seed=32)])  # 10k faces
    q = torch.cat([points(15000, seed=33), near_surface(tri, 5000, seed=34)])
    w = winding_number_triton(tri.to(dev), q.to(dev)).cpu().double()
    assert (w - ref_winding_number(tri.to(dev), q.to(dev)).cpu()).abs().max() < 1e-4
    d2, face = closest_point_triton(tri.to(dev), q.to(dev))
    ref = ref_closest_distance(tri.to(dev), q.to(dev)).cpu()
    assert (d2.cpu().sqrt().double() - ref).abs().max() < 1e-5
    assert (face >= 0).all()


@native_cuda
@pytest.mark.parametrize("k", [1, 8, 16])
def test_cuda_knn_at_scale(k):
    dev = torch.device("cuda")
    ref, q = points(20000, seed=35).to(dev), points(20000, seed=36).to(dev)
    dist2, index = knn_triton(ref, q, k)
    assert (dist2.double() - ref_knn_dist2(ref, q, k)).abs().max() < 1e-5
    at_index = ((q[:, None].double() - ref[index].double()) ** 2).sum(-1)
    assert (at_index - dist2.double()).abs().max() < 1e-5


@native_cuda
def test_cuda_point_cloud_winding_number_and_rays_at_scale():
    dev = torch.device("cuda")
    p, n, a = (x.to(dev) for x in oriented_cloud(10000, seed=37))
    q = points(20000, seed=38).to(dev)
    out = point_cloud_winding_number_triton(p, n, a, q, 1e-3)
    ref = ref_pc_winding_number(p, n, a, q, 1e-3).to(dev)
    assert ((out.double() - ref).abs() / ref.abs().clamp_min(1)).max() < 1e-4
    sphere = icosphere(5).to(dev)  # 20480 faces
    o = points(20000, seed=39).to(dev)
    o = 3 * o / o.norm(dim=1, keepdim=True)
    d = (0.5 * points(20000, seed=40, lo=-1, hi=1).to(dev) / math.sqrt(3) - o).contiguous()
    t, face = cast_rays_triton(sphere, o, d, 0.0)
    t_ref = ref_cast_rays(sphere, o, d)
    assert (face >= 0).all() and ((t.double() - t_ref).abs() / t_ref).max() < 1e-5
