#!/usr/bin/env python
"""Turn a checkpoint into a shipped model (hnf3d.cli.export_model, installed as `hnf3d-export-model`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clone works without installing
from hnf3d.cli.export_model import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
