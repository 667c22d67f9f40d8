"""Section "Training length": judged by a longer-training variant (the accuracy rule, adjusted within the family of
variant-against-base comparisons; the difference of the two gains over seeds and test images), else only described
by the plateau rule, the rule the curves section reads the same curves by, so the two never disagree."""

from __future__ import annotations

import pytest

from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.curves import Curves
from reportgen.report.sections.training_length import TrainingLength, longest
from tests.bundle_factory import VariantSpec
from tests.section_helpers import contents, facts, metric_keys, numbers, sentences, tables, text

THREE = (1, 2, 3)
RISING_VIT = dict(epochs=12, curves={"vit": "rising", "cnn": "flat"})
RISING_CNN = dict(epochs=12, curves={"cnn": "rising", "vit": "flat"})


def longer(accuracies: dict[str, float], epochs: int = 18) -> dict:
    """A variant "long" that changes only train.epochs, with these accuracies."""
    return {"variants": {"long": VariantSpec({"train.epochs": epochs}, accuracies)}}


VIT_GAINS = {"cnn": 0.85, "vit": 0.80}  # from the base 85% / 72%: only the ViT gains
CNN_GAINS = {"cnn": 0.93, "vit": 0.72}
NEITHER = {"cnn": 0.86, "vit": 0.73}


def test_applies_to_trained_models_with_three_epochs_or_more(tmp_path):
    assert TrainingLength().applies(contents(tmp_path / "three", epochs=3))  # no variants needed
    assert not TrainingLength().applies(contents(tmp_path / "two", epochs=2))
    assert not TrainingLength().applies(contents(tmp_path / "evaluated", origin="evaluated"))


def test_without_a_longer_variant_the_curves_are_described_by_the_plateau_rule(tmp_path):
    report = contents(tmp_path / "a", **RISING_VIT)
    items = numbers(TrainingLength(), report)
    said = text(items)
    assert said.startswith("Rule used for training length: a model would gain from training longer when a variant "
                           "that changes only train.epochs, upward, raises its test accuracy significantly")
    assert "By the plateau rule, the CNN's validation accuracy had levelled off after epoch 4 of 12 (no later " \
        "epoch beat its best by more than 0.5 points)." in said
    assert "By the plateau rule, the ViT's validation accuracy was still improving at its final epoch, 12." in said
    assert "No variant of this build trains longer, so whether more epochs would raise the test accuracy is not " \
           "tested here" in said
    assert not tables(items) and "slope" not in said
    verdict = TrainingLength().verdict(report)
    assert not verdict.rows and all(s.text.startswith("Training length (not tested") for s in verdict.findings)
    assert verdict.claims[0].status == INCONCLUSIVE
    assert "no longer-training variant; from the curves only: by the plateau rule, the ViT's" in \
        verdict.claims[0].evidence.text
    swapped = text(numbers(TrainingLength(), contents(tmp_path / "b", **RISING_CNN)))
    assert "the CNN's validation accuracy was still improving at its final epoch, 12." in swapped
    assert "the ViT's validation accuracy had levelled off after epoch 4 of 12 (no later" in swapped


@pytest.mark.parametrize("curves", [RISING_VIT, RISING_CNN])
def test_the_plateau_is_the_curves_sections_to_the_key_and_value(tmp_path, curves):
    report = contents(tmp_path / "b", seeds=THREE, **curves)

    def plateaus(section) -> dict[str, float]:
        return {m.key: m.value for s in sentences(numbers(section, report)) for m in s.metrics
                if m.key.endswith("curve.plateau_epoch")}

    length, curve = plateaus(TrainingLength()), plateaus(Curves())
    stopped = "cnn" if curves is RISING_VIT else "vit"
    assert length == {f"{stopped}.curve.plateau_epoch": 4} and curve[f"{stopped}.curve.plateau_epoch"] == 4
    # The model still improving at its last epoch reads so in both sections.
    assert "was still improving by more than" in text(numbers(Curves(), report))
    assert "validation accuracy was still improving at its final epoch" in text(numbers(TrainingLength(), report))


def test_one_seed_describes_the_longer_training_in_this_run(tmp_path):
    report = contents(tmp_path / "a", **RISING_VIT, **longer(VIT_GAINS))
    items = numbers(TrainingLength(), report)
    said = facts(items)
    assert ("Trained for 18 epochs instead of 12 (variant long), the ViT reaches 79.17% against 72.67%: a change of "
            "6.50 points, a significant change in this run (McNemar p = 0.009394; Holm-adjusted within the 2 "
            "variant-against-base comparisons, p = 0.01879).") in said
    assert ("In this run the CNN's gain from the longer training minus the ViT's is -6.17 points (bootstrap over the "
            "test images with the trained weights held fixed, p = 0.05195, 95% interval -12.17 to -0.16 points). With "
            "one seed this describes the trained weights of this run, not the models: train with --seeds 42,43,44") \
        in said
    assert "gains more from longer training" not in said
    (table,) = tables(items)
    assert [[c if isinstance(c, str) else c.text for c in row] for row in table.rows] == [
        ["long", "18", "CNN", "85.50%", "85.83%", "0.33", "0.9312 / 0.9312", "not significant in this run"],
        ["long", "18", "ViT", "72.67%", "79.17%", "6.50", "0.009394 / 0.01879", "significant in this run"]]
    verdict = TrainingLength().verdict(report)
    assert verdict.rows[0].primary and verdict.rows[0].verdict.text == "interval includes 0 in this run, p = 0.05195"
    assert verdict.claims[0].status == INCONCLUSIVE and verdict.claims[0].evidence.text.startswith("one seed")


def test_three_seeds_test_the_gain_and_it_flips_with_the_models(tmp_path):
    report = contents(tmp_path / "a", seeds=THREE, **RISING_VIT, **longer(VIT_GAINS))
    said = facts(numbers(TrainingLength(), report))
    assert ("The CNN's gain from the longer training minus the ViT's is -7.72 points (hierarchical bootstrap over "
            "seeds and test images, p = 0.005994, 95% interval -12.95 to -2.78 points): significant, the ViT gains "
            "more from longer training.") in said
    verdict = TrainingLength().verdict(report)
    assert verdict.rows[0].verdict.text == "significant, p = 0.005994" and verdict.claims[0].status == SUPPORTED
    swapped = contents(tmp_path / "b", seeds=THREE, **RISING_VIT, **longer(CNN_GAINS))
    assert ": significant, the CNN gains more from longer training." in facts(numbers(TrainingLength(), swapped))
    assert TrainingLength().verdict(swapped).claims[0].status == INCONCLUSIVE  # the ViT's own change: not significant


def test_a_gain_that_is_not_significant_is_no_gain(tmp_path):
    report = contents(tmp_path / "a", seeds=THREE, **RISING_VIT, **longer(NEITHER))
    said = facts(numbers(TrainingLength(), report))
    assert ("The CNN's gain from the longer training minus the ViT's is 0.28 points (hierarchical bootstrap over seeds "
            "and test images, p = 0.9650, 95% interval -4.95 to 5.67 points): not significant, so neither model is "
            "shown to gain more from longer training.") in said
    assert said.count("not a significant change (") == 2
    verdict = TrainingLength().verdict(report)
    assert verdict.rows[0].verdict.text == "not significant, p = 0.9650" and verdict.claims[0].status == INCONCLUSIVE


def test_longer_training_that_hurts_the_vit_contradicts_the_claim(tmp_path):
    report = contents(tmp_path / "a", seeds=THREE, **RISING_VIT, **longer({"cnn": 0.85, "vit": 0.60}))
    claim = TrainingLength().verdict(report).claims[0]
    assert claim.status == CONTRADICTED and claim.evidence.text.endswith("significant")


def test_only_a_longer_variant_judges_training_length(tmp_path):
    shorter = contents(tmp_path / "s", **RISING_VIT, **longer(VIT_GAINS, epochs=6))
    assert longest(shorter) is None
    said = text(numbers(TrainingLength(), shorter))
    assert "No variant of this build trains longer" in said and "(variant long)" in said  # listed, not judged
    assert TrainingLength().verdict(shorter).claims[0].status == INCONCLUSIVE
    both = contents(tmp_path / "b", **RISING_VIT, variants={
        "long": VariantSpec({"train.epochs": 18}, VIT_GAINS), "longer": VariantSpec({"train.epochs": 24}, VIT_GAINS),
        "mixed": VariantSpec({"train.epochs": 30, "train.lr": 5e-4}, VIT_GAINS)})  # changes more than the epochs
    assert longest(both).name == "longer"


def test_one_model(tmp_path):
    report = contents(tmp_path / "a", models=("vit",), **RISING_VIT, **longer(VIT_GAINS))
    said = facts(numbers(TrainingLength(), report))
    assert "the ViT reaches 79.17% against 72.67%" in said and "CNN" not in said and "minus" not in said
    assert not TrainingLength().verdict(report).rows


def test_metric_keys(tmp_path):
    keys = metric_keys(numbers(TrainingLength(), contents(tmp_path / "b", seeds=THREE, **RISING_VIT,
                                                          **longer(VIT_GAINS))))
    assert {"cnn.curve.plateau_epoch", "variant.long.vit.accuracy.mean",
            "variant.long.vit.vs_base.boot.p", "variant.long.vit.vs_base.boot.p_adj",
            "variant.long.gain_difference.diff_pts", "variant.long.gain_difference.p",
            "variant.long.gain_difference.low"} <= keys
