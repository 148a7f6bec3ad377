"""Plain-text point clouds: .xyz, .txt and .pts.

One point per line, values separated by whitespace and/or commas, '#' starts a comment.
- .xyz / .txt: x y z, or x y z nx ny nz (exactly 6 columns gives normals); other column counts >= 3 are read as
  x y z followed by attributes, which are ignored.
- .pts: optionally starts with a line holding the point count; x y z then any attributes (intensity, r g b),
  which are ignored. PTS never carries normals.
A file with more than MAX_FILE_POINTS point lines (or a .pts count line above it) is refused before parsing.
"""
from __future__ import annotations

from typing import BinaryIO

import numpy as np

from .errors import FileFormatError, PathLike, check_point_count


def read_text_points(path: PathLike, data: bytes, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse text point data of `kind` ('xyz', 'txt' or 'pts'). Returns points (N, 3) float64 and normals
    (N, 3) float64 or None."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileFormatError(path, "not a text file (it is not valid UTF-8)") from None
    lines = text.replace(",", " ").splitlines()
    if "#" in text:
        lines = [line.split("#", 1)[0] for line in lines]
    lines = [line for line in lines if line.strip()]
    declared = None
    if kind == "pts" and lines:
        first = lines[0].split()
        if len(first) == 1 and first[0].isdigit():
            declared = int(first[0])
            check_point_count(path, declared, "points in its count line")
            lines = lines[1:]
    if not lines:
        raise FileFormatError(path, "contains no points")
    check_point_count(path, len(lines), "point lines")
    try:
        table = np.loadtxt(lines, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise FileFormatError(path, f"cannot parse the text as a table of numbers: {exc}") from None
    if declared is not None and declared != len(table):
        raise FileFormatError(path, f"the count line says {declared} points but {len(table)} rows follow")
    ncols = table.shape[1]
    if ncols < 3:
        raise FileFormatError(path, f"expected at least 3 columns (x y z), found {ncols}")
    normals = table[:, 3:6] if kind != "pts" and ncols == 6 else None
    return table[:, :3], normals


def write_text_points(handle: BinaryIO, points: np.ndarray, normals: np.ndarray | None = None) -> None:
    """Write 'x y z [nx ny nz]' lines. '%.9g' round-trips float32 exactly."""
    table = points if normals is None else np.concatenate([points, normals], axis=1)
    np.savetxt(handle, table, fmt="%.9g", delimiter=" ")
