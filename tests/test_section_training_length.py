"""Section "Training length": the final-epoch slopes of the validation curves with their intervals, and "still
improving" only when an interval excludes 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t as student_t

from reportgen.report.sections.training_length import EndOfTraining, TrainingLength, verdict
from reportgen.report.stats import Slope
from tests.bundle_factory import VariantSpec
from tests.section_helpers import build, contents, facts, figures, metric_keys, numbers, tables, text

RISING_VIT = dict(epochs=30, curves={"vit": "rising", "cnn": "flat"})
RISING_CNN = dict(epochs=30, curves={"cnn": "rising", "vit": "flat"})


def _shown(items) -> dict:
    return {m.key: m for row in tables(items)[0].rows for cell in row if not isinstance(cell, str)
            for m in ([cell] if hasattr(cell, "key") else cell.metrics)}


def test_applies_to_trained_models_with_three_epochs_or_more(tmp_path):
    assert TrainingLength().applies(contents(tmp_path / "three", epochs=3))  # no variants needed
    assert not TrainingLength().applies(contents(tmp_path / "two", epochs=2))
    assert not TrainingLength().applies(contents(tmp_path / "evaluated", origin="evaluated"))


def test_still_improving_against_plateaued_and_the_claim_flips(tmp_path):
    items = build(TrainingLength(), contents(tmp_path / "a", **RISING_VIT))
    said = text(items)
    assert said.startswith("Rule used for training length: the slopes are least-squares lines through the last 10 "
                           "epochs (report.slope_epochs, or every epoch of a shorter run) of the validation accuracy "
                           "(points per epoch) and loss, each with a 95% confidence interval")
    assert ("Over the last 10 epochs, the ViT's validation accuracy changed by +1.332 points per epoch (95% interval "
            "+1.332 to +1.332) and its validation loss by -0.03064 per epoch (95% interval -0.03064 to -0.03064): "
            "still improving (it has yet to plateau).") in said
    assert ("Over the last 10 epochs, the CNN's validation accuracy changed by +0.002 points per epoch (95% interval "
            "-0.002 to +0.005) and its validation loss by -0.00004 per epoch (95% interval -0.00012 to +0.00004): "
            "no trend shown (consistent with a plateau).") in said
    assert ("The claim that the curves have yet to reach a plateau holds for the ViT: the ViT's validation accuracy "
            "and loss were still improving when training stopped.") in said
    assert [row[-1] for row in tables(items)[0].rows] == ["no trend shown (consistent with a plateau)",
                                                         "still improving (it has yet to plateau)"]
    (figure,) = figures(items)
    assert figure.key == "training-length" and (tmp_path / "a" / figure.src).is_file()
    swapped = facts(build(TrainingLength(), contents(tmp_path / "b", **RISING_CNN)))
    assert "holds for the CNN: the CNN's validation accuracy and loss were" in swapped
    assert "holds for the ViT" not in swapped
    assert "the ViT's validation accuracy changed by +0.002 points per epoch (95% interval -0.002 to +0.005)" in swapped


def test_the_slope_of_a_straight_curve_is_exact(tmp_path):
    report = contents(tmp_path / "b", **RISING_VIT)
    shown = _shown(numbers(TrainingLength(), report))
    final = 100 * report.runs["vit"][0].metrics["accuracy"]  # the curve rises by 0.55 x final over the 30 epochs
    slope = shown["vit.end_slope.val_acc"]
    assert slope.value == pytest.approx(0.55 * final / 30)
    assert shown["vit.end_slope.val_acc.low"].value == pytest.approx(slope.value)
    assert shown["vit.end_slope.val_loss"].value == pytest.approx(-2.3 * 0.55 * final / 100 / 30)


def test_both_improving_and_neither(tmp_path):
    both = facts(numbers(TrainingLength(), contents(tmp_path / "a", epochs=30, curves={"cnn": "rising",
                                                                                      "vit": "rising"})))
    assert ("holds for the CNN and the ViT: the CNN's validation accuracy and loss and the ViT's validation "
            "accuracy and loss were still improving") in both
    neither = facts(numbers(TrainingLength(), contents(tmp_path / "b", epochs=30, curves={"cnn": "falling",
                                                                                         "vit": "flat"})))
    assert ("the CNN's validation accuracy changed by -0.570 points per epoch (95% interval -0.570 to -0.570) and its "
            "validation loss by +0.01311 per epoch (95% interval +0.01311 to +0.01311): getting worse (validation had "
            "passed its best).") in neither
    assert "No model's curves show that they have yet to reach a plateau." in neither
    assert "still improving" not in neither and "holds for" not in neither


def test_several_seeds_take_the_interval_over_the_seeds_slopes(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3), **RISING_VIT)
    items = numbers(TrainingLength(), report)
    said = facts(items)
    assert ("Over the last 10 epochs, the CNN's validation accuracy changed by -0.001 points per epoch (95% interval "
            "-0.006 to +0.005)") in said and "(consistent with a plateau)" in said
    assert "holds for the ViT: the ViT's validation accuracy and loss were" in said
    shown = _shown(items)
    for model in ("cnn", "vit"):
        slopes = [np.polyfit(np.arange(10), 100 * run.history["val_acc"][-10:], 1)[0] for run in report.runs[model]]
        half = student_t.ppf(0.975, 2) * np.std(slopes, ddof=1) / np.sqrt(3)
        assert shown[f"{model}.end_slope.val_acc"].value == pytest.approx(np.mean(slopes))
        assert shown[f"{model}.end_slope.val_acc.low"].value == pytest.approx(np.mean(slopes) - half)
        assert shown[f"{model}.end_slope.val_acc.high"].value == pytest.approx(np.mean(slopes) + half)


def test_the_window_is_report_slope_epochs_cut_to_the_runs(tmp_path):
    short = text(numbers(TrainingLength(), contents(tmp_path / "a")))  # 5 epochs, report.slope_epochs 10
    assert "through the last 5 epochs (report.slope_epochs" in short and "Over the last 5 epochs, the CNN's" in short
    four = text(numbers(TrainingLength(), contents(tmp_path / "b", epochs=12, config_overrides={
        "report.slope_epochs": 4, "report.alpha": 0.1})))
    assert "through the last 4 epochs" in four and "each with a 90% confidence interval" in four
    assert "Over the last 4 epochs, the ViT's validation accuracy changed by " in four and "(90% interval " in four


def test_one_model(tmp_path):
    items = numbers(TrainingLength(), contents(tmp_path / "b", models=("vit",), epochs=30, curves={"vit": "flat"}))
    said = facts(items)
    assert "the ViT's validation accuracy" in said and "CNN" not in said
    assert "The ViT's curves do not show that they have yet to reach a plateau." in said
    assert [row[0] for row in tables(items)[0].rows] == ["ViT"]


def test_a_longer_training_variant_is_compared_by_the_accuracy_rule(tmp_path):
    long = VariantSpec({"train.epochs": 20}, {"cnn": 0.86, "vit": 0.80})
    said = facts(numbers(TrainingLength(), contents(tmp_path / "b", epochs=12, variants={"long": long})))
    assert ("Trained for 20 epochs instead of 12 (variant long), the CNN reaches 86.83% against 85.50%: a change of "
            "1.33 points, not significant (McNemar p = 0.5394).") in said
    assert ("Trained for 20 epochs instead of 12 (variant long), the ViT reaches 79.17% against 72.67%: a change of "
            "6.50 points, significant (McNemar p = 0.009394).") in said
    assert "Trained for" not in facts(numbers(TrainingLength(), contents(tmp_path / "c", epochs=12)))


def _end(accuracy: tuple[float, float], loss: tuple[float, float]) -> EndOfTraining:
    def slope(low: float, high: float) -> Slope:
        return Slope((low + high) / 2, low, high, 0.95, 10, 1)
    return EndOfTraining(None, slope(*accuracy), slope(*loss))


@pytest.mark.parametrize("accuracy, loss, expected", [
    ((0.1, 0.3), (-0.1, 0.1), "still improving (it has yet to plateau)"),
    ((-0.1, 0.1), (-0.3, -0.1), "still improving (it has yet to plateau)"),  # the loss alone still falls
    ((-0.3, -0.1), (-0.1, 0.1), "getting worse (validation had passed its best)"),
    ((-0.1, 0.1), (0.1, 0.3), "getting worse (validation had passed its best)"),
    ((0.1, 0.3), (0.1, 0.3), "mixed (one curve still improving, the other getting worse)"),
    ((-0.1, 0.1), (-0.1, 0.1), "no trend shown (consistent with a plateau)"),
    ((0.0, 0.2), (-0.2, 0.0), "no trend shown (consistent with a plateau)"),  # an interval touching 0 shows no trend
])
def test_the_verdict_is_what_the_intervals_support(accuracy, loss, expected):
    assert verdict(_end(accuracy, loss)) == expected


def test_metric_keys(tmp_path):
    items = numbers(TrainingLength(), contents(tmp_path / "b", **RISING_VIT))
    keys = metric_keys(items)
    for model in ("cnn", "vit"):
        for curve in ("val_acc", "val_loss"):
            assert {f"{model}.end_slope.{curve}", f"{model}.end_slope.{curve}.low",
                    f"{model}.end_slope.{curve}.high"} <= keys
    assert set(_shown(items)) >= {"cnn.final_val_acc.mean", "vit.end_slope.val_loss.high"}
