"""Ahead-of-time compilation of the kernels for a GPU target, without a GPU (used by the compile test).

`compile_spec(spec)` runs triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32)): the full pipeline
(TTIR -> TTGIR -> LLVM IR -> PTX -> cubin with ptxas) that a real launch runs, so it catches what the interpreter
accepts but the compiler rejects.

It must run in a process where TRITON_INTERPRET is off. With TRITON_INTERPRET=1, `triton.jit` returns
InterpretedFunction objects, which triton.compile cannot take; rebuilding JITFunctions from the same source
works only until the first interpreted kernel with a reduction has run, because triton 3.9's interpreter leaves
triton.language.core patched after calling a jit'd combine function (tl.sum, tl.min), and later compiles then
fail inside the patched builtins. So under the interpreter, compile in a child process:

    env -u TRITON_INTERPRET python -m hnf3d.ops.kernels._aot [--arch 90] [--only knn]

prints one JSON record per kernel config (ok, seconds, the asm kinds, and ptxas's register / spill report).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import AotSpec, aot_specs
from ._common import LAUNCH_OPTIONS, interpreting, triton


def compile_spec(spec: AotSpec, arch: int = 90):
    """Compile one AotSpec for CUDA sm_<arch> (warp size 32); returns triton's CompiledKernel."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if interpreting():
        raise RuntimeError(
            "compile_spec needs TRITON_INTERPRET off in this process (the kernels are interpreter objects); "
            "run `env -u TRITON_INTERPRET python -m hnf3d.ops.kernels._aot` instead"
        )
    src = ASTSource(fn=spec.kernel, signature=spec.signature, constexprs=spec.constexprs)
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options={**LAUNCH_OPTIONS, **spec.options})


def ptxas_usage(compiled, arch: int = 90) -> dict | None:
    """Registers and spills per thread from `ptxas -v` on the kernel's PTX (None when ptxas is not found)."""
    try:
        from triton.backends.nvidia.compiler import get_ptxas

        ptxas = get_ptxas(arch).path
    except Exception:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        ptx = Path(tmp) / "k.ptx"
        ptx.write_text(compiled.asm["ptx"])
        proc = subprocess.run([ptxas, f"-arch=sm_{arch}a" if arch == 90 else f"-arch=sm_{arch}", "-v", str(ptx),
                               "-o", str(Path(tmp) / "k.cubin")], capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    regs = re.search(r"Used (\d+) registers", log)
    spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    if regs is None:
        return None
    return {
        "registers": int(regs.group(1)),
        "spill_stores": int(spill.group(1)) if spill else 0,
        "spill_loads": int(spill.group(2)) if spill else 0,
    }


def compile_all(arch: int = 90, only: str | None = None, usage: bool = True) -> list[dict]:
    """Compile every AotSpec (or those whose name contains `only`); one record per spec, failures included."""
    records = []
    for spec in aot_specs():
        if only and only not in spec.name:
            continue
        rec = {"name": spec.name, "constexprs": spec.constexprs, "options": spec.options}
        start = time.perf_counter()
        try:
            compiled = compile_spec(spec, arch)
            rec.update(ok=True, asm=sorted(compiled.asm), cubin_bytes=len(compiled.asm.get("cubin", b"")),
                       shared=compiled.metadata.shared)
            if usage:
                rec["ptxas"] = ptxas_usage(compiled, arch)
        except Exception as exc:  # reported per kernel, so one failure does not hide the others
            rec.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        rec["seconds"] = round(time.perf_counter() - start, 3)
        records.append(rec)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability, e.g. 90 for H100/H200")
    parser.add_argument("--only", default=None, help="compile only specs whose name contains this")
    parser.add_argument("--no-usage", action="store_true", help="skip the ptxas -v register report")
    args = parser.parse_args(argv)
    records = compile_all(args.arch, args.only, usage=not args.no_usage)
    print(json.dumps(records, indent=1))
    return 0 if all(r["ok"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
