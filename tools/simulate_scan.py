#!/usr/bin/env python
"""Simulate a depth scan of a procedural shape (hnf3d.cli.simulate_scan, installed as `hnf3d-simulate-scan`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.simulate_scan import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
