"""Section "Reliance on augmentation": each model's drop without augmentation, and "relies on augmentation more"
only when the difference of the two drops is significant."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel

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


def test_the_drops_and_the_reliance_verdict(tmp_path):
    items = build(Augmentation(), contents(tmp_path / "b", variants={"no-augment": NO_AUGMENT}))
    said = text(items)
    assert said.startswith("Rule used for augmentation: variant no-augment trains every model exactly as the base "
                           "config does, at the same seeds, with no training augmentation at all")
    assert ("Without augmentation, the CNN's test accuracy falls: from 85.50% to 79.83%, a drop of 5.67 points; a "
            "significant change (McNemar p = 0.008874).") in said
    assert ("Without augmentation, the ViT's test accuracy falls: from 72.67% to 55.83%, a drop of 16.83 points; a "
            "significant change (McNemar p < 0.0001).") in said
    assert "The CNN's final train–validation accuracy gap is 2.00 points with and without augmentation." in said
    assert ("The ViT's drop is 11.17 points larger than the CNN's, a significant difference (paired t-test on the "
            "same test images, p = 0.0007630): the ViT relies on augmentation more.") in said
    (table,) = tables(items)
    assert [[cell if isinstance(cell, str) else cell.text for cell in row] for row in table.rows] == [
        ["CNN", "85.50%", "79.83%", "5.67", "significant", "2.00", "2.00"],
        ["ViT", "72.67%", "55.83%", "16.83", "significant", "12.00", "12.00"],
    ]
    (figure,) = figures(items)
    assert figure.key == "augmentation-no-augment" and (tmp_path / "b" / figure.src).is_file()
    assert "The validation curves with and without it are in Figure augmentation-no-augment." in said


def test_the_reliance_verdict_flips_when_the_results_flip(tmp_path):
    said = facts(numbers(Augmentation(), contents(tmp_path / "b", **SWAPPED_BASE,
                                               variants={"no-augment": swapped_models(NO_AUGMENT)})))
    assert "Without augmentation, the CNN's test accuracy falls: from 72.50% to 54.83%, a drop of 17.67 points" in said
    assert ("The CNN's drop is 12.83 points larger than the ViT's, a significant difference (paired t-test on the "
            "same test images, p = 0.0001070): the CNN relies on augmentation more.") in said
    assert "the ViT relies" not in said


def test_similar_drops_are_no_reliance(tmp_path):
    said = facts(numbers(Augmentation(), contents(tmp_path / "b", **_off({"cnn": 0.80, "vit": 0.67}))))
    assert ("Without augmentation, the ViT's test accuracy falls: from 72.67% to 67.83%, a drop of 4.83 points; not a "
            "significant change (McNemar p = 0.07814).") in said
    assert ("The CNN's drop is 0.83 points larger than the ViT's, but the difference is not significant (paired "
            "t-test on the same test images, p = 0.7976), so neither model is shown to rely on augmentation "
            "more.") in said
    assert "relies on augmentation more" not in said and "a significant difference" not in said


def test_a_model_better_without_augmentation_rises_and_is_no_reliance(tmp_path):
    report = contents(tmp_path / "b", **_off({"cnn": 0.86, "vit": 0.85}))
    items = numbers(Augmentation(), report)
    said = facts(items)
    assert ("Without augmentation, the ViT's test accuracy rises: from 72.67% to 85.83%, a rise of 13.17 points; a "
            "significant change (McNemar p < 0.0001).") in said
    assert "Without augmentation, the CNN's test accuracy rises: from 85.50% to 85.83%, a rise of 0.33 points; not a " \
           "significant change" in said
    # The CNN "drops" more only in that it gains less: augmentation held the ViT back, it helped neither.
    assert ("Without augmentation the ViT gains 12.83 points more than the CNN, a significant difference (paired "
            "t-test on the same test images, p < 0.0001): augmentation did not significantly help the CNN, and it held "
            "the ViT back, which is significantly more accurate without it.") in said
    assert "relies on augmentation more" not in said and "drop is" not in said
    assert {"variant.no-augment.vit.rise_pts.mean", "variant.no-augment.cnn.rise_pts.mean"} <= metric_keys(items)


def test_the_gap_with_and_without_augmentation_is_stated_as_measured(tmp_path):
    said = text(numbers(Augmentation(), contents(tmp_path / "b", **_off(
        {"cnn": 0.85, "vit": 0.55}, train_gaps={"cnn": 0.02, "vit": 0.30}))))
    assert ("Without augmentation, the ViT's final train–validation accuracy gap is 30.00 points, against 12.00 points "
            "with it.") in said
    assert "widens" not in said and "narrows" not in said


def test_several_seeds_use_the_paired_ttest_over_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3), variants={"no-augment": NO_AUGMENT})
    items = numbers(Augmentation(), report)
    said = text(items)
    assert ("Without augmentation, the ViT's test accuracy falls: from 72.00 ± 0.73% to 55.06 ± 0.19%, a drop of "
            "16.94 ± 0.67 points; a significant change (paired t-test over seeds, p = 0.0005263; McNemar p < 0.05 for "
            "the config ahead in 3 of 3 seeds).") in said
    # The CNN's paired t-test rejects, but McNemar only in 1 of 3 seeds: by the accuracy rule not significant.
    assert "a drop of 4.22 ± 0.59 points; not a significant change (paired t-test over seeds, p = 0.006345; " in said
    assert ("The ViT's drop is 12.72 points larger than the CNN's, a significant difference (paired t-test over "
            "seeds, p = 0.003207): the ViT relies on augmentation more.") in said

    def drops(model: str) -> list[float]:
        base, off = report.runs[model], report.variants["no-augment"].runs[model]
        return [100 * (b.metrics["accuracy"] - o.metrics["accuracy"]) for b, o in zip(base, off)]

    shown = {m.key: m for s in items[2].sentences for m in s.metrics}
    assert shown["variant.no-augment.drop_difference.p"].value == pytest.approx(
        ttest_rel(drops("cnn"), drops("vit")).pvalue)
    assert shown["variant.no-augment.drop_difference.larger_by_pts"].value == pytest.approx(
        np.mean(drops("vit")) - np.mean(drops("cnn")))
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
    assert "the ViT relies on augmentation more" in text(items)


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(Augmentation(), contents(tmp_path / "b", variants={"no-augment": NO_AUGMENT})))
    assert {"cnn.accuracy.mean", "variant.no-augment.cnn.accuracy.mean", "variant.no-augment.vit.accuracy.mean",
            "variant.no-augment.cnn.drop_pts.mean", "variant.no-augment.vit.vs_base.mcnemar.seed42.p",
            "cnn.acc_gap_pts.mean", "variant.no-augment.drop_difference.larger_by_pts",
            "variant.no-augment.drop_difference.p"} <= keys
    assert all(k.startswith(("cnn.", "vit.", "variant.no-augment.")) for k in keys)


def test_the_level_is_report_alpha(tmp_path):
    items = numbers(Augmentation(), contents(tmp_path / "b", config_overrides={"report.alpha": 1e-4},
                                           variants={"no-augment": NO_AUGMENT}))
    assert "the difference of the two drops is significant at α = 0.0001:" in text(items)
    assert ("The ViT's drop is 11.17 points larger than the CNN's, but the difference is not significant (paired "
            "t-test on the same test images, p = 0.0007630), so neither model is shown to rely on augmentation "
            "more.") in facts(items)


def test_a_larger_drop_that_is_itself_not_significant_is_no_reliance(tmp_path):
    # As on the quick-study sample: the CNN is significantly better without augmentation, the ViT unchanged.
    said = facts(numbers(Augmentation(), contents(tmp_path / "b", **_off({"cnn": 0.93, "vit": 0.72}))))
    assert ("Without augmentation, the ViT's test accuracy rises: from 72.67% to 72.83%, a rise of 0.17 points; not a "
            "significant change (McNemar p = 1.000).") in said
    assert ("Without augmentation the CNN gains 7.17 points more than the ViT, a significant difference (paired t-test "
            "on the same test images, p = 0.01833): augmentation did not significantly help the ViT, and it held the "
            "CNN back, which is significantly more accurate without it.") in said
    assert "relies on augmentation more" not in said
