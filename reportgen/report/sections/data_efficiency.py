"""Section "Data efficiency": test accuracy against the number of training images, one curve per model.

Applies when the bundle holds at least MIN_SIZES training-set sizes: the base config's and those of variants
that change only data.train_fraction. Per size and model: the test accuracy over seeds (their spread drawn);
each model's change from the smallest to the largest size and the gap between two models at each size, by the
accuracy rule; and whether the gap changes between the smallest
and the largest size, by the difference of differences (reportgen.report.stats). The prose stays within the
measured sizes: it never extrapolates.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.experiments import base_evidence, between_models
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    FigureRef,
    Item,
    Metric,
    Sentence,
    Table,
    capital,
    compare_key,
    config_key,
    p_parts,
    sentence,
    stat_cell,
    variant_key,
)
from reportgen.report.plots import SERIES_COLOURS
from reportgen.report.section import FigureDrawer, Section, Verdict
from reportgen.report.stats import Significance, accuracy_significance, difference_of_differences

MIN_SIZES = 4  # fewer points cannot show a trend with a training-set size
DATA_SIZE_KEYS = frozenset({"data.train_fraction"})  # the key a variant changes to be a point of the size curve


def data_efficiency_rule(rules: ReportConfig) -> Sentence:
    """How the training-set sizes are drawn and when the gap between the models is said to change with them."""
    return sentence(
        "Rule used for data efficiency: each smaller training set is a class-balanced share of the base config's "
        "training images (data.train_fraction of each class, drawn with data.fraction_seed: the same images for every "
        "model and seed, and a smaller share's images are among a larger one's); every run is tested on the whole test "
        "split. Each model's change from the smallest to the largest size, and at each size the gap between the "
        "models, are tested by the accuracy rule. The gap changes with the size when the difference between the gaps "
        f"at the largest and the smallest size is significant at α = {rules.alpha:g}: with two or more seeds, a "
        "paired t-test over seeds of the per-seed gaps; with one seed, a paired t-test over the test images. The "
        "report describes only the measured sizes: it does not extrapolate beyond them.")


@dataclass(frozen=True)
class SizePoint:
    """One training-set size: the base config's or a variant's runs and facts per model."""

    label: str  # "base config" or the variant's name
    fraction: float
    images: Metric
    runs: dict[str, list[RunData]]
    facts: dict[str, ModelFacts]
    key: str  # metric key prefix of its comparisons: "" for the base config, "variant.<name>." for a variant


def training_images(runs: dict[str, list[RunData]], fallback: int) -> int:
    """The training images of a point's runs (run.json train_images; bundles before 0.4.0: the dataset's)."""
    return int(next(iter(runs.values()))[0].info.get("train_images", fallback))


def size_points(contents: ReportContents) -> list[SizePoint]:
    """The base config and every data-size variant, smallest training set first."""
    train_size = int(contents.dataset["train_size"])
    points = [SizePoint("base config", contents.config.data.train_fraction,
                        Metric("dataset.train_images", training_images(contents.runs, train_size), "count"),
                        contents.runs, contents.facts, "")]
    for v in contents.variants_changing(DATA_SIZE_KEYS):
        points.append(SizePoint(v.name, v.changes["data.train_fraction"],
                                Metric(variant_key(v.name, "train_images"), training_images(v.runs, train_size),
                                       "count"), v.runs, v.facts, variant_key(v.name, "")))
    return sorted(points, key=lambda p: p.fraction)


def gap_test(point: SizePoint, alpha: float) -> Significance:
    """The first model against the second at this size (first minus second)."""
    return between_models(point.runs, alpha, f"{point.key}compare")


def growth_sentence(m: ModelFacts, smallest: SizePoint, largest: SizePoint, alpha: float) -> Sentence:
    """How one model's test accuracy changes from the smallest to the largest measured training set, by the
    accuracy rule (the largest size's runs against the smallest's, on the same test images)."""
    small, large = smallest.facts[m.key], largest.facts[m.key]
    sig = accuracy_significance(largest.runs[m.key], smallest.runs[m.key], alpha,
                                key=m.metric_key("data_efficiency.growth"))
    evidence = [" (", base_evidence(sig), ")"]
    if sig.significant:
        moves = "rises" if sig.direction > 0 else "falls"
        return sentence(f"{capital(m.the)}'s test accuracy {moves} from ", small.accuracy.parts("%"), " with ",
                        smallest.images, " training images to ", large.accuracy.parts("%"), " with ", largest.images,
                        ", a significant change", evidence, ".")
    return sentence(f"{capital(m.the)}'s test accuracy is ", small.accuracy.parts("%"), " with ", smallest.images,
                    " training images and ", large.accuracy.parts("%"), " with ", largest.images,
                    ", not a significant difference", evidence, ".")


def gap_change_sentence(contents: ReportContents, smallest: SizePoint, largest: SizePoint) -> Sentence:
    """Whether the gap between the two models narrows, widens or reverses from the smallest to the largest size:
    said only when the change of the gap is significant, and only within the measured range."""
    a, b = contents.models
    alpha = contents.rules.alpha
    first, last = gap_test(smallest, alpha), gap_test(largest, alpha)
    g1, g2 = first.difference.mean, last.difference.mean
    change = difference_of_differences(compare_key("data_efficiency.gap_change"), largest.runs[a.key],
                                       largest.runs[b.key], smallest.runs[a.key], smallest.runs[b.key], alpha)
    gaps = [f"The gap between {a.the} and {b.the} ({a.name} minus {b.name}) is ", g1, " points with ",
            smallest.images, " training images and ", g2, " points with ", largest.images]
    test = [" (", change.test, ", ", *p_parts(change.p), ")"]
    if change.significant:
        body = [": it ", _gap_shape(a, b, first, last), ", a significant change of ", change.difference, " points",
                test]
    else:
        body = [", a change of ", change.difference, " points that is not significant", test,
                ", so these sizes do not show the gap changing with the training-set size"]
    return sentence(gaps, body, ". Nothing is claimed beyond the measured sizes.")


def _gap_shape(a: ModelFacts, b: ModelFacts, first: Significance, last: Significance) -> str:
    """"narrows", "widens", or a change of sign, for a significant change of the gap (first model minus second)
    between the smallest and the largest size: a reversal only where both sizes' gaps are significant."""
    g1, g2 = first.difference.mean.value, last.difference.mean.value
    if g1 * g2 < 0:
        leader_first, leader_last = (a, b) if g1 > 0 else (b, a)
        if first.significant and last.significant:
            return f"reverses, from a significant lead of {leader_first.the} to a significant lead of {leader_last.the}"
        return (f"changes sign, from {leader_first.the} ahead to {leader_last.the} ahead (a lead that is not "
                "significant at one end at least)")
    return "narrows" if abs(g2) < abs(g1) else "widens"


def size_table(contents: ReportContents, points: list[SizePoint]) -> Table:
    models = contents.models
    rows: list[list[Cell]] = []
    for p in points:
        row: list[Cell] = [p.images, Metric(p.key + config_key("data.train_fraction"), p.fraction, "number"), p.label]
        row += [stat_cell(p.facts[m.key].accuracy, "%") for m in models]
        if contents.comparative:
            sig = gap_test(p, contents.rules.alpha)
            row += [sig.difference.mean, sig.verdict]
        rows.append(row)
    header = ["training images", "fraction", "run"] + [f"{m.name} accuracy" for m in models]
    if contents.comparative:
        a, b = models
        header += [f"gap ({a.name} − {b.name}, points)", "gap verdict"]
    return Table(header, rows, caption="Test accuracy by training-set size (the whole test split each time).")


def draw_sizes(contents: ReportContents, points: list[SizePoint]) -> plt.Figure:
    """Test accuracy against training images (log scale): the mean over seeds, bars from the lowest to the highest."""
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    sizes = np.array([p.images.value for p in points])
    for m, colour in zip(contents.models, SERIES_COLOURS):
        values = [np.array(p.facts[m.key].accuracy.values) for p in points]
        means = np.array([v.mean() for v in values])
        spread = np.array([[v.mean() - v.min() for v in values], [v.max() - v.mean() for v in values]])
        ax.errorbar(sizes, means, yerr=spread, color=colour, marker="o", ms=3, lw=1.3, capsize=2, label=m.name)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{int(s):,}" for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


class DataEfficiency(Section):
    key = "data-efficiency"
    title = "Data efficiency"

    def applies(self, contents: ReportContents) -> bool:
        return len({p.images.value for p in size_points(contents)}) >= MIN_SIZES

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        points = size_points(contents)
        smallest, largest = points[0], points[-1]
        facts = [growth_sentence(m, smallest, largest, contents.rules.alpha) for m in contents.models]
        if contents.comparative:
            facts.append(gap_change_sentence(contents, smallest, largest))
        figure = figures.draw("data-efficiency", lambda: draw_sizes(contents, points),
                              "Test accuracy against training-set size, log scale: the mean over seeds; with several "
                              "seeds the bars span the lowest to the highest.", width="70%")
        facts.append(sentence("The curves are in ", FigureRef("data-efficiency"), "."))
        return [Callout("rule", [data_efficiency_rule(contents.rules)]), size_table(contents, points),
                Bullets(facts), figure]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        points = size_points(contents)
        return Verdict((sentence("Data: ", gap_change_sentence(contents, points[0], points[-1])),))
