"""Section "A modern training recipe": each model's change under the recipe, and how much of the seed recipe's gap
between the models it closes, said only when the change of the gap is significant."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel

from reportgen.config import load_config
from reportgen.presets import PRESETS, RECIPE_KEYS
from reportgen.report.kernel import Subsection
from reportgen.report.sections.recipe import Recipe
from tests.bundle_factory import VariantSpec
from tests.section_helpers import HAIR, contents, facts, metric_keys, numbers, tables, text

CHANGES = {"train.label_smoothing": 0.1, "augment.policy": "trivialaugment"}
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


def test_the_changes_and_the_narrowing_gap(tmp_path):
    items = numbers(Recipe(), contents(tmp_path / "b", **modern(NARROWS)))
    said = text(items)
    assert said.startswith("Rule used for the recipe: variant modern trains the same architectures at the same seeds "
                           "with TrivialAugment, label smoothing 0.1; everything else is the base config's.")
    assert ("With the modern recipe, the CNN's test accuracy rises: from 85.50% to 87.83% (2.33 points); not a "
            "significant change (McNemar p = 0.2504).") in said
    assert ("With the modern recipe, the ViT's test accuracy rises: from 72.67% to 81.33% (8.67 points); a "
            "significant change (McNemar p = 0.0004339).") in said
    assert ("Under the seed recipe the CNN leads the ViT significantly. With the modern recipe the CNN's lead narrows "
            "from 12.83 to 6.50 points, closing 49.35% of the gap; the change of the gap, -6.33 points, is significant "
            "(paired t-test on the same test images, p = 0.03864).") in said
    (table,) = tables(items)
    assert table.header == ["model", "seed recipe", "modern recipe", "change (points)", "verdict"]
    assert [[c if isinstance(c, str) else c.text for c in row] for row in table.rows] == [
        ["CNN", "85.50%", "87.83%", "2.33", "not significant"], ["ViT", "72.67%", "81.33%", "8.67", "significant"]]


def test_the_gap_verdict_flips_with_the_models(tmp_path):
    said = facts(numbers(Recipe(), contents(tmp_path / "b", **SWAPPED_BASE, **modern(swap(NARROWS)))))
    assert ("Under the seed recipe the ViT leads the CNN significantly. With the modern recipe the ViT's lead narrows "
            "from 13.17 to 5.50 points, closing 58.23% of the gap; the change of the gap, 7.67 points, is significant "
            "(paired t-test on the same test images, p = 0.01437).") in said
    assert "the CNN leads" not in said and "the CNN's lead" not in said


def test_the_gap_widens_reverses_or_closes(tmp_path):
    widens = facts(numbers(Recipe(), contents(tmp_path / "w", **modern({"cnn": 0.90, "vit": 0.60}))))
    assert ("With the modern recipe the CNN's lead widens from 12.83 to 30.50 points; the change of the gap, 17.67 "
            "points, is significant") in widens and "closing" not in widens
    reverses = facts(numbers(Recipe(), contents(tmp_path / "r", **modern({"cnn": 0.70, "vit": 0.85}))))
    assert ("With the modern recipe the gap reverses: the ViT now leads by 14.50 points, a significant lead, having "
            "trailed by 12.83 (212.99% of the gap closed); the change of the gap, -27.33 points, is significant") \
        in reverses
    flipped = facts(numbers(Recipe(), contents(tmp_path / "f", **SWAPPED_BASE, **modern({"cnn": 0.85, "vit": 0.70}))))
    assert "With the modern recipe the gap reverses: the CNN now leads by " in flipped
    closes = facts(numbers(Recipe(), contents(tmp_path / "c", **modern({"cnn": 0.88, "vit": 0.88}, seed_jitter=0.0))))
    assert ("With the modern recipe the gap closes: 12.83 points under the seed recipe, none with it (100.00% of the "
            "gap closed); the change of the gap, -12.83 points, is significant") in closes


def test_a_change_of_the_gap_that_is_not_significant_is_not_called_closing(tmp_path):
    said = facts(numbers(Recipe(), contents(tmp_path / "b", **modern({"cnn": 0.88, "vit": 0.75}))))
    assert ("Under the seed recipe the CNN leads the ViT significantly. With the modern recipe the gap (CNN minus ViT) "
            "is 13.50 points, against 12.83 under the seed recipe (-5.19% of it closed, as measured); the change of "
            "the gap, 0.67 points, is not "
            "significant (paired t-test on the same test images, p = 0.8323), so the recipe is not shown to close or "
            "widen the gap.") in said
    for claim in ("narrows", "widens from", "reverses", "closing", "% of the gap closed"):
        assert claim not in said
    narrower = facts(numbers(Recipe(), contents(tmp_path / "n", **modern({"cnn": 0.88, "vit": 0.77}))))
    assert "is not significant" in narrower and "narrows" not in narrower and "closing" not in narrower


def test_without_a_seed_gap_there_is_nothing_to_close(tmp_path):
    opens = facts(numbers(Recipe(), contents(tmp_path / "a", **HAIR, **modern({"cnn": 0.88, "vit": 0.70}))))
    assert ("Under the seed recipe the two models' accuracies do not differ significantly, so there is no significant "
            "gap for the recipe to close; with the modern recipe, the CNN leads by 18.50 points, a significant "
            "difference; the change of the gap, 18.17 points, is significant (paired t-test on the same test images, "
            "p < 0.0001).") in opens
    neither = facts(numbers(Recipe(), contents(tmp_path / "b", **HAIR, **modern({"cnn": 0.80, "vit": 0.80}))))
    assert ("with the modern recipe, the gap (CNN minus ViT) is 0.50 points, not significant either; the change of the "
            "gap, 0.17 points, is not significant (paired t-test on the same test images, p = 0.9596).") in neither
    assert "leads" not in neither


def test_several_seeds_use_the_paired_ttest_over_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3), **modern(NARROWS))
    items = numbers(Recipe(), report)
    said = facts(items)
    assert ("With the modern recipe, the CNN's test accuracy rises: from 84.56 ± 0.42% to 88.39 ± 0.19% (3.83 points); "
            "not a significant change (paired t-test over seeds, p = 0.004382; McNemar p < 0.05 for the config ahead "
            "in 1 of 3 seeds).") in said
    assert ("With the modern recipe the CNN's lead narrows from 12.56 to 5.61 points, closing 55.31% of the gap; the "
            "change of the gap, -6.94 points, is significant (paired t-test over seeds, p = 0.003121).") in said

    def gaps(runs: dict) -> list[float]:
        return [100 * (c.metrics["accuracy"] - v.metrics["accuracy"]) for c, v in zip(runs["cnn"], runs["vit"])]

    shown = {m.key: m for s in items[2].sentences for m in s.metrics}
    after, before = gaps(report.variants["modern"].runs), gaps(report.runs)
    assert shown["variant.modern.gap_change.p"].value == pytest.approx(ttest_rel(after, before).pvalue)
    assert shown["variant.modern.gap_change.diff_pts"].value == pytest.approx(np.mean(after) - np.mean(before))
    assert shown["variant.modern.gap_closed_pct"].value == pytest.approx(
        100 * (np.mean(before) - np.mean(after)) / np.mean(before))


def test_one_model_has_no_gap(tmp_path):
    said = facts(numbers(Recipe(), contents(tmp_path / "b", models=("vit",), **modern(NARROWS))))
    assert said == ("With the modern recipe, the ViT's test accuracy rises: from 72.67% to 81.33% (8.67 points); a "
                    "significant change (McNemar p = 0.0004339).")


def test_several_recipes_get_a_subsection_each(tmp_path):
    smooth = VariantSpec({"train.label_smoothing": 0.1}, {"cnn": 0.86, "vit": 0.74})
    items = numbers(Recipe(), contents(tmp_path / "b", variants={"modern": VariantSpec(CHANGES, NARROWS),
                                                                 "smooth": smooth}))
    assert [(s.key, s.title) for s in items] == [("recipe-modern", "Recipe modern"), ("recipe-smooth", "Recipe smooth")]
    assert all(isinstance(s, Subsection) for s in items)
    assert "variant smooth trains the same architectures at the same seeds with label smoothing 0.1;" in text(items)
    assert "With the smooth recipe, the ViT's test accuracy" in text(items)


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(Recipe(), contents(tmp_path / "b", **modern(NARROWS))))
    assert {"cnn.accuracy.mean", "variant.modern.cnn.accuracy.mean", "variant.modern.vit.accuracy.mean",
            "variant.modern.cnn.vs_base.seed_diff_pts.mean", "variant.modern.cnn.vs_base.mcnemar.seed42.p",
            "compare.lead_pts", "variant.modern.lead_pts", "variant.modern.gap_closed_pct",
            "variant.modern.gap_change.diff_pts", "variant.modern.gap_change.p"} <= keys


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(Recipe(), contents(tmp_path / "b", config_overrides={"report.alpha": 0.01}, **modern(NARROWS)))
    assert "the change of the gap is significant at α = 0.01 by a paired t-test" in text(items)
    said = facts(items)
    assert ("With the modern recipe the gap (CNN minus ViT) is 6.50 points, against 12.83 under the seed recipe "
            "(49.35% of it closed, as measured); the "
            "change of the gap, -6.33 points, is not significant (paired t-test on the same test images, p = "
            "0.03864), so the recipe is not shown to close or widen the gap.") in said


@pytest.mark.parametrize("preset", [name for name in PRESETS if "modern" in PRESETS[name].get("variants", {})])
def test_the_presets_modern_recipe_is_a_recipe_by_the_one_key_set(preset):
    config = load_config(preset)
    assert config.variant_changes("modern") and set(config.variant_changes("modern")) <= RECIPE_KEYS
