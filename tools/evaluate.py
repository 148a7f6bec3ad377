#!/usr/bin/env python
"""Benchmark a method with the ONet protocol (hnf3d.cli.evaluate, installed as `hnf3d-evaluate`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.evaluate import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
