"""Section "Results": per model, its headline numbers, per-class metrics, learning curves and confusion matrix."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from reportgen.bundle import RunData
from reportgen.report.common import (
    MACRO_FIELDS,
    PER_CLASS_FIELDS,
    curves_figure_key,
    headline_sentence,
    per_class_table,
)
from reportgen.report.contents import ModelFacts, ReportContents, stack_curves
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Subsection,
    Table,
    capital,
    model_key,
    sentence,
)
from reportgen.report.plots import TRAIN_COLOUR, VAL_COLOUR, per_epoch_axes, plot_band
from reportgen.report.rules import overfitting_clause
from reportgen.report.section import FigureDrawer, Section, Verdict


def mean_per_class_table(runs: Sequence[RunData], class_names: Sequence[str]) -> Table:
    """Per-class metrics averaged over seeds (used when there are several)."""
    model = runs[0].model

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    rows: list[list[Cell]] = [
        [name, *(Metric(model_key(model, f"mean.class{i}.{f}"), mean([r.metrics["per_class"][i][f] for r in runs]),
                        "fraction") for f in PER_CLASS_FIELDS)]
        for i, name in enumerate(class_names)
    ]
    footer: list[list[Cell]] = [[
        "macro average",
        *(Metric(model_key(model, f"mean.macro.{f}"), mean([r.metrics["macro"][f] for r in runs]), "fraction")
          for f in MACRO_FIELDS), ""]]
    return Table(["class", "precision", "recall", "F1", "accuracy"], rows, footer,
                 caption=f"{runs[0].display_name}: per-class metrics, mean over {len(runs)} seeds.")


def draw_curves(histories: Sequence[dict[str, np.ndarray]], name: str) -> plt.Figure:
    """Loss and accuracy (in %) per epoch, train vs validation, for one model's seeds."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(6.6, 2.3))
    band = f" (mean, min–max over {len(histories)} seeds)" if len(histories) > 1 else ""
    panels = ((loss_ax, "loss", 1.0, "cross-entropy loss"), (acc_ax, "acc", 100.0, "accuracy (%)"))
    for ax, column, scale, ylabel in panels:
        plot_band(ax, scale * stack_curves(histories, f"train_{column}"), TRAIN_COLOUR, "train")
        plot_band(ax, scale * stack_curves(histories, f"val_{column}"), VAL_COLOUR, "validation (test split)")
        per_epoch_axes(ax, ylabel, f"{name} {ylabel.split(' (')[0]}{band}")
    acc_ax.legend(frameon=False)
    fig.tight_layout(pad=0.3)
    return fig


def draw_confusion(confusion: np.ndarray, class_names: Sequence[str], title: str) -> plt.Figure:
    """Annotated heatmap of integer counts with a colour bar; rows true class, columns predicted class.

    Digits and labels are sized to stay legible at the figure's print width (about 11 cm for 10 classes:
    8 pt digits after scaling).
    """
    k = len(class_names)
    side = min(max(2.8, 0.3 * k + 1.0), 6.5)
    fig, ax = plt.subplots(figsize=(side + 0.8, side))
    sns.heatmap(np.asarray(confusion, dtype=np.int64), annot=True, fmt="d", cmap="Blues", cbar=True,
                cbar_kws={"shrink": 0.8, "label": "images"}, square=True, linewidths=0.3, linecolor="white",
                xticklabels=class_names, yticklabels=class_names,
                annot_kws={"fontsize": 8.5 if k <= 12 else 6}, ax=ax)
    ax.tick_params(labelsize=8 if k <= 12 else 6)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    ax.tick_params(length=0)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    plt.setp(ax.get_yticklabels(), rotation=0)
    fig.tight_layout(pad=0.3)
    return fig


def confusion_caption(m: ModelFacts) -> str:
    scope = f"seed {m.seeds[0]}" if len(m.seeds) == 1 else \
        f"summed over the {len(m.seeds)} seeds ({', '.join(map(str, m.seeds))})"
    return (f"{m.name} confusion matrix on the test set, {scope}: rows are true classes, columns predicted classes, "
            "cells count images.")


def curves_caption(m: ModelFacts) -> str:
    band = f" Lines are the mean over {len(m.seeds)} seeds, the shaded band their min–max range." \
        if len(m.seeds) > 1 else ""
    return f"{m.name} training and validation loss and accuracy per epoch (validation on the test split).{band}"


def _model_result(contents: ReportContents, m: ModelFacts, figures: FigureDrawer) -> Subsection:
    runs = contents.runs[m.key]
    table = mean_per_class_table(runs, contents.class_names) if len(runs) > 1 else \
        per_class_table(runs[0], contents.class_names)
    items: list[Item] = [Paragraph([headline_sentence(m)]), table]
    if m.training is not None:
        items.append(figures.draw(curves_figure_key(m), lambda: draw_curves(m.training.histories, m.name),
                                  curves_caption(m)))
    items.append(figures.draw(f"confusion_{m.key}", lambda: draw_confusion(m.confusion, contents.class_names,
                                                                          f"{m.name} confusion matrix"),
                              confusion_caption(m), "64%"))
    return Subsection(f"results-{m.key}", m.name, items)


def single_model_verdict(m: ModelFacts) -> Sentence:
    """What one model reached, and (trained here) whether it overfits, for a report without a comparison."""
    reached = [f"{capital(m.the)} reached ", m.accuracy.parts("%"), " test accuracy"]
    if m.training is None:
        return sentence(reached, " with the evaluated weights.")
    return sentence(reached, " after ", m.training.epochs, " epochs and ", m.training.train_time.parts(" s"),
                    f" of training; by the overfitting rule, {overfitting_clause(m)}.")


class Results(Section):
    key = "results"
    title = "Results"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [_model_result(contents, m, figures) for m in contents.models]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """Without a comparison: what each model reached (with two models the analyses conclude)."""
        return None if contents.comparative else Verdict(tuple(single_model_verdict(m) for m in contents.models))
