"""Shared test set-up.

The default run (`pytest -q`) is the quick one, a few minutes on 2 cores. Long acceptance runs (training to a
quality target) are marked `acceptance` and run only with `pytest --acceptance` (all tests) or
`pytest --acceptance -m acceptance` (just them); .ci/run does both.

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


def pytest_addoption(parser):
    parser.addoption("--acceptance", action="store_true", default=False,
                     help="also run the long acceptance tests (marked 'acceptance'; minutes each)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--acceptance"):
        return
    skip = pytest.mark.skip(reason="long acceptance run: add --acceptance (CI runs it)")
    for item in items:
        if "acceptance" in item.keywords:
            item.add_marker(skip)
