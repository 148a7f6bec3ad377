#!/usr/bin/env python
"""Write procedural meshes to a folder (hnf3d.cli.make_shapes, installed as `hnf3d-make-shapes`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.make_shapes import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
