"""Section "Training length": whether each model was still improving when training stopped.

For every model trained here: the least-squares slope of its validation accuracy and loss over the last
report.slope_epochs epochs, with a (1 - alpha) confidence interval (reportgen.report.stats.final_slope:
over seeds with two or more, else from the regression), and the verdict the intervals support: still
improving ("has yet to plateau"), getting worse, or no trend. Variants that change only train.epochs are
compared with the base runs by the accuracy rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents, stack_curves
from reportgen.report.experiments import base_evidence, versus_base
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    FigureRef,
    Item,
    Metric,
    Part,
    Sentence,
    Table,
    capital,
    sentence,
    stat_cell,
)
from reportgen.report.plots import SERIES_COLOURS, per_epoch_axes
from reportgen.report.section import FigureDrawer, TrainingSection, Verdict
from reportgen.report.stats import Slope, final_slope

MIN_EPOCHS = 3  # a slope with an uncertainty needs three points
TRAINING_LENGTH_KEYS = frozenset({"train.epochs"})  # what a variant changes to test another training length


def training_length_rule(rules: ReportConfig, epochs: int) -> Sentence:
    """How the end of training is read: the slopes, their intervals and the verdicts."""
    level = 1 - rules.alpha
    return sentence(
        f"Rule used for training length: the slopes are least-squares lines through the last {epochs} epochs "
        f"(report.slope_epochs, or every epoch of a shorter run) of the validation accuracy (points per epoch) and "
        f"loss, each with a {level:.0%} confidence "
        "interval: over the seeds' slopes with two or more seeds, else from the regression's standard error. A model "
        "is still improving when the accuracy interval lies above 0 or the loss interval below 0; getting worse when "
        "the accuracy interval lies below 0 or the loss interval above 0; otherwise no trend is shown, which is "
        "consistent with a plateau. Either curve suffices, so a model is called improving more often than the level "
        "alone says; and with one seed the regression treats consecutive epochs as independent, which they are not, "
        "so its interval is too narrow: several seeds (train.seeds) give the sounder interval. The cosine schedule "
        "brings the learning rate close to 0 in these epochs, so a flat end can be the schedule's doing as much as "
        "the model's; a variant with more epochs (train.epochs) separates the two.")


@dataclass(frozen=True)
class EndOfTraining:
    """One model's validation curves over their final epochs: slopes, their intervals and the verdict."""

    model: ModelFacts
    accuracy: Slope  # points per epoch
    loss: Slope  # per epoch

    @property
    def improving(self) -> bool:
        """Accuracy significantly rising or loss significantly falling."""
        return self.accuracy.direction() == 1 or self.loss.direction() == -1

    @property
    def worsening(self) -> bool:
        """Accuracy significantly falling or loss significantly rising."""
        return self.accuracy.direction() == -1 or self.loss.direction() == 1

    def metrics(self, name: str) -> tuple[Metric, Metric, Metric]:
        """(slope, low, high) of "val_acc" or "val_loss" as metrics in points (loss) per epoch."""
        slope = self.accuracy if name == "val_acc" else self.loss
        key = self.model.metric_key(f"end_slope.{name}")
        unit = "slope" if name == "val_acc" else "loss_slope"
        return (Metric(key, slope.estimate, unit), Metric(f"{key}.low", slope.low, unit),
                Metric(f"{key}.high", slope.high, unit))


def end_of_training(m: ModelFacts, epochs: int, level: float) -> EndOfTraining:
    """Slopes of `m`'s validation accuracy (points) and loss over its last `epochs` epochs."""
    histories = m.training.histories
    return EndOfTraining(m, final_slope(100 * stack_curves(histories, "val_acc"), epochs, level),
                         final_slope(stack_curves(histories, "val_loss"), epochs, level))


def slope_epochs(contents: ReportContents) -> int:
    """The final epochs the slopes are fitted on: report.slope_epochs, or all epochs of the shortest run."""
    shortest = min(len(h["epoch"]) for m in contents.trained for h in m.training.histories)
    return min(contents.rules.slope_epochs, shortest)


def verdict(end: EndOfTraining) -> str:
    """What the intervals support, in words."""
    if end.improving and end.worsening:
        return "mixed (one curve still improving, the other getting worse)"
    if end.improving:
        return "still improving (it has yet to plateau)"
    if end.worsening:
        return "getting worse (validation had passed its best)"
    return "no trend shown (consistent with a plateau)"


def _interval(end: EndOfTraining, name: str, unit: str) -> list[Part]:
    slope, low, high = end.metrics(name)
    return [slope, f"{unit} per epoch (", f"{end.accuracy.level:.0%} interval ", low, " to ", high, ")"]


def end_sentence(end: EndOfTraining) -> Sentence:
    """One model's final slopes and the verdict."""
    m = end.model
    return sentence(f"Over the last {end.accuracy.epochs} epochs, {m.the}'s validation accuracy changed by ",
                    _interval(end, "val_acc", " points"), " and its validation loss by ",
                    _interval(end, "val_loss", ""),
                    f": {verdict(end)}.")


def length_variant_sentences(contents: ReportContents) -> list[Sentence]:
    """Variants that train longer or shorter: each model's accuracy against the base runs', by the accuracy rule."""
    out = []
    base_epochs = contents.config.train.epochs
    for variant in contents.variants_changing(TRAINING_LENGTH_KEYS):
        epochs = variant.changes["train.epochs"]
        for m in contents.models:
            sig = versus_base(contents, variant, m.key)
            other = variant.facts[m.key]
            out.append(sentence(f"Trained for {epochs} epochs instead of {base_epochs} (variant {variant.name}), "
                                f"{m.the} reaches ", other.accuracy.parts("%"), " against ", m.accuracy.parts("%"),
                                ": a change of ", sig.difference.mean, f" points, {sig.verdict} (",
                                base_evidence(sig), ")."))
    return out


def slope_table(ends: list[EndOfTraining]) -> Table:
    rows: list[list[Cell]] = []
    for end in ends:
        acc, acc_low, acc_high = end.metrics("val_acc")
        loss, loss_low, loss_high = end.metrics("val_loss")
        rows.append([end.model.name, stat_cell(end.model.training.final_val_acc, "%"), acc,
                     sentence(acc_low, " to ", acc_high), loss, sentence(loss_low, " to ", loss_high), verdict(end)])
    level = f"{ends[0].accuracy.level:.0%}"
    return Table(["model", "final val. acc.", "val. acc. slope (points/epoch)", f"{level} interval",
                  "val. loss slope (per epoch)", f"{level} interval", "verdict"], rows,
                 caption=f"Slopes of the validation curves over the last {ends[0].accuracy.epochs} epochs.")


def draw_ends(ends: list[EndOfTraining]) -> plt.Figure:
    """Each model's seed-mean validation accuracy per epoch, with the fitted line over the final epochs."""
    fig, ax = plt.subplots(figsize=(4.2, 2.5))
    for end, colour in zip(ends, SERIES_COLOURS):
        curve = 100 * stack_curves(end.model.training.histories, "val_acc").mean(axis=0)
        epochs = np.arange(1, len(curve) + 1)
        ax.plot(epochs, curve, color=colour, lw=1.1, alpha=0.6, label=end.model.name)
        tail = epochs[-end.accuracy.epochs:]
        centre = curve[-end.accuracy.epochs:].mean()
        line = centre + end.accuracy.estimate * (tail - tail.mean())
        ax.plot(tail, line, color=colour, lw=2.2)
    per_epoch_axes(ax, "validation accuracy (%)", "final-epoch slopes (thick)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def ends_of_training(contents: ReportContents) -> list[EndOfTraining]:
    """Every trained model's final slopes, at the report's confidence level 1 - alpha."""
    level = 1 - contents.rules.alpha
    return [end_of_training(m, slope_epochs(contents), level) for m in contents.trained]


def improving_curves(end: EndOfTraining) -> str:
    """Which of a model's validation curves were still improving: "validation accuracy and loss", ..."""
    if end.accuracy.direction() == 1 and end.loss.direction() == -1:
        return "validation accuracy and loss"
    return "validation accuracy" if end.accuracy.direction() == 1 else "validation loss"


def plateau_claim(ends: list[EndOfTraining]) -> Sentence:
    """Whether the seed's "have yet to reach a plateau" holds, and for which models."""
    still = [end for end in ends if end.improving and not end.worsening]
    if still:
        names = " and ".join(end.model.the for end in still)
        curves = [improving_curves(end) for end in still]
        which = " and ".join(f"{end.model.the}'s {c}" for end, c in zip(still, curves))
        verb = "was" if len(still) == 1 and " and " not in curves[0] else "were"
        return sentence(f"The claim that the curves have yet to reach a plateau holds for {names}: {which} {verb} "
                        "still improving when training stopped. Whether more epochs raise the final accuracy is what a "
                        "longer-training variant (train.epochs) tests.")
    if len(ends) == 1:
        return sentence(f"{capital(ends[0].model.the)}'s curves do not show that they have yet to reach a plateau.")
    return sentence("No model's curves show that they have yet to reach a plateau.")


class TrainingLength(TrainingSection):
    key = "training-length"
    title = "Training length"

    def applies(self, contents: ReportContents) -> bool:
        return super().applies(contents) and slope_epochs(contents) >= MIN_EPOCHS

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        ends = ends_of_training(contents)
        facts = [end_sentence(end) for end in ends] + [plateau_claim(ends)] + length_variant_sentences(contents)
        figure = figures.draw("training-length", lambda: draw_ends(ends),
                              f"Validation accuracy per epoch (mean over seeds) and the least-squares line over the "
                              f"last {ends[0].accuracy.epochs} epochs.", width="70%")
        facts.append(sentence("The fitted lines are drawn in ", FigureRef("training-length"), "."))
        return [Callout("rule", [training_length_rule(contents.rules, ends[0].accuracy.epochs)]),
                slope_table(ends), Bullets(facts), figure]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        return Verdict((sentence("Training length: ", plateau_claim(ends_of_training(contents))),))
