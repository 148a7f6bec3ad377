"""Triangle meshes: `load_mesh` / `save_mesh` on top of trimesh.

Loading keeps the file's geometry as it is: process=False (no vertex merging, no reordering, no removal of
degenerate faces). OBJ files are read with maintain_order=True and skip_materials=True: vertices stay in file
order (no splitting along UV seams) and a missing .mtl (every ShapeNet model) is never looked up. Scenes (GLB,
GLTF, OBJ with several groups) are flattened into one mesh with their node transforms applied; each part then
brings its own copy of the vertices it uses, and only vertices and faces are kept (materials are dropped).
Vertices with NaN/Inf coordinates are removed together with every face that uses them (NonFiniteWarning),
so that bounds, normalisation and sampling never see a NaN.

Random bytes are "not a valid OBJ/STL/... file", not a file of bare vertices. `is_mesh_file` tells a mesh (to be
sampled) from a point cloud, including PLY files, which can be either.

trimesh is imported lazily: `import hnf3d.io` stays cheap.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_write, check_output_path
from .errors import FileFormatError, NonFiniteWarning, PathLike, check_input_file

if TYPE_CHECKING:
    import trimesh

MESH_READ_EXTENSIONS = (".obj", ".off", ".ply", ".stl", ".glb", ".gltf")
MESH_WRITE_EXTENSIONS = (".ply", ".obj", ".off", ".stl", ".glb")
_POINT_ONLY = (".pcd", ".xyz", ".txt", ".pts", ".npy", ".npz")
_TEXT_FORMATS = (".obj", ".off")


def load_mesh(path: PathLike) -> "trimesh.Trimesh":
    """Load one triangle mesh from OBJ/OFF/PLY/STL/GLB/GLTF (extension, case-insensitive).

    Returns a trimesh.Trimesh with vertices (V, 3) float64 and faces (F, 3) int64.
    Raises FileNotFoundError for a missing file; FileFormatError (a ValueError naming the file) for an unknown
    extension, an empty or unreadable file, a file without faces (e.g. a range scan: use load_point_cloud) or
    faces referencing vertices that do not exist.
    """
    import trimesh

    file = check_input_file(path)  # one-line OSErrors naming the path: missing, a directory, not readable
    size = file.stat().st_size
    ext = file.suffix.lower()
    if ext in _POINT_ONLY:
        raise FileFormatError(file, f"{ext} holds a point cloud, not a mesh: use hnf3d.io.load_point_cloud()")
    if ext not in MESH_READ_EXTENSIONS:
        supported = ", ".join(MESH_READ_EXTENSIONS)
        raise FileFormatError(file, f"unknown mesh extension {ext or '(none)'!r}; supported: {supported}")
    if size == 0:
        raise FileFormatError(file, "empty file")
    if ext in _TEXT_FORMATS:
        _check_text(file, ext)
    options: dict = {"process": False, "file_type": ext[1:]}
    if ext == ".obj":
        options.update(maintain_order=True, skip_materials=True)
    try:
        with warnings.catch_warnings():
            # trimesh's texture handling emits numpy RuntimeWarnings (all-NaN slices) on faces without UVs.
            warnings.simplefilter("ignore", RuntimeWarning)
            loaded = trimesh.load(str(file), **options)
    except Exception as exc:  # trimesh raises many types (ValueError, KeyError, IndexError, struct.error, ...)
        raise FileFormatError(file, f"not a valid {ext[1:].upper()} file ({type(exc).__name__}: {exc})") from exc
    mesh = _single_mesh(file, loaded)
    return _drop_non_finite(file, mesh)


def is_mesh_file(path: PathLike) -> bool:
    """True when the file at `path` holds a mesh to be sampled rather than a point cloud: a mesh-only format
    (.obj .off .stl .glb .gltf) or a PLY that declares faces (its header is read, not its data). Raises
    FileFormatError for a .ply whose header is malformed, OSError when it cannot be read."""
    from .ply import ply_has_faces

    ext = Path(os.fspath(path)).suffix.lower()
    if ext == ".ply":
        return ply_has_faces(path)
    return ext in MESH_READ_EXTENSIONS


def _check_text(file: Path, ext: str) -> None:
    """OBJ and OFF are text: a NUL byte in the first 64 KB means random or binary data (trimesh would read such
    a file as an empty mesh)."""
    with open(file, "rb") as handle:
        head = handle.read(64 * 1024)
    if b"\0" in head:
        raise FileFormatError(file, f"not a valid {ext[1:].upper()} file: binary data in a text format")


def _single_mesh(file: Path, loaded: object) -> "trimesh.Trimesh":
    """One Trimesh from whatever trimesh.load returned (Trimesh, Scene, PointCloud, Path, ...)."""
    import trimesh

    if isinstance(loaded, trimesh.Scene):
        # dump() returns a copy of every geometry instance with its scene-graph transform applied.
        parts = [g for g in loaded.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if len(parts) == 1:
            mesh = parts[0]
        elif parts:
            offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
            mesh = trimesh.Trimesh(
                vertices=np.concatenate([p.vertices for p in parts]),
                faces=np.concatenate([p.faces + o for p, o in zip(parts, offsets)]),
                process=False,
            )
        else:
            mesh = None
    else:
        mesh = loaded if isinstance(loaded, trimesh.Trimesh) else None
    if mesh is None and not _has_vertices(loaded):
        # random bytes: trimesh's STL/OBJ readers return an empty scene rather than failing
        raise FileFormatError(file, f"not a valid {file.suffix[1:].upper()} file: no vertices or faces found")
    if mesh is None or len(mesh.faces) == 0:
        raise FileFormatError(file, "no faces found (a file of bare vertices is a point cloud: use load_point_cloud())")
    faces = np.asarray(mesh.faces)
    if faces.min() < 0 or faces.max() >= len(mesh.vertices):
        raise FileFormatError(
            file, f"faces reference vertex {int(faces.max())} but the mesh has only {len(mesh.vertices)} vertices"
        )
    return mesh


def _has_vertices(loaded: object) -> bool:
    """Whether trimesh found any geometry at all (vertices of a mesh, point cloud or scene part)."""
    import trimesh

    if isinstance(loaded, trimesh.Scene):
        return any(len(getattr(g, "vertices", ())) for g in loaded.geometry.values())
    return len(getattr(loaded, "vertices", ())) > 0


def _drop_non_finite(file: Path, mesh: "trimesh.Trimesh") -> "trimesh.Trimesh":
    """Remove NaN/Inf vertices and the faces that use them, keeping the order of everything else."""
    import trimesh

    vertices = np.asarray(mesh.vertices)
    finite = np.isfinite(vertices).all(axis=1)
    if finite.all():
        return mesh
    faces = np.asarray(mesh.faces)
    keep_face = finite[faces].all(axis=1)
    n_bad_vertices, n_bad_faces = int((~finite).sum()), int((~keep_face).sum())
    warnings.warn(
        f"{file}: {n_bad_vertices} vertices have NaN/Inf coordinates; dropped them and the "
        f"{n_bad_faces} of {len(faces)} faces that use them",
        NonFiniteWarning,
        stacklevel=3,
    )
    if not keep_face.any():
        raise FileFormatError(file, "no faces left: every face uses a vertex with NaN/Inf coordinates")
    new_index = np.cumsum(finite) - 1
    return trimesh.Trimesh(vertices=vertices[finite], faces=new_index[faces[keep_face]], process=False)


def mesh_arrays(mesh, name: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """trimesh.Trimesh (or anything with .vertices and .faces) or a (vertices, faces) pair -> vertices (V, 3)
    float64, faces (F, 3) int64. Raises TypeError naming `name` for anything else."""
    try:
        vertices, faces = mesh.vertices, mesh.faces
    except AttributeError:
        try:
            vertices, faces = mesh
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a trimesh.Trimesh or a (vertices, faces) pair, "
                            f"got {type(mesh).__name__}") from exc
    return (np.asarray(vertices, dtype=np.float64).reshape(-1, 3),
            np.asarray(faces, dtype=np.int64).reshape(-1, 3))


def save_mesh(mesh: "trimesh.Trimesh", path: PathLike) -> None:
    """Save atomically as .ply (binary), .obj, .off, .stl or .glb (by extension) through trimesh's exporters.

    The output directory must exist. The file is rendered in memory first and then written with atomic_write:
    on any error no output and no temporary file are left and an existing file at `path` is unchanged.
    """
    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        raise TypeError(f"save_mesh expects a trimesh.Trimesh, got {type(mesh).__name__}")
    out = check_output_path(path)
    ext = out.suffix.lower()
    if ext not in MESH_WRITE_EXTENSIONS:
        raise ValueError(
            f"{out}: cannot write meshes as {ext or '(no extension)'!r}; supported: {', '.join(MESH_WRITE_EXTENSIONS)}"
        )
    options: dict = {}
    if ext == ".ply":
        options["encoding"] = "binary"
    elif ext == ".obj":
        options["include_texture"] = False  # a texture reference would point at an .mtl we do not write
    payload = mesh.export(file_type=ext[1:], **options)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    with atomic_write(out) as handle:
        handle.write(payload)
