"""Timing, environment and report helpers shared by the benchmarks.

Every benchmark compares implementations of the same computation on the same inputs in the same run and reports
ratios, never bare times (docs style). The helpers here:

- `time_interleaved`: warm each callable once, then time them in rotation (the order alternates every round) so
  that a background load or clock drift hits every implementation alike; the median of the repeats is reported.
- `environment`: CPU model, thread counts, load average, library versions, git commit: what a number depends on.
- `write_json_atomic`: a temp file in the target folder, then os.replace, so a reader never sees half a report.
- `format_table`: a plain fixed-width table for the terminal.
"""
from __future__ import annotations

import datetime as _dt
import gc
import importlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


# ----------------------------------------------------------------------------------------------------- timing


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for queued device work (CUDA kernels are asynchronous); a no-op on CPU."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


@dataclass
class Timing:
    """Wall-clock seconds of each timed call of one implementation, and the output of its warm-up call."""

    times_s: list[float] = field(default_factory=list)
    output: Any = None
    warmup_s: float = math.nan
    error: str | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s) if self.times_s else math.nan

    @property
    def min_s(self) -> float:
        return min(self.times_s) if self.times_s else math.nan


def _call(fn: Callable[[], Any], sync: Callable[[], None]) -> tuple[Any, float]:
    sync()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection triggered by one implementation's garbage must not bill another
    try:
        t0 = time.perf_counter()
        out = fn()
        sync()
        return out, time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def time_interleaved(fns: dict[str, Callable[[], Any]], *, repeats: int | None = None, budget_s: float = 10.0,
                     min_repeats: int = 3, max_repeats: int = 7, sync: Callable[[], None] = lambda: None,
                     ) -> dict[str, Timing]:
    """Time each callable: one warm-up call each (its output is kept for correctness checks), then `repeats`
    rounds in which every callable runs once, in alternating order.

    repeats=None picks as many rounds as fit `budget_s` judging by the warm-up times, clamped to
    [min_repeats, max_repeats]. A callable that raises is recorded with its error and left out of the rounds.
    """
    res = {name: Timing() for name in fns}
    for name, fn in fns.items():
        try:
            res[name].output, res[name].warmup_s = _call(fn, sync)
        except Exception as exc:  # a broken backend is a result to report, not a reason to stop the run
            res[name].error = f"{type(exc).__name__}: {exc}"
        gc.collect()
    live = [n for n in fns if res[n].error is None]
    if repeats is None:
        per_round = sum(res[n].warmup_s for n in live) or 1e-9
        repeats = int(min(max_repeats, max(min_repeats, budget_s // per_round)))
    for r in range(repeats):
        for name in (live if r % 2 == 0 else live[::-1]):
            _, dt = _call(fns[name], sync)
            res[name].times_s.append(dt)
        gc.collect()
    return res


def paired_ratio(a_times: Sequence[float], b_times: Sequence[float]) -> float:
    """Median over rounds of a's time / b's time in the same round (time_interleaved runs them side by side):
    a load that comes and goes cancels out of each quotient, unlike in a ratio of medians."""
    pairs = [a / b for a, b in zip(a_times, b_times) if b > 0]
    return statistics.median(pairs) if pairs else math.nan


def time_once(fn: Callable[[], Any], sync: Callable[[], None] = lambda: None) -> Timing:
    """One call (for slow references that have already been warmed by a smaller probe call)."""
    t = Timing()
    try:
        t.output, dt = _call(fn, sync)
        t.times_s.append(dt)
        t.warmup_s = dt
    except Exception as exc:
        t.error = f"{type(exc).__name__}: {exc}"
    return t


# ------------------------------------------------------------------------------------------------ environment


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(modules: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each module (None when it does not import)."""
    out: dict[str, str | None] = {}
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except Exception:
            out[name] = None
            continue
        ver = getattr(mod, "__version__", None)
        if ver is None:
            try:
                from importlib.metadata import version

                ver = version({"point_cloud_utils": "point-cloud-utils", "embreex": "embreex"}.get(name, name))
            except Exception:
                ver = "unknown"
        out[name] = str(ver)
    return out


def git_commit(repo: str | os.PathLike = ".") -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if sha.returncode != 0:
        return None
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


def device_slug(device: str) -> str:
    """'cpu', or the GPU's name made file-safe ('nvidia-h100-80gb-hbm3')."""
    if not device.startswith("cuda"):
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", device_name(device).lower()).strip("-") or "cuda"


def environment(device: str, modules: Iterable[str] = ()) -> dict[str, Any]:
    """What the numbers depend on. `loadavg` matters on shared machines: other processes slow every
    implementation, and OpenMP-threaded ones (torch) far more than the rest."""
    import torch

    env: dict[str, Any] = {
        "device": device_slug(device),
        "device_name": device_name(device),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "env_threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if os.environ.get(k)},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions(["torch", "numpy", *modules]),
        "git_commit": git_commit(Path(__file__).resolve().parent.parent),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        env["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return env


# ----------------------------------------------------------------------------------------------------- output


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as JSON (NaN refused, numpy values converted), atomically with hnf3d.io.atomic_write: a reader
    never sees half a report. Creates the folder."""
    from hnf3d.io.atomic import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=1, default=_json_default, allow_nan=False) + "\n"
    with atomic_write(path) as fh:
        fh.write(text.encode())
    return path


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def finite_or_none(x: float | None, digits: int = 6) -> float | None:
    """JSON has no NaN/Inf: store those as null."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str], align: str | None = None) -> str:
    """Fixed-width text table. align: one character per column, 'l' or 'r' (default: first columns left, rest
    right when they look numeric)."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    if align is None:
        align = "".join("r" if all(_numeric(r[i]) for r in cells[1:] if r[i]) else "l" for i in range(len(header)))
    lines = []
    for j, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _numeric(s: str) -> bool:
    try:
        float(s.rstrip("x%"))
        return True
    except ValueError:
        return False
