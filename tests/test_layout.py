"""The package layout a newcomer relies on: every subpackage and public name imports from `hnf3d`, and imports
only flow one way, io -> config -> ops -> vis -> data -> models -> training -> {pipeline, eval} -> cli (the two
leaves never import each other), so inference never drags in the trainer."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import hnf3d

PKG = Path(hnf3d.__file__).resolve().parent
# rank of each part of the package: a module may import parts of lower or equal rank only
RANK = {"_version": 0, "_optional": 0, "_checks": 0, "io": 1, "config": 2, "ops": 3, "vis": 4, "data": 5,
        "models": 6, "training": 7, "pipeline": 8, "eval": 8, "cli": 9}
LEAVES = {"pipeline", "eval"}


def _part(module: str) -> str:
    """'hnf3d.pipeline.refine' -> 'pipeline'; 'hnf3d' -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute hnf3d module) of every import in the file, relative ones resolved."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    here = list(rel.parts[:-1])  # the package the file is in (for an __init__.py: its own package)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            out += [(node.lineno, n) for n in names if n.startswith("hnf3d")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("hnf3d")]
    return out


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "pretrained" not in p.parts)


def test_imports_flow_one_way():
    bad = []
    for path in _modules():
        src = _part(".".join(path.relative_to(PKG.parent).with_suffix("").parts))
        if src not in RANK:
            continue  # hnf3d/__init__.py: the lazy front door may name anything
        for line, target in _imports(path):
            dst = _part(target)
            if dst in ("", src) or dst not in RANK:
                continue
            if RANK[dst] > RANK[src] or (src in LEAVES and dst in LEAVES):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} ({src}) imports {target} ({dst})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_loose_modules_beyond_the_base_ones():
    loose = sorted(p.stem for p in PKG.glob("*.py") if p.stem != "__init__")
    assert loose == ["_checks", "_optional", "_version", "config"]


@pytest.mark.parametrize("name", hnf3d.__all__)
def test_every_public_name_resolves(name):
    assert getattr(hnf3d, name) is not None


def test_every_subpackage_is_reachable_as_an_attribute():
    subpackages = sorted(p.parent.name for p in PKG.glob("*/__init__.py"))
    for name in subpackages:
        assert importlib.import_module(f"hnf3d.{name}") is getattr(hnf3d, name)


def test_inference_does_not_import_the_trainer():
    code = ("import sys, hnf3d; r = hnf3d.Reconstructor.load('default'); "
            "bad = [m for m in sys.modules if m.startswith('hnf3d.training')]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parent)
    assert res.returncode == 0, res.stdout + res.stderr
