"""Section "Calibration": ECE, MCE, NLL and Brier from the stored probabilities, and which model is better
calibrated only when the bootstrap interval of the ECE difference excludes 0."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from reportgen.report.sections.calibration import (
    Calibration,
    binned,
    brier_score,
    comparison_sentence,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
)
from reportgen.report.stats import Interval
from tests.section_helpers import SWAPPED, contents, figures, numbers, tables, text


def _run(probs, labels):
    probs = np.asarray(probs, dtype=np.float64)
    return SimpleNamespace(probs=probs, labels=np.asarray(labels), preds=probs.argmax(axis=1))


def test_calibration_errors_by_hand():
    # Two bins of confidence: [0, .5) and [.5, 1]. Image 1 and 2 in the top bin (confidences .9 and 1.0,
    # one right): accuracy .5, mean confidence .95, gap .45; image 3 in the low bin (.4, right): gap .6.
    run = _run([[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.4, 0.3, 0.3]], [0, 0, 0])
    b = binned(run, bins=2)
    assert list(b.bin) == [1, 1, 0]  # a confidence of exactly 1.0 belongs to the top bin
    assert expected_calibration_error(b) == pytest.approx((2 * 0.45 + 1 * 0.6) / 3)
    assert maximum_calibration_error(b) == pytest.approx(0.6)
    assert negative_log_likelihood(run) == pytest.approx(-(np.log(0.9) + np.log(1e-7) + np.log(0.4)) / 3)
    assert brier_score(run) == pytest.approx(((0.1 ** 2 + 0.1 ** 2) + (1 + 1) + (0.36 + 0.09 + 0.09)) / 3)


def test_a_perfectly_calibrated_run_has_no_error():
    run = _run([[1.0, 0.0]] * 4, [0] * 4)
    assert expected_calibration_error(binned(run, 15)) == 0.0 and brier_score(run) == 0.0


def test_which_model_is_better_calibrated_flips_with_the_results(tmp_path):
    ahead = text(numbers(Calibration(), contents(tmp_path / "a")))
    behind = text(numbers(Calibration(), contents(tmp_path / "b", **SWAPPED)))
    assert "The ViT is better calibrated" in ahead and "The CNN is better calibrated" in behind


def test_an_interval_that_includes_zero_is_no_win():
    a, b = SimpleNamespace(name="CNN", the="the CNN"), SimpleNamespace(name="ViT", the="the ViT")
    tie = comparison_sentence(a, b, Interval(0.4, -0.3, 1.1, 0.95, 1000)).text
    assert "neither model is shown to be better calibrated" in tie and "is better calibrated:" not in tie
    assert comparison_sentence(a, b, Interval(-2.0, -3.0, -1.0, 0.95, 1000)).text.startswith(
        "The CNN is better calibrated")


def test_the_table_figure_and_rule(tmp_path):
    items = numbers(Calibration(), contents(tmp_path / "b", seeds=(1, 2)))
    assert [row[0] for row in tables(items)[0].rows] == ["CNN", "ViT"]
    assert [f.key for f in figures(items)] == ["reliability"]
    assert "15 equal-width bins" in text(items) and "1000 resamples of the test images, seed 0" in text(items)
    assert "The CNN's ECE per seed: seed 1: " in text(items)


def test_the_interval_is_reproducible_and_follows_the_bootstrap_settings(tmp_path):
    report = contents(tmp_path / "b")
    assert text(numbers(Calibration(), report)) == text(numbers(Calibration(), report))
    other = contents(tmp_path / "c", config_overrides={"report.bootstrap_seed": 5})
    assert text(numbers(Calibration(), other)) != text(numbers(Calibration(), report))


def test_switched_off_it_is_absent(tmp_path):
    assert not Calibration().applies(contents(tmp_path / "b", config_overrides={"analysis.calibration": False}))
