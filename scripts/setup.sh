#!/usr/bin/env bash
# One-step set-up on a fresh machine: the system library open3d needs, a virtual environment in .venv,
# PyTorch, and hnf3d with its fast CPU backends, Triton and the test tools. Safe to re-run (it skips what is there).
#
#   HNF3D_VENV   where the venv goes (default: .venv in the repository)
#   HNF3D_TORCH  the torch requirement (default torch==2.13.0: the CPU build on CPU machines; a plain "torch"
#                would let pip download a multi-GB CUDA build). GPU users: set it, or install torch first.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${HNF3D_VENV:-.venv}
TORCH_SPEC=${HNF3D_TORCH:-torch==2.13.0}

# open3d (Embree ray casting and distances on CPU) needs libusb-1.0 at import time on Debian/Ubuntu.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so'; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing libusb-1.0-0 (needed by open3d)" >&2
    apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q libusb-1.0-0 >/dev/null; }
  else
    echo "setup: warning: libusb-1.0 is missing; install it (apt-get install libusb-1.0-0) or the open3d" \
         "backends stay unavailable (hnf3d then falls back to its torch code)" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"

"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "$TORCH_SPEC"
"$PY" -m pip install -q -e ".[all,test]"

# open3d and open3d-cpu install the same module: install open3d-cpu only when neither distribution is present.
if ! "$PY" - <<'PYEOF'
import importlib.metadata as md, sys
names = {(d.metadata["Name"] or "").lower() for d in md.distributions()}
sys.exit(0 if names & {"open3d", "open3d-cpu"} else 1)
PYEOF
then
  "$PY" -m pip install -q "open3d-cpu>=0.18"
fi
echo "setup: done ($("$PY" -c 'import torch, hnf3d; print("hnf3d", hnf3d.__version__, "torch", torch.__version__)'))" >&2
