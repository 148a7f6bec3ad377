"""Optional dependencies, imported lazily.

`import hnf3d` needs only the required set (setup.py). A backend that needs an optional package imports it
through `require`, which raises an ImportError naming what to install, chained to the original error so the
real cause (e.g. a missing system library for open3d) stays visible.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

# module name -> what to tell the user to install
INSTALL_HINTS = {
    "open3d": "pip install open3d-cpu  (or open3d; never both: they install the same module. "
    "On Debian/Ubuntu open3d also needs: apt-get install libusb-1.0-0)",
    "point_cloud_utils": "pip install 'hnf3d[fast]'  (point-cloud-utils)",
    "pykdtree": "pip install 'hnf3d[fast]'  (pykdtree)",
    "triton": "pip install 'hnf3d[triton]'  (triton; CUDA builds of torch ship it)",
    "mcubes": "pip install pymcubes",
    "skimage": "pip install scikit-image",
}


class OptionalDependencyError(ImportError):
    """An optional backend was asked for but its package is not importable."""


@lru_cache(maxsize=None)
def _try_import(name: str) -> ModuleType | BaseException:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or an OSError from a missing shared library
        return exc


def available(name: str) -> bool:
    """True when the optional module `name` imports cleanly."""
    return isinstance(_try_import(name), ModuleType)


def require(name: str, purpose: str) -> ModuleType:
    """Import optional module `name` or raise OptionalDependencyError saying what needs it and how to install it."""
    mod = _try_import(name)
    if isinstance(mod, ModuleType):
        return mod
    hint = INSTALL_HINTS.get(name, f"pip install {name}")
    raise OptionalDependencyError(f"{purpose} needs the optional package '{name}': {hint}") from mod
