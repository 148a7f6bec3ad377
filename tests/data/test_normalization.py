import numpy as np
import pytest

from hnf3d.data.normalization import unit_box_normalization


def test_unit_box_is_centred_with_largest_side_one_and_inverts():
    rng = np.random.default_rng(0)
    p = rng.uniform([-3, 10, 5], [7, 12, 6], size=(1000, 3))
    norm = unit_box_normalization(p)
    q = norm.apply(p)
    assert np.allclose((q.max(0) + q.min(0)) / 2, 0, atol=1e-12)
    assert np.ptp(q, axis=0).max() == pytest.approx(1.0)
    assert np.allclose(norm.invert(q), p, atol=1e-12)
    assert norm.scale == pytest.approx(np.ptp(p, axis=0).max())


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.ones((5, 3)), np.full((2, 3), np.nan), np.zeros((4, 2))])
def test_degenerate_inputs_are_refused(bad):
    with pytest.raises(ValueError, match="points"):
        unit_box_normalization(bad)
