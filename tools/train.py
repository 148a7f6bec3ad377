#!/usr/bin/env python
"""Train a hypernetwork field (hnf3d.cli.train, installed as `hnf3d-train`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.train import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
