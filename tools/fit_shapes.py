#!/usr/bin/env python
"""Fit one task network per training shape (hnf3d.cli.fit_shapes, installed as `hnf3d-fit-shapes`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.fit_shapes import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
