"""Bad input to the public ops raises ValueError / TypeError whose message names the offending argument (and
says what was expected), before any backend runs."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from hnf3d import ops

V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)  # a tetrahedron
F = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
Q = np.array([[0.1, 0.1, 0.1], [2.0, 0.0, 0.0]])

# every op that takes (vertices, faces, queries)
MESH_OPS = {
    "winding_number": lambda v, f, q, **kw: ops.winding_number(v, f, q, **kw),
    "closest_point": lambda v, f, q, **kw: ops.closest_point(v, f, q, **kw),
    "occupancy": lambda v, f, q, **kw: ops.occupancy(v, f, q, **kw),
    "cast_rays": lambda v, f, q, **kw: ops.cast_rays(v, f, q, np.ones((len(Q), 3)), **kw),  # origins checked first
}
QUERY_NAME = {"winding_number": "queries", "closest_point": "queries", "occupancy": "queries", "cast_rays": "origins"}


def raises(exc, name: str):
    """pytest.raises(exc) whose message names `name` as a word."""
    return pytest.raises(exc, match=rf"(?<![\w.]){re.escape(name)}\b")


def test_the_valid_inputs_are_valid():
    for op in MESH_OPS.values():
        op(V, F, Q)


# ---------------------------------------------------------------- queries


@pytest.mark.parametrize("op", list(MESH_OPS))
@pytest.mark.parametrize("bad,exc", [
    (np.zeros((4, 2)), ValueError),  # (N, 2)
    (np.zeros(3), ValueError),  # 1-d
    (np.zeros((2, 3, 1)), ValueError),  # 3-d
    (np.array([[0.1, np.nan, 0.1]]), ValueError),
    (np.array([[0.1, np.inf, 0.1]]), ValueError),
    (np.array([[True, False, True]]), TypeError),  # not numbers
    ("points", TypeError),
], ids=["N2", "1d", "3d", "nan", "inf", "bool", "str"])
def test_bad_queries(op, bad, exc):
    with raises(exc, QUERY_NAME[op]):
        MESH_OPS[op](V, F, bad)


# ---------------------------------------------------------------- meshes


@pytest.mark.parametrize("op", list(MESH_OPS) + ["sample_surface"])
@pytest.mark.parametrize("vertices,faces,exc,name", [
    (V, np.array([[0, 1, 2, 3]]), ValueError, "faces"),  # (F, 4) quads
    (V, np.array([0, 1, 2]), ValueError, "faces"),  # 1-d
    (V, np.array([[0, 1, 4]]), ValueError, "faces"),  # index == vertex count
    (V, np.array([[0, 1, -1]]), ValueError, "faces"),  # negative index
    (V, F.astype(np.float64), TypeError, "faces"),  # float faces
    (V, F.astype(bool), TypeError, "faces"),
    (V, np.zeros((0, 3), dtype=np.int64), ValueError, "faces"),  # no faces
    (V[:, :2], F, ValueError, "vertices"),  # (V, 2)
    (np.where(V == 1, np.nan, V), F, ValueError, "vertices"),
], ids=["F4", "faces1d", "out_of_range", "negative", "float", "bool", "empty", "V2", "nan_vertices"])
def test_bad_meshes(op, vertices, faces, exc, name):
    with raises(exc, name):
        if op == "sample_surface":
            ops.sample_surface(vertices, faces, 10)
        else:
            MESH_OPS[op](vertices, faces, Q)


def test_faces_out_of_range_message_says_the_range():
    with pytest.raises(ValueError, match=r"faces: .*\[0, 3\]"):
        ops.winding_number(V, np.array([[0, 1, 7]]), Q)


# ---------------------------------------------------------------- backend / method names


@pytest.mark.parametrize("op", list(MESH_OPS) + ["knn", "point_cloud_winding_number"])
@pytest.mark.parametrize("backend", ["cuda", "Torch", "", None])
def test_bad_backend_name(op, backend):
    with raises(ValueError, "backend"):
        if op == "knn":
            ops.knn(V, Q, k=1, backend=backend)
        elif op == "point_cloud_winding_number":
            ops.point_cloud_winding_number(V, V, Q, backend=backend)
        else:
            MESH_OPS[op](V, F, Q, backend=backend)


@pytest.mark.parametrize("method", ["parity", "Winding", "", None])
def test_bad_occupancy_method_name(method):
    with raises(ValueError, "method"):
        ops.occupancy(V, F, Q, method=method)


def test_backend_cpu_without_a_library_is_refused_by_name():
    """Only checked where an op has no CPU library; none today: every op accepts 'cpu'."""
    for op in MESH_OPS.values():
        op(V, F, Q, backend="cpu")
    ops.knn(V, Q, k=2, backend="cpu")
    ops.point_cloud_winding_number(V, V, Q, backend="cpu")


# ---------------------------------------------------------------- op-specific arguments


@pytest.mark.parametrize("k", [0, -1, 5, 2.0, True, "2", None])
def test_bad_k(k):
    with raises(ValueError, "k"):
        ops.knn(V, Q, k=k)  # V has 4 points: k=5 is too many


def test_bad_knn_reference_and_queries():
    with raises(ValueError, "reference"):
        ops.knn(V[:, :2], Q, k=1)
    with raises(ValueError, "reference"):
        ops.knn(np.array([[0.0, np.nan, 0.0]]), Q, k=1)
    with raises(ValueError, "queries"):
        ops.knn(V, Q[:, :2], k=1)
    with raises(ValueError, "k"):
        ops.knn(np.zeros((0, 3)), Q, k=1)  # an empty reference has no neighbours


def test_cast_rays_directions():
    with raises(ValueError, "directions"):
        ops.cast_rays(V, F, Q, np.array([[1.0, 0, 0], [0.0, 0.0, 0.0]]))  # a zero direction
    with raises(ValueError, "directions"):
        ops.cast_rays(V, F, Q, np.ones((3, 3)))  # one per origin
    with raises(ValueError, "directions"):
        ops.cast_rays(V, F, Q, np.array([[1.0, 0, 0], [np.nan, 0, 0]]))


def test_point_cloud_winding_number_arguments():
    with raises(ValueError, "normals"):
        ops.point_cloud_winding_number(V, V[:3], Q)
    with raises(ValueError, "points"):
        ops.point_cloud_winding_number(np.zeros((0, 3)), np.zeros((0, 3)), Q)
    with raises(ValueError, "points"):
        ops.point_cloud_winding_number(V[:, :2], V[:, :2], Q)
    with raises(ValueError, "areas"):
        ops.point_cloud_winding_number(V, V, Q, areas=np.ones(3))
    with raises(ValueError, "queries"):
        ops.point_cloud_winding_number(V, V, np.array([[np.nan, 0, 0]]))


@pytest.mark.parametrize("n", [-1, 2.5, "10", None, True])
def test_bad_sample_counts(n):
    for call in (lambda: ops.sample_surface(V, F, n), lambda: ops.sample_uniform(n),
                 lambda: ops.sample_near_surface(V, F, n)):
        with raises(ValueError, "n"):
            call()


def test_zero_area_mesh_cannot_be_sampled():
    flat = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], dtype=np.float64)  # collinear
    with pytest.raises(ValueError, match=r"(?i)zero surface area") as info:
        ops.sample_surface(flat, np.array([[0, 1, 2]]), 10)
    assert re.search(r"\bvertices\b|\bfaces\b", str(info.value))
    with pytest.raises(ValueError, match=r"(?i)zero surface area"):
        ops.sample_near_surface(V, np.array([[0, 0, 1], [2, 2, 2]]), 10)


def test_other_sampler_arguments():
    with raises(ValueError, "sigma"):
        ops.sample_near_surface(V, F, 10, sigma=-0.1)
    with raises(ValueError, "sigma"):
        ops.sample_near_surface(V, F, 10, sigma=float("nan"))
    with raises(ValueError, "half_extent"):
        ops.sample_uniform(10, half_extent=0.0)
    with raises(ValueError, "half_extent"):
        ops.sample_uniform(10, half_extent=-1.0)


def test_occupancy_n_rays_and_shell():
    for n_rays in (0, -3, 2.5):
        with raises(ValueError, "n_rays"):
            ops.occupancy(V, F, Q, n_rays=n_rays)
    for shell in (-0.01, float("nan")):
        with raises(ValueError, "shell"):
            ops.occupancy(V, F, Q, method="robust", shell=shell)


def test_choose_method_validates_the_mesh():
    with raises(ValueError, "faces"):
        ops.choose_method(V, np.array([[0, 1, 9]]))
    with raises(TypeError, "faces"):
        ops.choose_method(V, F.astype(np.float32))


def test_tensor_inputs_are_validated_the_same_way():
    with raises(ValueError, "queries"):
        ops.winding_number(torch.from_numpy(V), torch.from_numpy(F), torch.zeros(3, 2))
    with raises(TypeError, "faces"):
        ops.closest_point(torch.from_numpy(V), torch.from_numpy(F).float(), torch.from_numpy(Q))
    with raises(ValueError, "queries"):
        ops.knn(torch.from_numpy(V), torch.tensor([[float("nan"), 0.0, 0.0]]), k=1)


@pytest.mark.parametrize("op", list(MESH_OPS) + ["knn", "point_cloud_winding_number"])
def test_bad_backend_name_is_refused_even_with_no_queries(op):
    """A typo in `backend` must not pass silently just because this batch happens to be empty."""
    empty = np.zeros((0, 3))
    with raises(ValueError, "backend"):
        if op == "knn":
            ops.knn(V, empty, k=1, backend="gpu")
        elif op == "point_cloud_winding_number":
            ops.point_cloud_winding_number(V, V, empty, backend="gpu")
        elif op == "cast_rays":
            ops.cast_rays(V, F, empty, empty, backend="gpu")
        else:
            MESH_OPS[op](V, F, empty, backend="gpu")


def test_soup_mesh_inverts_triangles_and_feeds_the_ops():
    """soup_mesh turns the kernels' (F, 3, 3) layout into the (vertices, faces) the ops take, losslessly."""
    from hnf3d.ops._common import soup_mesh, triangles

    tri = torch.randn(5, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    v, f = soup_mesh(tri)
    assert v.shape == (15, 3) and f.shape == (5, 3) and f.dtype == torch.int64
    assert torch.equal(triangles(v, f), tri)
    # the op's answer on the soup is the sum over the triangles' own answers
    q = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    whole = ops.winding_number(v, f, q, backend="torch")
    parts = sum(ops.winding_number(*soup_mesh(tri[i:i + 1]), q, backend="torch") for i in range(5))
    assert whole.dtype == torch.float64 and torch.allclose(whole, parts)


@pytest.mark.parametrize("op", ["winding_number", "closest_point"])
def test_half_precision_queries_are_computed_in_float32(op):
    v = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    f = torch.tensor([[0, 1, 2]])
    q = torch.tensor([[0.2, 0.2, 0.5]], dtype=torch.float16)
    out = getattr(ops, op)(v, f, q, backend="torch")
    value = out if op == "winding_number" else out.distance
    assert value.dtype == torch.float32
