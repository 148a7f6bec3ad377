"""Shared pieces of the thin command-line tools in tools/: an argparse parser that raises instead of exiting,
so each tool's main() can print one line naming the argument and return exit code 2."""
from __future__ import annotations

import argparse


class ArgumentError(Exception):
    """A usage error reported by Parser (its message names the argument)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise ArgumentError(message)
