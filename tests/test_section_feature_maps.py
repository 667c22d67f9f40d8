"""Section "Feature maps": for models whose probes hold stage maps, sparsity and activation per stage."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.report.kernel import Metric, sentence
from reportgen.report.sections.feature_maps import FeatureMaps, course, feature_stats, stage_maps
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
    assert not tables(items)  # the sentence gives every stage's numbers, so no table repeats it
    assert "it describes the image, not the model in general" in figures(items)[0].caption.text
    assert "describes the image" not in text(items)  # said once, in the caption: no paragraph repeated by a section


def _course_text(*values: float) -> str:
    return sentence(course([Metric(f"m.stage{i}", v, "percent") for i, v in enumerate(values, 1)], "%")).text


def test_the_course_over_stages_names_every_stage_unless_it_is_monotonic():
    assert _course_text(51.09, 50.50, 50.84) == \
        "is not monotonic over the stages: 51.09% at stage 1, 50.50% at stage 2, 50.84% at stage 3"
    assert _course_text(51.09, 50.84, 50.50) == \
        "falls stage by stage: 51.09% at stage 1, 50.84% at stage 2, 50.50% at stage 3"
    assert _course_text(50.50, 50.84, 51.09) == \
        "rises stage by stage: 50.50% at stage 1, 50.84% at stage 2, 51.09% at stage 3"
    assert _course_text(50.5, 50.5, 50.9).startswith("rises overall, level at some stage: 50.50% at stage 1")
    assert _course_text(50.9, 50.5) == "falls from 50.90% at stage 1 to 50.50% at stage 2"
    assert _course_text(50.501, 50.499) == "stays at 50.50% at every stage"


def test_the_captions_name_the_seed_only_when_there_are_several(tmp_path):
    one = numbers(FeatureMaps(), contents(tmp_path / "one", models=("cnn",)))
    captions = [f.caption if isinstance(f.caption, str) else f.caption.text for f in figures(one)]
    assert "seed" not in " ".join(captions + [text(one)])
    three = numbers(FeatureMaps(), contents(tmp_path / "three", models=("cnn",), seeds=(1, 2, 3)))
    captions = [f.caption if isinstance(f.caption, str) else f.caption.text for f in figures(three)]
    assert any("each stage, seed 1 (the first of 3)." in c for c in captions)
