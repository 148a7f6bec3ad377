"""Shared test set-up.

TRITON_INTERPRET=1 must be set before triton (or any hnf3d kernel module) is imported: it makes the very same
Triton kernels run on CPU tensors, which is how CI (no GPU) tests them against the torch references.
"""
import os

if os.environ.get("HNF3D_TEST_NATIVE_CUDA") != "1":  # set on a GPU machine to run the kernels natively
    os.environ.setdefault("TRITON_INTERPRET", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path:
    """../shared/data/real beside the project root (override: HNF3D_REAL_DATA)."""
    return Path(os.environ.get("HNF3D_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    root = real_data_dir()
    if not root.is_dir():
        pytest.skip(f"real third-party data not found at {root} (../shared/data/real is absent)")
    return root
