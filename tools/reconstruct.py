#!/usr/bin/env python
"""Reconstruct a mesh from a point cloud or an image (hnf3d.cli.reconstruct, installed as `hnf3d-reconstruct`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.reconstruct import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
