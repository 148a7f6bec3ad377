"""Atomic file writes: a reader (or a crash) never sees a half-written output file.

The content goes to a hidden temporary file in the destination directory (same filesystem, so the final
`os.replace` is an atomic rename), is flushed and fsync'ed, then renamed over the destination. On any error the
temporary file is removed and an existing destination is left untouched.

Temporary files are named `.<name>.hnf3d-tmp.<host>.<pid>.<random>`, e.g. `.mesh.ply.hnf3d-tmp.box1.4242.9f3ac2d1`
for mesh.ply written by process 4242 on host box1. A process killed outright (SIGKILL, power loss) cannot remove its
temporary file; the next `atomic_write` to the same destination removes every such leftover whose writer was on
this host and is no longer running, before it writes. Files of a live process (a concurrent writer) and of other
hosts (a shared network folder) are never touched. Where process ids cannot be checked (Windows), leftovers are
kept; they are always safe to delete by hand.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import PathLike

_TMP_TAG = ".hnf3d-tmp."
_TMP_TAIL = re.compile(r"(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}")


def check_output_path(path: PathLike) -> Path:
    """Return `path` as a Path after checking that it can be written: a non-empty name, not a directory, in an
    existing directory that this process may write in (one-line OSErrors starting with the path)."""
    name = os.fspath(path)
    if not name:
        raise FileNotFoundError("empty output file name: expected the path of a file")
    out = Path(os.fsdecode(name))
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{out}: output directory {str(parent)!r} does not exist")
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a directory, cannot write a file there")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{out}: permission denied: cannot create files in the folder {str(parent)!r}")
    return out


def _host_tag() -> str:
    """The host name reduced to [A-Za-z0-9-], so that the temp-file name stays parseable."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def _temp_prefix(out: Path) -> str:
    return f".{out.name}{_TMP_TAG}"


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host. True when unsure: a live writer's file must never be removed."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # PermissionError: it exists but belongs to another user
    return True


def remove_stale_temp_files(path: PathLike) -> list[Path]:
    """Delete the temporary files left beside `path` by writers on this host that are no longer running.

    Returns the paths removed. Errors (a file vanishing, no permission) are ignored: cleaning up is best effort.
    """
    out = Path(os.fspath(path))
    prefix, host, removed = _temp_prefix(out), _host_tag(), []
    try:
        names = [entry.name for entry in os.scandir(out.parent) if entry.name.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        match = _TMP_TAIL.fullmatch(name[len(prefix) :])
        if match is None or match["host"] != host or _pid_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            (out.parent / name).unlink()
            removed.append(out.parent / name)
    return removed


def _create_temp(out: Path) -> tuple[int, Path]:
    """Create and open (O_EXCL, mode 0600 like mkstemp) a new temp file beside `out`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    base = f"{_temp_prefix(out)}{_host_tag()}.{os.getpid()}."
    for _ in range(100):
        tmp = out.parent / (base + secrets.token_hex(4))
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
        except PermissionError:
            raise PermissionError(
                f"{out}: permission denied: cannot create files in the folder {str(out.parent)!r}"
            ) from None
    raise FileExistsError(f"{out}: could not find a free temporary file name beside it")


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

    The temp file is created 0600 (as mkstemp does); without this every output would be private to its writer.
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

    Raises FileNotFoundError when the output directory does not exist, PermissionError when it may not be
    written. Leftover temporary files of `path` from killed processes are removed first (see the module
    docstring). If the body raises, the temporary file is deleted, `path` is not created or modified, and the
    exception propagates.
    """
    out = check_output_path(path)
    remove_stale_temp_files(out)
    fd, tmp = _create_temp(out)
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
