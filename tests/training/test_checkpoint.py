"""hnf3d.io.checkpoint and hnf3d.training.checkpoint: safetensors + JSON metadata, atomic writes, clear errors, bit-exact resume."""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hnf3d.config import Config, config_from_dict, config_to_dict
from hnf3d.training import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    pack_training_state,
    save_checkpoint,
    unpack_training_state,
)


def sample_tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "model.f32": base,
        "model.f64": torch.randn(3, generator=g, dtype=torch.float64),
        "model.f16": torch.randn(2, 5, generator=g).half(),
        "model.bf16": torch.randn(7, generator=g).bfloat16(),
        "optim.state.0.step": torch.tensor(12.0),
        "optim.i64": torch.arange(-5, 5, dtype=torch.int64) * (2**40),
        "optim.i32": torch.arange(9, dtype=torch.int32).reshape(3, 3),
        "rng.u8": torch.randint(0, 256, (33,), generator=g, dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 3),
        "transposed": base.t(),          # non-contiguous view sharing base's memory
        "row": base[1],                  # another view of the same storage
    }


def sample_metadata() -> dict:
    return {"step": 41, "config": config_to_dict(Config()), "layout": {"fc0.weight": [[128, 27], 0]},
            "note": "θ_0 ✓", "values": [1.5, None, True, -3], "nested": {"a": {"b": []}}}


def test_round_trip_tensors_and_metadata(tmp_path):
    tensors, meta = sample_tensors(), sample_metadata()
    path = save_checkpoint(tmp_path / "ckpt.safetensors", tensors=tensors, metadata=meta)
    assert path == tmp_path / "ckpt.safetensors"
    loaded, loaded_meta = load_checkpoint(path)
    assert set(loaded) == set(tensors)
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype, name
        assert loaded[name].shape == t.shape, name
        assert torch.equal(loaded[name], t), name
    assert loaded_meta == meta
    assert config_from_dict(loaded_meta["config"]) == Config()


def test_paths_directory_and_suffix(tmp_path):
    t = {"x": torch.ones(2)}
    assert save_checkpoint(tmp_path, tensors=t, metadata={}) == tmp_path / "checkpoint.safetensors"
    assert save_checkpoint(tmp_path / "step_10", tensors=t, metadata={}) == tmp_path / "step_10.safetensors"
    assert checkpoint_path(tmp_path) == tmp_path / "checkpoint.safetensors"
    assert torch.equal(load_checkpoint(tmp_path)[0]["x"], t["x"])
    assert torch.equal(load_checkpoint(tmp_path / "step_10")[0]["x"], t["x"])


def test_file_is_safetensors_not_pickle(tmp_path):
    path = save_checkpoint(tmp_path / "c", tensors=sample_tensors(), metadata=sample_metadata())
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert data[8:9] == b"{" and data[8:8 + n].rstrip(b" ").endswith(b"}")  # header padded with spaces
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"]["hnf3d"])
    assert meta["format"] == "hnf3d-checkpoint" and meta["format_version"] == 1
    assert data[:1] != b"\x80" and data[:2] != b"PK"     # neither a pickle nor torch's zip format


def test_bad_inputs_rejected_before_writing(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "c", tensors={}, metadata={"obj": object()})
    with pytest.raises(TypeError, match="torch.Tensor"):
        save_checkpoint(tmp_path / "c", tensors={"x": np.zeros(3)}, metadata={})
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "c", tensors={}, metadata={"format_version": 3})
    assert list(tmp_path.iterdir()) == []


def test_atomic_failure_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c", tensors={"x": torch.zeros(1000)}, metadata={"step": 1})

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, tensors={"x": torch.ones(1000)}, metadata={"step": 2})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]   # no temp file left behind
    tensors, meta = load_checkpoint(path)
    assert meta == {"step": 1} and torch.equal(tensors["x"], torch.zeros(1000))


def test_interrupt_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    import hnf3d.io.checkpoint as ckpt_module

    path = save_checkpoint(tmp_path / "c", tensors={"x": torch.zeros(10)}, metadata={"step": 1})
    real_atomic_write = ckpt_module.atomic_write

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def interrupted(out):
        with real_atomic_write(out) as handle:
            yield HalfWriter(handle)

    monkeypatch.setattr(ckpt_module, "atomic_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, tensors={"x": torch.ones(10)}, metadata={"step": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]
    assert load_checkpoint(path)[1] == {"step": 1}


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(tmp_path / "nope.safetensors")


def _expect_error(path, match):
    with pytest.raises(CheckpointError, match=match) as err:
        load_checkpoint(path)
    assert str(err.value).startswith(str(path)), str(err.value)
    assert isinstance(err.value, ValueError)
    return str(err.value)


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "c", tensors=sample_tensors(), metadata=sample_metadata())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated")
    path.write_bytes(data[:-1])                           # one byte short
    _expect_error(path, "truncated")
    path.write_bytes(data[:20])                           # inside the header
    _expect_error(path, "truncated")
    path.write_bytes(data[:5])
    _expect_error(path, "only 5 bytes")
    path.write_bytes(b"")
    _expect_error(path, "only 0 bytes")


def test_garbage_and_foreign_files(tmp_path):
    path = tmp_path / "g.safetensors"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect_error(path, "not a safetensors checkpoint")
    path.write_bytes(pickle.dumps({"x": 1}))
    _expect_error(path, "not a safetensors checkpoint")
    path.write_bytes(b"ply\nformat ascii 1.0\nend_header\n" * 10)
    _expect_error(path, "not a safetensors checkpoint")


def test_corrupt_header_and_data(tmp_path):
    path = save_checkpoint(tmp_path / "c", tensors={"x": torch.arange(6.0)}, metadata={"step": 3})
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    broken = bytearray(data)
    broken[8 + n // 2] = 0xFF                             # invalid UTF-8 / JSON in the header
    path.write_bytes(bytes(broken))
    _expect_error(path, "corrupt")
    header = json.loads(data[8:8 + n])
    header["x"]["dtype"] = "F64"                          # offsets no longer fit the dtype
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data[8 + n:]))
    _expect_error(path, "inconsistent offsets")
    header["x"]["dtype"] = "NOPE"                         # unknown dtype: safetensors' own error, wrapped
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data[8 + n:]))
    _expect_error(path, "corrupt tensor data")


def test_foreign_safetensors_and_version_mismatch(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    _expect_error(path, "without hnf3d metadata")
    save_file({"x": torch.zeros(2)}, str(path), metadata={"hnf3d": "{not json"})
    _expect_error(path, "corrupt hnf3d metadata")
    save_file({"x": torch.zeros(2)}, str(path),
              metadata={"hnf3d": json.dumps({"format": "hnf3d-checkpoint", "format_version": 99})})
    _expect_error(path, "format version 99 is not supported")
    save_file({"x": torch.zeros(2)}, str(path), metadata={"hnf3d": json.dumps({"format": "other"})})
    _expect_error(path, "'format' is 'other'")


# ---------------------------------------------------------------------------------------------------------------
# Training state


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc0 = torch.nn.Linear(3, 16)
        self.drop = torch.nn.Dropout(0.2)                # consumes the torch RNG in forward
        self.fc1 = torch.nn.Linear(16, 1)
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.calls += 1
        return self.fc1(self.drop(torch.relu(self.fc0(x))))


def train_steps(model, optimizer, n, np_gen):
    for _ in range(n):
        x = torch.randn(8, 3) + torch.from_numpy(np.random.rand(8, 3).astype(np.float32))
        y = torch.from_numpy(np_gen.standard_normal((8, 1)).astype(np.float32)) * random.random()
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_exact_resume(tmp_path):
    torch.manual_seed(0)
    np.random.seed(1)
    random.seed(2)
    np_gen = np.random.default_rng(3)
    model = Tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.99))
    train_steps(model, optimizer, 5, np_gen)
    tensors, meta = pack_training_state(model, optimizer, step=5, extra={"config": config_to_dict(Config())},
                                        generators={"data": np_gen})
    path = save_checkpoint(tmp_path / "step_5", tensors=tensors, metadata=meta)
    train_steps(model, optimizer, 5, np_gen)
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    reference_optim = optimizer.state_dict()

    # a fresh setup: other initial weights, other RNG states, new objects
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    np_gen2 = np.random.default_rng(99)
    model2 = Tiny()
    optimizer2 = torch.optim.Adam(model2.parameters(), lr=1.0)
    loaded, loaded_meta = load_checkpoint(path)
    step, extra = unpack_training_state(loaded, loaded_meta, model2, optimizer2, generators={"data": np_gen2},
                                        source=str(path))
    assert step == 5 and config_from_dict(extra["config"]) == Config()
    assert optimizer2.param_groups[0]["lr"] == 1e-2 and optimizer2.param_groups[0]["betas"] == (0.8, 0.99)
    train_steps(model2, optimizer2, 5, np_gen2)

    for name, value in model2.state_dict().items():
        assert torch.equal(value, reference[name]), name
    for idx, state in optimizer2.state_dict()["state"].items():
        for key, value in state.items():
            assert torch.equal(value, reference_optim["state"][idx][key]), (idx, key)


def test_torch_generator_and_no_optimizer(tmp_path):
    gen = torch.Generator().manual_seed(5)
    model = Tiny()
    tensors, meta = pack_training_state(model, None, step=0, generators={"g": gen})
    path = save_checkpoint(tmp_path / "c", tensors=tensors, metadata=meta)
    expected = torch.rand(4, generator=gen)
    gen.manual_seed(123)
    loaded, loaded_meta = load_checkpoint(path)
    assert unpack_training_state(loaded, loaded_meta, Tiny(), None, generators={"g": gen}) == (0, {})
    assert torch.equal(torch.rand(4, generator=gen), expected)


def test_unpack_errors(tmp_path):
    model = Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tensors, meta = pack_training_state(model, optimizer, step=3)
    path = save_checkpoint(tmp_path / "c", tensors=tensors, metadata=meta)
    loaded, loaded_meta = load_checkpoint(path)

    broken = dict(loaded_meta)
    del broken["rng"]
    with pytest.raises(CheckpointError, match=r"c.safetensors: metadata key 'rng' missing"):
        unpack_training_state(loaded, broken, Tiny(), None, source=str(path))

    other = torch.nn.Linear(3, 1)
    with pytest.raises(CheckpointError, match="model state does not fit"):
        unpack_training_state(loaded, loaded_meta, other, None, source=str(path))

    no_rng = {k: v for k, v in loaded.items() if k != "rng.torch"}
    with pytest.raises(CheckpointError, match="RNG state incomplete"):
        unpack_training_state(no_rng, loaded_meta, Tiny(), None, source=str(path))

    model_only, model_meta = pack_training_state(Tiny(), None, step=1)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        unpack_training_state(model_only, model_meta, Tiny(), torch.optim.SGD(Tiny().parameters(), lr=1))


def test_unpack_shape_mismatch_is_one_line(tmp_path):
    """torch's load_state_dict message spans many lines; ours names the first key, both shapes and the others."""
    tensors, meta = pack_training_state(Tiny(), None, step=0)
    path = save_checkpoint(tmp_path / "c", tensors=tensors, metadata=meta)
    loaded, loaded_meta = load_checkpoint(path)
    other = Tiny()
    other.fc0, other.fc1 = torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)  # 3 of 4 tensors change shape
    other.fc2 = torch.nn.Linear(1, 1)  # and 2 are new
    with pytest.raises(CheckpointError) as err:
        unpack_training_state(loaded, loaded_meta, other, None, source=str(path))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: model state does not fit the model: "), msg
    assert "'fc0.weight' has shape (16, 3) in the checkpoint, (8, 3) in the model (and 2 more)" in msg, msg
    assert "'fc2.weight' is missing (and 1 more)" in msg, msg


# ---------------------------------------------------------------------------------------------------------------
# Trained-model checkpoints (hnf3d.models.build): sizes checked before building, one-line errors


def _small_config() -> Config:
    return config_from_dict({"task_network": {"hidden": [8]}, "encoder": {"c_dim": 8, "hidden": 8},
                             "field": {"width": 16, "depth": 1, "heads": 2}})


def _model_checkpoint(path, cfg_dict, tensors=None):
    from hnf3d.models.build import build_model

    if tensors is None:
        torch.manual_seed(0)
        tensors = {f"model.{k}": v for k, v in build_model(_small_config()).state_dict().items()}
    return save_checkpoint(path, tensors=tensors, metadata={"extra": {"config": cfg_dict}})


def test_trained_model_round_trip(tmp_path):
    from hnf3d.models.build import load_trained_model

    path = _model_checkpoint(tmp_path / "m", config_to_dict(_small_config()))
    cfg, model, _ = load_trained_model(path)
    assert cfg == _small_config() and not model.training


@pytest.mark.parametrize("key, value, names", [
    ("task_network.hidden", [10**9], "task_network.hidden[0]"),
    ("field.width", -5, "field.width"),
    ("encoder.c_dim", 10**8, "encoder.c_dim"),
    ("field.depth", 10**6, "field.depth"),
    ("task_network.hidden", [64] * 10_000, "task_network.hidden"),
    ("field.max_token_size", 1, "field.max_token_size"),      # 3,000+ tokens of one element each
    ("field.width", 65536, "field.width"),                    # in range, but a 300-billion-parameter model
    ("field.width", 30, "field"),                             # not a multiple of field.heads
    ("training.seed", -1, "training.seed"),
])
def test_absurd_embedded_config_refused_before_building(tmp_path, monkeypatch, key, value, names):
    import hnf3d.models.build as build

    section, name = key.split(".")
    cfg_dict = config_to_dict(_small_config())
    cfg_dict[section][name] = value
    if key == "field.max_token_size":
        cfg_dict["task_network"]["hidden"] = [64, 64]
    path = _model_checkpoint(tmp_path / "m", cfg_dict)
    assert path.stat().st_size < 200_000
    built = []
    real_construct = build._construct
    monkeypatch.setattr(build, "_construct", lambda cfg, source, shapes_only=False: (
        built.append(shapes_only) or real_construct(cfg, source, shapes_only)))
    with pytest.raises(CheckpointError) as err:
        build.load_trained_model(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}:") and names in msg, msg
    assert False not in built  # nothing was built for real (only shape-only models on the meta device)


def test_checkpoint_smaller_than_its_config_is_refused_before_allocating(tmp_path, monkeypatch):
    """A config within every bound (here ~180 M parameters, 0.7 GB) with a checkpoint holding a few tensors: the
    shapes are compared on the meta device, the real model is never built."""
    import hnf3d.models.build as build

    cfg_dict = config_to_dict(Config())
    cfg_dict["field"].update(width=2048, depth=3, heads=8)
    assert 10**8 < build.check_model_config(config_from_dict(cfg_dict)) <= build.MAX_MODEL_PARAMETERS
    path = _model_checkpoint(tmp_path / "m", cfg_dict, tensors={"model.field.theta_0": torch.zeros(5)})
    real = build._construct
    monkeypatch.setattr(build, "_construct", lambda cfg, source, shapes_only=False: (
        pytest.fail("built for real") if not shapes_only else real(cfg, source, True)))
    with pytest.raises(CheckpointError) as err:
        build.load_trained_model(path)
    msg = str(err.value)
    assert "\n" not in msg and "model state does not fit the model its config describes" in msg, msg
    assert "'field.theta_0' has shape (5,) in the checkpoint, (36737,) in the model" in msg, msg
    assert "is missing (and" in msg, msg


def test_trained_model_shape_mismatch_is_one_line(tmp_path):
    from hnf3d.models.build import build_model, load_trained_model

    torch.manual_seed(0)
    tensors = {f"model.{k}": v for k, v in build_model(_small_config()).state_dict().items()}
    tensors["model.field.c_proj.weight"] = torch.zeros(16, 9)
    tensors["model.extra.bias"] = torch.zeros(3)
    path = _model_checkpoint(tmp_path / "m", config_to_dict(_small_config()), tensors=tensors)
    with pytest.raises(CheckpointError) as err:
        load_trained_model(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "'field.c_proj.weight' has shape (16, 9) in the checkpoint, (16, 8) in the model" in msg, msg
    assert "'extra.bias' is not in the model" in msg, msg


def test_deeply_nested_metadata_is_one_line_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    from safetensors.torch import save as safetensors_save

    data = safetensors_save({"x": torch.zeros(1)}, metadata={"hnf3d": deep})
    path = tmp_path / "deep.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(path)
