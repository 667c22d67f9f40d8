"""The typesetting kernel: metric formats, stats over seeds, sentences and key builders."""

from __future__ import annotations

import pytest

from reportgen.report.kernel import (
    FigureRef,
    Metric,
    Stat,
    bundle_key,
    compare_key,
    config_key,
    model_key,
    run_key,
    sentence,
)


def test_stat_of_one_seed_has_no_std_and_no_plus_minus():
    stat = Stat("cnn.accuracy", "percent", (87.14,))
    assert stat.std is None
    assert sentence(stat.parts("%")).text == "87.14%"


def test_stat_of_several_seeds_is_mean_and_sample_std():
    stat = Stat("cnn.accuracy", "percent", (80.0, 82.0, 84.0))
    assert stat.mean == Metric("cnn.accuracy.mean", 82.0, "percent")
    assert stat.std.value == pytest.approx(2.0)  # ddof=1
    assert stat.std.key == "cnn.accuracy.std"
    assert stat.rekeyed("b2.cnn.accuracy").mean.key == "b2.cnn.accuracy.mean"


def test_pvalues_show_four_significant_digits_or_a_floor():
    assert Metric("p", 0.5, "pvalue").text == "0.5000"
    assert Metric("p", 0.0123456, "pvalue").text == "0.01235"
    assert Metric("p", 0.00012345, "pvalue").text == "0.0001234"
    assert Metric("p", 3e-7, "pvalue").text == "< 0.0001"


@pytest.mark.parametrize("unit, value, shown", [
    ("percent", 87.1449, "87.14"), ("count", 1353136, "1,353,136"), ("factor", 1.4231, "1.42"),
    ("slope", 0.0123, "+0.012"), ("slope", -0.5, "-0.500"), ("number", 0.001, "0.001"),
])
def test_units_fix_the_displayed_text(unit, value, shown):
    assert Metric("k", value, unit).text == shown


def test_sentences_flatten_nested_parts_and_list_their_metrics():
    accuracy = Metric("cnn.accuracy.mean", 80.0, "percent")
    s = sentence("reached ", [accuracy, ["%", [" in ", Metric("cnn.epochs", 5, "count")]]], sentence(" epochs."))
    assert s.text == "reached 80.00% in 5 epochs."
    assert [m.key for m in s.metrics] == ["cnn.accuracy.mean", "cnn.epochs"]
    assert sentence("see ", FigureRef("curves_cnn")).parts[-1] == FigureRef("curves_cnn")


def test_key_builders_give_one_scheme():
    assert run_key("cnn", 42, "accuracy") == "cnn.seed42.accuracy"
    assert model_key("vit", "parameters") == "vit.parameters"
    assert compare_key("ttest.p") == "compare.ttest.p"
    assert config_key("train.lr") == "config.train.lr"
    assert bundle_key(2, "vit.accuracy") == "b2.vit.accuracy"


def test_a_p_value_that_is_a_bound_reads_as_one():
    from reportgen.report.kernel import Metric, p_parts, sentence

    assert sentence(*p_parts(Metric("x.p", 0.001998, "pvalue_bound"))).text == "p ≤ 0.001998"
    assert sentence(*p_parts(Metric("x.p", 0.25, "pvalue"))).text == "p = 0.2500"
    assert Metric("x.p", 0.00001, "pvalue_bound").text == "< 0.0001"
