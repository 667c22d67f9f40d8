"""Section "Feature maps": for models whose probes hold stage maps, sparsity and activation per stage."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.report.sections.feature_maps import FeatureMaps, feature_stats, stage_maps
from tests.section_helpers import contents, figures, metric_keys, numbers, tables, text


def test_feature_stats_measure_sparsity_and_mean():
    first, second = feature_stats("cnn", [np.array([[[0.0, 2.0], [0.0, 2.0]]]), np.zeros((2, 1, 1))])
    assert (first.stage, first.channels, first.height, first.width) == (1, 1, 2, 2)
    assert first.zero_pct == pytest.approx(50.0) and first.mean_activation == pytest.approx(1.0)
    assert second.zero_pct == pytest.approx(100.0)
    assert first.zero_metric.key == "cnn.visual.stage1.zero_pct"


def test_stages_are_ordered_numerically():
    maps = stage_maps({f"stage_{i}": np.full((1, 1, 1), i) for i in (10, 2, 1)})
    assert [int(m[0, 0, 0]) for m in maps] == [1, 2, 10]


def test_applies_by_what_the_probes_hold_not_by_model_name(tmp_path):
    assert FeatureMaps().applies(contents(tmp_path / "a"))
    assert not FeatureMaps().applies(contents(tmp_path / "b", models=("vit",)))


def test_draws_the_maps_and_states_the_trend(tmp_path):
    items = numbers(FeatureMaps(), contents(tmp_path / "b"))
    assert [f.key for f in figures(items)] == ["feature_maps_cnn"]
    assert "the share of zero activations (sparsity)" in text(items)
    assert {"cnn.visual.stage1.zero_pct", "cnn.visual.stage3.mean_activation"} <= metric_keys(items)
    assert len(tables(items)[0].rows) == 3
    assert "describe that image, not the models in general" in text(items)


def test_the_captions_name_the_seed_only_when_there_are_several(tmp_path):
    one = numbers(FeatureMaps(), contents(tmp_path / "one", models=("cnn",)))
    captions = [f.caption if isinstance(f.caption, str) else f.caption.text for f in figures(one)]
    assert "seed" not in " ".join(captions + [t.caption for t in tables(one)] + [text(one)])
    three = numbers(FeatureMaps(), contents(tmp_path / "three", models=("cnn",), seeds=(1, 2, 3)))
    assert tables(three)[0].caption.endswith("after each stage, seed 1 (the first of 3).")
    assert "computed on one image, seed 1 (the first of 3), test image" in text(three)
