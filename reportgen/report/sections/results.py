"""Section "Results": each model's headline numbers, one per-class table with the models side by side and
the per-class tests between them, the learning curves and the confusion matrices.

Per-class precision, recall and F1 are shown in percent with one decimal (one image of a 100-image class is
a whole point: more digits would be noise); per-class recall is per-class accuracy, so it is shown once. With
two models, each class's recall difference is tested on the same test images of that class, paired: McNemar's
exact test with one seed (the weights held fixed: "in this run"), the hierarchical bootstrap over seeds and
images with several (reportgen.report.stats); the classes' tests are one family, adjusted together
(reportgen.report.multiplicity), and a class differs only by its adjusted p.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from reportgen.bundle import RunData
from reportgen.report.common import MACRO_FIELDS, curves_figure_key, headline_sentence
from reportgen.report.contents import ModelFacts, ReportContents, stack_curves
from reportgen.report.evidence import METHOD_NAMES, SEEDS_FOR_A_TEST
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Table,
    capital,
    compare_key,
    dataset_key,
    model_key,
    name_list,
    p_parts,
    run_key,
    sentence,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.plots import TRAIN_COLOUR, VAL_COLOUR, per_epoch_axes, plot_band
from reportgen.report.rules import overfitting_clause
from reportgen.report.section import FigureDrawer, Section, Verdict
from reportgen.report.stats import correctness, hierarchical_bootstrap, mcnemar_test

CLASS_SCORES = MACRO_FIELDS  # precision, recall (= per-class accuracy), F1


def score_metric(runs: Sequence[RunData], scope: str, values: Sequence[float]) -> Metric:
    """A per-class or macro score in percent: the run's (``<model>.seed<s>.<scope>_pct``) with one seed, the mean
    over seeds (``<model>.mean.<scope>_pct``) with several."""
    run = runs[0]
    key = run_key(run.model, run.seed, f"{scope}_pct") if len(runs) == 1 else model_key(run.model, f"mean.{scope}_pct")
    return Metric(key, 100 * float(np.mean(values)), "percent1")


def class_scores(runs: Sequence[RunData], index: int) -> list[Metric]:
    """Precision, recall and F1 of class `index` for one model's runs."""
    return [score_metric(runs, f"class{index}.{f}", [r.metrics["per_class"][index][f] for r in runs])
            for f in CLASS_SCORES]


def macro_scores(runs: Sequence[RunData]) -> list[Metric]:
    """Macro-averaged precision, recall and F1 of one model's runs."""
    return [score_metric(runs, f"macro.{f}", [r.metrics["macro"][f] for r in runs]) for f in CLASS_SCORES]


@dataclass(frozen=True)
class ClassTests:
    """Each class's recall difference between two models (first minus second, points) and its test, one family."""

    differences: tuple[Metric, ...]  # one per class, ``compare.class<i>.diff``
    tests: Family  # raw p ``compare.class<i>.p``, adjusted ``compare.class<i>.p_adj``
    over_seeds: bool  # the hierarchical bootstrap over seeds and images; else McNemar on one seed


def class_test(contents: ReportContents, index: int) -> tuple[Metric, Metric]:
    """(difference, raw p) of class `index`'s recall between the two models, paired on its test images."""
    first, second = contents.runs.values()
    key, rules = compare_key(f"class{index}"), contents.rules
    mask = first[0].labels == index  # (N,) this class's test images
    if len(first) > 1 and len(second) > 1:
        test = hierarchical_bootstrap(key, [correctness(first)[:, mask], correctness(second)[:, mask]],
                                      lambda m: m[0] - m[1], rules.bootstrap_seed, rules.bootstrap_resamples,
                                      1 - rules.alpha, unit="points1")
        return test.metric("diff"), test.metric("p")
    b, c, p = mcnemar_test(first[0].labels[mask], first[0].preds[mask], second[0].preds[mask])
    images = max(int(mask.sum()), 1)
    return Metric(f"{key}.diff", 100 * (b - c) / images, "points1"), Metric(f"{key}.p", p, "pvalue")


def class_tests(contents: ReportContents) -> ClassTests:
    """The per-class tests between the report's two models, adjusted as one family."""
    tested = [class_test(contents, i) for i in range(len(contents.class_names))]
    over_seeds = all(len(runs) > 1 for runs in contents.runs.values())
    return ClassTests(tuple(d for d, _ in tested),
                      family(f"the {len(tested)} classes", [p for _, p in tested], contents.rules.multiplicity),
                      over_seeds)


def class_images(runs: Sequence[RunData], index: int) -> Metric:
    """How many test images class `index` has (the test set is the same for every run)."""
    return Metric(dataset_key(f"class{index}.test_images"), int(np.sum(runs[0].labels == index)), "count")


def per_class_table(contents: ReportContents, tests: ClassTests | None) -> Table:
    """One table for all models: each class's precision, recall and F1 per model, side by side, and with two
    models the recall difference with its raw and adjusted p."""
    models = contents.models
    runs = [contents.runs[m.key] for m in models]
    header = ["class", "images", *(f"{m.name} {short}" for m in models for short in ("P", "R", "F1"))]
    rows: list[list[Cell]] = [
        [name, class_images(runs[0], i), *(score for r in runs for score in class_scores(r, i))]
        for i, name in enumerate(contents.class_names)]
    footer: list[list[Cell]] = [["macro average", "", *(score for r in runs for score in macro_scores(r))]]
    if tests is not None:
        header += ["R difference (points)", "p", "p adjusted"]
        for i, row in enumerate(rows):
            raw = tests.tests.raw[i]
            row += [tests.differences[i], raw, tests.tests.adjusted_p(raw.key)]
        footer[0] += ["", "", ""]
    seeds = "one seed" if all(len(r) == 1 for r in runs) else "mean over seeds"
    caption = (f"Per-class precision (P), recall (R, which is the per-class accuracy) and F1 on the test set, in "
               f"percent ({seeds}).")
    if tests is not None:
        a, b = models
        method = ("the hierarchical bootstrap over seeds and images" if tests.over_seeds
                  else "McNemar's exact test on the class's images")
        caption += (f" R difference: {a.name} minus {b.name}; p: {method}; adjusted within the family of "
                    f"{tests.tests.name} ({METHOD_NAMES[tests.tests.method]}).")
    return Table(header, rows, footer, caption=caption)


def class_tests_sentence(contents: ReportContents, tests: ClassTests) -> Sentence:
    """Which classes the two models differ on, decided by the adjusted p-value."""
    a, b = contents.models
    alpha = contents.rules.alpha
    higher = {a.key: [], b.key: []}
    for i, name in enumerate(contents.class_names):
        if tests.tests.significant(i, alpha):
            higher[a.key if tests.differences[i].value > 0 else b.key].append(name)
    smallest = min(tests.tests.adjusted, key=lambda m: m.value)
    scope = "" if tests.over_seeds else " in this run"
    adjusted = [f"p adjusted within the tests of {tests.tests.name}; the smallest adjusted ", p_parts(smallest)]
    sides = [f"{m.the} on {name_list(higher[m.key])}" for m in (a, b) if higher[m.key]]
    if sides:
        return sentence(f"Per class{scope}, the recall is significantly higher for {'; for '.join(sides)} (",
                        adjusted, ").")
    return sentence(f"Per class{scope}, no class's recall differs significantly between {a.the} and {b.the} (",
                    adjusted, ").")


def one_seed_caveat(tests: ClassTests) -> list[Sentence]:
    """With one seed, what the per-class tests can and cannot say; nothing with several seeds."""
    if tests.over_seeds:
        return []
    return [sentence("With one seed the per-class tests hold the trained weights fixed: they describe these two runs; "
                     f"several seeds (e.g. {SEEDS_FOR_A_TEST}) would test the architectures.")]


def draw_curves(histories: Sequence[dict[str, np.ndarray]], name: str, held_out: bool) -> plt.Figure:
    """Loss and accuracy (in %) per epoch, train vs validation (`held_out`: a split held out of the training images,
    else the test split), for one model's seeds: half the page wide, so that two models' curves sit side by side
    (CURVES_WIDTH)."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(3.9, 2.2))
    band = f" (mean, min–max over {len(histories)} seeds)" if len(histories) > 1 else ""
    panels = ((loss_ax, "loss", 1.0, "cross-entropy loss"), (acc_ax, "acc", 100.0, "accuracy (%)"))
    for ax, column, scale, ylabel in panels:
        plot_band(ax, scale * stack_curves(histories, f"train_{column}"), TRAIN_COLOUR, "train")
        plot_band(ax, scale * stack_curves(histories, f"val_{column}"), VAL_COLOUR,
                  "validation (held out)" if held_out else "validation (test split)")
        per_epoch_axes(ax, ylabel, f"{name} {ylabel.split(' (')[0].replace('cross-entropy ', '')}{band}")
    acc_ax.legend(frameon=False, fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


def draw_confusions(models: Sequence[ModelFacts], class_names: Sequence[str]) -> plt.Figure:
    """Each model's confusion matrix side by side: annotated heatmaps of integer counts on one colour scale, rows
    true class, columns predicted class.

    Digits and labels are sized to stay legible at print width (about 6.5 cm per matrix for 10 classes)."""
    k = len(class_names)
    side = min(max(2.6, 0.26 * k + 0.9), 6.0)
    fig, axes = plt.subplots(1, len(models), figsize=(side * len(models) + 0.6, side), squeeze=False)
    top = max(int(np.max(m.confusion)) for m in models)  # one scale: the colours compare across the models
    for ax, m in zip(axes[0], models):
        sns.heatmap(np.asarray(m.confusion, dtype=np.int64), annot=True, fmt="d", cmap="Blues", vmin=0, vmax=top,
                    cbar=m is models[-1], cbar_kws={"shrink": 0.8, "label": "images"}, square=True, linewidths=0.3,
                    linecolor="white", xticklabels=class_names, yticklabels=class_names,
                    annot_kws={"fontsize": 7 if k <= 12 else 5}, ax=ax)
        ax.tick_params(labelsize=7 if k <= 12 else 5, length=0)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class" if m is models[0] else "")
        ax.set_title(f"{m.name} confusion matrix")
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
        plt.setp(ax.get_yticklabels(), rotation=0)
    fig.tight_layout(pad=0.3)
    return fig


def confusion_caption(models: Sequence[ModelFacts]) -> str:
    """Which seeds each matrix counts, and how to read it."""
    def scope(m: ModelFacts) -> str:
        return f"seed {m.seeds[0]}" if len(m.seeds) == 1 else \
            f"summed over the {len(m.seeds)} seeds ({', '.join(map(str, m.seeds))})"

    return (f"Confusion matrices on the test set ({'; '.join(f'{m.name}: {scope(m)}' for m in models)}): rows are "
            "true classes, columns predicted classes, cells count images.")


def curves_caption(m: ModelFacts, validation_split: str) -> str:
    band = f" Lines are the mean over {len(m.seeds)} seeds, the shaded band their min–max range." \
        if len(m.seeds) > 1 else ""
    return f"{m.name} training and validation loss and accuracy per epoch (validation on {validation_split}).{band}"


CURVES_WIDTH = "49%"  # at most half the page: the template sets such figures side by side


def result_figures(contents: ReportContents, figures: FigureDrawer) -> list[Item]:
    """Each trained model's learning curves, then the confusion matrices side by side."""
    held_out, split = contents.validation_held_out, contents.validation_split
    items: list[Item] = [figures.draw(curves_figure_key(m),
                                      lambda m=m: draw_curves(m.training.histories, m.name, held_out),
                                      curves_caption(m, split), CURVES_WIDTH)
                         for m in contents.models if m.training is not None]
    width = "72%" if len(contents.models) > 1 else "52%"
    return items + [figures.draw("confusion", lambda: draw_confusions(contents.models, contents.class_names),
                                 confusion_caption(contents.models), width)]


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
        tests = class_tests(contents) if contents.comparative else None
        items: list[Item] = [Paragraph([headline_sentence(m) for m in contents.models]),
                             per_class_table(contents, tests)]
        if tests is not None:
            items.append(Paragraph([class_tests_sentence(contents, tests), *one_seed_caveat(tests)]))
        return items + result_figures(contents, figures)

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """Without a comparison: what each model reached; with two, where per class they differ (the accuracy
        section concludes on the whole test set)."""
        if not contents.comparative:
            return Verdict(tuple(single_model_verdict(m) for m in contents.models))
        return Verdict((class_tests_sentence(contents, class_tests(contents)),))  # "in this run" with one seed
