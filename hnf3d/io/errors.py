"""Exceptions and warnings raised by `hnf3d.io`, the size limits of what it reads, and the input-path check.

Every problem with a file's *content* is a `FileFormatError` (a `ValueError`) whose message starts with the
file's path, so a user processing a folder of scans sees at once which file is bad and why. Problems with the
path itself are the ordinary `OSError` subclasses, raised by `check_input_file` with a one-line message that
starts with the path: `FileNotFoundError` (missing, or an empty name), `IsADirectoryError`, `PermissionError`.

Size limits: a small file must not make a reader allocate gigabytes (a header that declares 10^12 points, a
zip or LZF bomb). Every reader checks what a header declares *before* it allocates, decodes or decompresses:
- `MAX_FILE_POINTS` (50 million): the most points (rows) one file may declare. The reconstruction pipeline
  subsamples to 1 million points anyway, so this only refuses files that are broken or hostile.
- `MAX_DECODED_BYTES` (2.4 GB, 50 million points with normals in float64): the most bytes one array, one
  .npz member or one decompressed PCD block may expand to.
Beyond either limit the file is refused with a FileFormatError naming the limit, so a load needs at most the
file's size plus a small multiple of MAX_DECODED_BYTES of memory.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

MAX_FILE_POINTS = 50_000_000
MAX_DECODED_BYTES = MAX_FILE_POINTS * 6 * 8


class FileFormatError(ValueError):
    """A file exists but its content cannot be used: bad header, truncated data, wrong shape, no points, ...

    `path` is the offending file; the message starts with it.
    """

    def __init__(self, path: PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class NonFiniteWarning(UserWarning):
    """Points (or mesh vertices) with NaN/Inf coordinates, values beyond the float32 range, or NaN/Inf normals,
    were dropped while loading."""


def check_point_count(path: PathLike, count: int, what: str = "points") -> None:
    """FileFormatError when a header declares more than MAX_FILE_POINTS points (rows) of `what`."""
    if count > MAX_FILE_POINTS:
        raise FileFormatError(
            path, f"declares {count:,} {what}, more than the limit of {MAX_FILE_POINTS:,} points (MAX_FILE_POINTS)"
        )


def check_decoded_size(path: PathLike, nbytes: int, what: str) -> None:
    """FileFormatError when `what` (an array, a compressed block) would expand past MAX_DECODED_BYTES."""
    if nbytes > MAX_DECODED_BYTES:
        raise FileFormatError(
            path,
            f"{what} would expand to {nbytes:,} bytes, more than the limit of {MAX_DECODED_BYTES:,} bytes "
            "(MAX_DECODED_BYTES)",
        )


def check_input_file(path: PathLike) -> Path:
    """Return `path` as a Path after checking that it names a readable regular file.

    Raises, with a one-line message starting with the path (no OS error number):
    FileNotFoundError for an empty name or a missing file, IsADirectoryError for a directory, PermissionError
    when the file (or a folder on its way) may not be read, FileFormatError for a device, pipe or socket
    (reading one could block forever or never end).
    """
    name = os.fspath(path)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if not name:
        raise FileNotFoundError("empty file name: expected the path of a file")
    file = Path(name)
    try:
        mode = file.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{file}: file not found") from None
    except PermissionError:
        raise PermissionError(f"{file}: permission denied (a folder on the way may not be entered)") from None
    except OSError as exc:  # ELOOP (symlink loop), ENAMETOOLONG, ...
        raise OSError(f"{file}: cannot access: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{file}: is a directory, expected a file")
    if not stat.S_ISREG(mode):
        raise FileFormatError(file, "is not a regular file (a device, pipe or socket)")
    if not os.access(file, os.R_OK):
        raise PermissionError(f"{file}: permission denied (the file is not readable)")
    return file


def read_input_file(path: PathLike) -> bytes:
    """The bytes of `path`, after check_input_file; the same one-line errors if reading still fails."""
    file = check_input_file(path)
    try:
        return file.read_bytes()
    except PermissionError:
        raise PermissionError(f"{file}: permission denied (the file is not readable)") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{file}: is a directory, expected a file") from None
    except FileNotFoundError:  # removed between the check and the read
        raise FileNotFoundError(f"{file}: file not found") from None
