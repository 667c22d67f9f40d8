"""Section "Loss and accuracy curves": the curves described from their numbers, and the prose follows them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.kernel import FigureRef
from reportgen.report.sections.curves import (
    Curves,
    curve_facts,
    curve_rule,
    curve_sentences,
    divergence_epoch,
    first_epoch_below,
    first_epoch_reaching,
    plateau_epoch,
)
from tests.section_helpers import contents, numbers, sentences, text


def test_first_epochs_are_one_based_and_none_when_never():
    val_loss = np.array([1.8, 1.2, 0.99, 0.7])
    val_acc = np.array([0.40, 0.69, 0.70, 0.75])
    assert first_epoch_below(val_loss, 1.0) == 3 and first_epoch_reaching(val_acc, 0.70) == 3
    assert first_epoch_below(val_loss, 0.5) is None and first_epoch_reaching(val_acc, 0.9) is None


def test_plateau_is_the_epoch_after_which_nothing_beats_the_best_by_the_tolerance():
    assert plateau_epoch(np.array([40.0, 60.0, 70.0, 70.3, 69.0, 70.4]), 0.5) == 3
    assert plateau_epoch(np.array([40.0, 60.0, 70.0, 70.3, 69.0, 71.0]), 0.5) == 6  # still improving
    assert plateau_epoch(np.array([50.0]), 0.5) == 1


def test_divergence_is_where_the_gap_stays_above_the_limit():
    assert divergence_epoch(np.array([1.0, 4.0, 6.0, 5.5, 8.0]), 5.0) == 3
    assert divergence_epoch(np.array([1.0, 6.0, 4.0, 6.0, 8.0]), 5.0) == 4
    assert divergence_epoch(np.array([6.0, 7.0]), 5.0) == 1
    assert divergence_epoch(np.array([1.0, 6.0, 4.0]), 5.0) is None


def _with_curves(facts, val_acc, train_acc):
    """`facts` with one history whose accuracy curves (fractions) are given; losses fall as accuracy rises."""
    val_acc, train_acc = np.asarray(val_acc), np.asarray(train_acc)
    history = {"epoch": np.arange(1, len(val_acc) + 1), "val_acc": val_acc, "train_acc": train_acc,
               "val_loss": 2.3 * (1 - val_acc), "train_loss": 2.3 * (1 - train_acc)}
    return replace(facts, seeds=(1,), training=replace(facts.training, histories=(history,)))


def test_the_prose_flips_between_plateau_and_still_improving(tmp_path):
    facts = contents(tmp_path / "b").facts["cnn"]
    rules = ReportConfig()
    flat = _with_curves(facts, [0.5, 0.7, 0.72, 0.72, 0.719], [0.5, 0.75, 0.8, 0.85, 0.9])
    rising = _with_curves(facts, [0.5, 0.6, 0.65, 0.7, 0.75], [0.5, 0.6, 0.66, 0.71, 0.77])
    flat_text = " ".join(s.text for s in curve_sentences(flat, curve_facts(flat, rules), rules))
    rising_text = " ".join(s.text for s in curve_sentences(rising, curve_facts(rising, rules), rules))
    assert "peaked at 72.00% at epoch 3 of 5" in flat_text
    assert "Validation accuracy levelled off after epoch 3" in flat_text
    assert "From epoch 3 on, training accuracy stayed more than 5 points above" in flat_text
    assert "still improving by more than 0.5 points at the final epoch" in rising_text
    assert "did not diverge: the gap ends at 2.00 points" in rising_text
    assert "first reached 70% at epoch 2" in flat_text and "first reached 70% at epoch 4" in rising_text


def test_milestones_are_left_out_when_never_reached(tmp_path):
    weak = contents(tmp_path / "b", accuracies={"cnn": 0.3, "vit": 0.85}, epochs=3)
    _rule, cnn, vit = numbers(Curves(), weak)
    cnn_text, vit_text = (" ".join(s.text for s in p.sentences) for p in (cnn, vit))
    assert "first fell below" not in cnn_text and "first reached" not in cnn_text
    assert "Its validation loss first fell below 1 at epoch 1" in vit_text


def test_each_model_points_at_its_curves_figure(tmp_path):
    refs = {p.key for s in sentences(numbers(Curves(), contents(tmp_path / "b"))) for p in s.parts
            if isinstance(p, FigureRef)}
    assert refs == {"curves_cnn", "curves_vit"}


def test_the_rule_follows_the_config(tmp_path):
    report = contents(tmp_path / "b", config_overrides={"report.plateau_points": 2.0,
                                                         "report.val_acc_milestone": 0.5})
    assert "by more than 2 percentage points" in text(numbers(Curves(), report))
    assert "reaches 50%" in text(numbers(Curves(), report))


def test_the_rule_text_follows_the_config():
    rules = ReportConfig(alpha=0.01, overfit_acc_gap_points=3.0, overfit_val_loss_rise_pct=20.0,
                         val_loss_milestone=0.8, val_acc_milestone=0.6, plateau_points=1.0)
    assert "below 0.8" in curve_rule(rules).text and "reaches 60%" in curve_rule(rules).text
    assert "more than 1 percentage points" in curve_rule(rules).text


def test_with_a_clean_gap_the_curves_judge_no_overfitting_and_point_to_it(tmp_path):
    running_only = text(numbers(Curves(), contents(tmp_path / "r")))
    clean = text(numbers(Curves(), contents(tmp_path / "c", val_size=200, clean_gaps={"cnn": 0.01, "vit": 0.09})))
    assert "did not diverge" in running_only or "the curves diverge" in running_only
    assert "did not diverge" not in clean and "the curves diverge" not in clean
    assert "overfitting is judged on the clean gap (Generalisation), not on these curves" in clean
