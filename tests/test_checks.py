"""hnf3d._checks: the argument checks of the public entry points (one-line ValueErrors naming the argument)."""
import math

import numpy as np
import pytest
import torch

from hnf3d._checks import check_array, check_choice, check_device, check_float, check_int


def test_check_int():
    assert check_int("n", 3) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_int("n", 0, min_value=0) == 0 and check_int("n", 5, max_value=5) == 5
    for bad in (2.7, 2.0, True, "3", None, np.float32(1)):
        with pytest.raises(ValueError, match="^n: expected an integer, got"):
            check_int("n", bad)
    with pytest.raises(ValueError, match="^n: expected an integer >= 16, got 5$"):
        check_int("n", 5, min_value=16)
    with pytest.raises(ValueError, match="^n: expected an integer <= 4, got 5$"):
        check_int("n", 5, max_value=4)


def test_check_float():
    assert check_float("x", 1) == 1.0 and check_float("x", np.float32(0.5), min_value=0, max_value=1) == 0.5
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="^x: expected a finite number"):
            check_float("x", bad)
    for bad in ("0.5", None, True, 1j):
        with pytest.raises(ValueError, match="^x: expected a number, got"):
            check_float("x", bad)
    with pytest.raises(ValueError, match=r"^x: expected a finite number in \(0, 1\), got 1$"):
        check_float("x", 1, min_value=0, max_value=1, open_interval=True)
    assert check_float("x", 1, min_value=0, max_value=1) == 1.0  # closed by default
    with pytest.raises(ValueError, match=r"in \[0, inf\]"):
        check_float("x", -1e-9, min_value=0)


def test_check_choice():
    assert check_choice("mode", "bbox", ("bbox", "spacing")) == "bbox"
    for bad in ("unit", None, ["bbox"]):
        with pytest.raises(ValueError, match="^mode: expected one of 'bbox', 'spacing', got"):
            check_choice("mode", bad, ("bbox", "spacing"))


def test_check_array():
    a = check_array("points", [[0, 1, 2], [3, 4, 5]], "(N, 3)")
    assert a.dtype == np.float64 and a.shape == (2, 3)
    assert check_array("img", np.zeros((4, 5, 3), np.uint8), "(H, W, 3)", dtype=None).dtype == np.uint8
    assert check_array("v", np.arange(4), "(P,)").shape == (4,)
    for bad, match in ((np.zeros((2, 3)) + 1j, "expected real numbers, got an array of dtype complex"),
                       (np.array([["a", "b", "c"]]), "expected real numbers"),
                       (np.array([[None, 1, 2]], dtype=object), "expected real numbers"),
                       (np.zeros((2, 2)), r"expected an array of shape \(N, 3\), got \(2, 2\)"),
                       (np.zeros(3), r"expected an array of shape \(N, 3\), got \(3,\)"),
                       ([[0, 1, 2], [3, 4]], r"expected an array of shape \(N, 3\)")):
        with pytest.raises(ValueError, match="^points: " + match):
            check_array("points", bad, "(N, 3)")
    with pytest.raises(ValueError, match="^points: contains NaN or Inf"):
        check_array("points", [[0, np.nan, 1]], "(N, 3)", finite=True)
    assert np.isnan(check_array("points", [[0, np.nan, 1]], "(N, 3)")).any()  # allowed unless finite=True


def test_check_device():
    assert check_device("device", "cpu") == torch.device("cpu")
    assert check_device("device", torch.device("cpu")).type == "cpu"
    assert check_device("device", "auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    bad = ["meta", "nonsense", "", 3.5]
    bad.append("cuda:99" if torch.cuda.is_available() else "cuda")
    for value in bad:
        with pytest.raises(ValueError, match="^device: "):
            check_device("device", value)
