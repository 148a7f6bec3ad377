"""What every command-line program shares: a parser that raises instead of exiting, the one wrapper that turns a
user error into one line on stderr and exit code 2, and the path checks run on every input and output BEFORE the
work starts (so a bad --out is found in a second, not after a long reconstruction).

    @command(PROG)
    def main(argv=None) -> int:
        args = _parser().parse_args(argv)       # ArgumentError -> "PROG: error: --x: ..." and exit 2
        src = check_input_file("--pc", args.pc)
        ...

    entrypoint = console_script(main)           # setup.py: "hnf3d-PROG=hnf3d.cli.PROG:entrypoint"
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Optional

__all__ = ["ArgumentError", "Parser", "check_input_dir", "check_input_file", "check_output_dir",
           "check_output_file", "check_resolution", "command", "console_script", "error_message"]

# Exit codes: 0 success, 1 the job ran but produced nothing usable (documented per tool), 2 a user error,
# 130 interrupted (Ctrl-C), as a shell reports SIGINT.
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class ArgumentError(Exception):
    """A usage error reported by Parser or a tool's own checks (its message names the argument)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump): `error` raises ArgumentError, which `command` reports."""

    def error(self, message: str):  # type: ignore[override]
        raise ArgumentError(message)


def _user_errors() -> tuple:
    """The exception types that mean "bad input or environment", not a bug. Every hnf3d error for bad content
    (FileFormatError, ConfigError, CheckpointError, LZFError, DegenerateMeshError) is a ValueError; OSError covers
    missing files, directories, permissions and full disks; OptionalDependencyError names what to install."""
    from .._optional import OptionalDependencyError

    return ArgumentError, ValueError, OSError, OptionalDependencyError


def error_message(exc: BaseException) -> str:
    """One line for `exc`: an OSError as '<file>: <reason>' (not '[Errno 13] ...'), every newline folded."""
    if isinstance(exc, OSError) and exc.strerror:
        reason = f"{exc.strerror[:1].lower()}{exc.strerror[1:]}"
        text = reason if exc.filename is None else f"{exc.filename}: {reason}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def command(prog: str) -> Callable:
    """Decorator for a tool's `main(argv=None) -> int`: a user error becomes 'prog: error: <one line>' on stderr
    and exit code 2, Ctrl-C exit code 130, and --help returns 0 instead of raising SystemExit."""

    def wrap(fn: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(fn)
        def main(argv: Optional[list] = None) -> int:
            try:
                return fn(argv)
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return EXIT_INTERRUPTED
            except SystemExit as exc:  # argparse's --help (0); a tool never calls sys.exit itself
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USER_ERROR)
            except Exception as exc:
                if not isinstance(exc, _user_errors()):
                    raise  # a bug: keep the traceback
                print(f"{prog}: error: {error_message(exc)}", file=sys.stderr)
                return EXIT_USER_ERROR

        return main

    return wrap


def console_script(main: Callable[..., int]) -> Callable[[], None]:
    """The console-script entry point of `main`: sys.exit(main())."""

    def entrypoint() -> None:
        sys.exit(main())

    entrypoint.__doc__ = f"Console script: sys.exit({main.__module__}.main())."
    return entrypoint


def check_resolution(flag: str, value: int, max_value: int = 1024) -> int:
    """An extraction grid size: 32 x 2^k cells per side, at most `max_value` (1024^3 cells is already ~4 GB)."""
    if value < 32 or value > max_value or value & (value - 1):
        raise ArgumentError(f"{flag}: expected 32 x 2^k cells per side (32, 64, 128, ..., {max_value}), got {value}")
    return value


# ------------------------------------------------------------------------------------------------ path checks


def _path(flag: str, value) -> Path:
    if value is None or not str(value).strip():
        raise ArgumentError(f"{flag}: empty path")
    return Path(os.fspath(value))


def check_input_file(flag: str, value) -> Path:
    """`value` as a Path to an existing, readable regular file; ArgumentError naming `flag` otherwise."""
    path = _path(flag, value)
    if path.is_dir():
        raise ArgumentError(f"{flag} {path}: is a directory, expected a file")
    if not path.exists():
        raise ArgumentError(f"{flag} {path}: file not found")
    if not path.is_file():
        raise ArgumentError(f"{flag} {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise ArgumentError(f"{flag} {path}: permission denied (cannot read it)")
    return path


def check_input_dir(flag: str, value) -> Path:
    """`value` as a Path to an existing folder whose entries can be listed and read."""
    path = _path(flag, value)
    if not path.exists():
        raise ArgumentError(f"{flag} {path}: folder not found")
    if not path.is_dir():
        raise ArgumentError(f"{flag} {path}: not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ArgumentError(f"{flag} {path}: permission denied (cannot read the folder)")
    return path


def _same_file(a: Path, b: Path) -> bool:
    """True when a and b name one file (after resolving links and '..'; hard links too when both exist)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _check_writable_folder(flag: str, path: Path, folder: Path) -> None:
    if not folder.is_dir():
        raise ArgumentError(f"{flag} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ArgumentError(f"{flag} {path}: permission denied (cannot write in folder {folder})")


def check_output_file(flag: str, value, suffixes: Optional[Iterable[str]] = None,
                      inputs: Iterable = (), *, new_folder: bool = False) -> Path:
    """`value` as a Path where a file can be written: a known suffix (when `suffixes` is given), not a directory,
    in an existing writable folder (new_folder=True: or one that can be created), and not the same file as any of
    `inputs` (it would overwrite the user's data). Nothing is created."""
    path = _path(flag, value)
    if suffixes is not None:
        suffixes = sorted(set(suffixes))
        if path.suffix.lower() not in suffixes:
            raise ArgumentError(f"{flag} {path}: unknown file type {path.suffix or '(none)'!r}; expected one of "
                                f"{', '.join(suffixes)}")
    if path.is_dir():
        raise ArgumentError(f"{flag} {path}: is a directory, expected a file name")
    if new_folder:
        check_output_dir(flag, path.parent)
    else:
        _check_writable_folder(flag, path, path.parent)
    for other in inputs:
        if other is not None and _same_file(path, Path(os.fspath(other))):
            raise ArgumentError(f"{flag} {path}: is the input file {other}; refusing to overwrite it")
    return path


def check_output_dir(flag: str, value, inputs: Iterable = ()) -> Path:
    """`value` as a Path to a folder that exists or can be created (its nearest existing ancestor is a writable
    folder), not an input folder of `inputs`. Nothing is created."""
    path = _path(flag, value)
    if path.exists() and not path.is_dir():
        raise ArgumentError(f"{flag} {path}: exists and is not a folder")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ArgumentError(f"{flag} {path}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ArgumentError(f"{flag} {path}: permission denied (cannot write in {existing})")
    for other in inputs:
        if other is not None and _same_file(path, Path(os.fspath(other))):
            raise ArgumentError(f"{flag} {path}: is the input folder {other}; use another output folder")
    return path
