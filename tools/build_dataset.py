#!/usr/bin/env python
"""Build an ONet-layout data set from meshes (hnf3d.cli.build_dataset, installed as `hnf3d-build-dataset`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.build_dataset import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
