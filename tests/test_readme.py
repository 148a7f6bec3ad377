"""The README's Layout section is a map a newcomer can trust: it names every module of the package, every tool
and every benchmark that exists, and nothing that does not."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "README.md has no '## Layout' section"
    return m.group(1)


def _named(section: str) -> set[str]:
    """Every word ending in .py in the section, and every `name/` folder."""
    return set(re.findall(r"[\w/]+\.py|[\w]+/", section))


def test_layout_names_every_module_tool_and_benchmark():
    section = _layout_section()
    files = sorted(p.relative_to(ROOT) for p in (ROOT / "hnf3d").rglob("*.py") if p.name != "__init__.py")
    files += sorted(p.relative_to(ROOT) for d in ("tools", "benchmarks") for p in (ROOT / d).glob("*.py")
                    if p.name != "__init__.py")
    missing = [str(f) for f in files if not re.search(rf"(?<![\w.]){re.escape(f.name)}", section)]
    assert not missing, f"README Layout section does not name: {missing}"
    packages = sorted(p.parent.relative_to(ROOT / "hnf3d") for p in (ROOT / "hnf3d").rglob("__init__.py")
                      if p.parent != ROOT / "hnf3d")
    missing_pkgs = [str(p) for p in packages if f"{p.name}/" not in section]
    assert not missing_pkgs, f"README Layout section does not name the packages: {missing_pkgs}"


def test_layout_names_nothing_that_does_not_exist():
    section = _layout_section()
    existing = {p.name for p in ROOT.rglob("*.py") if ".venv" not in p.parts}
    named = {n.rsplit("/", 1)[-1] for n in re.findall(r"[\w/]+\.py", section)}
    assert not named - existing, f"README Layout names files that do not exist: {sorted(named - existing)}"
