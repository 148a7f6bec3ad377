"""hnf3d.config: YAML -> typed dataclasses, inherit_from, overrides, errors that name the key and the file."""
from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest
import yaml

from hnf3d.config import (
    CONFIG_VERSION,
    Config,
    ConfigError,
    DataConfig,
    EncoderConfig,
    EvalConfig,
    FieldConfig,
    ObjectiveConfig,
    TaskNetworkConfig,
    TrainingConfig,
    config_from_dict,
    config_to_dict,
    MAX_CONFIG_BYTES,
    MAX_YAML_DEPTH,
    field_help,
    field_range,
    load_config,
    save_config,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """base.yaml <- shapenet/pc.yaml <- shapenet/exp/small.yaml (parents in other directories)."""
    write(tmp_path / "base.yaml", """
        name: base
        data:
          path: datasets/shapenet
          categories: [chair, table]
        task_network:
          hidden: [64, 64, 64]
        training:
          lr: 1e-4
          batch_size: 32
    """)
    write(tmp_path / "shapenet" / "pc.yaml", """
        inherit_from: ../base.yaml
        name: pc
        data:
          categories: [airplane]
          n_input_points: 300
        objective:
          variant: A
          eta: 0.1
    """)
    return write(tmp_path / "shapenet" / "exp" / "small.yaml", """
        inherit_from: ../pc.yaml
        training:
          batch_size: 4
        field:
          T: 10000
    """)


def test_defaults_match_protocol():
    cfg = Config()
    assert cfg.version == CONFIG_VERSION == 1
    assert cfg.data == DataConfig(
        dataset="shapenet", path=cfg.data.path, categories=None, train_split="train", val_split="val",
        test_split="test", input_type="pointcloud", n_input_points=3000, input_noise=0.005, n_query_points=2048,
        img_size=224, num_workers=0)
    assert cfg.task_network == TaskNetworkConfig(n_frequencies=4, hidden=[128, 128, 128])
    assert cfg.encoder == EncoderConfig(kind="pointnet", c_dim=256, hidden=256)
    assert cfg.field == FieldConfig(width=256, depth=4, heads=4, max_token_size=4096, T=1000)
    assert cfg.objective == ObjectiveConfig(kind="gradient_matching", variant="A", eta=1.0, t_sampling="uniform",
                                            step_rule="sgd", normalize_loss=True, weights_path=None)
    assert cfg.training == TrainingConfig(batch_size=32, lr=1e-4, max_steps=10000, validate_every=500,
                                          checkpoint_every=500, keep_steps=[], seed=0, out_dir="runs/default", device="auto",
                                          threshold=0.5)
    assert cfg.eval == EvalConfig(threshold=0.2, resolution_0=32, upsampling_steps=2)
    # list defaults are not shared between instances
    Config().task_network.hidden.append(1)
    assert Config().task_network.hidden == [128, 128, 128]


def test_every_field_is_documented():
    for cls in (Config, DataConfig, TaskNetworkConfig, EncoderConfig, FieldConfig, ObjectiveConfig,
                TrainingConfig, EvalConfig):
        for f in dataclasses.fields(cls):
            assert field_help(cls, f.name).strip(), f"{cls.__name__}.{f.name} has no help"


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path / "empty.yaml", "")) == Config()


def test_inherit_chain_three_levels(chain):
    cfg = load_config(chain)
    assert cfg.name == "pc"                               # from the middle file
    assert cfg.data.path == "datasets/shapenet"           # from the base, kept through two merges
    assert cfg.data.categories == ["airplane"]            # list replaced, not concatenated
    assert cfg.data.n_input_points == 300
    assert cfg.task_network.hidden == [64, 64, 64]
    assert cfg.training.lr == 1e-4 and isinstance(cfg.training.lr, float)  # YAML '1e-4' read as a float
    assert cfg.training.batch_size == 4                   # child wins
    assert cfg.objective.eta == 0.1
    assert cfg.field.T == 10000
    assert cfg.field.width == 256                         # untouched defaults stay


def test_inherit_chain_with_overrides(chain):
    cfg = load_config(chain, overrides=["training.lr=3e-4", "objective.variant=B", "data.categories=[a, b]",
                                        "data.categories=null", "name=over"])
    assert cfg.training.lr == 3e-4
    assert cfg.objective.variant == "B"
    assert cfg.data.categories is None                    # later overrides win
    assert cfg.name == "over"
    assert cfg.training.batch_size == 4


def test_unknown_key_names_file_and_suggestion(tmp_path):
    path = write(tmp_path / "x.yaml", "training:\n  lr_rate: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: unknown key 'training.lr_rate'")
    assert "did you mean 'lr'?" in msg
    assert isinstance(err.value, ValueError)


def test_unknown_key_in_parent_names_parent(chain, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(base.read_text() + "encoder:\n  c_dimm: 128\n")
    with pytest.raises(ConfigError) as err:
        load_config(chain)
    msg = str(err.value)
    assert "unknown key 'encoder.c_dimm'" in msg and "did you mean 'c_dim'?" in msg
    assert os.path.samefile(msg.split(":")[0], base)


def test_unknown_section(tmp_path):
    path = write(tmp_path / "x.yaml", "trainig:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'trainig' \(did you mean 'training'\?\)"):
        load_config(path)


def test_override_error_names_override(chain):
    with pytest.raises(ConfigError, match=r"^<override>: unknown key 'training.lr_rate'"):
        load_config(chain, overrides=["training.lr_rate=1"])
    with pytest.raises(ConfigError, match=r"^<override>: key 'training.batch_size' expects int"):
        load_config(chain, overrides=["training.batch_size=big"])
    with pytest.raises(ConfigError, match="expected 'section.key=value'"):
        load_config(chain, overrides=["training.batch_size"])


def test_type_error_in_parent_names_parent(chain, tmp_path):
    # the child overrides other training keys; the bad value still comes from the base
    base = tmp_path / "base.yaml"
    base.write_text(base.read_text().replace("lr: 1e-4", "lr: fast"))
    with pytest.raises(ConfigError) as err:
        load_config(chain)
    assert os.path.samefile(str(err.value).split(":")[0], base)
    assert "'training.lr' expects float" in str(err.value) and "'fast'" in str(err.value)


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("training:\n  batch_size: '32'\n", "training.batch_size", "int"),   # string for an int
        ("training:\n  batch_size: true\n", "training.batch_size", "int"),   # bool is not an int
        ("training:\n  batch_size: 3.5\n", "training.batch_size", "int"),
        ("training:\n  lr: true\n", "training.lr", "float"),                 # bool is not a float
        ("objective:\n  normalize_loss: 1\n", "objective.normalize_loss", "bool"),  # int is not a bool
        ("training:\n  seed: null\n", "training.seed", "int"),               # None only for Optional
        ("task_network:\n  hidden: 128\n", "task_network.hidden", "list[int]"),
        ("task_network:\n  hidden: [128, x]\n", "task_network.hidden[1]", "int"),
        ("data:\n  categories: [chair, 3]\n", "data.categories[1]", "str"),
        ("training: 5\n", "training", "mapping"),
        ("name: 7\n", "name", "str"),
    ],
)
def test_type_errors(tmp_path, text, key, expected):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:"), msg
    assert f"'{key}'" in msg and expected in msg, msg


def test_accepted_types(tmp_path):
    path = write(tmp_path / "ok.yaml", """
        training: {lr: 1, threshold: 0.4}
        data: {categories: null}
        objective: {weights_path: fits/w.safetensors, normalize_loss: false}
    """)
    cfg = load_config(path)
    assert cfg.training.lr == 1.0 and type(cfg.training.lr) is float   # int accepted for float
    assert cfg.data.categories is None
    assert cfg.objective.weights_path == "fits/w.safetensors"
    assert cfg.objective.normalize_loss is False


@pytest.mark.parametrize("key, value, got", [
    ("objective.variant", "C", "got 'C'"), ("objective.kind", "gradient", "got 'gradient'"),
    ("data.input_type", "mesh", "got 'mesh'"), ("encoder.kind", "vit", "got 'vit'"),
    ("objective.step_rule", "SGD", "got 'SGD'"),  # choices are case-sensitive
    ("data.dataset", "true", "got True"),         # YAML reads true as a bool, which is no choice
])
def test_literal_choices(tmp_path, key, value, got):
    section, name = key.split(".")
    path = write(tmp_path / "lit.yaml", f"{section}:\n  {name}: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: key '{key}' must be one of")
    assert str(err.value).endswith(got)
    assert load_config(path, overrides=[f"{key}={getattr(getattr(Config(), section), name)}"]) == Config()


def test_cycle_detected(tmp_path):
    write(tmp_path / "a.yaml", "inherit_from: b.yaml\n")
    write(tmp_path / "b.yaml", "inherit_from: sub/c.yaml\n")
    write(tmp_path / "sub" / "c.yaml", "inherit_from: ../a.yaml\n")
    with pytest.raises(ConfigError, match="inherit_from cycle") as err:
        load_config(tmp_path / "a.yaml")
    msg = str(err.value)
    assert "a.yaml" in msg and "b.yaml" in msg and "c.yaml" in msg
    write(tmp_path / "self.yaml", "inherit_from: self.yaml\n")
    with pytest.raises(ConfigError, match="inherit_from cycle"):
        load_config(tmp_path / "self.yaml")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    child = write(tmp_path / "child.yaml", "inherit_from: parent_missing.yaml\n")
    with pytest.raises(FileNotFoundError) as err:
        load_config(child)
    assert "parent_missing.yaml" in str(err.value) and str(child) in str(err.value)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path / "broken.yaml", "name: ok\ntraining:\n  lr: [1, 2\n  seed: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid YAML at line 4"), msg
    path2 = write(tmp_path / "tab.yaml", "a: 1\nb:\n\t- x\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line 3"):
        load_config(path2)
    write(tmp_path / "pbad.yaml", "x: [\n")
    child = write(tmp_path / "cok.yaml", "inherit_from: pbad.yaml\n")
    with pytest.raises(ConfigError, match="pbad.yaml: invalid YAML at line"):
        load_config(child)


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level"):
        load_config(write(tmp_path / "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="inherit_from"):
        load_config(write(tmp_path / "inh.yaml", "inherit_from: [a.yaml]\n"))


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_version_checked(tmp_path):
    with pytest.raises(ConfigError, match="config version 2 is not supported"):
        load_config(write(tmp_path / "v2.yaml", "version: 2\n"))


def test_save_load_round_trip(chain, tmp_path):
    cfg = load_config(chain, overrides=["objective.weights_path=w.safetensors", "training.lr=2.5e-5"])
    out = tmp_path / "out" / "resolved.yaml"
    out.parent.mkdir()
    save_config(cfg, out)
    assert load_config(out) == cfg
    text = out.read_text()
    assert "!!" not in text and "inherit_from" not in text   # plain data, no python tags
    plain = yaml.safe_load(text)
    assert plain == config_to_dict(cfg) and plain["version"] == CONFIG_VERSION
    assert [p.name for p in out.parent.iterdir()] == ["resolved.yaml"]  # no temp file left
    save_config(Config(), out)                                            # replaces atomically
    assert load_config(out) == Config()


def test_save_to_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        save_config(Config(), tmp_path / "missing" / "c.yaml")


def test_config_to_dict_is_plain_data():
    d = config_to_dict(Config())

    def check(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            for v in x.values():
                check(v)
        elif isinstance(x, list):
            for v in x:
                check(v)
        else:
            assert x is None or type(x) in (str, int, float, bool), type(x)

    check(d)
    assert d["version"] == 1 and d["field"]["T"] == 1000


def test_config_from_dict(chain):
    cfg = load_config(chain)
    assert config_from_dict(config_to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match=r"^run42: unknown key 'field.widht' \(did you mean 'width'\?\)"):
        config_from_dict({"field": {"widht": 3}}, source="run42")
    with pytest.raises(ConfigError, match=r"^<dict>: key 'field.T' expects int"):
        config_from_dict({"field": {"T": "1000"}})
    assert config_from_dict({}, overrides=["field.T=5"]).field.T == 5


# ---------------------------------------------------------------------------------------------------------------
# Hostile files: bounded work, one-line errors naming the file


def _billion_laughs() -> str:
    """Nine levels of nine aliases: ~870 bytes that expand to 9^9 (387 million) strings."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines + ["name: *a8"]) + "\n"


@pytest.mark.parametrize("text, problem", [
    (_billion_laughs(), "alias"),
    ("base: &b {lr: 0.1}\ntraining:\n  <<: *b\n", "alias"),            # merge keys use aliases too
    ("name: &n x\ndata:\n  path: *n\n", "alias"),                        # even a harmless one: refused outright
    ("name: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper"),   # flow style: RecursionError before
    ("".join("  " * i + f"k{i}:\n" for i in range(500)), "nested deeper"),  # block style
])
def test_hostile_yaml_refused_quickly(tmp_path, text, problem):
    import time

    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert time.perf_counter() - start < 5.0
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid YAML at line ") and problem in msg and "\n" not in msg, msg
    with pytest.raises(ConfigError, match=problem):  # the same through an override
        load_config(write(tmp_path / "ok.yaml", ""), overrides=["name=" + ("[" * 50 + "]" * 50 if
                                                                            problem == "nested deeper" else "*a")])


def test_billion_laughs_example_is_small():
    assert len(_billion_laughs()) < 1000


def test_shipped_configs_use_no_aliases():
    """Refusing aliases costs nothing: no config of ours uses them."""
    root = Path(__file__).resolve().parents[1] / "configs"
    for path in sorted(root.glob("*.yaml")):
        load_config(path)
        events = list(yaml.parse(path.read_text(encoding="utf-8")))
        assert not any(isinstance(e, yaml.AliasEvent) for e in events), path


def test_yaml_nesting_up_to_the_limit_still_loads(tmp_path):
    inner = "[" * (MAX_YAML_DEPTH - 3) + "]" * (MAX_YAML_DEPTH - 3)  # top mapping + training + key + lists
    with pytest.raises(ConfigError, match="expects int"):  # parsed fine; then refused by the schema as usual
        load_config(write(tmp_path / "d.yaml", f"training:\n  keep_steps: {inner}\n"))


def test_directory_as_config(tmp_path):
    d = tmp_path / "configs.yaml"
    d.mkdir()
    with pytest.raises(ConfigError) as err:
        load_config(d)
    assert str(err.value) == f"{d}: is a directory, expected a YAML config file"
    child = write(tmp_path / "child.yaml", "inherit_from: configs.yaml\n")
    with pytest.raises(ConfigError, match="configs.yaml: is a directory"):
        load_config(child)


def test_unreadable_config(tmp_path, monkeypatch):
    import hnf3d.config as config_module

    path = write(tmp_path / "secret.yaml", "name: x\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(config_module, "open", denied, raising=False)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: cannot read the config file (permission denied)"
    monkeypatch.undo()
    if os.geteuid() != 0:  # root reads anything: the real chmod only means something for other users
        path.chmod(0)
        try:
            with pytest.raises(ConfigError, match="permission denied"):
                load_config(path)
        finally:
            path.chmod(0o600)


def test_oversized_config_file(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "#" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"big.yaml: larger than {MAX_CONFIG_BYTES} bytes"):
        load_config(path)


@pytest.mark.parametrize("text", [
    "name: ok\ntraining:\n  lr: [1, 2\n  seed: 3\n",
    "a: 1\nb:\n\t- x\n",
    "name: a\x00b\n",                  # a control character (PyYAML's ReaderError spans two lines)
    "name: 'unterminated\n",
    "training:\n  lr: 1\n lr2: 2\n",
    "{a: 1\n",
    "? [a, b]\n: 1\n",                 # an unhashable key
    '"a\\nb": 1\n',                     # a key holding a newline
    "name: !!binary AAAA\n",
    "training:\n  seed: " + "9" * 5000 + "\n",  # a huge value: the message stays short
])
def test_every_yaml_error_is_one_line(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and len(msg.splitlines()) == 1 and len(msg) < 400, msg
    assert "\n" not in msg


def test_invalid_yaml_keeps_line_and_column(tmp_path):
    path = write(tmp_path / "b.yaml", "name: ok\ntraining:\n  lr: [1, 2\n  seed: 3\n")
    with pytest.raises(ConfigError, match=r"b.yaml: invalid YAML at line 4, column \d+: expected ',' or ']'"):
        load_config(path)


@pytest.mark.parametrize("text, key, bounds", [
    ("field:\n  width: -5\n", "field.width", "[1, 65536]"),
    ("field:\n  width: 0\n", "field.width", "[1, 65536]"),
    ("task_network:\n  hidden: [128, 1000000000]\n", "task_network.hidden[1]", "[1, 65536]"),
    ("encoder:\n  c_dim: 100000000\n", "encoder.c_dim", "[1, 65536]"),
    ("field:\n  T: 100000000\n", "field.T", "[1, 16777216]"),
    ("training:\n  seed: -1\n", "training.seed", "[0, 4294967295]"),
    ("training:\n  batch_size: 0\n", "training.batch_size", "[1, "),
    ("training:\n  keep_steps: [5, -1]\n", "training.keep_steps[1]", "[0, "),
    ("data:\n  n_input_points: -3\n", "data.n_input_points", "[1, "),
    ("eval:\n  upsampling_steps: 40\n", "eval.upsampling_steps", "[0, 8]"),
])
def test_sizes_out_of_range(tmp_path, text, key, bounds):
    path = write(tmp_path / "r.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: key '{key}' must be an integer in {bounds}"), msg
    with pytest.raises(ConfigError, match=f"<dict>: key '{key.split('[')[0]}"):
        config_from_dict(yaml.safe_load(text))


def test_list_length_bounded(tmp_path):
    path = write(tmp_path / "l.yaml", "task_network:\n  hidden: [" + ", ".join(["8"] * 1000) + "]\n")
    with pytest.raises(ConfigError, match=r"key 'task_network.hidden' has 1000 entries, at most \d+"):
        load_config(path)


def test_every_integer_field_has_a_range():
    for section in (DataConfig, TaskNetworkConfig, EncoderConfig, FieldConfig, ObjectiveConfig, TrainingConfig,
                    EvalConfig):
        for f in dataclasses.fields(section):
            if f.type in ("int", "list[int]", int, list[int]):
                lo, hi = field_range(section, f.name)
                assert 0 <= lo <= getattr(section(), f.name) if f.type in ("int", int) else lo >= 0
                assert hi > lo
    # the defaults pass their own ranges
    assert config_from_dict(config_to_dict(Config())) == Config()


def test_deeply_nested_dict_refused():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ConfigError, match="<dict>: nested too deeply"):
        config_from_dict({"data": deep})


def test_saved_config_has_no_aliases_even_for_shared_lists(tmp_path):
    import hnf3d.config as config_module

    cfg = Config()
    cfg.task_network.hidden = [64, 64]
    cfg.training.keep_steps = cfg.task_network.hidden  # the same list object twice
    path = save_config(cfg, tmp_path / "shared.yaml")
    assert load_config(path) == cfg
    # the dumper itself never writes anchors (plain safe_dump would: '&id001' ... '*id001')
    shared = [1, 2]
    assert "&" in yaml.safe_dump({"a": shared, "b": shared})
    assert "&" not in yaml.dump({"a": shared, "b": shared}, Dumper=config_module._PlainDumper)
