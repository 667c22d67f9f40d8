"""Section "Robustness to corrupted images": accuracy on the build's CIFAR-10-C style suite, from each run's
robustness.npz (predictions on every corrupted copy, reportgen/analysis/robustness.py).

Per model: accuracy per corruption and severity (a heatmap), mean corruption accuracy, and its
relative drop from the clean accuracy on the same images. With two models: which is more robust
overall, per corruption family and per corruption, by McNemar's exact test on the same corrupted
images (`clustered_mcnemar`), and whether their relative drops differ, by a bootstrap over the
images. Every accuracy here follows from the stored predictions
(reportgen/report/corruption_results.py, `suite_metrics`, which `reportgen verify` can recompute).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.analyses import ROBUSTNESS
from reportgen.config import ReportConfig
from reportgen.report.contents import ReportContents
from reportgen.report.corruption_results import PairedTest, Suite, comparable, drop_interval, paired_test, suite
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Part,
    Sentence,
    Table,
    capital,
    compare_key,
    p_parts,
    sentence,
    stat_cell,
)
from reportgen.report.section import FigureDrawer, Section


def robustness_rule(rules: ReportConfig, images: Metric, corruptions: int, severities: int, seed: int) -> Sentence:
    """What the corruption suite is, and when one model is called more robust than another."""
    return sentence(
        "Rule used for robustness: the suite corrupts ", images, f" test images (drawn at random with seed {seed}, "
        f"analysis.seed, the same for every model) with {corruptions} corruptions at {severities} "
        "severities each, with the CIFAR-10-C constants of Hendrycks and Dietterich (2019). A model's mean corruption "
        "accuracy is its accuracy over every corrupted copy; its relative drop is its clean accuracy on the same "
        "images minus its mean corruption accuracy, over the clean accuracy. One model is more robust, overall, on a "
        f"family or on a corruption, when McNemar's exact test over the images gives p < {rules.alpha:g} in its "
        "favour: an image counts for the model that classifies more of its corrupted copies in that scope correctly "
        "(over every seed both models ran), ties drop out, so copies of one image are not counted as independent "
        "evidence. Relative drops differ when the percentile bootstrap interval of their difference over the test "
        f"images ({rules.bootstrap_resamples} resamples, seed {rules.bootstrap_seed}) excludes 0. A difference that is "
        "not significant is not called a win.")


def suites(contents: ReportContents) -> list[Suite]:
    """The suite results of every model whose runs all hold robustness.npz, in config order."""
    out = []
    for m in contents.models:
        records = contents.analysis(m.key, ROBUSTNESS.filename, ROBUSTNESS.spec)
        if records is not None:
            out.append(suite(m.key, m.name, m.seeds, records))
    return out


# ---------------------------------------------------------------- prose


def model_sentence(s: Suite) -> Sentence:
    """A model's mean corruption accuracy, clean accuracy on the same images and relative drop."""
    return sentence(f"{capital(s.the)}'s mean corruption accuracy is ", s.mean_corruption.parts("%"), " against ",
                    s.clean.parts("%"), " on the same ", s.images, " images uncorrupted, a relative drop of ",
                    s.relative_drop.parts("%"), ".")


def test_evidence(t: PairedTest, first: Suite, second: Suite) -> list[Part]:
    """"McNemar's exact test over the images: 123 favour the CNN, 45 the ViT, p < 0.0001"."""
    return ["McNemar's exact test over the images: ", t.metric("b"), f" favour {first.the}, ", t.metric("c"),
            f" {second.the}, ", *p_parts(t.metric("p"))]


def overall_sentence(first: Suite, second: Suite, t: PairedTest) -> Sentence:
    """Which model is more robust overall, only if significantly so."""
    ma, mb = first.mean_corruption.parts("%"), second.mean_corruption.parts("%")
    if t.direction == 0:
        return sentence(f"{capital(first.the)} and {second.the} are equally accurate on the corrupted images: ",
                        ma, " and ", mb, " (", test_evidence(t, first, second), ").")
    (w, lo, mw, ml) = (first, second, ma, mb) if t.direction > 0 else (second, first, mb, ma)
    lead = Metric(compare_key("robustness.overall.lead_pts"), abs(t.diff_pts), "points")
    if t.significant:
        return sentence(f"{capital(w.the)} is more robust: a mean corruption accuracy of ", mw, " against ", ml,
                        f" for {lo.the}, ", lead, " points ahead (", test_evidence(t, first, second), ").")
    return sentence(f"{capital(w.the)}'s mean corruption accuracy, ", mw, ", is ", lead, f" points above {lo.the}'s ",
                    ml, ", but the difference is not significant (", test_evidence(t, first, second),
                    "), so neither model is shown to be more robust.")


def drop_sentence(first: Suite, second: Suite, seed: int, resamples: int) -> Sentence:
    """Which model loses less of its clean accuracy under corruption, if the bootstrap interval says so."""
    interval = drop_interval(first, second, seed, resamples)
    low = Metric(compare_key("robustness.relative_drop_diff.low"), interval.low, "points")
    high = Metric(compare_key("robustness.relative_drop_diff.high"), interval.high, "points")
    span = [f" ({interval.level:.0%} bootstrap interval of {first.the}'s drop minus {second.the}'s: ", low, " to ",
            high, " points"]
    da, db = first.relative_drop.parts("%"), second.relative_drop.parts("%")
    if not interval.excludes_zero:
        return sentence("Relative drops: ", da, f" for {first.the}, ", db, f" for {second.the}", span,
                        ", which includes 0), so neither model is shown to lose less of its clean accuracy.")
    less = first if interval.high < 0 else second
    return sentence(f"Relative to its clean accuracy, {less.the} loses less under corruption: ", da,
                    f" for {first.the} against ", db, f" for {second.the}", span, ", which excludes 0).")


def _scope_parts(t: PairedTest) -> list[Part]:
    name = t.scope.partition(".")[2].replace("_", " ")
    return [name, " (", t.metric("diff_pts"), " points, ", *p_parts(t.metric("p")), ")"]


def _joined(tests: Sequence[PairedTest]) -> list[Part]:
    parts: list[Part] = []
    for i, t in enumerate(tests):
        parts += ["" if i == 0 else " and " if i == len(tests) - 1 else ", ", *_scope_parts(t)]
    return parts


def by_verdict(tests: Sequence[PairedTest]) -> dict[int, list[PairedTest]]:
    """Tests grouped by outcome: 1 the first model significantly ahead, -1 the second, 0 neither."""
    return {1: [t for t in tests if t.significant and t.direction > 0],
            -1: [t for t in tests if t.significant and t.direction < 0],
            0: [t for t in tests if not t.significant]}


def family_sentence(first: Suite, second: Suite, tests: Sequence[PairedTest]) -> Sentence:
    """Per corruption family: which model is significantly more accurate under it, and where neither is."""
    groups = by_verdict(tests)
    clauses = [[f"{model.the} is significantly more accurate under ", *_joined(groups[direction])]
               for direction, model in ((1, first), (-1, second)) if groups[direction]]
    if groups[0]:
        clauses.append(["neither model is shown to be more accurate under ", *_joined(groups[0])])
    parts: list[Part] = [f"By corruption family (differences are {first.the}'s accuracy minus {second.the}'s): "]
    for i, clause in enumerate(clauses):
        parts += ["; " if i else "", *clause]
    return sentence(parts, ".")


def corruption_sentence(first: Suite, second: Suite, tests: Sequence[PairedTest]) -> Sentence:
    """How many corruptions each model is significantly more accurate under, and which (numbers in the table)."""
    groups = by_verdict(tests)
    leads = {1: f"{first.the} is significantly more accurate under ", -1: f"{second.the} is significantly more "
             "accurate under ", 0: "neither model is shown to be more accurate under "}
    parts: list[Part] = ["Corruption by corruption, "]
    for direction in (1, -1, 0):
        if groups[direction]:
            names = ", ".join(t.scope.partition(".")[2].replace("_", " ") for t in groups[direction])
            count = Metric(compare_key(f"robustness.corruptions.{DIRECTIONS[direction]}"), len(groups[direction]),
                           "count")
            parts += ["; " if len(parts) > 1 else "", leads[direction], count, f" of the {len(tests)} ({names})"]
    return sentence(parts, ".")


DIRECTIONS = {1: "first_ahead", -1: "second_ahead", 0: "neither"}


# ---------------------------------------------------------------- table and figure


def robustness_table(models: Sequence[Suite], tests: dict[str, PairedTest] | None) -> Table:
    """Per corruption, each model's accuracy (mean over severities and seeds), with the paired test of two models;
    the families, the mean corruption accuracy and the clean accuracy in the footer."""
    first = models[0]

    def row(label: str, family: str, scope: str) -> list[Cell]:
        cells: list[Cell] = [label, family, *(sentence(s.scope_accuracy(scope), "%") for s in models)]
        if tests is not None:
            cells += [tests[scope].metric("diff_pts"), tests[scope].metric("p")]
        return cells

    rows = [row(c.replace("_", " "), f, f"corruption.{c}") for c, f in zip(first.corruptions, first.families)]
    footer = [row(f"{f} family", "", f"family.{f}") for f in first.family_names]
    extra = ["", ""] if tests is not None else []
    footer.append(["mean corruption accuracy", "", *(stat_cell(s.mean_corruption, "%") for s in models),
                   *([tests["overall"].metric("diff_pts"), tests["overall"].metric("p")] if tests else [])])
    footer.append(["clean (same images)", "", *(stat_cell(s.clean, "%") for s in models), *extra])
    header = ["corruption", "family", *(f"{s.name} accuracy" for s in models)]
    if tests is not None:
        header += [f"difference ({models[0].name} − {models[1].name}, points)", "p (McNemar)"]
    return Table(header, rows, footer, caption="Accuracy on the corrupted test images, averaged over the severities "
                 "(and seeds); families average their corruptions' copies.")


def draw_heatmaps(models: Sequence[Suite]) -> plt.Figure:
    """One panel per model: accuracy (%) per corruption (rows) on the clean images, then per severity (columns),
    annotated, on one colour scale."""
    fig, axes = plt.subplots(1, len(models), figsize=(3.5 * len(models), 0.3 * len(models[0].corruptions) + 0.9),
                             squeeze=False, sharey=True)
    for ax, s in zip(axes[0], models):
        clean = np.full((len(s.corruptions), 1), s.clean.mean.value)
        grid = np.hstack([clean, s.cell_accuracy])  # (C, 1 + S)
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                    color="black" if value > 60 else "white")
        ax.axvline(0.5, color="white", lw=1.5)
        ax.set_xticks(range(1 + len(s.severities)), ["clean", *(str(v) for v in s.severities)])
        ax.set_yticks(range(len(s.corruptions)), [c.replace("_", " ") for c in s.corruptions])
        ax.set_xlabel("severity")
        ax.set_title(s.name)
    fig.colorbar(image, ax=axes[0].tolist(), label="accuracy (%)", shrink=0.8)
    return fig


class Robustness(Section):
    key = "robustness"
    title = "Robustness to corrupted images"

    def applies(self, contents: ReportContents) -> bool:
        return bool(suites(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        models, rules = suites(contents), contents.rules
        figure = figures.draw("robustness", lambda: draw_heatmaps(models), sentence(
            "Accuracy (%) on the corrupted test images per corruption and severity (1 mildest, 5 strongest)",
            " (mean over seeds)." if contents.several_seeds else "."), "85%")
        first = models[0]
        rule = robustness_rule(rules, first.images, len(first.corruptions), len(first.severities), first.seed)
        items: list[Item] = [Callout("rule", [rule]), figure,
                             Bullets([model_sentence(s) for s in models])]
        if len(models) != 2 or not contents.comparative or not comparable(*models):
            return items + [robustness_table(models, None)]
        first, second = models
        tests = {scope: paired_test(first, second, scope, rules.alpha) for scope in first.scopes}
        facts = [overall_sentence(first, second, tests["overall"]),
                 drop_sentence(first, second, rules.bootstrap_seed, rules.bootstrap_resamples),
                 family_sentence(first, second, [tests[f"family.{f}"] for f in first.family_names]),
                 corruption_sentence(first, second, [tests[f"corruption.{c}"] for c in first.corruptions])]
        return items + [Bullets(facts), robustness_table(models, tests)]
