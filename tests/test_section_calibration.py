"""Section "Calibration": ECE against its value under perfect calibration, the debiased ℓ2 ECE, MCE over large bins,
NLL and Brier tested between the models, temperature scaling held out, and every variant's calibration."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from reportgen.config import ReportConfig
from reportgen.report.calibration_measures import (
    binned,
    brier_score,
    cross_fitted,
    debiased_ece,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
)
from reportgen.report.sections.calibration import (
    Calibration,
    below_noise,
    calibrated,
    perfect_p,
    perfect_sentence,
    pooled_value,
)
from tests.section_helpers import STUDY, SWAPPED, contents, figures, numbers, tables, text

RULES = ReportConfig()


def _run(probs, labels, seed=42):
    probs = np.asarray(probs, dtype=np.float64)
    return SimpleNamespace(probs=probs, labels=np.asarray(labels), preds=probs.argmax(axis=1), seed=seed)


def _confident(confidence: np.ndarray, right: np.ndarray) -> SimpleNamespace:
    """Two-class runs whose top-class confidence is `confidence`, right where `right`."""
    labels = np.zeros(len(confidence), dtype=np.int64)
    top = np.where(right, 0, 1)
    probs = np.zeros((len(confidence), 2))
    probs[np.arange(len(confidence)), top] = confidence
    probs[np.arange(len(confidence)), 1 - top] = 1 - confidence
    return _run(probs, labels)


def perfectly_calibrated(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.55, 1.0, n)
    return _confident(confidence, rng.random(n) < confidence)


def overconfident(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return _confident(rng.uniform(0.9, 1.0, n), rng.random(n) < 0.6)


def test_calibration_errors_by_hand():
    # Two bins of confidence: [0, .5) and [.5, 1]. Image 1 and 2 in the top bin (confidences .9 and 1.0,
    # one right): accuracy .5, mean confidence .95, gap .45; image 3 in the low bin (.4, right): gap .6.
    run = _run([[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.4, 0.3, 0.3]], [0, 0, 0])
    b = binned(run, bins=2)
    assert list(b.bin) == [1, 1, 0]  # a confidence of exactly 1.0 belongs to the top bin
    assert expected_calibration_error(b) == pytest.approx((2 * 0.45 + 1 * 0.6) / 3)
    assert maximum_calibration_error(b, min_bin=1) == pytest.approx(0.6)
    assert maximum_calibration_error(b, min_bin=2) == pytest.approx(0.45)  # the bin of one image is left out
    assert maximum_calibration_error(b, min_bin=3) is None
    assert negative_log_likelihood(run) == pytest.approx(-(np.log(0.9) + np.log(1e-7) + np.log(0.4)) / 3)
    assert brier_score(run) == pytest.approx(((0.1 ** 2 + 0.1 ** 2) + (1 + 1) + (0.36 + 0.09 + 0.09)) / 3)
    # debiased: the top bin's (0.5 - 0.95)² less 0.5 · 0.5 / 1, weighted 2/3; the bin of one image carries none
    assert debiased_ece(b) == pytest.approx(np.sqrt(max(0.0, 2 / 3 * (0.45 ** 2 - 0.25))))


def test_a_perfectly_calibrated_model_is_not_called_miscalibrated_and_an_overconfident_one_is():
    good = calibrated("good", "Good", [perfectly_calibrated()], RULES)
    bad = calibrated("bad", "Bad", [overconfident()], RULES)
    assert good.values[0]["ece"] > 1.0  # the plug-in ECE is biased upwards at 1,000 images ...
    assert good.values[0]["ece"] == pytest.approx(good.values[0]["ece_perfect"], abs=1.5)  # ... by about this much
    assert debiased_ece(binned(good.runs[0], 15)) < expected_calibration_error(binned(good.runs[0], 15))
    p_good, p_bad = perfect_p(good, RULES), perfect_p(bad, RULES)
    assert p_good.value > 0.05 > p_bad.value
    good_text = perfect_sentence(good, p_good, None, 0.05).text
    bad_text = perfect_sentence(bad, p_bad, None, 0.05).text
    assert "it is not shown to be miscalibrated" in good_text and "it is miscalibrated" in bad_text
    # no simulated draw reached the overconfident model's ECE: its p is a bound, not a value
    assert p_bad.value == pytest.approx(1 / (RULES.bootstrap_resamples + 1))
    assert p_bad.text.startswith("≤ ") and p_good.text[:1].isdigit()
    assert f"(p {p_bad.text})" in bad_text and f"(p = {p_good.text})" in good_text
    # the table says what a debiased ℓ2 ECE of 0 means, and only where there is one
    below = "debiased ℓ2 ECE of 0: its estimate falls below zero, so no miscalibration shows beyond the bins' noise"
    assert pooled_value(good, 15).value == 0 and pooled_value(bad, 15).value > 0
    assert below in below_noise([good, bad], 15) and "Good's" in below_noise([good, bad], 15)
    assert below_noise([bad], 15) == ""


def test_temperature_scaling_is_fitted_on_the_other_half_and_cools_an_overconfident_model():
    run = overconfident()
    scaled, temperature = cross_fitted(run, seed=0)
    assert temperature > 1.0
    assert expected_calibration_error(binned(_run(scaled, run.labels), 15)) < expected_calibration_error(
        binned(run, 15))
    other, _ = cross_fitted(run, seed=1)  # other halves: other fits
    assert not np.allclose(other, scaled)


def test_which_model_is_better_calibrated_flips_with_the_results(tmp_path):
    ahead = text(numbers(Calibration(), contents(tmp_path / "a")))
    behind = text(numbers(Calibration(), contents(tmp_path / "b", **SWAPPED)))
    assert "The ViT is better calibrated in this run: debiased ℓ2 ECE" in ahead
    assert "The CNN is better calibrated in this run" in behind


def test_a_difference_that_is_not_significant_is_no_win(tmp_path):
    same = contents(tmp_path / "a", accuracies={"cnn": 0.8, "vit": 0.8})
    said = text(numbers(Calibration(), same))
    assert "Neither model is shown to be better calibrated in this run" in said
    row = Calibration().verdict(same).rows[0]
    assert row.primary and row.verdict.text.startswith("no difference shown in this run")


def test_nll_and_brier_are_one_family_decided_by_the_adjusted_p(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2))
    rows = Calibration().verdict(report).rows
    assert [r.measure for r in rows] == ["Calibration error (debiased ℓ2 ECE, %)", "NLL", "Brier score"]
    assert [r.primary for r in rows] == [True, False, False]
    # both raw p are at the floor of the resamples, so the adjusted p are bounds too
    assert "(adjusted p ≤ " in rows[1].verdict.text
    said = text(numbers(Calibration(), report))
    assert "Holm-adjusted over the NLL and Brier differences p ≤ " in said
    assert "bootstrap over seeds and test images" in said and "With one seed" not in said


def test_the_debiased_ece_shown_per_model_is_the_one_compared(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2))
    table = tables(numbers(Calibration(), report))[0]
    column = table.header.index("debiased ℓ2 ECE")
    shown = [row[column].metrics[0] for row in table.rows]  # "4.52%": the metric and its unit
    summary = Calibration().verdict(report).rows[0]
    assert [m.key for m in shown] == ["cnn.calibration.ece_debiased_pooled", "vit.calibration.ece_debiased_pooled"]
    assert [m.value for m in shown] == [m.value for m in summary.values]
    assert "its seeds' predictions pooled in each bin: the quantity the comparison tests" in table.caption
    one = tables(numbers(Calibration(), contents(tmp_path / "c")))[0]
    assert "mean ± std" not in one.caption and "pooled" not in one.caption  # one seed: nothing to pool


def test_the_tables_figure_and_rule(tmp_path):
    items = numbers(Calibration(), contents(tmp_path / "b", seeds=(1, 2)))
    assert [row[0] for row in tables(items)[0].rows] == ["CNN", "ViT"]
    assert tables(items)[0].header[1:4] == ["ECE", "ECE if perfectly calibrated", "p (perfect)"]
    assert [f.key for f in figures(items)] == ["reliability"]
    said = text(items)
    assert "15 equal-width bins" in said and "1000 draws, seed 0" in said and "at least 20 images" in said
    assert "The CNN's ECE per seed: seed 1: " in said
    assert "each half of the test images scaled by the temperature fitted on the other half (held out)" in said
    assert len(tables(items)) == 1  # no variants: no variants table


def test_every_variant_gets_its_calibration(tmp_path):
    items = numbers(Calibration(), contents(tmp_path / "b", **STUDY))
    table = tables(items)[1]
    assert [row[:2] for row in table.rows][:4] == [["base", "CNN"], ["base", "ViT"], ["no-augment", "CNN"],
                                                   ["no-augment", "ViT"]]
    assert table.rows[3][2].metrics[0].key == "variant.no-augment.vit.calibration.ece.mean"


def test_the_interval_is_reproducible_and_follows_the_bootstrap_settings(tmp_path):
    report = contents(tmp_path / "b")
    assert text(numbers(Calibration(), report)) == text(numbers(Calibration(), report))
    other = contents(tmp_path / "c", config_overrides={"report.bootstrap_seed": 5})
    assert text(numbers(Calibration(), other)) != text(numbers(Calibration(), report))


def test_switched_off_it_is_absent(tmp_path):
    assert not Calibration().applies(contents(tmp_path / "b", config_overrides={"analysis.calibration": False}))


def test_proper_scores_are_said_to_reward_accuracy_too(tmp_path):
    said = text(numbers(Calibration(), contents(tmp_path / "b")))
    assert "these scores reward accuracy as well as calibration" in said
    assert Calibration().verdict(contents(tmp_path / "c")).findings[0].text.startswith("Calibration: the ViT is better")
