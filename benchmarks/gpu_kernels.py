"""GPU check of the Triton kernels (hnf3d.ops.kernels): correctness against float64 torch, speed against the ops'
own torch backend on the same GPU, at realistic sizes, in one run of a few minutes.

For every kernel and size:
- correctness: the kernel's answer for the first CHECK_Q queries against the op's exact torch reference,
  hnf3d.ops.<op>(..., backend="torch"), in float64 (max absolute and relative error; for knn also the distance
  at the returned indices, for closest_point at the returned faces);
- speed: triton.testing.do_bench (median, ms) of the Triton launcher vs that same torch backend in float32 on the
  same GPU, i.e. what backend='triton' gains over backend='torch' (for knn the exact cdist path). When the peer
  would take long it is timed on the first `torch_q` queries and its time scaled by Q / torch_q (all of these
  costs are linear in Q); the table marks such rows with '*'.
For the winding number also the achieved fp32 FLOP/s, from a hand count of the kernel's arithmetic per
query-triangle pair (FLOPS_PER_PAIR below), as a fraction of the GPU's non-tensor fp32 peak, and a tiny sweep of
tile configs (the fastest is reported; --sweep-all sweeps the other kernels too).
Each case runs in its own try/except, so one failure does not lose the others.

    PYTHONPATH=. python benchmarks/gpu_kernels.py                 # on a CUDA GPU, < 4 min
    PYTHONPATH=. TRITON_INTERPRET=1 python benchmarks/gpu_kernels.py --smoke   # tiny sizes, CPU interpreter

Writes benchmarks/results/ops-gpu-<gpu name slug>.json (and $OUT/ops-gpu-<slug>.json when OUT is set); --smoke
writes only where --out or $OUT says.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script: make `benchmarks._harness` and `hnf3d` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _harness as H  # noqa: E402
from hnf3d import ops  # noqa: E402
from hnf3d.ops._common import soup_mesh  # noqa: E402
from hnf3d.ops.closest_point import closest_point_on_triangle  # noqa: E402
from hnf3d.ops.point_cloud_winding_number import EPS as PCWN_EPS  # noqa: E402

# Floating-point operations per query-triangle pair in the winding-number kernel, counted from its source
# (hnf3d/ops/kernels/winding_number.py): an FMA counts 2, sqrt and division 1 each (they cost several instructions
# on the GPU, so this under-counts the work), abs / min / max / compares / selects 0.
#   a, b, c = v - q                              9
#   |a|, |b|, |c| (3 mul + 2 add each) + 3 sqrt  18
#   det = a . (b x c) (6 mul + 3 sub + 5)        14
#   den (2 mul + 3 dots + 3 mul + 3 add)         23
#   atan2: 1 div, t^2, 7 Horner FMAs, p*t, 3 quadrant fix-ups   20
#   tile sum                                     1
FLOPS_PER_PAIR = 85

# Non-tensor fp32 peak (dense FMA), TFLOP/s, from NVIDIA's data sheets (boost clock).
FP32_PEAK_TFLOPS = {"h100 pcie": 51.2, "h100 nvl": 60.0, "h100": 66.9, "h200": 66.9, "a100": 19.5, "l40s": 91.6,
                    "l4": 30.3, "a10": 31.2}

CHECK_Q = 2048  # queries checked against float64


# --------------------------------------------------------------------------------------------------- inputs


def torus_mesh(n_faces: int, device) -> torch.Tensor:
    """A closed torus (R 0.6, r 0.25) with about n_faces triangles, as (F, 3, 3) float32."""
    import trimesh

    minor = max(4, int(round(math.sqrt(n_faces / 10))))
    major = max(4, int(round(n_faces / (2 * minor))))
    m = trimesh.creation.torus(major_radius=0.6, minor_radius=0.25, major_sections=major, minor_sections=minor)
    return torch.tensor(m.vertices[m.faces], dtype=torch.float32, device=device).contiguous()


def uniform(n: int, seed: int, device, lo=-1.0, hi=1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, generator=g) * (hi - lo) + lo).to(device)


def surface_samples(tri: torch.Tensor, n: int, seed: int):
    """Area-weighted points on the mesh with unit face normals and per-point areas (total area / n)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    t = tri.double().cpu()
    cross = torch.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0], dim=1)
    area = cross.norm(dim=1) / 2
    f = torch.multinomial(area, n, replacement=True, generator=g)
    u, v = torch.rand(n, 1, generator=g), torch.rand(n, 1, generator=g)
    flip = (u + v) > 1
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    p = t[f, 0] + u * (t[f, 1] - t[f, 0]) + v * (t[f, 2] - t[f, 0])
    nrm = cross[f] / cross[f].norm(dim=1, keepdim=True)
    a = torch.full((n,), float(area.sum()) / n, dtype=torch.float64)
    dev = tri.device
    return p.float().to(dev), nrm.float().to(dev), a.float().to(dev)


# ------------------------------------------------------------------------------------------ the torch peer
# The library's own exact chunked torch backend of each op (hnf3d.ops.<op>(..., backend="torch")): what a user gets
# without Triton. Dtype-generic: float32 is the timed peer, float64 the correctness reference. The kernels take a
# triangle soup (F, 3, 3); soup_mesh turns it into the (vertices, faces) the ops take.


def torch_winding_number(tri, q):
    return ops.winding_number(*soup_mesh(tri), q, backend="torch")


def torch_pc_winding_number(p, n, a, q):
    return ops.point_cloud_winding_number(p, n, q, areas=a, backend="torch")


def torch_knn_dist2(ref, q, k):
    return ops.knn(ref, q, k, backend="torch").distance ** 2


def torch_closest_point(tri, q):
    return ops.closest_point(*soup_mesh(tri), q, backend="torch")


def torch_cast_rays(tri, o, d):
    return ops.cast_rays(*soup_mesh(tri), o, d, backend="torch")


# ---------------------------------------------------------------------------------------------------- timing


class Bench:
    """ms per call: triton.testing.do_bench (median) on CUDA, a perf_counter median of 3 on CPU (--smoke)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            import triton.testing

            return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
        fn()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))


def errors(out: torch.Tensor, ref: torch.Tensor) -> dict:
    out, ref = out.double(), ref.double()
    both_inf = torch.isinf(out) & torch.isinf(ref) & (torch.sign(out) == torch.sign(ref))
    diff = torch.where(both_inf, torch.zeros_like(out), (out - ref).abs())
    scale = ref.abs().where(torch.isfinite(ref), torch.zeros_like(ref)).max().clamp_min(1e-30)
    return {"max_abs_err": float(diff.max()), "max_rel_err": float(diff.max() / scale),
            "mismatched_inf": int((torch.isinf(out) != torch.isinf(ref)).sum())}


def log(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------------- cases


def run_case(name: str, sizes: dict, kernel: Callable, peer: Callable, peer_sub: Callable | None, check: Callable,
             n_q: int, torch_q: int, bench: Bench, pairs: int | None = None) -> dict:
    """Time the kernel on all n_q queries and the torch peer on the first torch_q (scaled); check correctness."""
    rec: dict = {"kernel": name, **sizes}
    t0 = time.perf_counter()
    try:
        rec.update(check())
        rec["triton_ms"] = bench(kernel)
        if torch_q >= n_q:
            rec["torch_ms"] = bench(peer)
            rec["torch_queries"] = n_q
        else:
            rec["torch_ms"] = bench(peer_sub) * n_q / torch_q
            rec["torch_queries"] = torch_q
        rec["speedup"] = rec["torch_ms"] / rec["triton_ms"]
        if pairs is not None:
            rec["pairs_per_s"] = pairs / (rec["triton_ms"] * 1e-3)
        rec["ok"] = True
    except Exception as exc:  # keep going: one broken kernel must not lose the other results
        rec["ok"] = False
        rec["error"] = f"{type(exc).__name__}: {exc}"
        log(traceback.format_exc())
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    status = "ok" if rec["ok"] else "FAILED " + rec["error"][:200]
    log(f"  {name} {sizes}: {status} ({rec['seconds']} s)")
    return rec


def fp32_peak_tflops(device: torch.device) -> tuple[float | None, str]:
    if device.type != "cuda":
        return None, "cpu (interpreter): no peak"
    name = torch.cuda.get_device_name(device).lower()
    for key, tf in FP32_PEAK_TFLOPS.items():  # ordered: 'h100 pcie' before 'h100'
        if key in name:
            return tf, f"{tf} TFLOP/s fp32 non-tensor peak assumed for '{name}' (NVIDIA data sheet, boost clock)"
    props = torch.cuda.get_device_properties(device)
    tf = props.multi_processor_count * 128 * 2 * 1.8e9 / 1e12
    sms = props.multi_processor_count
    return tf, f"{tf:.1f} TFLOP/s assumed: {sms} SMs x 128 fp32 lanes x 2 x 1.8 GHz (unknown GPU)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; runs on CPU under TRITON_INTERPRET=1")
    parser.add_argument("--sweep-all", action="store_true", help="sweep tile configs for every kernel")
    parser.add_argument("--out", default=None, help="folder for the JSON (default benchmarks/results; also $OUT)")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1"
    if not cuda and not args.smoke:
        log("no CUDA GPU (or TRITON_INTERPRET=1): run with --smoke for the tiny CPU-interpreter check")
        return 2
    device = torch.device("cuda" if cuda else "cpu")
    from hnf3d.ops.kernels import launcher

    wn_k, pcwn_k, knn_k = launcher("winding_number"), launcher("point_cloud_winding_number"), launcher("knn")
    cp_k, rays_k = launcher("closest_point"), launcher("cast_rays")
    bench = Bench(device)
    env = H.environment(str(device), ["triton", "trimesh"])
    peak, peak_note = fp32_peak_tflops(device)
    log(f"device: {env['device_name']}; torch {torch.__version__}; {peak_note}")

    if args.smoke:
        n_q, face_sizes, n_pts, torch_q, check_q = 130, [40, 100], 150, 130, 130
        sweep_cfgs = [(64, 64, 4), (128, 128, 4)]
    else:
        n_q, face_sizes, n_pts, torch_q, check_q = 100_000, [1_000, 10_000, 100_000], 100_000, None, CHECK_Q
        sweep_cfgs = [(64, 16, 4), (64, 32, 4), (32, 32, 4)]
    # the float32 torch peer is timed on a query subset when Q x F is large (its cost is linear in Q)
    sub = (lambda n_cols: n_q) if torch_q else (lambda n_cols: int(min(n_q, max(1024, 1e9 // n_cols))))
    records: list[dict] = []
    queries = uniform(n_q, 1, device)
    qc = queries[:check_q].contiguous()
    # rays from a sphere of radius 2 towards random points of the meshes' box: a mix of hits and misses
    o = uniform(n_q, 2, device)
    o = (2 * o / o.norm(dim=1, keepdim=True)).contiguous()
    d = (uniform(n_q, 3, device, -0.8, 0.8) - o).contiguous()
    oc, dc = o[:check_q].contiguous(), d[:check_q].contiguous()

    # winding number, closest point, cast rays: 100k queries x meshes of ~1k, 10k, 100k faces
    for n_f in face_sizes:
        tri = torus_mesh(n_f, device)
        f = len(tri)
        tq = sub(f)
        qs = queries[:tq].contiguous()
        log(f"mesh: {f} faces")

        def check_wn(tri=tri):
            ref = torch_winding_number(tri.double(), qc.double())
            return errors(wn_k(tri, qc), ref)

        rec = run_case("winding_number", {"Q": n_q, "F": f}, lambda tri=tri: wn_k(tri, queries),
                       lambda tri=tri: torch_winding_number(tri, queries),
                       lambda tri=tri, qs=qs: torch_winding_number(tri, qs), check_wn, n_q, tq, bench,
                       pairs=n_q * f)
        if rec["ok"]:
            rec["flops_per_pair"] = FLOPS_PER_PAIR
            rec["tflops"] = rec["pairs_per_s"] * FLOPS_PER_PAIR / 1e12
            rec["fraction_of_fp32_peak"] = rec["tflops"] / peak if peak else None
        records.append(rec)

        def check_cp(tri=tri):
            d2, face = cp_k(tri, qc)
            ref = torch_closest_point(tri.double(), qc.double()).distance
            e = errors(d2.sqrt(), ref)
            # the distance to the face the kernel returned (the op's per-pair building block)
            qd, t = qc.double(), tri[face].double()
            at_face = (closest_point_on_triangle(qd, t[:, 0], t[:, 1], t[:, 2]) - qd).norm(dim=1)
            e["face_consistency_err"] = float((at_face - ref).abs().max())
            return e

        records.append(run_case("closest_point", {"Q": n_q, "F": f}, lambda tri=tri: cp_k(tri, queries),
                                lambda tri=tri: torch_closest_point(tri, queries),
                                lambda tri=tri, qs=qs: torch_closest_point(tri, qs), check_cp, n_q, tq, bench,
                                pairs=n_q * f))

        os_, ds_ = o[:tq].contiguous(), d[:tq].contiguous()

        def check_rays(tri=tri):
            t, face = rays_k(tri, oc, dc, 0.0)
            ref, ref_face, _ = torch_cast_rays(tri.double(), oc.double(), dc.double())
            e = errors(t, ref)
            e["hit_fraction"] = float((face >= 0).float().mean())
            e["face_agreement"] = float((face == ref_face).float().mean())
            return e

        records.append(run_case("cast_rays", {"R": n_q, "F": f}, lambda tri=tri: rays_k(tri, o, d, 0.0),
                                lambda tri=tri: torch_cast_rays(tri, o, d),
                                lambda tri=tri, os_=os_, ds_=ds_: torch_cast_rays(tri, os_, ds_), check_rays, n_q,
                                tq, bench, pairs=n_q * f))
        del tri

    # point-cloud winding number and knn: 100k queries x 100k points sampled on a 10k-face torus
    tri = torus_mesh(face_sizes[min(1, len(face_sizes) - 1)], device)
    p, nrm, area = surface_samples(tri, n_pts, seed=4)
    tq = sub(n_pts)
    qs = queries[:tq].contiguous()
    eps = PCWN_EPS  # the distance floor the op passes to the kernel

    def check_pc():
        ref = torch_pc_winding_number(p.double(), nrm.double(), area.double(), qc.double())
        return errors(pcwn_k(p, nrm, area, qc, eps), ref)

    records.append(run_case("point_cloud_winding_number", {"Q": n_q, "N": n_pts},
                            lambda: pcwn_k(p, nrm, area, queries, eps),
                            lambda: torch_pc_winding_number(p, nrm, area, queries),
                            lambda: torch_pc_winding_number(p, nrm, area, qs), check_pc, n_q, tq, bench,
                            pairs=n_q * n_pts))
    # knn queries: other surface samples with a little noise (the Chamfer / F-score use)
    kq, _, _ = surface_samples(tri, n_q, seed=5)
    kq = (kq + 0.002 * uniform(n_q, 6, device)).contiguous()
    kqc, kqs = kq[:check_q].contiguous(), kq[:tq].contiguous()
    for k in (1, 8):
        def check_knn(k=k):
            d2, idx = knn_k(p, kqc, k)
            ref = torch_knn_dist2(p.double(), kqc.double(), k)
            e = errors(d2, ref)
            at_idx = ((kqc[:, None].double() - p[idx].double()) ** 2).sum(-1)
            e["index_consistency_err"] = float((at_idx - ref).abs().max())
            return e

        records.append(run_case("knn", {"Q": n_q, "R": n_pts, "k": k}, lambda k=k: knn_k(p, kq, k),
                                lambda k=k: torch_knn_dist2(p, kq, k), lambda k=k: torch_knn_dist2(p, kqs, k),
                                check_knn, n_q, tq, bench, pairs=n_q * n_pts))

    # tile sweep: winding number always; the others with --sweep-all
    sweeps = {}
    sweep_tri = torus_mesh(face_sizes[min(1, len(face_sizes) - 1)], device)
    sweep_sets = {"winding_number": (lambda bq, bf, w: wn_k(sweep_tri, queries, block_q=bq, block_f=bf,
                                                            num_warps=w), sweep_cfgs)}
    if args.sweep_all:
        alt = [(64, 32, 4), (64, 16, 4), (32, 32, 4), (128, 32, 8)] if not args.smoke else sweep_cfgs
        sweep_sets["closest_point"] = (lambda bq, bf, w: cp_k(sweep_tri, queries, block_q=bq, block_f=bf,
                                                              num_warps=w), alt)
        sweep_sets["cast_rays"] = (lambda bq, bf, w: rays_k(sweep_tri, o, d, 0.0, block_r=bq, block_f=bf,
                                                            num_warps=w), alt)
        sweep_sets["point_cloud_winding_number"] = (lambda bq, bn, w: pcwn_k(p, nrm, area, queries, eps, block_q=bq,
                                                                             block_n=bn, num_warps=w), alt)
        sweep_sets["knn[k=1]"] = (lambda bq, br, w: knn_k(p, kq, 1, block_q=bq, block_r=br, num_warps=w), alt)
        knn8 = [(8, 64, 1), (16, 64, 2), (8, 32, 1), (16, 32, 2)] if not args.smoke else sweep_cfgs
        sweep_sets["knn[k=8]"] = (lambda bq, br, w: knn_k(p, kq, 8, block_q=bq, block_r=br, num_warps=w), knn8)
    for name, (fn, cfgs) in sweep_sets.items():
        rows = []
        for bq, bf, w in cfgs:
            try:
                ms = bench(lambda: fn(bq, bf, w))
                rows.append({"block_q": bq, "block_inner": bf, "num_warps": w, "ms": ms})
                log(f"  sweep {name} ({bq}, {bf}, warps {w}): {ms:.3f} ms")
            except Exception as exc:
                rows.append({"block_q": bq, "block_inner": bf, "num_warps": w, "error": f"{type(exc).__name__}: {exc}"})
                log(f"  sweep {name} ({bq}, {bf}, warps {w}): FAILED {exc}")
        timed = [r for r in rows if "ms" in r]
        sweeps[name] = {"configs": rows, "best": min(timed, key=lambda r: r["ms"]) if timed else None}

    # report
    table = []
    for r in records:
        err = r.get("max_rel_err")
        table.append([r["kernel"], " ".join(f"{k}={v}" for k, v in r.items() if k in ("Q", "R", "F", "N", "k")),
                      "ok" if r["ok"] else "FAIL", f"{err:.1e}" if err is not None else "",
                      f"{r['triton_ms']:.3f}" if "triton_ms" in r else "",
                      (f"{r['torch_ms']:.1f}" + ("*" if r.get("torch_queries", n_q) < n_q else "")) if "torch_ms" in r
                      else "", f"{r['speedup']:.1f}x" if "speedup" in r else "",
                      f"{r['tflops']:.1f} ({100 * r['fraction_of_fp32_peak']:.0f}%)" if r.get("fraction_of_fp32_peak")
                      is not None else ""])
    log("")
    log(H.format_table(table, ["kernel", "size", "check", "max rel err", "triton ms", "torch ms", "speedup",
                               "TFLOP/s (of peak)"], align="llllrrrr"))
    log("* torch timed on a query subset and scaled linearly to all queries")
    log(f"FLOP count: {FLOPS_PER_PAIR} per query-triangle pair (FMA = 2, sqrt/div = 1; see FLOPS_PER_PAIR); "
        f"{peak_note}")
    for name, s in sweeps.items():
        if s["best"]:
            b = s["best"]
            log(f"best tiles {name}: ({b['block_q']}, {b['block_inner']}, warps {b['num_warps']}) {b['ms']:.3f} ms")

    report = {"environment": env, "fp32_peak_tflops": peak, "peak_note": peak_note,
              "flops_per_pair_winding_number": FLOPS_PER_PAIR, "smoke": args.smoke, "cases": records,
              "sweeps": sweeps}
    report = _clean(report)
    slug = H.device_slug(str(device)) + ("-smoke" if args.smoke else "")
    targets = []
    if args.out:
        targets.append(Path(args.out))
    elif not args.smoke:
        targets.append(Path(__file__).resolve().parent / "results")
    if os.environ.get("OUT"):
        targets.append(Path(os.environ["OUT"]))
    for folder in targets:
        path = H.write_json_atomic(folder / f"ops-gpu-{slug}.json", report)
        log(f"wrote {path}")
    return 0 if all(r["ok"] for r in records) else 1


def _clean(x):
    """JSON has no NaN / inf: store them as null."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    sys.exit(main())
