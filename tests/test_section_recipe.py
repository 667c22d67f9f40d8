"""Section "A modern training recipe": each model's change under the recipe (adjusted within the family of
variant-against-base comparisons), and how much of the base recipe's gap between the models it closes: said only
when the change of the gap is significant over seeds and test images; with one seed, of that run."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.config_loading import load_config
from reportgen.presets import PRESETS, RECIPE_KEYS
from reportgen.report.kernel import Subsection
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.recipe import Recipe
from tests.bundle_factory import VariantSpec
from tests.section_helpers import HAIR, contents, facts, metric_keys, numbers, tables, text

CHANGES = {"train.label_smoothing": 0.1, "augment.policy": "trivialaugment"}
THREE = (1, 2, 3)
SWAPPED_BASE = dict(accuracies={"cnn": 0.72, "vit": 0.85}, train_gaps={"cnn": 0.12, "vit": 0.02})


def modern(accuracies: dict[str, float], **spec) -> dict:
    return {"variants": {"modern": VariantSpec(CHANGES, accuracies, **spec)}}


def swap(accuracies: dict[str, float]) -> dict[str, float]:
    return {"cnn": accuracies["vit"], "vit": accuracies["cnn"]}


NARROWS = {"cnn": 0.88, "vit": 0.82}  # from the base config's 85% against 72%


def test_applies_to_variants_changing_only_recipe_ingredients(tmp_path):
    assert Recipe().applies(contents(tmp_path / "a", **modern(NARROWS)))
    mix = VariantSpec({"augment.mixup_alpha": 0.8, "augment.cutmix_alpha": 1.0, "train.warmup_epochs": 2}, NARROWS)
    assert Recipe().applies(contents(tmp_path / "mix", variants={"mix": mix}))
    assert not Recipe().applies(contents(tmp_path / "none"))
    with_lr = VariantSpec({**CHANGES, "train.lr": 5e-4}, NARROWS)
    assert not Recipe().applies(contents(tmp_path / "lr", variants={"modern": with_lr}))
    assert not Recipe().applies(contents(tmp_path / "off", variants={
        "no-augment": VariantSpec({"augment.enabled": False}, NARROWS)}))


def test_one_seed_describes_the_gap_in_this_run(tmp_path):
    report = contents(tmp_path / "b", **modern(NARROWS))
    items = numbers(Recipe(), report)
    said = text(items)
    assert said.startswith("Rule used for the recipe: variant modern trains the same architectures at the same seeds "
                           "with TrivialAugment, label smoothing 0.1; everything else is the base config's.")
    assert ("With the modern recipe, the CNN's test accuracy rises: from 85.50% to 87.83% (2.33 points); not a "
            "significant change in this run (McNemar p = 0.2504; Holm-adjusted within the 2 variant-against-base "
            "comparisons, p = 0.2504).") in said
    assert ("In this run the gap (CNN minus ViT) is 6.50 points with the modern recipe against 12.83 under the base "
            "recipe, a change of -6.33 points (bootstrap over the test images with the trained weights held fixed, "
            "p = 0.03596, 95% interval -12.00 to -0.67 points). With one seed this describes the trained weights of "
            "this run, not the models: train with --seeds 42,43,44") in said
    for claim in ("narrows", "closing", "leads the ViT significantly"):
        assert claim not in facts(items)
    (table,) = tables(items)
    assert table.header == ["model", "base recipe", "modern recipe", "change (points)", "p / adjusted p", "verdict"]
    assert [[c if isinstance(c, str) else c.text for c in row] for row in table.rows] == [
        ["CNN", "85.50%", "87.83%", "2.33", "0.2504 / 0.2504", "not significant in this run"],
        ["ViT", "72.67%", "81.33%", "8.67", "0.0004339 / 0.0008679", "significant in this run"]]
    verdict = Recipe().verdict(report)
    assert verdict.rows[0].primary and verdict.rows[0].verdict.text == "interval excludes 0 in this run, p = 0.03596"
    assert verdict.claims[0].status == INCONCLUSIVE and verdict.claims[0].evidence.text.startswith("one seed")


def test_three_seeds_narrow_the_gap_and_flip_with_the_models(tmp_path):
    report = contents(tmp_path / "a", seeds=THREE, **modern(NARROWS))
    said = facts(numbers(Recipe(), report))
    assert ("Under the base recipe the CNN leads the ViT significantly. With the modern recipe the CNN's lead narrows "
            "from 12.56 to 5.61 points, closing 55.31% of the gap; the change of the gap, -6.94 points, is significant "
            "(hierarchical bootstrap over seeds and test images, p = 0.007992, 95% interval -11.67 to -2.77 "
            "points).") in said
    # The CNN's t-test and bootstrap reject, McNemar only in 1 of 3 seeds: by the accuracy rule not significant.
    assert "(3.83 points); not a significant change (paired t-test over seeds, p = 0.004382;" in said
    verdict = Recipe().verdict(report)
    assert verdict.rows[0].verdict.text == "significant, p = 0.007992" and verdict.claims[0].status == SUPPORTED
    swapped = facts(numbers(Recipe(), contents(tmp_path / "b", seeds=THREE, **SWAPPED_BASE, **modern(swap(NARROWS)))))
    assert ("Under the base recipe the ViT leads the CNN significantly. With the modern recipe the ViT's lead narrows "
            "from 13.44 to 6.39 points, closing 52.48% of the gap") in swapped
    assert "the CNN leads" not in swapped and "the CNN's lead" not in swapped


def test_the_gap_widens_reverses_or_closes(tmp_path):
    widens = contents(tmp_path / "w", seeds=THREE, **modern({"cnn": 0.90, "vit": 0.60}))
    said = facts(numbers(Recipe(), widens))
    assert "With the modern recipe the CNN's lead widens from 12.56 to 29.61 points; the change of the gap" in said
    assert "closing" not in said
    assert Recipe().verdict(widens).claims[0].status == CONTRADICTED  # the recipe made the ViT worse
    reverses = facts(numbers(Recipe(), contents(tmp_path / "r", seeds=THREE, **modern({"cnn": 0.70, "vit": 0.85}))))
    assert ("With the modern recipe the gap reverses: the ViT now leads by 15.39 points, a significant lead, having "
            "trailed by 12.56 (222.57% of the gap closed)") in reverses
    closes = facts(numbers(Recipe(), contents(tmp_path / "c", seeds=THREE,
                                              **modern({"cnn": 0.88, "vit": 0.88}, seed_jitter=0.0))))
    assert ("With the modern recipe the gap closes: 12.56 points under the base recipe, none with it (100.00% of the "
            "gap closed); the change of the gap, -12.56 points, is significant") in closes


def test_a_change_of_the_gap_that_is_not_significant_is_not_called_closing(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **modern({"cnn": 0.86, "vit": 0.74}))
    said = facts(numbers(Recipe(), report))
    assert ("With the modern recipe the gap (CNN minus ViT) is 11.61 points, against 12.56 under the base recipe "
            "(7.52% of it closed, as measured); the change of the gap, -0.94 points, is not significant (hierarchical "
            "bootstrap over seeds and test images, p = 0.6334, 95% interval -5.78 to 3.45 points), so the recipe is "
            "not shown to close or widen the gap.") in said
    for claim in ("narrows", "widens from", "reverses", "closing", "% of the gap closed"):
        assert claim not in said
    verdict = Recipe().verdict(report)
    assert verdict.rows[0].verdict.text == "not significant, p = 0.6334" and verdict.claims[0].status == INCONCLUSIVE


def test_without_a_base_gap_there_is_nothing_to_close(tmp_path):
    opens = facts(numbers(Recipe(), contents(tmp_path / "a", seeds=THREE, **HAIR,
                                             **modern({"cnn": 0.87, "vit": 0.80}))))
    assert ("Under the base recipe the two models' accuracies do not differ significantly, so there is no significant "
            "gap for the recipe to close; with the modern recipe, the CNN leads by 6.61 points, a significant "
            "difference; the change of the gap, 6.56 points, is significant") in opens
    neither = facts(numbers(Recipe(), contents(tmp_path / "b", seeds=THREE, **HAIR,
                                               **modern({"cnn": 0.80, "vit": 0.80}))))
    assert "not significant either; the change of the gap" in neither and "leads" not in neither


def test_the_reported_change_is_the_difference_of_the_mean_gaps(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **modern(NARROWS))
    items = numbers(Recipe(), report)

    def gaps(runs: dict) -> list[float]:
        return [100 * (c.metrics["accuracy"] - v.metrics["accuracy"]) for c, v in zip(runs["cnn"], runs["vit"])]

    shown = {m.key: m for s in items[2].sentences for m in s.metrics}
    after, before = gaps(report.variants["modern"].runs), gaps(report.runs)
    assert shown["variant.modern.gap_change.diff_pts"].value == pytest.approx(np.mean(after) - np.mean(before))
    assert shown["variant.modern.gap_closed_pct"].value == pytest.approx(
        100 * (np.mean(before) - np.mean(after)) / np.mean(before))


def test_one_model_has_no_gap(tmp_path):
    said = facts(numbers(Recipe(), contents(tmp_path / "b", models=("vit",), **modern(NARROWS))))
    assert said == ("With the modern recipe, the ViT's test accuracy rises: from 72.67% to 81.33% (8.67 points); a "
                    "significant change in this run (McNemar p = 0.0004339).")  # a family of one: no adjustment


def test_several_recipes_get_a_subsection_each(tmp_path):
    smooth = VariantSpec({"train.label_smoothing": 0.1}, {"cnn": 0.86, "vit": 0.74})
    items = numbers(Recipe(), contents(tmp_path / "b", variants={"modern": VariantSpec(CHANGES, NARROWS),
                                                                 "smooth": smooth}))
    assert [(s.key, s.title) for s in items] == [("recipe-modern", "Recipe modern"), ("recipe-smooth", "Recipe smooth")]
    assert all(isinstance(s, Subsection) for s in items)
    assert "variant smooth trains the same architectures at the same seeds with label smoothing 0.1;" in text(items)
    assert "With the smooth recipe, the ViT's test accuracy" in text(items)


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(Recipe(), contents(tmp_path / "b", seeds=THREE, **modern(NARROWS))))
    assert {"cnn.accuracy.mean", "variant.modern.cnn.accuracy.mean", "variant.modern.vit.accuracy.mean",
            "variant.modern.cnn.vs_base.seed_diff_pts.mean", "variant.modern.cnn.vs_base.boot.p",
            "variant.modern.cnn.vs_base.boot.p_adj", "compare.lead_pts", "variant.modern.lead_pts",
            "variant.modern.gap_closed_pct", "variant.modern.gap_change.diff_pts",
            "variant.modern.gap_change.p"} <= keys


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(Recipe(), contents(tmp_path / "b", seeds=THREE, config_overrides={"report.alpha": 0.005},
                                       **modern(NARROWS)))
    assert "is significant at α = 0.005 by the hierarchical bootstrap" in text(items)
    said = facts(items)
    assert "the change of the gap, -6.94 points, is not significant (hierarchical bootstrap over seeds and test " \
           "images, p = 0.007992" in said and "narrows" not in said


@pytest.mark.parametrize("preset", [name for name in PRESETS if "modern" in PRESETS[name].get("variants", {})])
def test_the_presets_modern_recipe_is_a_recipe_by_the_one_key_set(preset):
    config = load_config(preset)
    assert config.variant_changes("modern") and set(config.variant_changes("modern")) <= RECIPE_KEYS
