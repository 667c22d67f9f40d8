"""Section "Data efficiency": test accuracy by training-set size, and whether the gap between the models narrows,
widens or reverses, said only when the change of the gap is significant."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel

from reportgen.report.kernel import Metric, Sentence
from reportgen.report.sections.data_efficiency import DataEfficiency, size_points
from tests.bundle_factory import VariantSpec
from tests.section_helpers import build, contents, facts, figures, metric_keys, numbers, tables, text

SWAPPED_BASE = dict(accuracies={"cnn": 0.72, "vit": 0.85}, train_gaps={"cnn": 0.12, "vit": 0.02})


def sizes(accuracies: dict[float, dict[str, float]], swap: bool = False) -> dict:
    """Variants d<percent> changing only data.train_fraction, with these accuracies (the models' exchanged)."""
    def of(acc: dict[str, float]) -> dict[str, float]:
        return {"cnn": acc["vit"], "vit": acc["cnn"]} if swap else acc
    return {"variants": {f"d{round(100 * f)}": VariantSpec({"data.train_fraction": f}, of(a))
                         for f, a in accuracies.items()}}


# The base config has the CNN 85%, the ViT 72%: a gap of 13 points with the whole training set.
NARROWS = {0.1: {"cnn": 0.50, "vit": 0.25}, 0.25: {"cnn": 0.6, "vit": 0.4}, 0.5: {"cnn": 0.7, "vit": 0.55}}
WIDENS = {0.1: {"cnn": 0.6, "vit": 0.58}, 0.25: {"cnn": 0.7, "vit": 0.62}, 0.5: {"cnn": 0.8, "vit": 0.7}}
REVERSES = {0.1: {"cnn": 0.5, "vit": 0.6}, 0.25: {"cnn": 0.6, "vit": 0.65}, 0.5: {"cnn": 0.75, "vit": 0.7}}
STEADY = {0.1: {"cnn": 0.6, "vit": 0.47}, 0.25: {"cnn": 0.7, "vit": 0.57}, 0.5: {"cnn": 0.8, "vit": 0.67}}


def _cells(row) -> list[str]:
    return [c.text if isinstance(c, (Metric, Sentence)) else c for c in row]


def test_applies_with_four_training_set_sizes(tmp_path):
    assert DataEfficiency().applies(contents(tmp_path / "four", **sizes(NARROWS)))
    assert not DataEfficiency().applies(contents(tmp_path / "none"))
    three = {f: a for f, a in NARROWS.items() if f != 0.5}
    assert not DataEfficiency().applies(contents(tmp_path / "three", **sizes(three)))
    # A variant that changes the fraction and anything else is no point of the curve.
    mixed = sizes(three)
    mixed["variants"]["d50"] = VariantSpec({"data.train_fraction": 0.5, "train.lr": 5e-4}, NARROWS[0.5])
    report = contents(tmp_path / "mixed", **mixed)
    assert [p.label for p in size_points(report)] == ["d10", "d25", "base config"]
    assert not DataEfficiency().applies(report)


def test_the_table_lists_the_sizes_smallest_first(tmp_path):
    report = contents(tmp_path / "b", **sizes({0.5: NARROWS[0.5], 0.1: NARROWS[0.1], 0.25: NARROWS[0.25]}))
    (table,) = tables(numbers(DataEfficiency(), report))
    assert table.header == ["training images", "fraction", "run", "CNN accuracy", "ViT accuracy",
                            "gap (CNN − ViT, points)", "gap verdict"]
    rows = [_cells(row) for row in table.rows]
    assert [row[:3] for row in rows] == [["200", "0.1", "d10"], ["500", "0.25", "d25"], ["1,000", "0.5", "d50"],
                                         ["2,000", "1", "base config"]]
    assert all(row[-1] == "significant" for row in rows)
    assert [table.rows[0][0].key, table.rows[-1][0].key] == ["variant.d10.train_images", "dataset.train_images"]
    assert [table.rows[0][1].key, table.rows[-1][1].key] == ["variant.d10.config.data.train_fraction",
                                                             "config.data.train_fraction"]
    first = table.rows[0]
    assert first[5].key == "variant.d10.compare.seed_diff_pts.mean"
    assert first[5].value == pytest.approx(first[3].metrics[0].value - first[4].metrics[0].value)


def test_the_gap_narrows_and_flips_with_the_models(tmp_path):
    items = build(DataEfficiency(), contents(tmp_path / "a", **sizes(NARROWS)))
    said = text(items)
    assert said.startswith("Rule used for data efficiency: each smaller training set is a class-balanced share")
    assert ("The CNN's test accuracy rises from 49.83% with 200 training images to 85.50% with 2,000, a significant "
            "change (McNemar p < 0.0001).") in said
    assert ("The gap between the CNN and the ViT (CNN minus ViT) is 25.17 points with 200 training images and 12.83 "
            "points with 2,000: it narrows, a significant change of -12.33 points (paired t-test on the same test "
            "images, p = 0.0004757). Nothing is claimed beyond the measured sizes.") in said
    assert "The curves are in Figure data-efficiency." in said
    (figure,) = figures(items)
    assert figure.key == "data-efficiency" and (tmp_path / "a" / figure.src).is_file()
    swapped = facts(build(DataEfficiency(), contents(tmp_path / "b", **SWAPPED_BASE, **sizes(NARROWS, swap=True))))
    assert ("The gap between the CNN and the ViT (CNN minus ViT) is -24.83 points with 200 training images and -13.17 "
            "points with 2,000: it narrows, a significant change of 11.67 points") in swapped


def test_the_gap_widens(tmp_path):
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(WIDENS))))
    assert ("The gap between the CNN and the ViT (CNN minus ViT) is 2.17 points with 200 training images and 12.83 "
            "points with 2,000: it widens, a significant change of 10.67 points (paired t-test on the same test "
            "images, p = 0.003830).") in said


def test_the_gap_reverses_and_the_leaders_flip(tmp_path):
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "a", **sizes(REVERSES))))
    assert ("The gap between the CNN and the ViT (CNN minus ViT) is -9.83 points with 200 training images and 12.83 "
            "points with 2,000: it reverses, from a significant lead of the ViT to a significant lead of the CNN, a "
            "significant change of "
            "22.67 points (paired t-test on the same test images, p < 0.0001).") in said
    swapped = facts(numbers(DataEfficiency(), contents(tmp_path / "b", **SWAPPED_BASE, **sizes(REVERSES, swap=True))))
    assert "it reverses, from a significant lead of the CNN to a significant lead of the ViT, a significant change " \
        "of -" in swapped


def test_a_steady_gap_is_not_called_narrowing(tmp_path):
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(STEADY))))
    assert ("The gap between the CNN and the ViT (CNN minus ViT) is 13.17 points with 200 training images and 12.83 "
            "points with 2,000, a change of -0.33 points that is not significant (paired t-test on the same test "
            "images, p = 0.9266), so these sizes do not show the gap changing with the training-set size. Nothing is "
            "claimed beyond the measured sizes.") in said
    for claim in ("narrows", "widens", "reverses", "a significant change of"):
        assert claim not in said


def test_an_unchanged_accuracy_is_not_called_a_rise(tmp_path):
    flat = {f: {"cnn": 0.85, "vit": a["vit"]} for f, a in NARROWS.items()}  # the CNN does as well on a tenth
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(flat))))
    assert said.startswith("The CNN's test accuracy is 84.83% with 200 training images and 85.50% with 2,000, not a "
                           "significant difference (McNemar p = ")
    assert "The CNN's test accuracy rises" not in said and "The CNN's test accuracy falls" not in said
    falls = {f: {"cnn": 0.95, "vit": a["vit"]} for f, a in NARROWS.items()}
    assert "The CNN's test accuracy falls from 94.83% with 200 training images to 85.50% with 2,000, a significant " \
           "change" in facts(numbers(DataEfficiency(), contents(tmp_path / "c", **sizes(falls))))


def test_several_seeds_use_the_paired_ttest_over_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3), **sizes(NARROWS))
    items = numbers(DataEfficiency(), report)
    said = facts(items)
    assert "The CNN's test accuracy rises from 49.56 ± 0.54% with 200 training images to 84.56 ± 0.42% with 2,000, " \
           "a significant change (paired t-test over seeds, p " in said
    assert "McNemar p < 0.05 for the config ahead in 3 of 3 seeds)" in said
    assert ": it narrows, a significant change of -11.94 points (paired t-test over seeds, p = " in said

    def gaps(runs: dict) -> list[float]:
        return [100 * (c.metrics["accuracy"] - v.metrics["accuracy"]) for c, v in zip(runs["cnn"], runs["vit"])]

    shown = {m.key: m for s in items[2].sentences for m in s.metrics}
    largest, smallest = gaps(report.runs), gaps(report.variants["d10"].runs)
    assert shown["compare.data_efficiency.gap_change.p"].value == pytest.approx(ttest_rel(largest, smallest).pvalue)
    assert shown["compare.data_efficiency.gap_change.diff_pts"].value == pytest.approx(
        np.mean(largest) - np.mean(smallest))


def test_one_model_has_no_gap(tmp_path):
    items = numbers(DataEfficiency(), contents(tmp_path / "b", models=("vit",), **sizes(NARROWS)))
    (table,) = tables(items)
    assert table.header == ["training images", "fraction", "run", "ViT accuracy"]
    said = facts(items)
    assert said.startswith("The ViT's test accuracy rises from 24.67% with 200 training images to 72.67% with 2,000")
    assert "gap" not in said and "CNN" not in said


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(NARROWS))))
    assert {"variant.d10.cnn.accuracy.mean", "cnn.accuracy.mean", "variant.d10.train_images",
            "dataset.train_images", "cnn.data_efficiency.growth.mcnemar.seed42.p",
            "variant.d10.compare.seed_diff_pts.mean", "compare.seed_diff_pts.mean",
            "compare.data_efficiency.gap_change.diff_pts", "compare.data_efficiency.gap_change.p"} <= keys


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(DataEfficiency(), contents(tmp_path / "b", config_overrides={"report.alpha": 1e-4},
                                             **sizes(NARROWS)))
    assert "the smallest size is significant at α = 0.0001:" in text(items)
    said = facts(items)
    assert "a change of -12.33 points that is not significant (paired t-test on the same test images, p = " \
           "0.0004757)" in said and "narrows" not in said


def test_a_change_of_sign_with_an_untested_lead_is_no_reversal(tmp_path):
    barely = {0.1: {"cnn": 0.55, "vit": 0.565}, 0.25: {"cnn": 0.6, "vit": 0.65}, 0.5: {"cnn": 0.75, "vit": 0.7}}
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "a", **sizes(barely))))
    assert "it changes sign, from the ViT ahead to the CNN ahead (a lead that is not significant at one end at " \
           "least), a significant change of " in said
    assert "reverses" not in said
