"""Load a script of benchmarks/ as a module (they are scripts, not package modules), for tests. The tools are
modules of hnf3d.cli: import those."""
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_script(relpath: str, name: str | None = None):
    """The module of REPO/relpath (e.g. 'benchmarks/overfit.py'), executed once per call and registered in
    sys.modules under `name` (dataclasses and pickling look a module up there)."""
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(name or f"hnf3d_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
