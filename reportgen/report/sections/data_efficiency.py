"""Section "Data efficiency": test accuracy and the gap between the models against the number of training images.

Two curves, each from the base config and variants recognised by what they change: at equal epochs (variants that
change only data.train_fraction: a smaller set also gets fewer optimiser steps) and at equal optimiser steps
(variants that change data.train_fraction and raise train.epochs in proportion, so that every size takes the base
config's steps). A curve is drawn with at least MIN_SIZES sizes. Per size: each model's test accuracy and the gap
between the models with its 95% interval (the hierarchical bootstrap over seeds and test images), its verdict
decided by the p-value adjusted within the family of that curve's sizes. Per curve, the experiment's interaction,
its primary comparison: whether the gap changes from the smallest to the largest size (the difference of the
gaps, reportgen.report.experiments.interaction). The prose stays within the measured sizes: it never
extrapolates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents, VariantFacts
from reportgen.report.experiments import (
    AdjustedTest,
    accuracy_test,
    adjusted_tests,
    between_models,
    gap_interval,
    interaction,
    interaction_verdict,
    one_run_clause,
)
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    FigureRef,
    Item,
    Metric,
    Sentence,
    Table,
    compare_key,
    config_key,
    p_parts,
    sentence,
    stat_cell,
    variant_key,
)
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, STUDY_MODELS, SUPPORTED
from reportgen.report.plots import SERIES_COLOURS
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import BootstrapTest, DifferenceOfDifferences, interval_cell

MIN_SIZES = 4  # fewer points cannot show a trend with a training-set size
DATA_SIZE_KEYS = frozenset({"data.train_fraction"})  # the key a variant changes to be a point of the size curve
EQUAL_STEPS_KEYS = frozenset({"data.train_fraction", "train.epochs"})  # ... and of the equal-steps curve
SCHEDULES = {"epochs": "equal epochs", "steps": "equal optimiser steps"}
# Metric-key infix of a curve's tests: the base config is a point of both curves, and its adjusted p-values differ
# with the family, so the equal-steps curve's keys are its own.
SCHEDULE_KEYS = {"epochs": "", "steps": "steps."}


def data_efficiency_rule(rules: ReportConfig) -> Sentence:
    """How the training-set sizes are drawn and when the gap between the models is said to change with them."""
    return sentence(
        "Rule used for data efficiency: each smaller training set is a class-balanced share of the base config's "
        "training images (data.train_fraction of each class, drawn with data.fraction_seed: the same images for every "
        "model and seed, and a smaller share's images are among a larger one's); every run is tested on the whole test "
        "split. At equal epochs a smaller set also takes fewer optimiser steps, so data and optimisation are "
        "confounded; at equal optimiser steps each smaller set trains for proportionally more epochs, which "
        "separates them. At each size the gap between the models is given with its "
        f"{1 - rules.alpha:.0%} interval (hierarchical bootstrap over seeds and test images) and tested by the "
        "accuracy rule, decided by the p-value adjusted within the family of that curve's sizes. The gap changes "
        "with the size when the difference between the gaps at the largest and the smallest size (the primary "
        f"comparison) is significant at α = {rules.alpha:g} by the hierarchical bootstrap, which keeps the seeds' "
        "and the test images' variance without assuming normality; with one seed it is over the test images only "
        "and describes that run. The report describes only the measured sizes: it does not extrapolate beyond them.")


@dataclass(frozen=True)
class SizePoint:
    """One training-set size: the base config's or a variant's runs and facts per model."""

    label: str  # "base config" or the variant's name
    fraction: float
    images: Metric
    steps: Metric  # optimiser steps of each run: ceil(images / batch) per epoch, times the epochs
    runs: dict[str, list[RunData]]
    facts: dict[str, ModelFacts]
    key: str  # metric key prefix of its comparisons: "" for the base config, "variant.<name>." for a variant


def training_images(runs: dict[str, list[RunData]], fallback: int) -> int:
    """The training images of a point's runs (run.json train_images; bundles before 0.4.0: the dataset's)."""
    return int(next(iter(runs.values()))[0].info.get("train_images", fallback))


def _point(contents: ReportContents, label: str, fraction: float, runs: dict[str, list[RunData]],
           facts: dict[str, ModelFacts], key: str, epochs: int, batch_size: int) -> SizePoint:
    images = training_images(runs, int(contents.dataset["train_size"]))
    return SizePoint(label, fraction, Metric((key or "dataset.") + "train_images", images, "count"),
                     Metric((key or "run.") + "optimiser_steps", math.ceil(images / batch_size) * epochs, "count"),
                     runs, facts, key)


def equal_steps(contents: ReportContents, v: VariantFacts) -> bool:
    """Whether a variant trains a smaller share for as many optimiser steps as the base config (epochs raised in
    proportion to the fraction, to rounding)."""
    base = contents.config
    fraction, epochs = v.changes.get("data.train_fraction"), v.changes.get("train.epochs")
    return (set(v.changes) == EQUAL_STEPS_KEYS and fraction < base.data.train_fraction
            and epochs == round(base.train.epochs * base.data.train_fraction / fraction))


def size_points(contents: ReportContents, schedule: str = "epochs") -> list[SizePoint]:
    """The base config and every data-size variant of `schedule` ("epochs" or "steps"), smallest set first."""
    base = contents.config
    points = [_point(contents, "base config", base.data.train_fraction, contents.runs, contents.facts, "",
                     base.train.epochs, base.train.batch_size)]
    variants = (contents.variants_changing(DATA_SIZE_KEYS) if schedule == "epochs" else
                [v for v in contents.variants.values() if equal_steps(contents, v)])
    for v in variants:
        points.append(_point(contents, v.name, v.changes["data.train_fraction"], v.runs, v.facts,
                             variant_key(v.name, ""), v.config.train.epochs, v.config.train.batch_size))
    return sorted(points, key=lambda p: p.fraction)


def curves(contents: ReportContents) -> dict[str, list[SizePoint]]:
    """The schedules with enough sizes to draw a curve, each with its points."""
    found = {schedule: size_points(contents, schedule) for schedule in SCHEDULES}
    return {s: points for s, points in found.items() if len({p.images.value for p in points}) >= MIN_SIZES}


def gap_tests(contents: ReportContents, points: list[SizePoint], schedule: str) -> list[AdjustedTest]:
    """The first model against the second at each size, one family of secondary tests per curve."""
    sigs = [between_models(p.runs, contents.rules, f"{p.key}{SCHEDULE_KEYS[schedule]}compare") for p in points]
    return adjusted_tests(f"the {len(points)} training-set sizes at {SCHEDULES[schedule]}", sigs,
                          contents.rules.multiplicity)


def gap_band(contents: ReportContents, point: SizePoint) -> BootstrapTest:
    """The gap between the models at one size with its interval."""
    return gap_interval(point.runs, contents.rules, f"{point.key}compare.gap")


def growth_tests(contents: ReportContents, points: list[SizePoint], schedule: str) -> list[AdjustedTest]:
    """Each model's largest size against its smallest on one curve: a family of one test per model."""
    smallest, largest = points[0], points[-1]
    sigs = [accuracy_test(largest.runs[m.key], smallest.runs[m.key], contents.rules,
                          m.metric_key(f"data_efficiency.{SCHEDULE_KEYS[schedule]}growth")) for m in contents.models]
    return adjusted_tests(f"the {len(sigs)} models' changes at {SCHEDULES[schedule]}", sigs,
                          contents.rules.multiplicity)


def growth_sentence(m: ModelFacts, points: list[SizePoint], schedule: str, test: AdjustedTest) -> Sentence:
    """How one model's test accuracy changes from the smallest to the largest measured training set of a curve."""
    smallest, largest = points[0], points[-1]
    small, large = smallest.facts[m.key], largest.facts[m.key]
    at = f"At {SCHEDULES[schedule]}, {m.the}"
    evidence = [" (", test.evidence(), ")"]
    if test.significant:
        moves = "rises" if test.sig.direction > 0 else "falls"
        return sentence(f"{at}'s test accuracy {moves} from ", small.accuracy.parts("%"), " with ",
                        smallest.images, " training images to ", large.accuracy.parts("%"), " with ", largest.images,
                        f", {test.verdict}", evidence, ".")
    return sentence(f"{at}'s test accuracy is ", small.accuracy.parts("%"), " with ", smallest.images,
                    " training images and ", large.accuracy.parts("%"), " with ", largest.images,
                    f", a difference that is {test.verdict}", evidence, ".")


def gap_change(contents: ReportContents, points: list[SizePoint], schedule: str) -> DifferenceOfDifferences:
    """The primary comparison of a curve: the gap at the largest size minus the gap at the smallest, in points."""
    a, b = contents.models
    smallest, largest = points[0], points[-1]
    key = compare_key("data_efficiency.gap_change" if schedule == "epochs" else "data_efficiency.steps.gap_change")
    return interaction(contents.rules, key, largest.runs[a.key], largest.runs[b.key], smallest.runs[a.key],
                       smallest.runs[b.key])


def gap_change_sentence(contents: ReportContents, points: list[SizePoint], schedule: str) -> Sentence:
    """Whether the gap between the two models narrows, widens or reverses from the smallest to the largest size:
    said only when the change of the gap is significant over seeds, and only within the measured range."""
    a, b = contents.models
    smallest, largest = points[0], points[-1]
    tests = gap_tests(contents, points, schedule)
    first, last = tests[0], tests[-1]
    change = gap_change(contents, points, schedule)
    gaps = [f"At {SCHEDULES[schedule]}, the gap between {a.the} and {b.the} ({a.name} minus {b.name}) is ",
            first.sig.difference.mean, " points with ", smallest.images, " training images and ",
            last.sig.difference.mean, " points with ", largest.images]
    test = [" (", change.evidence, ")"]
    if not change.over_seeds:
        body = [", a change of ", change.difference, " points in this run", test, "."]
        return sentence(gaps, body, one_run_clause(contents), " Nothing is claimed beyond the measured sizes.")
    if change.significant:
        body = [": it ", _gap_shape(a, b, first, last), ", a significant change of ", change.difference, " points",
                test]
    else:
        body = [", a change of ", change.difference, " points that is not significant", test,
                ", so these sizes do not show the gap changing with the training-set size"]
    return sentence(gaps, body, ". Nothing is claimed beyond the measured sizes.")


def _gap_shape(a: ModelFacts, b: ModelFacts, first: AdjustedTest, last: AdjustedTest) -> str:
    """"narrows", "widens", or a change of sign, for a significant change of the gap (first model minus second)
    between the smallest and the largest size: a reversal only where both sizes' gaps are significant."""
    g1, g2 = first.sig.difference.mean.value, last.sig.difference.mean.value
    if g1 * g2 < 0:
        leader_first, leader_last = (a, b) if g1 > 0 else (b, a)
        if first.significant and last.significant:
            return f"reverses, from a significant lead of {leader_first.the} to a significant lead of {leader_last.the}"
        return (f"changes sign, from {leader_first.the} ahead to {leader_last.the} ahead (a lead that is not "
                "significant at one end at least)")
    return "narrows" if abs(g2) < abs(g1) else "widens"


def size_table(contents: ReportContents, points: list[SizePoint], schedule: str) -> Table:
    models = contents.models
    tests = gap_tests(contents, points, schedule) if contents.comparative else []
    rows: list[list[Cell]] = []
    for i, p in enumerate(points):
        row: list[Cell] = [p.images, Metric(p.key + config_key("data.train_fraction"), p.fraction, "number"), p.steps,
                           p.label]
        row += [stat_cell(p.facts[m.key].accuracy, "%") for m in models]
        if contents.comparative:
            row += [tests[i].sig.difference.mean, interval_cell(gap_band(contents, p)), tests[i].p_cell(),
                    tests[i].verdict]
        rows.append(row)
    header = ["training images", "fraction", "optimiser steps", "run"] + [f"{m.name} accuracy" for m in models]
    if contents.comparative:
        a, b = models
        header += [f"gap ({a.name} − {b.name}, points)", "95% interval", "p / adjusted p", "gap verdict"]
    return Table(header, rows, caption=f"Test accuracy by training-set size at {SCHEDULES[schedule]} (the whole test "
                                       "split each time); the gap's interval over seeds and test images.")


def draw_sizes(contents: ReportContents, found: dict[str, list[SizePoint]]) -> plt.Figure:
    """Left: test accuracy against training images (log scale), the mean over seeds with bars from the lowest to
    the highest. Right (two models): the gap with its interval shaded. Equal epochs solid, equal steps dashed."""
    panels = 2 if contents.comparative else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 2.6), squeeze=False)
    for schedule, points in found.items():
        style = "-" if schedule == "epochs" else "--"
        sizes = np.array([p.images.value for p in points])
        for m, colour in zip(contents.models, SERIES_COLOURS):
            values = [np.array(p.facts[m.key].accuracy.values) for p in points]
            means = np.array([v.mean() for v in values])
            spread = np.array([[v.mean() - v.min() for v in values], [v.max() - v.mean() for v in values]])
            axes[0][0].errorbar(sizes, means, yerr=spread, color=colour, marker="o", ms=3, lw=1.3, capsize=2, ls=style,
                                label=f"{m.name}, {SCHEDULES[schedule]}")
        if contents.comparative:
            bands = [gap_band(contents, p) for p in points]
            axes[0][1].plot(sizes, [t.estimate for t in bands], color="black", ls=style, marker="o", ms=3,
                            label=SCHEDULES[schedule])
            axes[0][1].fill_between(sizes, [t.low for t in bands], [t.high for t in bands], color="grey", alpha=0.25)
    labels = ["test accuracy (%)"] + ([f"gap, {contents.models[0].name} − {contents.models[1].name} (points)"]
                                      if contents.comparative else [])
    for ax, label in zip(axes[0], labels):
        ax.set_xscale("log")
        ticks = sorted({p.images.value for points in found.values() for p in points})
        ax.set_xticks(ticks, [f"{int(s):,}" for s in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training images (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, lw=0.4, alpha=0.5)
        ax.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return fig


def change_row(contents: ReportContents, points: list[SizePoint], schedule: str) -> SummaryRow:
    """A curve's line of the Summary of findings: each model's change from the smallest to the largest size, their
    difference (the change of the gap) and its interval."""
    change = gap_change(contents, points, schedule)
    growth = growth_tests(contents, points, schedule)
    return SummaryRow(f"Accuracy gain from the smallest to the largest training set, {SCHEDULES[schedule]} (points)",
                      tuple(stat_cell(t.sig.difference) for t in growth),
                      change.difference, interval_cell(change.bootstrap),
                      sentence(interaction_verdict(change), ", ", p_parts(change.p)), primary=True)


def more_data_claim(contents: ReportContents, found: dict[str, list[SizePoint]]) -> ClaimFinding:
    """The original study's "the ViT would benefit more from more data", from the change of the gap over seeds: at
    equal optimiser steps where the bundle has that curve (it separates data from optimisation), else at equal
    epochs."""
    schedule = "steps" if "steps" in found else "epochs"
    change = gap_change(contents, found[schedule], schedule)
    vit_first = contents.models[0].key == "vit"
    vit_gain = Metric(f"{change.key}.vit_minus_cnn_pts", change.difference.value * (1 if vit_first else -1), "points")
    facts = [f"at {SCHEDULES[schedule]} the ViT's gain minus the CNN's is ", vit_gain, " points, ", p_parts(change.p)]
    if not change.over_seeds:
        return ClaimFinding("vit-needs-more-data", INCONCLUSIVE, sentence("one seed: in this run ", facts))
    if not change.significant:
        return ClaimFinding("vit-needs-more-data", INCONCLUSIVE, sentence(facts, ", not significant"))
    status = SUPPORTED if vit_gain.value > 0 else CONTRADICTED
    return ClaimFinding("vit-needs-more-data", status, sentence(facts, ", significant"))


class DataEfficiency(Section):
    key = "data-efficiency"
    title = "Data efficiency"

    def applies(self, contents: ReportContents) -> bool:
        return bool(curves(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        found = curves(contents)
        items: list[Item] = [Callout("rule", [data_efficiency_rule(contents.rules)])]
        facts: list[Sentence] = []
        for schedule, points in found.items():
            items.append(size_table(contents, points, schedule))
            growth = growth_tests(contents, points, schedule)
            facts += [growth_sentence(m, points, schedule, t) for m, t in zip(contents.models, growth)]
            if contents.comparative:
                facts.append(gap_change_sentence(contents, points, schedule))
        figure = figures.draw("data-efficiency", lambda: draw_sizes(contents, found),
                              "Test accuracy against training-set size, log scale (equal epochs solid, equal optimiser "
                              "steps dashed): the mean over seeds, with several seeds bars from the lowest to the "
                              "highest; with two models, the gap between them and its 95% interval (shaded).")
        facts.append(sentence("The curves are in ", FigureRef("data-efficiency"), "."))
        return items + [Bullets(facts), figure]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        found = curves(contents)
        claims = (more_data_claim(contents, found),) if sorted(contents.facts) == sorted(STUDY_MODELS) else ()
        return Verdict(tuple(sentence("Data: ", gap_change_sentence(contents, points, schedule))
                             for schedule, points in found.items()),
                       rows=tuple(change_row(contents, points, schedule) for schedule, points in found.items()),
                       claims=claims)
