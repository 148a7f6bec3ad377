"""The shipped default models: present, small, safetensors with their config, and a model card that matches."""
import json

import pytest
import yaml

from hnf3d.pipeline.reconstructor import PRETRAINED, PRETRAINED_DIR, Reconstructor
from hnf3d.io.checkpoint import load_checkpoint

MAX_BYTES = 25_000_000
NAMES = sorted(set(PRETRAINED.values()))


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_is_small_and_self_described(name):
    weights = PRETRAINED_DIR / f"{name}.safetensors"
    assert weights.is_file() and weights.stat().st_size < MAX_BYTES, weights.stat().st_size
    tensors, meta = load_checkpoint(weights)
    assert all(k.startswith("model.") for k in tensors)  # weights only: no optimizer or RNG state
    assert meta["optimizer"] is None
    config = yaml.safe_load((PRETRAINED_DIR / f"{name}.yaml").read_text())
    assert json.loads(json.dumps(config)) == json.loads(json.dumps(meta["extra"]["config"]))
    card = (PRETRAINED_DIR / f"{name}.md").read_text()
    assert f"step **{meta['step']}**" in card
    assert config["objective"]["kind"] in card and "test split" in card and "mean of class means" in card
    start = config["training"].get("init_from")
    if start:  # a fine-tuned model: the card names the weights it started from and counts their compute too
        assert f"fine-tuned from the weights of `{start}`" in card and "min in all" in card
    if config["data"].get("scan_fraction"):
        assert "data.scan_fraction" in card
    expected = "image" if name.endswith("image") else "pointcloud"
    assert Reconstructor.load(weights, device="cpu").kind == expected


def test_names_map_to_the_files():
    assert PRETRAINED["global"] == PRETRAINED["global-pointcloud"] == "pointcloud"
    assert PRETRAINED["default"] == PRETRAINED["default-pointcloud"] == PRETRAINED["local"] \
        == PRETRAINED["local-pointcloud"] == "local_pointcloud"
    assert PRETRAINED["default-image"] == PRETRAINED["local-image"] == "local_image"
    assert PRETRAINED["global-image"] == "image"
    assert Reconstructor.load("local", device="cpu").config.task_network.kind == "triplane"
    assert Reconstructor.load("global", device="cpu").config.task_network.kind == "mlp"
    image = Reconstructor.load("default-image", device="cpu")
    assert image.kind == "image" and image.config.encoder.kind == "local_resnet"


def test_refinement_uses_the_model_s_own_learning_rate():
    import numpy as np

    rec = Reconstructor.load("local", device="cpu")
    assert rec.config.eval.refine_lr == 3e-3 and rec.config.eval.threshold == 0.5
    pts = np.random.default_rng(0).normal(size=(500, 3))
    own = rec.predict_weights(pts, refine_steps=2).weights
    assert np.array_equal(own, rec.predict_weights(pts, refine_steps=2, refine_lr=3e-3).weights)
    assert not np.array_equal(own, rec.predict_weights(pts, refine_steps=2, refine_lr=1e-2).weights)
