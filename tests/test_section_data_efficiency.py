"""Section "Data efficiency": test accuracy by training-set size at equal epochs and at equal optimiser steps, every
size's gap with its interval (adjusted within the curve's family), and whether the gap narrows, widens or reverses:
said only when the change of the gap is significant over seeds and test images; with one seed, of that run."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.report.kernel import Metric, Sentence
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.data_efficiency import DataEfficiency, size_points
from tests.bundle_factory import VariantSpec
from tests.section_helpers import build, contents, facts, figures, metric_keys, numbers, sentences, tables, text

THREE = (1, 2, 3)

SWAPPED_BASE = dict(accuracies={"cnn": 0.72, "vit": 0.85}, train_gaps={"cnn": 0.12, "vit": 0.02})


def sizes(accuracies: dict[float, dict[str, float]], swap: bool = False) -> dict:
    """Variants d<percent> changing only data.train_fraction, with these accuracies (the models' exchanged)."""
    def of(acc: dict[str, float]) -> dict[str, float]:
        return {"cnn": acc["vit"], "vit": acc["cnn"]} if swap else acc
    return {"variants": {f"d{round(100 * f)}": VariantSpec({"data.train_fraction": f}, of(a))
                         for f, a in accuracies.items()}}


def steps(accuracies: dict[float, dict[str, float]], swap: bool = False) -> dict:
    """`sizes`, plus variants s<percent> that train each share for proportionally more epochs (equal optimiser steps;
    the synthetic base trains 5 epochs)."""
    out = sizes(accuracies, swap)
    for f, a in accuracies.items():
        acc = {"cnn": a["vit"], "vit": a["cnn"]} if swap else a
        changes = {"data.train_fraction": f, "train.epochs": round(5 / f)}
        out["variants"][f"s{round(100 * f)}"] = VariantSpec(changes, acc)
    return out


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


def test_the_table_gives_every_size_its_gap_interval_and_adjusted_p(tmp_path):
    report = contents(tmp_path / "b", **sizes({0.5: NARROWS[0.5], 0.1: NARROWS[0.1], 0.25: NARROWS[0.25]}))
    (table,) = tables(numbers(DataEfficiency(), report))
    assert table.header == ["training images", "fraction", "optimiser steps", "run", "CNN accuracy", "ViT accuracy",
                            "gap (CNN − ViT, points)", "95% interval", "p / adjusted p", "gap verdict"]
    rows = [_cells(row) for row in table.rows]
    assert [[row[0], row[1], row[3]] for row in rows] == [["200", "0.1", "d10"], ["500", "0.25", "d25"],
                                                         ["1,000", "0.5", "d50"], ["2,000", "1", "base config"]]
    assert all(row[-1] == "significant in this run" for row in rows)
    assert [table.rows[0][0].key, table.rows[-1][0].key] == ["variant.d10.train_images", "dataset.train_images"]
    first = table.rows[0]
    assert first[6].key == "variant.d10.compare.seed_diff_pts.mean"
    assert first[6].value == pytest.approx(first[4].metrics[0].value - first[5].metrics[0].value)
    low, high = first[7].metrics
    assert low.key == "variant.d10.compare.gap.low" and low.value < first[6].value < high.value
    raw, adjusted = first[8].metrics
    assert adjusted.key == raw.key + "_adj" and adjusted.value >= raw.value


def test_one_seed_describes_the_change_of_the_gap_in_this_run(tmp_path):
    report = contents(tmp_path / "a", **sizes(NARROWS))
    items = build(DataEfficiency(), report)
    said = text(items)
    assert said.startswith("Rule used for data efficiency: each smaller training set is a class-balanced share")
    assert ("At equal epochs, the gap between the CNN and the ViT (CNN minus ViT) is 25.17 points with 200 training "
            "images and 12.83 points with 2,000, a change of -12.33 points in this run (bootstrap over the test images "
            "with the trained weights held fixed, p ≤ 0.001998, 95% interval -19.00 to -5.00 points). With one seed "
            "this describes the trained weights of this run, not the models: train with --seeds 42,43,44") in said
    assert "narrows" not in facts(items) and "widens" not in facts(items)
    (figure,) = figures(items)
    assert figure.key == "data-efficiency" and (tmp_path / "a" / figure.src).is_file()
    verdict = DataEfficiency().verdict(report)
    assert verdict.rows[0].primary and verdict.rows[0].verdict.text.startswith("interval excludes 0 in this run")
    assert verdict.claims[0].status == INCONCLUSIVE and verdict.claims[0].evidence.text.startswith("one seed")


def test_the_gap_narrows_over_seeds_and_flips_with_the_models(tmp_path):
    report = contents(tmp_path / "a", seeds=THREE, **sizes(NARROWS))
    said = facts(numbers(DataEfficiency(), report))
    assert ("At equal epochs, the gap between the CNN and the ViT (CNN minus ViT) is 24.50 points with 200 training "
            "images and 12.56 points with 2,000: it narrows, a significant change of -11.94 points (hierarchical "
            "bootstrap over seeds and test images, p ≤ 0.001998, 95% interval -16.78 to -6.39 points).") in said
    assert "At equal epochs, the CNN's test accuracy rises from 49.56 ± 0.54% with 200 training images" in said
    verdict = DataEfficiency().verdict(report)
    assert verdict.rows[0].verdict.text == "significant, p ≤ 0.001998"
    assert verdict.claims[0].status == SUPPORTED  # the ViT gains more from more data
    swapped = contents(tmp_path / "b", seeds=THREE, **SWAPPED_BASE, **sizes(NARROWS, swap=True))
    assert ": it narrows, a significant change of 1" in facts(numbers(DataEfficiency(), swapped))
    assert DataEfficiency().verdict(swapped).claims[0].status == CONTRADICTED  # now the CNN gains more


def test_the_gap_widens(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **sizes(WIDENS))
    assert ": it widens, a significant change of " in facts(numbers(DataEfficiency(), report))
    assert DataEfficiency().verdict(report).claims[0].status == CONTRADICTED


def test_the_gap_reverses_and_the_leaders_flip(tmp_path):
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "a", seeds=THREE, **sizes(REVERSES))))
    assert "it reverses, from a significant lead of the ViT to a significant lead of the CNN, a significant " \
        "change" in said
    swapped = facts(numbers(DataEfficiency(), contents(tmp_path / "b", seeds=THREE, **SWAPPED_BASE,
                                                       **sizes(REVERSES, swap=True))))
    assert "it reverses, from a significant lead of the CNN to a significant lead of the ViT, a significant change " \
        "of -" in swapped


def test_a_steady_gap_is_not_called_narrowing(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **sizes(STEADY))
    said = facts(numbers(DataEfficiency(), report))
    assert ("a change of 0.06 points that is not significant (hierarchical bootstrap over seeds and test images, "
            "p = 0.9630, 95% interval -5.39 to 5.45 points), so these sizes do not show the gap changing with the "
            "training-set size. Nothing is claimed beyond the measured sizes.") in said
    for claim in ("narrows", "widens", "reverses", "a significant change of"):
        assert claim not in said
    verdict = DataEfficiency().verdict(report)
    assert verdict.rows[0].verdict.text == "not significant, p = 0.9630"
    assert verdict.claims[0].status == INCONCLUSIVE


def test_an_unchanged_accuracy_is_not_called_a_rise(tmp_path):
    flat = {f: {"cnn": 0.85, "vit": a["vit"]} for f, a in NARROWS.items()}  # the CNN does as well on a tenth
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(flat))))
    assert said.startswith("At equal epochs, the CNN's test accuracy is 84.83% with 200 training images and 85.50% "
                           "with 2,000, a difference that is not significant in this run (McNemar p = ")
    assert "the CNN's test accuracy rises" not in said and "the CNN's test accuracy falls" not in said
    falls = {f: {"cnn": 0.95, "vit": a["vit"]} for f, a in NARROWS.items()}
    fell = facts(numbers(DataEfficiency(), contents(tmp_path / "c", **sizes(falls))))
    assert "At equal epochs, the CNN's test accuracy falls from 94.83% with 200 training images to 85.50% with " \
           "2,000, significant in this run" in fell


def test_equal_optimiser_steps_are_a_curve_of_their_own_recognised_by_what_they_change(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **steps(NARROWS))
    items = numbers(DataEfficiency(), report)
    epochs_table, steps_table = tables(items)
    assert [row[3] for row in epochs_table.rows] == ["d10", "d25", "d50", "base config"]
    assert [row[3] for row in steps_table.rows] == ["s10", "s25", "s50", "base config"]
    assert [row[2].value for row in steps_table.rows[:3]] == [50, 20, 10]  # 200 images at batch 128: 1 step an epoch
    said = facts(items)
    assert "At equal optimiser steps, the gap between the CNN and the ViT (CNN minus ViT) is 25.94 points" in said
    assert "At equal optimiser steps, the CNN's test accuracy rises" in said
    verdict = DataEfficiency().verdict(report)
    assert [row.measure for row in verdict.rows] == [
        "Accuracy gain from the smallest to the largest training set, equal epochs (points)",
        "Accuracy gain from the smallest to the largest training set, equal optimiser steps (points)"]
    assert verdict.claims[0].status == SUPPORTED and "at equal optimiser steps" in verdict.claims[0].evidence.text
    # Named otherwise, the variants are the same curve; with a fraction changed but the epochs not in proportion,
    # a variant is on neither curve.
    renamed = {f"x{name}": spec for name, spec in steps(NARROWS)["variants"].items()}
    renamed["xs10"] = VariantSpec({"data.train_fraction": 0.1, "train.epochs": 20}, NARROWS[0.1])
    other = contents(tmp_path / "c", variants=renamed)
    assert [p.label for p in size_points(other, "steps")] == ["xs25", "xs50", "base config"]


def test_every_metric_key_has_one_value(tmp_path):
    """The base config is a point of both curves: its keys must not carry two families' adjusted p-values (at one
    seed the Holm-adjusted p of the base's gap depends on the other sizes' raw p, which differ between the curves)."""
    items = numbers(DataEfficiency(), contents(tmp_path / "b", **steps(NARROWS)))
    metrics = [m for s in sentences(items) for m in s.metrics]
    for table in tables(items):
        for row in table.rows:
            for cell in row:
                metrics += [cell] if isinstance(cell, Metric) else list(getattr(cell, "metrics", []))
    values: dict[str, set[float]] = {}
    for m in metrics:
        values.setdefault(m.key, set()).add(round(float(m.value), 9))
    assert {k: v for k, v in values.items() if len(v) > 1} == {}
    assert {"compare.mcnemar.seed42.p_adj", "steps.compare.mcnemar.seed42.p_adj",
            "cnn.data_efficiency.steps.growth.mcnemar.seed42.p"} <= set(values)


def test_the_reported_change_is_the_difference_of_the_mean_gaps(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **sizes(NARROWS))
    items = numbers(DataEfficiency(), report)

    def gaps(runs: dict) -> list[float]:
        return [100 * (c.metrics["accuracy"] - v.metrics["accuracy"]) for c, v in zip(runs["cnn"], runs["vit"])]

    shown = {m.key: m for s in sentences(items) for m in s.metrics}
    assert shown["compare.data_efficiency.gap_change.diff_pts"].value == pytest.approx(
        np.mean(gaps(report.runs)) - np.mean(gaps(report.variants["d10"].runs)))


def test_one_model_has_no_gap(tmp_path):
    items = numbers(DataEfficiency(), contents(tmp_path / "b", models=("vit",), **sizes(NARROWS)))
    (table,) = tables(items)
    assert table.header == ["training images", "fraction", "optimiser steps", "run", "ViT accuracy"]
    said = facts(items)
    assert said.startswith("At equal epochs, the ViT's test accuracy rises from 24.67% with 200 training images to "
                           "72.67% with 2,000")
    assert "gap" not in said and "CNN" not in said


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(DataEfficiency(), contents(tmp_path / "b", **sizes(NARROWS))))
    assert {"variant.d10.cnn.accuracy.mean", "cnn.accuracy.mean", "variant.d10.train_images",
            "dataset.train_images", "cnn.data_efficiency.growth.mcnemar.seed42.p",
            "cnn.data_efficiency.growth.mcnemar.seed42.p_adj", "compare.data_efficiency.gap_change.diff_pts",
            "compare.data_efficiency.gap_change.p"} <= keys


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(DataEfficiency(), contents(tmp_path / "b", seeds=THREE, config_overrides={"report.alpha": 1e-4},
                                             **sizes(NARROWS)))
    assert "is significant at α = 0.0001 by the hierarchical bootstrap" in text(items)
    said = facts(items)
    assert "a change of -11.94 points that is not significant (hierarchical bootstrap over seeds and test images, " \
           "p ≤ 0.001998" in said and "narrows" not in said


def test_a_change_of_sign_with_an_untested_lead_is_no_reversal(tmp_path):
    barely = {0.1: {"cnn": 0.55, "vit": 0.565}, 0.25: {"cnn": 0.6, "vit": 0.65}, 0.5: {"cnn": 0.75, "vit": 0.7}}
    said = facts(numbers(DataEfficiency(), contents(tmp_path / "a", seeds=THREE, **sizes(barely))))
    assert "it changes sign, from the ViT ahead to the CNN ahead (a lead that is not significant at one end at " \
           "least), a significant change of " in said
    assert "reverses" not in said
