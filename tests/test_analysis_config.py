"""The analysis.* settings: validated before any work starts, each error naming its key."""

from __future__ import annotations

import re

import pytest

from reportgen.config import CORRUPTIONS
from reportgen.config_loading import load_config
from reportgen.errors import ConfigError


@pytest.mark.parametrize("overrides, key", [
    ({"analysis.corruptions": ["fog"]}, "analysis.corruptions[0]"),
    ({"analysis.corruptions": []}, "analysis.corruptions"),
    ({"analysis.corruptions": ["contrast", "contrast"]}, "analysis.corruptions"),
    ({"analysis.corruption_images": 5}, "analysis.corruption_images"),
    ({"analysis.timing_repeats": 3}, "analysis.timing_repeats"),
    ({"analysis.timing_warmup": -1}, "analysis.timing_warmup"),
    ({"analysis.deletion_grid": 5}, "analysis.deletion_grid"),
    ({"analysis.deletion_steps": 65}, "analysis.deletion_steps"),
    ({"analysis.deletion_random_orders": 0}, "analysis.deletion_random_orders"),
    ({"analysis.explanation_images": 0}, "analysis.explanation_images"),
    ({"analysis.seed": -2}, "analysis.seed"),
    ({"analysis.robustness": "yes"}, "analysis.robustness"),
])
def test_bad_analysis_settings_are_refused_naming_the_key(overrides, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")) as info:
        load_config(overrides=overrides)
    assert info.value.exit_code == 2


def test_every_analysis_is_on_by_default_with_the_whole_suite():
    a = load_config().analysis
    assert a.efficiency and a.robustness and a.explanations
    assert a.corruptions == list(CORRUPTIONS) and len(CORRUPTIONS) == 10


def test_the_quick_preset_sizes_the_analyses_for_two_cpu_cores():
    quick, seed = load_config("quick").analysis, load_config().analysis
    assert quick.corruption_images < seed.corruption_images and quick.explanation_images < seed.explanation_images
    assert load_config("quick", overrides={"analysis.corruption_images": 300}).analysis.corruption_images == 300
