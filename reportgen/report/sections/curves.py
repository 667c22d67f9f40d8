"""Section "Loss and accuracy curves": each model's learning curves described from their numbers.

On the seed-mean curves (several seeds are averaged epoch by epoch first): the best validation
accuracy and lowest validation loss and their epochs, the milestones of the report config, the
epoch after which validation accuracy stops improving, and the epoch from which training and
validation accuracy diverge (the rule is printed by `curve_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.common import curves_figure_key
from reportgen.report.contents import ModelFacts, ReportContents, stack_curves
from reportgen.report.kernel import (
    Callout,
    FigureRef,
    Item,
    Metric,
    Paragraph,
    Part,
    Sentence,
    capital,
    model_key,
    sentence,
)
from reportgen.report.rules import plateau_epoch, plateau_rule
from reportgen.report.section import FigureDrawer, TrainingSection


def curve_rule(rules: ReportConfig) -> Sentence:
    """How the learning curves are read: milestones, the plateau and where training and validation diverge."""
    return sentence(
        "How the curves are read: milestones are the first epochs at which the validation loss falls below "
        f"{rules.val_loss_milestone:g} and the validation accuracy reaches {rules.val_acc_milestone:.0%}; the plateau "
        f"rule, which the training-length section applies too: {plateau_rule(rules)}; training and validation "
        "diverge from the first epoch after which the train–validation accuracy gap stays above "
        f"{rules.overfit_acc_gap_points:g} points. Several seeds' curves are averaged epoch by epoch first.")


def first_epoch_below(values: np.ndarray, threshold: float) -> int | None:
    """1-based epoch of the first value strictly below `threshold`, or None."""
    hits = np.flatnonzero(values < threshold)
    return int(hits[0]) + 1 if hits.size else None


def first_epoch_reaching(values: np.ndarray, threshold: float) -> int | None:
    """1-based epoch of the first value at or above `threshold`, or None."""
    hits = np.flatnonzero(values >= threshold)
    return int(hits[0]) + 1 if hits.size else None


def divergence_epoch(gap_pts: np.ndarray, limit_pts: float) -> int | None:
    """1-based epoch from which the train-validation accuracy gap stays above `limit_pts`, or None."""
    within = np.flatnonzero(gap_pts <= limit_pts)
    if within.size == 0:
        return 1
    last_within = int(within[-1]) + 1
    return None if last_within == len(gap_pts) else last_within + 1


@dataclass(frozen=True)
class CurveFacts:
    """What one model's seed-mean learning curves show."""

    epochs: int
    best_acc: Metric  # percent
    best_acc_epoch: Metric
    best_loss: Metric
    best_loss_epoch: Metric
    plateau: Metric  # epoch after which validation accuracy stops improving
    diverge: Metric | None  # epoch from which train and validation accuracy diverge
    final_gap: Metric  # points
    loss_below: Metric | None  # milestones
    acc_reached: Metric | None


def curve_facts(m: ModelFacts, rules: ReportConfig) -> CurveFacts:
    """Read `m`'s seed-mean validation curves by the report's rules."""
    histories = m.training.histories
    val_acc = 100 * stack_curves(histories, "val_acc").mean(axis=0)
    val_loss = stack_curves(histories, "val_loss").mean(axis=0)
    gap = 100 * stack_curves(histories, "train_acc").mean(axis=0) - val_acc
    best, lowest = int(np.argmax(val_acc)), int(np.argmin(val_loss))
    below = first_epoch_below(val_loss, rules.val_loss_milestone)
    reached = first_epoch_reaching(val_acc / 100, rules.val_acc_milestone)
    diverge = divergence_epoch(gap, rules.overfit_acc_gap_points)

    def key(name: str) -> str:
        return model_key(m.key, name)

    return CurveFacts(
        epochs=len(val_acc),
        best_acc=Metric(key("curve.best_val_acc"), float(val_acc[best]), "percent"),
        best_acc_epoch=Metric(key("curve.best_val_acc_epoch"), best + 1, "epoch"),
        best_loss=Metric(key("curve.best_val_loss"), float(val_loss[lowest]), "loss"),
        best_loss_epoch=Metric(key("curve.best_val_loss_epoch"), lowest + 1, "epoch"),
        plateau=Metric(key("curve.plateau_epoch"), plateau_epoch(val_acc, rules.plateau_points), "epoch"),
        diverge=None if diverge is None else Metric(key("curve.diverge_epoch"), diverge, "epoch"),
        final_gap=Metric(key("curve.final_gap_pts"), float(gap[-1]), "points"),
        loss_below=None if below is None else Metric(key("first_epoch.val_loss_below"), below, "epoch"),
        acc_reached=None if reached is None else Metric(key("first_epoch.val_acc_reached"), reached, "epoch"),
    )


def curve_sentences(m: ModelFacts, c: CurveFacts, rules: ReportConfig) -> list[Sentence]:
    """The best epoch, milestones, plateau and divergence of one model, pointing at its curves figure."""
    averaged: list[Part] = ["; validation curves averaged over ", m.seed_count, " seeds"] if len(m.seeds) > 1 else []
    out = [sentence(
        f"{capital(m.the)}'s validation accuracy peaked at ", c.best_acc, "% at epoch ", c.best_acc_epoch, " of ",
        m.training.epochs, " and its validation loss was lowest, ", c.best_loss, ", at epoch ", c.best_loss_epoch,
        " (", FigureRef(curves_figure_key(m)), averaged, ").")]
    milestones: list[Part] = []
    if c.loss_below is not None:
        milestones += [f"its validation loss first fell below {rules.val_loss_milestone:g} at epoch ", c.loss_below]
    if c.acc_reached is not None:
        milestones += [" and " if milestones else "",
                       f"its validation accuracy first reached {rules.val_acc_milestone:.0%} at epoch ", c.acc_reached]
    if milestones:
        out.append(sentence(capital(milestones[0]), milestones[1:], "."))
    if c.plateau.value < c.epochs:
        out.append(sentence("Validation accuracy levelled off after epoch ", c.plateau,
                            f": no later epoch beat the best so far by more than {rules.plateau_points:g} points."))
    else:
        out.append(sentence(f"Validation accuracy was still improving by more than {rules.plateau_points:g} points "
                            "at the final epoch: the curve has not reached a plateau."))
    if m.training.clean is not None:  # the running gap is no clean measure: the clean gap alone is judged
        out.append(sentence("The running training accuracy ends ", c.final_gap, " points above the validation "
                            "accuracy; overfitting is judged on the clean gap (Generalisation), not on these curves."))
    elif c.diverge is not None:
        out.append(sentence("From epoch ", c.diverge, " on, training accuracy stayed more than "
                            f"{rules.overfit_acc_gap_points:g} points above validation accuracy (", c.final_gap,
                            " points at the end): the curves diverge."))
    else:
        out.append(sentence("Training and validation accuracy did not diverge: the gap ends at ", c.final_gap,
                            f" points, within the {rules.overfit_acc_gap_points:g}-point limit."))
    return out


class Curves(TrainingSection):
    key = "curves"
    title = "Loss and accuracy curves"
    descriptive = True  # milestones of these runs' curves; what they imply for training length, that section says

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rules = contents.rules
        return [Callout("rule", [curve_rule(rules)])] + [
            Paragraph(curve_sentences(m, curve_facts(m, rules), rules)) for m in contents.trained]
