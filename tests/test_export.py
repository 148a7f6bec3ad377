"""hnf3d.pipeline.export: the per-shape occupancy network as plain data, evaluated with numpy alone."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from hnf3d.pipeline.export import OccupancyNetwork
from hnf3d.models import TaskNetwork


def _net():
    task = TaskNetwork(n_frequencies=4, hidden=[32, 32])
    theta = task.theta_0(1) + 0.1 * torch.randn(task.param_layout().total, generator=torch.Generator().manual_seed(0))
    occ = OccupancyNetwork(theta.numpy(), task.param_layout().to_dict(), task.activation,
                           loc=np.array([100.0, -5.0, 20.0]), scale=250.0, threshold=0.4)
    return task, theta, occ


def test_world_frame_logits_equal_the_task_network():
    task, theta, occ = _net()
    unit = torch.rand(500, 3) - 0.5
    world = unit.double().numpy() * 250.0 + np.array([100.0, -5.0, 20.0])
    with torch.no_grad():
        ref = task(unit[None], theta)[0].numpy()
    np.testing.assert_allclose(occ(world), ref, atol=1e-4)
    p = occ.occupancy(world)
    assert ((p >= 0) & (p <= 1)).all()


def test_save_load_round_trip_and_errors(tmp_path):
    _, _, occ = _net()
    path = tmp_path / "shape.occnet.npz"
    occ.save(path)
    back = OccupancyNetwork.load(path)
    np.testing.assert_array_equal(back.weights, occ.weights)
    assert back.layout == json.loads(json.dumps(occ.layout)) and back.scale == 250.0 and back.threshold == 0.4
    x = np.random.default_rng(0).uniform(-200, 300, (100, 3))
    np.testing.assert_array_equal(back(x), occ(x))
    assert [p.name for p in tmp_path.iterdir()] == ["shape.occnet.npz"]  # no temp file left
    with pytest.raises(ValueError, match="saved as .npz"):
        occ.save(tmp_path / "x.pkl")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        occ.save(tmp_path / "missing" / "x.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="foreign.npz: not an occupancy network"):
        OccupancyNetwork.load(tmp_path / "foreign.npz")
    with pytest.raises(ValueError, match=r"points: expected an array of shape \(N, 3\)"):
        occ(np.zeros((4, 2)))


def test_the_evaluator_needs_numpy_only(tmp_path):
    _, _, occ = _net()
    occ.save(tmp_path / "s.npz")
    code = ("import sys; sys.modules['torch'] = None; import hnf3d.pipeline.export as e; "
            f"n = e.OccupancyNetwork.load({str(tmp_path / 's.npz')!r}); print(n([[100.0, -5.0, 20.0]])[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert np.isfinite(float(out.stdout))
