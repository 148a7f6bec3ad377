"""hnf3d: 3D reconstruction with hypernetwork fields.

Required dependencies are the ones `import hnf3d` and the core ops need. Fast CPU backends, Triton kernels and
test tools are extras. open3d is deliberately NOT an extra: the `open3d` and `open3d-cpu` distributions install
the same module, so pip must never be asked to put one on top of the other. scripts/setup.sh installs
`open3d-cpu` only when no `open3d` module is importable.
"""
from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec((Path(__file__).parent / "hnf3d" / "_version.py").read_text(), version)

extras = {
    # Fast CPU backends (measured in benchmarks/ops.py). Optional: every op has a torch fallback.
    "fast": ["point-cloud-utils>=0.30", "pykdtree>=1.3", "embreex>=2.17", "rtree>=1.0"],
    # Custom CUDA kernels; on CPU they run only through TRITON_INTERPRET=1 (used by the tests).
    "triton": ["triton>=3.0"],
    # The benchmarks' plots (docs/*.png); the tests draw one too.
    "bench": ["matplotlib>=3.5"],
    "test": ["pytest>=7", "triton>=3.0", "matplotlib>=3.5"],
}
extras["all"] = sorted({d for k in ("fast", "triton") for d in extras[k]})

setup(
    name="hnf3d",
    version=version["__version__"],
    description="3D reconstruction with hypernetwork fields trained by gradient matching",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["hnf3d", "hnf3d.*"]),
    install_requires=[
        # torch is NOT pinned here: CPU machines pin torch==2.13.0 in scripts/setup.sh, GPU users keep theirs.
        "torch>=2.1",
        "numpy>=1.23",
        "scipy>=1.9",
        "trimesh>=4.0",
        "pyyaml>=6.0",
        "safetensors>=0.4",
        "tqdm>=4.60",
        "pillow>=9.0",
        # marching cubes (hnf3d.pipeline.extraction): skimage's Lewiner implementation, 2.6x faster than PyMCubes here
        "scikit-image>=0.19",
    ],
    extras_require=extras,
    package_data={"hnf3d": ["pretrained/*.safetensors", "pretrained/*.yaml", "pretrained/*.md"]},
    # hnf3d-<tool> runs hnf3d.cli.<tool>; `python tools/<tool>.py` runs the same from a clone
    entry_points={"console_scripts": [
        f"hnf3d-{name.replace('_', '-')}=hnf3d.cli.{name}:entrypoint"
        for name in ("reconstruct", "train", "evaluate", "build_dataset", "make_shapes", "export_model", "fit_shapes",
                     "simulate_scan", "trajectory")
    ]},
)
