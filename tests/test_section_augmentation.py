"""Section "Reliance on augmentation": each model's drop without augmentation (adjusted within the family of
variant-against-base comparisons), and "relies on augmentation more" only when the difference of the two drops is
significant over seeds and test images; with one seed a description of that run. The Conclusion says that
augmentation hurt a model only when its test says so."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.augmentation import Augmentation
from tests.bundle_factory import VariantSpec
from tests.section_helpers import (
    STUDY_VARIANTS,
    build,
    contents,
    facts,
    figures,
    metric_keys,
    numbers,
    swapped_models,
    tables,
    text,
)

NO_AUGMENT = STUDY_VARIANTS["no-augment"]  # CNN 85% -> 80%, ViT 72% -> 55%
THREE = (1, 2, 3)
SWAPPED_BASE = dict(accuracies={"cnn": 0.72, "vit": 0.85}, train_gaps={"cnn": 0.12, "vit": 0.02})


def _off(accuracies: dict[str, float], **spec) -> dict:
    return {"variants": {"no-augment": VariantSpec({"augment.enabled": False}, accuracies, **spec)}}


def test_applies_to_a_variant_that_only_switches_augmentation_off(tmp_path):
    assert Augmentation().applies(contents(tmp_path / "a", variants={"plain": NO_AUGMENT}))  # any name
    assert not Augmentation().applies(contents(tmp_path / "none"))
    also_lr = VariantSpec({"augment.enabled": False, "train.lr": 5e-4}, NO_AUGMENT.accuracies)
    assert not Augmentation().applies(contents(tmp_path / "lr", variants={"no-augment": also_lr}))
    data = {"d10": STUDY_VARIANTS["d10"]}
    assert not Augmentation().applies(contents(tmp_path / "data", variants=data))
    # The base config already trains without augmentation: a variant switching it on is no test of reliance.
    on = VariantSpec({"augment.enabled": True}, NO_AUGMENT.accuracies)
    assert not Augmentation().applies(contents(tmp_path / "off", config_overrides={"augment.enabled": False},
                                               variants={"augment": on}))


def test_one_seed_describes_this_run_and_names_the_seeds_that_would_test_it(tmp_path):
    report = contents(tmp_path / "b", variants={"no-augment": NO_AUGMENT})
    items = build(Augmentation(), report)
    said = text(items)
    assert said.startswith("Rule used for augmentation: variant no-augment trains every model exactly as the base "
                           "config does, at the same seeds, with no training augmentation at all")
    assert ("Without augmentation, the CNN's test accuracy falls: from 85.50% to 79.83%, a drop of 5.67 points; a "
            "significant change in this run (McNemar p = 0.008874; Holm-adjusted within the 2 variant-against-base "
            "comparisons, p = 0.008874).") in said
    assert ("In this run the ViT's drop is 11.17 points larger than the CNN's (bootstrap over the test images with "
            "the trained weights held fixed, p = 0.003996, 95% interval 5.00 to 17.83 points). With one seed this "
            "describes the trained weights of this run, not the models: train with --seeds 42,43,44") in said
    assert "relies on augmentation more" not in facts(items)
    (table,) = tables(items)
    assert [[cell if isinstance(cell, str) else cell.text for cell in row] for row in table.rows] == [
        ["CNN", "85.50%", "79.83%", "5.67", "0.008874 / 0.008874", "significant in this run", "2.00", "2.00"],
        ["ViT", "72.67%", "55.83%", "16.83", "< 0.0001 / < 0.0001", "significant in this run", "12.00", "12.00"],
    ]
    (figure,) = figures(items)
    assert figure.key == "augmentation-no-augment" and (tmp_path / "b" / figure.src).is_file()
    verdict = Augmentation().verdict(report)
    assert verdict.rows[0].primary and verdict.rows[0].verdict.text == "interval excludes 0 in this run, p = 0.003996"
    assert verdict.claims[0].status == INCONCLUSIVE and verdict.claims[0].evidence.text.startswith("one seed")
    similar = Augmentation().verdict(contents(tmp_path / "s", **_off({"cnn": 0.80, "vit": 0.67})))
    assert similar.rows[0].verdict.text.startswith("interval includes 0 in this run")


def test_three_seeds_test_the_reliance_over_seeds_and_images(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, variants={"no-augment": NO_AUGMENT})
    said = facts(numbers(Augmentation(), report))
    assert ("The ViT's drop is 12.72 points larger than the CNN's, a significant difference (hierarchical bootstrap "
            "over seeds and test images, p ≤ 0.001998, 95% interval 7.44 to 18.00 points): the ViT relies on "
            "augmentation more.") in said
    assert "in this run" not in said and "--seeds" not in said
    # The CNN's paired t-test and bootstrap reject, but McNemar only in 1 of 3 seeds: by the accuracy rule not.
    assert "a drop of 4.22 ± 0.59 points; not a significant change (paired t-test over seeds, p = 0.006345; " in said
    verdict = Augmentation().verdict(report)
    assert verdict.rows[0].verdict.text == "ViT's drop larger (significant), p ≤ 0.001998"
    assert verdict.claims[0].status == SUPPORTED
    assert not any("Augmentation hurt" in s.text for s in verdict.findings)


def test_the_reliance_verdict_flips_when_the_results_flip(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **SWAPPED_BASE, variants={"no-augment": swapped_models(NO_AUGMENT)})
    said = facts(numbers(Augmentation(), report))
    assert "The CNN's drop is 11.28 points larger than the ViT's, a significant difference" in said
    assert "the CNN relies on augmentation more." in said and "the ViT relies" not in said
    verdict = Augmentation().verdict(report)
    assert verdict.rows[0].verdict.text.startswith("CNN's drop larger (significant)")
    assert verdict.claims[0].status == CONTRADICTED


def test_similar_drops_are_no_reliance(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **_off({"cnn": 0.80, "vit": 0.67}))
    said = facts(numbers(Augmentation(), report))
    assert ("The ViT's drop is 0.72 points larger than the CNN's, but the difference is not significant (hierarchical "
            "bootstrap over seeds and test images, p = 0.7692, 95% interval -4.67 to 5.78 points), so neither model "
            "is shown to rely on augmentation more.") in said
    assert "relies on augmentation more" not in said and "a significant difference" not in said
    verdict = Augmentation().verdict(report)
    assert verdict.rows[0].verdict.text == "not significant, p = 0.7692"
    assert verdict.claims[0].status == INCONCLUSIVE and "not significant" in verdict.claims[0].evidence.text


def test_a_model_better_without_augmentation_is_no_reliance_and_the_conclusion_says_it_was_hurt(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, **_off({"cnn": 0.93, "vit": 0.72}))
    items = numbers(Augmentation(), report)
    said = facts(items)
    assert "Without augmentation, the CNN's test accuracy rises: from 84.56 ± 0.42% to 93.33 ± 0.87%" in said
    assert ("Without augmentation the CNN gains 8.72 points more than the ViT, a significant difference (hierarchical "
            "bootstrap over seeds and test images, p ≤ 0.001998, 95% interval 3.78 to 13.39 points): augmentation did "
            "not significantly help the ViT, and it held the CNN back, which is significantly more accurate without "
            "it.") in said
    assert "relies on augmentation more" not in said and "drop is" not in said
    assert {"variant.no-augment.vit.rise_pts.mean", "variant.no-augment.cnn.rise_pts.mean"} <= metric_keys(items)
    verdict = Augmentation().verdict(report)
    hurt = [s.text for s in verdict.findings if s.text.startswith("Augmentation hurt")]
    assert len(hurt) == 1 and hurt[0].startswith("Augmentation hurt the CNN: without it its test accuracy was 8.78 "
                                                 "points higher (")
    assert verdict.rows[0].verdict.text.startswith("CNN's gain without it larger (significant)")
    assert verdict.claims[0].status == INCONCLUSIVE  # the ViT's "drop" is larger, but augmentation did not help it
    # Unchanged without augmentation: no model was hurt, and the Conclusion says nothing of it.
    same = Augmentation().verdict(contents(tmp_path / "same", seeds=THREE, **_off({"cnn": 0.85, "vit": 0.72})))
    assert not any(s.text.startswith("Augmentation hurt") for s in same.findings)


def test_hurt_is_said_of_this_run_at_one_seed_and_only_when_significant(tmp_path):
    one = Augmentation().verdict(contents(tmp_path / "b", **_off({"cnn": 0.93, "vit": 0.72})))
    hurt = [s.text for s in one.findings if s.text.startswith("Augmentation hurt")]
    assert len(hurt) == 1 and hurt[0].startswith("Augmentation hurt the CNN in this run:")
    strict = Augmentation().verdict(contents(tmp_path / "s", **_off({"cnn": 0.93, "vit": 0.72}),
                                             config_overrides={"report.alpha": 1e-300}))
    assert not any(s.text.startswith("Augmentation hurt") for s in strict.findings)


def test_the_gap_with_and_without_augmentation_is_stated_as_measured(tmp_path):
    said = text(numbers(Augmentation(), contents(tmp_path / "b", **_off(
        {"cnn": 0.85, "vit": 0.55}, train_gaps={"cnn": 0.02, "vit": 0.30}))))
    assert ("Without augmentation, the ViT's final train–validation accuracy gap is 30.00 points, against 12.00 points "
            "with it.") in said
    assert "widens" not in said and "narrows" not in said


def test_the_reported_difference_is_the_difference_of_the_mean_drops(tmp_path):
    report = contents(tmp_path / "b", seeds=THREE, variants={"no-augment": NO_AUGMENT})
    items = numbers(Augmentation(), report)

    def drops(model: str) -> list[float]:
        base, off = report.runs[model], report.variants["no-augment"].runs[model]
        return [100 * (b.metrics["accuracy"] - o.metrics["accuracy"]) for b, o in zip(base, off)]

    shown = {m.key: m for s in items[2].sentences for m in s.metrics}
    assert shown["variant.no-augment.drop_difference.larger_by.diff"].value == pytest.approx(
        np.mean(drops("vit")) - np.mean(drops("cnn")))
    low, high = (shown[f"variant.no-augment.drop_difference.larger_by.{end}"].value for end in ("low", "high"))
    assert 0 < low < high
    assert shown["variant.no-augment.vit.drop_pts.std"].value == pytest.approx(np.std(drops("vit"), ddof=1))


def test_one_model_is_not_compared(tmp_path):
    said = facts(numbers(Augmentation(), contents(tmp_path / "b", models=("vit",),
                                                  variants={"no-augment": NO_AUGMENT})))
    assert "Without augmentation, the ViT's test accuracy falls: from 72.67% to 55.83%" in said
    assert "CNN" not in said and "larger than" not in said and "relies" not in said


def test_evaluated_base_runs_have_no_curves_or_gaps(tmp_path):
    items = numbers(Augmentation(), contents(tmp_path / "b", origin="evaluated", variants={"no-augment": NO_AUGMENT}))
    assert not figures(items) and "accuracy gap" not in text(items)
    (table,) = tables(items)
    assert [row[-2:] for row in table.rows] == [["—", "—"], ["—", "—"]]
    assert "In this run the ViT's drop is" in text(items)


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(Augmentation(), contents(tmp_path / "b", variants={"no-augment": NO_AUGMENT})))
    assert {"cnn.accuracy.mean", "variant.no-augment.cnn.accuracy.mean", "variant.no-augment.vit.accuracy.mean",
            "variant.no-augment.cnn.drop_pts.mean", "variant.no-augment.vit.vs_base.mcnemar.seed42.p",
            "variant.no-augment.vit.vs_base.mcnemar.seed42.p_adj", "cnn.acc_gap_pts.mean",
            "variant.no-augment.drop_difference.larger_by.diff", "variant.no-augment.drop_difference.larger_by.p",
            "variant.no-augment.drop_difference.larger_by.low"} <= keys
    assert all(k.startswith(("cnn.", "vit.", "variant.no-augment.")) for k in keys)


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(Augmentation(), contents(tmp_path / "b", seeds=THREE, config_overrides={"report.alpha": 1e-4},
                                           variants={"no-augment": NO_AUGMENT}))
    assert "is significant at α = 0.0001 by the hierarchical bootstrap" in text(items)
    assert ("The ViT's drop is 12.72 points larger than the CNN's, but the difference is not significant "
            "(hierarchical bootstrap over seeds and test images, p ≤ 0.001998") in facts(items)
