"""Config: seed defaults, presets, YAML and overrides, and errors that name the key."""

import pytest

from reportgen.config import Config, load_config, parse_override
from reportgen.errors import ConfigError


def test_defaults_are_the_seed_protocol():
    c = Config()
    assert c.models == ["cnn", "vit"]
    assert (c.train.epochs, c.train.batch_size, c.train.lr, c.train.weight_decay) == (80, 1024, 1e-3, 0.05)
    assert c.train.seeds == [42]
    assert (c.augment.hflip_p, c.augment.rotation_deg, c.augment.translate_frac) == (0.5, 15.0, 0.1)
    assert c.data.mean == [0.4914, 0.4822, 0.4465] and c.data.std == [0.2470, 0.2435, 0.2616]
    assert c.cnn.channels == [32, 64, 128] and c.cnn.hidden_dim == 512 and c.cnn.dropout == 0.1
    v = c.vit
    assert (v.patch_size, v.embed_dim, v.depth, v.num_heads, v.mlp_dim, v.dropout) == (4, 128, 6, 4, 512, 0.1)


def test_file_then_overrides_apply_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 5\n  lr: 0.01\nvit:\n  depth: 2\n")
    c = load_config("quick", path, {"train.epochs": 3, "vit.num_heads": 2})
    assert c.data.dataset == "sample"  # from the preset
    assert c.train.lr == 0.01 and c.vit.depth == 2  # from the file
    assert c.train.epochs == 3 and c.vit.num_heads == 2  # overrides win


def test_integer_given_for_a_float_is_accepted():
    assert load_config(overrides={"train.lr": 1}).train.lr == 1.0


def test_override_values_are_parsed_as_yaml():
    assert parse_override("train.seeds=[1, 2]") == ("train.seeds", [1, 2])
    assert load_config(overrides=dict([parse_override("train.lr=3e-4")])).train.lr == 3e-4
    assert parse_override("report.title=My run") == ("report.title", "My run")


@pytest.mark.parametrize("overrides, key", [
    ({"train.lrr": 0.1}, "train.lrr"),
    ({"nonsense": 1}, "nonsense"),
    ({"train.epochs": -3}, "train.epochs"),
    ({"train.epochs": "ten"}, "train.epochs"),
    ({"train.epochs": 2.5}, "train.epochs"),
    ({"models": ["cnn", "resnet"]}, "models"),
    ({"vit.num_heads": 3}, "vit.num_heads"),
    ({"vit.patch_size": 5}, "vit.patch_size"),
    ({"train.device": "tpu"}, "train.device"),
    ({"augment.hflip_p": 1.5}, "augment.hflip_p"),
    ({"data.dataset": "folder"}, "data.dir"),
    ({"train.seeds": [1, 1]}, "train.seeds"),
    ({"train.batch_size": True}, "train.batch_size"),
    ({"train": 3}, "train"),
])
def test_bad_values_are_refused_naming_the_key(overrides, key):
    with pytest.raises(ConfigError, match=f"'{key}'") as info:
        load_config(overrides=overrides)
    assert info.value.exit_code == 2


def test_unknown_preset_and_missing_or_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("fast")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(config_file=bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(config_file=scalar)


def test_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("train.epochs")
