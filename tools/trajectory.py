#!/usr/bin/env python
"""Compare Phi(t, c) with the real optimiser's trajectory (hnf3d.cli.trajectory, installed as `hnf3d-trajectory`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.trajectory import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
