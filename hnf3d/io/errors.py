"""Exceptions and warnings raised by `hnf3d.io`.

Every problem with a file's *content* is a `FileFormatError` (a `ValueError`) whose message starts with the
file's path, so a user processing a folder of scans sees at once which file is bad and why. Missing files raise
the ordinary `FileNotFoundError` from the operating system, which also names the path.
"""
from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]


class FileFormatError(ValueError):
    """A file exists but its content cannot be used: bad header, truncated data, wrong shape, no points, ...

    `path` is the offending file; the message starts with it.
    """

    def __init__(self, path: PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class NonFiniteWarning(UserWarning):
    """Points (or mesh vertices) with NaN/Inf coordinates, or NaN/Inf normals, were dropped while loading."""
