"""Config: seed defaults, presets, YAML and overrides, variants, and errors that name the key."""

import re

import pytest

from reportgen.config import Config
from reportgen.config_loading import bundle_config_from_dict, load_config, parse_override
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
    ({"cnn.channels": [8] * 6}, "cnn.channels"),  # six max-pools shrink 32 pixels to nothing
    ({"report.calibration_bins": 100_000_000}, "report.calibration_bins"),
    ({"report.bootstrap_resamples": 1_000_000_000}, "report.bootstrap_resamples"),
    ({"analysis.timing_blocks": 5}, "analysis.timing_blocks"),
    ({"data.val_fraction": 0.5}, "data.val_fraction"),
    ({"train.device": "tpu"}, "train.device"),
    ({"augment.hflip_p": 1.5}, "augment.hflip_p"),
    ({"data.dataset": "folder"}, "data.dir"),
    ({"train.seeds": [1, 1]}, "train.seeds"),
    ({"train.batch_size": True}, "train.batch_size"),
    ({"train": 3}, "train"),
    ({"data.train_fraction": 0}, "data.train_fraction"),
    ({"data.train_fraction": 1.5}, "data.train_fraction"),
    ({"train.warmup_epochs": 80}, "train.warmup_epochs"),
    ({"train.label_smoothing": 1.0}, "train.label_smoothing"),
    ({"augment.policy": "autoaugment"}, "augment.policy"),
    ({"augment.mixup_alpha": -1}, "augment.mixup_alpha"),
    ({"augment.policy": "randaugment", "train.pipeline": "seed"}, "train.pipeline"),
    ({"augment.enabled": False, "augment.mixup_alpha": 0.8}, "augment.enabled"),
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


def test_the_seed_recipe_has_no_modern_ingredient():
    c = Config()
    assert c.augment.enabled and c.augment.policy == "none"
    assert (c.augment.mixup_alpha, c.augment.cutmix_alpha) == (0, 0)
    assert (c.train.label_smoothing, c.train.warmup_epochs) == (0, 0)
    assert c.data.train_fraction == 1.0 and c.variants == {}


def test_a_variant_is_the_base_config_with_its_keys_changed():
    c = load_config("quick", overrides={"variants.small.data.train_fraction": 0.25,
                                        "variants.plain": {"augment.enabled": False, "train.lr": 0.002}})
    assert c.variants == {"small": {"data.train_fraction": 0.25},
                          "plain": {"augment.enabled": False, "train.lr": 0.002}}  # nested and dotted read alike
    small = c.variant("small")
    assert small.data.train_fraction == 0.25 and small.variants == {}
    assert small.train == c.train and small.data.dataset == "sample"  # everything else is the base config's
    assert c.variant_changes("plain") == {"augment.enabled": False, "train.lr": 0.002}


def test_a_variant_change_is_what_differs_from_the_resolved_base():
    c = load_config(overrides={"variants.v": {"train.lr": 0.001, "train.epochs": 40}})
    assert c.variant_changes("v") == {"train.epochs": 40}  # train.lr is the base value already


@pytest.mark.parametrize("variants, message", [
    ({"Bad Name": {"train.lr": 0.1}}, "variant name 'Bad Name'"),
    ({"v": {"train.seeds": [1]}}, "'variants.v.train.seeds' is the build's"),
    ({"v": {"data.dataset": "cifar10"}}, "'variants.v.data.dataset' is the build's"),
    ({"v": {"report.alpha": 0.1}}, "'variants.v.report.alpha' is not a training setting"),
    ({"v": {"train.lrr": 0.1}}, "variant 'v': unknown config key 'train.lrr'"),
    ({"v": {"train.epochs": 0}}, "variant 'v': config key 'train.epochs' must be a positive"),
    ({"v": {"train.lr": 0.001}}, "'variants.v' changes nothing from the base config"),
    ({"v": {"train.lr": 0.01}, "w": {"train.lr": 0.01}}, "'variants.w' makes the same changes as variant 'v'"),
    ({"v": {}}, "variant 'v' must map config keys to values"),
    ({"v": 3}, "variant 'v' must map config keys to values"),
])
def test_bad_variants_are_refused_naming_them(variants, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(overrides={"variants": variants})


def test_a_variant_can_be_removed_from_a_preset():
    assert "modern" in load_config("quick-study").variants
    assert "modern" not in load_config("quick-study", overrides={"variants.modern": None}).variants


@pytest.mark.parametrize("preset", ["study", "quick-study"])
def test_the_study_presets_test_every_claim(preset):
    c = load_config(preset)
    changes = [c.variant_changes(name) for name in c.variants]
    assert {"augment.enabled": False} in changes
    fractions = sorted(ch["data.train_fraction"] for ch in changes if set(ch) == {"data.train_fraction"})
    assert len(fractions) >= 3 and fractions[-1] < 1.0  # with the base: at least 4 training-set sizes
    recipe = [ch for ch in changes if "augment.policy" in ch]
    assert len(recipe) == 1 and recipe[0]["augment.mixup_alpha"] > 0 and recipe[0]["train.label_smoothing"] > 0
    assert recipe[0]["train.warmup_epochs"] < c.train.epochs
    assert c.train.epochs == (15 if preset == "quick-study" else 80)


@pytest.mark.parametrize("section, name, value", [
    ("report", "slope_epochs", 5),  # 0.4.0's training-length slope window
    ("augment", "policy_group", 32),  # 0.5.0's images sharing one policy operation: the policy now draws per image
])
def test_a_retired_key_reads_in_a_bundle_but_is_refused_from_a_user(section, name, value):
    """A retired key is in older bundles' config.yaml: they still render; a user who sets it is told it is
    unknown."""
    stored = Config().to_dict()
    stored[section][name] = value
    assert bundle_config_from_dict(stored) == Config()
    assert stored[section][name] == value  # the stored mapping is left as it was
    with pytest.raises(ConfigError, match=f"'{section}.{name}'"):
        load_config(overrides={f"{section}.{name}": value})


def test_a_variants_epochs_may_be_a_multiple_of_the_builds():
    config = load_config("quick-study", overrides={"train.epochs": 3})
    assert config.variants["data-25-steps"]["train.epochs"] == "x4"
    assert config.variant("data-25-steps").train.epochs == 12  # the whole set's optimiser steps at 3 epochs
    assert config.variant("data-12-steps").train.epochs == 24
    assert load_config("study").variant("longer").train.epochs == 120


def test_a_multiple_that_is_not_one_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config("quick", overrides={"variants.long.train.epochs": "x"})
