"""Every Triton kernel compiles for sm_90 (H100/H200) at its GPU-default tiles, without a GPU.

The interpreter accepts code the compiler rejects (a loop variable that changes type, `break`, `if tensor:`,
list.append, non-constexpr globals), so CI compiles each kernel through the full pipeline
(TTIR -> TTGIR -> LLVM -> PTX -> cubin by ptxas) with triton.compile(ASTSource(...), GPUTarget("cuda", 90, 32)).

Why a child process: tests/conftest.py sets TRITON_INTERPRET=1 for the session, and then `triton.jit` builds
InterpretedFunction objects that triton.compile cannot take. Rebuilding real JITFunctions from the same source
works only until an interpreted kernel with a reduction has run: triton 3.9's interpreter leaves
triton.language.core patched after calling a jit'd combine function (tl.sum, tl.min), and later compiles fail
inside the patched builtins. So the compile runs in `python -m hnf3d.ops.kernels._aot` with TRITON_INTERPRET
removed from its environment: one child for all kernels (~0.5-2 s per kernel; triton's cache makes reruns of
unchanged kernels instant, keyed on the source, so a cache hit still means this exact source compiled).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton", reason="triton is not installed (pip install 'hnf3d[triton]')")

from hnf3d.ops.kernels import KERNEL_MODULES  # noqa: E402  (cheap: does not import triton)

REPO = Path(__file__).resolve().parents[2]
# (module, spec-name) pairs the AOT list must cover: every module, and k = 1 and k > 1 for knn
EXPECTED = ["winding_number", "point_cloud_winding_number", "knn[k=1]", "knn[k=8]", "knn[k=16]", "closest_point",
            "cast_rays"]


@pytest.fixture(scope="module")
def compiled() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    res = subprocess.run([sys.executable, "-m", "hnf3d.ops.kernels._aot", "--arch", "90"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    try:
        records = json.loads(res.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the AOT compile child failed (rc {res.returncode}):\n{res.stderr[-4000:]}")
    return {r["name"]: r for r in records}


def test_every_kernel_module_has_aot_specs(compiled):
    assert sorted(compiled) == sorted(EXPECTED)
    for module in KERNEL_MODULES:
        assert any(name.split("[")[0] == module for name in compiled), module


@pytest.mark.parametrize("name", EXPECTED)
def test_kernel_compiles_for_sm90(compiled, name):
    rec = compiled[name]
    assert rec["ok"], rec.get("error")
    assert {"ttir", "ttgir", "llir", "ptx", "cubin"} <= set(rec["asm"])
    assert rec["cubin_bytes"] > 0
    usage = rec.get("ptxas")
    if usage is not None:  # ptxas -v ran: the GPU-default tiles must fit in registers
        assert usage["spill_stores"] == 0 and usage["spill_loads"] == 0, usage
