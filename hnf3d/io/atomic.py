"""Atomic file writes: a reader (or a crash) never sees a half-written output file.

The content goes to a hidden temporary file in the destination directory (same filesystem, so the final
`os.replace` is an atomic rename), is flushed and fsync'ed, then renamed over the destination. On any error the
temporary file is removed and an existing destination is left untouched.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import PathLike


def check_output_path(path: PathLike) -> Path:
    """Return `path` as a Path after checking that its directory exists and that it is not a directory."""
    out = Path(os.fspath(path))
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{out}: output directory {str(parent)!r} does not exist")
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a directory, cannot write a file there")
    return out


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows (os.umask is a set-and-return)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """Permissions for the output: those of the file being replaced, else what open() would have given.

    mkstemp creates 0600 files; without this every output would be private to its writer.
    """
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself; not possible on every platform (e.g. Windows), hence best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Context manager yielding a binary file object whose content replaces `path` only on success.

        with atomic_write("out.ply") as f:
            f.write(data)

    Raises FileNotFoundError when the output directory does not exist. If the body raises, the temporary file is
    deleted, `path` is not created or modified, and the exception propagates.
    """
    out = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _final_mode(out))
        os.replace(tmp, out)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave a stray temp file behind.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(out.parent)
