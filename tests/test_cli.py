"""hnf3d.cli: the one wrapper that turns a user error into one line and exit 2, the console scripts, and every
tool's --help and bad arguments (each named, found before the work, no output left behind)."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from hnf3d.cli._common import ArgumentError, command, console_script, error_message

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chair_scan.ply"
TOOLS = ("build_dataset", "evaluate", "export_model", "fit_shapes", "make_shapes", "reconstruct", "simulate_scan",
         "train", "trajectory")


def _one_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: ") and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------------------------------------- the wrapper
def _raising(exc: BaseException):
    @command("tool")
    def main(argv=None) -> int:
        raise exc

    return main


def _user_errors():
    from hnf3d.config import ConfigError
    from hnf3d.io import FileFormatError
    from hnf3d.io.checkpoint import CheckpointError
    from hnf3d._optional import OptionalDependencyError

    return [
        (ArgumentError("--x: expected an integer"), "--x: expected an integer"),
        (ValueError("points: bad\nsecond line\n  third"), "points: bad second line third"),
        (FileFormatError("scan.ply", "truncated binary data"), "scan.ply: truncated binary data"),
        (ConfigError("exp.yaml: line 3:\n  bad indentation"), "exp.yaml: line 3: bad indentation"),
        (CheckpointError("x.safetensors", "shape mismatch\nfor field.w"), "x.safetensors"),
        (FileNotFoundError(2, "No such file or directory", "/data/scan.ply"), "/data/scan.ply: no such file"),
        (IsADirectoryError(21, "Is a directory", "/data"), "/data: is a directory"),
        (PermissionError(13, "Permission denied", "/root/x.ply"), "/root/x.ply: permission denied"),
        (OSError(28, "No space left on device"), "no space left on device"),
        (OptionalDependencyError("open3d is needed: pip install open3d"), "pip install open3d"),
    ]


@pytest.mark.parametrize("exc, message", _user_errors(), ids=lambda v: type(v).__name__ if isinstance(v, BaseException)
                         else "")
def test_user_error_is_one_line_exit_2(capsys, exc, message):
    assert _raising(exc)([]) == 2
    out, err = capsys.readouterr()
    line = _one_line(err, "tool")
    assert message in line and "[Errno" not in line and out == ""


def test_interrupt_exit_130_and_help_exit_0(capsys):
    assert _raising(KeyboardInterrupt())([]) == 130
    assert "interrupted" in capsys.readouterr().err

    @command("tool")
    def main(argv=None) -> int:
        from hnf3d.cli._common import Parser

        Parser(prog="tool").parse_args(argv)
        return 0

    assert main(["--help"]) == 0
    assert "usage: tool" in capsys.readouterr().out
    assert main(["--nope"]) == 2
    assert _one_line(capsys.readouterr().err, "tool").endswith("unrecognized arguments: --nope")


def test_bugs_keep_their_traceback():
    for exc in (RuntimeError("a bug"), KeyError("k"), TypeError("t")):
        with pytest.raises(type(exc)):
            _raising(exc)([])


def test_console_script_exits_with_the_code():
    entry = console_script(_raising(ArgumentError("--x: bad")))
    with pytest.raises(SystemExit) as info:
        entry()
    assert info.value.code == 2


def test_error_message_folds_lines():
    assert error_message(ValueError("a\n  b\r\nc")) == "a b c"
    assert error_message(ValueError()) == "ValueError"


# ---------------------------------------------------------------------------------------------- every tool
@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_is_a_module_with_main_and_entrypoint(name, capsys):
    module = importlib.import_module(f"hnf3d.cli.{name}")
    assert module.main(["--help"]) == 0
    assert "usage:" in capsys.readouterr().out
    assert callable(module.entrypoint)
    wrapper = (REPO / "tools" / f"{name}.py").read_text()
    assert f"from hnf3d.cli.{name} import entrypoint" in wrapper and len(wrapper.splitlines()) <= 12
    assert module.main(["--no-such-flag"]) == 2  # a required argument missing, or the unknown flag: named
    line = _one_line(capsys.readouterr().err, module.PROG)
    assert any(m in line for m in ("arguments are required: --", "one of the arguments --",
                                   "unrecognized arguments: --no-such-flag")), line


def _setup(tmp_path: Path) -> dict:
    """Placeholders of the bad-argument table: a folder, a data set with a split list, a mesh folder."""
    data = tmp_path / "data"
    (data / "cat").mkdir(parents=True)
    (data / "cat" / "test.lst").write_text("m0\n")
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "box.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("training:\n  max_steps: 1\n")
    return {"DIR": str(tmp_path / "folder"), "DATA": str(data), "MESHES": str(meshes), "OUT": str(tmp_path / "out"),
            "PC": str(EXAMPLE), "CFG": str(cfg)}


BAD = [
    # --seed < 0 is refused by name, whatever the input (all tools with --seed)
    ("reconstruct", ["--pc", "PC", "--out", "OUT.ply", "--seed", "-1"], "--seed"),
    ("evaluate", ["--checkpoint", "default", "--data", "DATA", "--out", "OUT", "--seed", "-1"], "--seed"),
    ("build_dataset", ["--meshes", "MESHES", "--out", "OUT", "--seed", "-1"], "--seed"),
    ("make_shapes", ["--out", "OUT", "--seed", "-1"], "--seed"),
    ("fit_shapes", ["--data", "MESHES", "--out", "OUT/f.safetensors", "--seed", "-1"], "--seed"),
    ("fit_shapes", ["--data", "MESHES", "--out", "OUT/f.safetensors", "--theta0-seed", "-2"], "--theta0-seed"),
    ("simulate_scan", ["--out", "OUT.ply", "--seed", "-1"], "--seed"),
    # a directory where a file is expected
    ("train", ["--config", "DIR"], "--config"),
    ("evaluate", ["--config", "DIR", "--data", "DATA", "--out", "OUT"], "--config"),
    ("export_model", ["--checkpoint", "DIR", "--name", "x", "--data", "DATA", "--out-dir", "DIR"], "--checkpoint"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--threshold", "1.5"], "--threshold"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-sigmas", "0.02", "0"],
     "--refine-sigmas"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-denoise-sides", "yes"],
     "--refine-denoise-sides"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-smooth", "0.5"],
     "--refine-smooth"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-snap", "-0.05"],
     "--refine-snap"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-snap-k", "4"],
     "--refine-snap-k"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-roughness", "-1"],
     "--refine-roughness"),
    ("export_model", ["--checkpoint", "PC", "--name", "x", "--data", "DATA", "--refine-roughness-scale", "-1"],
     "--refine-roughness-scale"),
    ("trajectory", ["--checkpoint", "DIR", "--out", "OUT.json"], "--checkpoint"),
    ("reconstruct", ["--pc", "DIR", "--out", "OUT.ply"], "is a directory"),
    ("fit_shapes", ["--data", "MESHES", "--out", "PC/f.safetensors"], "--out"),  # its folder is a file
    ("fit_shapes", ["--data", "MESHES", "--out", "OUT/f.safetensors", "--config", "DIR"], "--config"),
    ("fit_shapes", ["--data", "MESHES", "--out", "OUT/f.safetensors", "--near-surface-fraction", "1.5"],
     "--near-surface-fraction"),
    ("simulate_scan", ["--out", "DIR"], "--out"),
    # devices nothing can compute on
    ("reconstruct", ["--pc", "PC", "--out", "OUT.ply", "--device", "meta"], "--device"),
    ("evaluate", ["--checkpoint", "default", "--data", "DATA", "--out", "OUT", "--device", "meta"], "--device"),
    ("trajectory", ["--checkpoint", "PC", "--out", "OUT.json", "--device", "meta"], "--device"),
    # empty paths, outputs over inputs
    ("reconstruct", ["--pc", "", "--out", "OUT.ply"], "--pc"),
    ("train", ["--config", ""], "--config"),
    ("build_dataset", ["--meshes", "MESHES", "--out", "MESHES"], "--out"),
    ("build_dataset", ["--meshes", "", "--out", "OUT"], "--meshes"),
    ("evaluate", ["--checkpoint", "default", "--data", "DATA", "--out", "OUT", "--json", "DIR"], "--json"),
]


@pytest.mark.parametrize("name, argv, named", BAD, ids=[f"{n}-{a[-2] if len(a) > 1 else a}" for n, a, _ in BAD])
def test_bad_arguments_of_every_tool(tmp_path, capsys, name, argv, named):
    subs = _setup(tmp_path)
    (tmp_path / "folder").mkdir()
    argv = [next((a.replace(k, v) for k, v in subs.items() if a.startswith(k)), a) for a in argv]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    module = importlib.import_module(f"hnf3d.cli.{name}")
    assert module.main(argv) == 2
    line = _one_line(capsys.readouterr().err, module.PROG)
    assert named in line
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing written, no folder made


# ---------------------------------------------------------------------------------------------- as installed
@pytest.mark.parametrize("name", TOOLS)
def test_tools_wrappers_run_as_scripts(name):
    """`python tools/X.py` from a clone: the two-line wrappers (no install needed, the path shim)."""
    res = subprocess.run([sys.executable, str(REPO / "tools" / f"{name}.py"), "--help"], cwd="/", capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage:")


def test_console_scripts(tmp_path):
    scripts = Path(sys.executable).parent
    if not (scripts / "hnf3d-reconstruct").exists():
        pytest.skip("hnf3d not installed with its console scripts (pip install -e .)")
    for name in TOOLS:
        exe = scripts / f"hnf3d-{name.replace('_', '-')}"
        assert exe.exists(), exe
    res = subprocess.run([str(scripts / "hnf3d-reconstruct"), "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("usage:"), res.stderr
    res = subprocess.run([str(scripts / "hnf3d-reconstruct"), "--pc", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and _one_line(res.stderr, "reconstruct").endswith("is a directory, expected a file")
