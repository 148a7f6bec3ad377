#!/usr/bin/env bash
# The GPU checks, as one script for a lent CUDA machine (PyTorch + Triton installed, no network):
# the native CUDA tests, then the Triton kernel benchmark (correctness vs float64, speed vs torch on the same GPU,
# fp32 peak fraction). Logs and JSON go to $OUT (default /tmp/hnf3d-gpu); copy the JSON to benchmarks/results/.
#   bash benchmarks/gpu_session.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/hnf3d-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# the tests need trimesh, which GPU images often lack: install it from a wheel carried in .whl/ when present
if ! python3 -c "import trimesh" 2>/dev/null && ls .whl/trimesh-*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/hnf3d-site .whl/trimesh-*.whl
  export PYTHONPATH=/tmp/hnf3d-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
HNF3D_TEST_NATIVE_CUDA=1 timeout 120 python3 -m pytest -q -p no:cacheprovider \
  tests/ops/test_triton_kernels.py tests/ops/test_dispatch_triton.py -k "cuda or dispatch" 2>&1 | tee "$OUT/pytest-cuda.log"
timeout 150 python3 benchmarks/gpu_kernels.py --out "$OUT" 2>&1 | tee "$OUT/gpu_kernels.log"
