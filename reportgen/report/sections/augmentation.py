"""Section "Reliance on augmentation": each model with and without the training augmentation.

Applies when a variant switches only augmentation off (augment.enabled: false). Per model: test accuracy and
final train-validation gap with and without it, and the drop in points with its significance (the accuracy
rule, variant against base runs at the same seeds). With two models: whether one relies on augmentation more,
by the difference of the drops (reportgen.report.stats.difference_of_differences).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents, VariantFacts, stack_curves
from reportgen.report.experiments import base_evidence, change_verdict, versus_base
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    FigureRef,
    Item,
    Metric,
    Sentence,
    Stat,
    Table,
    capital,
    p_parts,
    sentence,
    stat,
    stat_cell,
    variant_key,
)
from reportgen.report.plots import SERIES_COLOURS, per_epoch_axes, plot_band
from reportgen.report.section import FigureDrawer, Section, Verdict
from reportgen.report.stats import Significance, difference_of_differences

AUGMENTATION_SWITCH = frozenset({"augment.enabled"})  # the key a variant changes to test reliance on augmentation


def augmentation_off_variants(contents: ReportContents) -> list[VariantFacts]:
    """Variants that only switch the base config's augmentation off."""
    if not contents.config.augment.enabled:
        return []
    return [v for v in contents.variants_changing(AUGMENTATION_SWITCH) if v.changes["augment.enabled"] is False]


def augmentation_rule(rules: ReportConfig, variant: str) -> Sentence:
    """How reliance on augmentation is measured, and when one model is said to rely on it more."""
    return sentence(
        f"Rule used for augmentation: variant {variant} trains every model exactly as the base config does, at the "
        "same seeds, with no training augmentation at all (augment.enabled: false). A model's drop is its test "
        "accuracy with augmentation minus without; it is significant by the accuracy rule (McNemar's exact test per "
        "seed on the same test images, and a paired t-test over seeds with two or more). One model relies on "
        "augmentation more when its drop is larger and the difference of the two drops is significant at "
        f"α = {rules.alpha:g}: with two or more seeds, a paired t-test over seeds of the per-seed drops; with one "
        "seed, a paired t-test over the test images of each image's change of correctness, one model's against the "
        "other's.")


def drop(variant: VariantFacts, m: ModelFacts, sig: Significance) -> Stat:
    """Test accuracy with augmentation minus without, points, per paired seed (the negated variant-minus-base)."""
    return stat(variant_key(variant.name, f"{m.key}.drop_pts"), "points", (-d for d in sig.difference.values))


def drop_sentence(m: ModelFacts, off: ModelFacts, change: Stat, sig: Significance) -> Sentence:
    """"Without augmentation, the ViT's test accuracy falls from 75% to 60%, a drop of 15 points; a significant
    change (...)", or "rises ..., a rise of ..." when it was higher without."""
    value = change.mean.value
    if value > 0:
        moves, size = "falls", [", a drop of ", change.parts(" points")]
    elif value < 0:
        rise = stat(change.key.replace("drop_pts", "rise_pts"), "points", (-v for v in change.values))
        moves, size = "rises", [", a rise of ", rise.parts(" points")]
    else:
        moves, size = "stays the same", []
    verdict = change_verdict(sig)
    return sentence(f"Without augmentation, {m.the}'s test accuracy {moves}: from ", m.accuracy.parts("%"), " to ",
                    off.accuracy.parts("%"), size, f"; {verdict} (", base_evidence(sig), ").")


def gap_sentence(m: ModelFacts, off: ModelFacts) -> Sentence | None:
    """The final train-validation accuracy gap with and without augmentation, as measured (no test is made of it,
    so no verb says that it widens or narrows)."""
    if m.training is None or off.training is None:
        return None
    on_gap, off_gap = m.training.acc_gap, off.training.acc_gap
    if sentence(on_gap.parts()).text == sentence(off_gap.parts()).text:
        return sentence(f"{capital(m.the)}'s final train–validation accuracy gap is ", on_gap.parts(" points"),
                        " with and without augmentation.")
    return sentence(f"Without augmentation, {m.the}'s final train–validation accuracy gap is ",
                    off_gap.parts(" points"), ", against ", on_gap.parts(" points"), " with it.")


def reliance_sentence(contents: ReportContents, variant: VariantFacts) -> Sentence:
    """Which model's accuracy depends more on augmentation, only when the difference of the drops is significant
    and augmentation helped that model (a larger drop of a model that did better without it is no reliance)."""
    a, b = contents.models
    test = difference_of_differences(variant_key(variant.name, "drop_difference"), contents.runs[a.key],
                                     variant.runs[a.key], contents.runs[b.key], variant.runs[b.key],
                                     contents.rules.alpha)
    evidence = [test.test, ", ", *p_parts(test.p)]
    if test.difference.value == 0:
        return sentence("Without augmentation both models' test accuracy changes by the same amount (", evidence, ").")
    more, less = (a, b) if test.difference.value > 0 else (b, a)
    by = Metric(f"{test.key}.larger_by_pts", abs(test.difference.value), "points")
    helped = more.accuracy.mean.value > variant.facts[more.key].accuracy.mean.value
    # Both drops negative when augmentation did not help the model with the larger one: then say it as gains.
    size = ([f"{capital(more.the)}'s drop is ", by, f" points larger than {less.the}'s"] if helped else
            [f"Without augmentation {less.the} gains ", by, f" points more than {more.the}"])
    if not test.significant:
        return sentence(size, ", but the difference is not significant (", evidence,
                        "), so neither model is shown to rely on augmentation more.")
    return sentence(size, ", a significant difference (", evidence, f"): {_reliance(contents, variant, more, less)}.")


def _reliance(contents: ReportContents, variant: VariantFacts, more: ModelFacts, less: ModelFacts) -> str:
    """What a significantly larger drop means: reliance only where augmentation significantly helped that model."""
    def significant_drop(m: ModelFacts, sign: int) -> bool:
        sig = versus_base(contents, variant, m.key)  # variant minus base: a drop is negative
        return sig.significant and sig.direction == -sign

    if significant_drop(more, +1):
        return f"{more.the} relies on augmentation more"
    if significant_drop(less, -1):
        return (f"augmentation did not significantly help {more.the}, and it held {less.the} back, which is "
                "significantly more accurate without it")
    return f"augmentation did not significantly help {more.the}, so neither model is shown to rely on it more"


def augmentation_table(contents: ReportContents, variant: VariantFacts) -> Table:
    rows: list[list[Cell]] = []
    for m in contents.models:
        off = variant.facts[m.key]
        sig = versus_base(contents, variant, m.key)
        gaps: list[Cell] = ([stat_cell(m.training.acc_gap), stat_cell(off.training.acc_gap)]
                            if m.training and off.training else ["—", "—"])
        rows.append([m.name, stat_cell(m.accuracy, "%"), stat_cell(off.accuracy, "%"),
                     stat_cell(drop(variant, m, sig)), sig.verdict, *gaps])
    return Table(["model", "with augmentation", "without", "drop (points)", "verdict", "gap with (points)",
                  "gap without (points)"], rows,
                 caption=f"Test accuracy and final train–validation accuracy gap with and without augmentation "
                         f"(variant {variant.name}).")


def draw_curves(contents: ReportContents, variant: VariantFacts) -> plt.Figure:
    """Validation accuracy per epoch with (solid) and without (dashed) augmentation, one panel per trained model."""
    trained = [m for m in contents.trained if variant.facts[m.key].training is not None]
    fig, axes = plt.subplots(1, len(trained), figsize=(3.3 * len(trained), 2.3), squeeze=False)
    for ax, m, colour in zip(axes[0], trained, SERIES_COLOURS):
        plot_band(ax, 100 * stack_curves(m.training.histories, "val_acc"), colour, "with augmentation")
        off = 100 * stack_curves(variant.facts[m.key].training.histories, "val_acc")
        plot_band(ax, off, colour, "without")
        ax.lines[-1].set_linestyle("--")
        per_epoch_axes(ax, "validation accuracy (%)", m.name)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


class Augmentation(Section):
    key = "augmentation"
    title = "Reliance on augmentation"

    def applies(self, contents: ReportContents) -> bool:
        return bool(augmentation_off_variants(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        variant = augmentation_off_variants(contents)[0]
        facts: list[Sentence] = []
        for m in contents.models:
            off, sig = variant.facts[m.key], versus_base(contents, variant, m.key)
            facts.append(drop_sentence(m, off, drop(variant, m, sig), sig))
            gap = gap_sentence(m, off)
            if gap is not None:
                facts.append(gap)
        items: list[Item] = [Callout("rule", [augmentation_rule(contents.rules, variant.name)]),
                             augmentation_table(contents, variant)]
        if contents.comparative:
            facts.append(reliance_sentence(contents, variant))
        if contents.trained:
            key = f"augmentation-{variant.name}"
            figure = figures.draw(key, lambda: draw_curves(contents, variant),
                                  "Validation accuracy per epoch with (solid) and without (dashed) augmentation; with "
                                  "several seeds the mean, and their range shaded.")
            facts.append(sentence("The validation curves with and without it are in ", FigureRef(key), "."))
            items.append(figure)
        return items[:2] + [Bullets(facts)] + items[2:]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        variant = augmentation_off_variants(contents)[0]
        return Verdict((sentence("Augmentation: ", reliance_sentence(contents, variant)),))
