"""Command-line programs. Each module has `main(argv) -> int` and is installed as a console script
(hnf3d-reconstruct, hnf3d-train, ...); tools/*.py are two-line wrappers around them."""
