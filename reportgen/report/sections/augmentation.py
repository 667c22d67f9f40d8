"""Section "Reliance on augmentation": each model with and without the training augmentation.

Applies when a variant switches only augmentation off (augment.enabled: false). Per model: test accuracy and
final train-validation gap with and without it, and the drop in points with its verdict (the accuracy rule,
variant against base runs at the same seeds, decided by the p-value adjusted within the family of every
variant-against-base comparison). With two models the experiment's interaction, its primary comparison: whether
one relies on augmentation more, by the difference of the drops (reportgen.report.experiments.interaction, the
hierarchical bootstrap over seeds and test images; with one seed a description of that run). The Conclusion
says when augmentation hurt a model, and the Summary of findings gets the interaction's row and the original
study's "the ViT relies on augmentation".
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents, VariantFacts, stack_curves
from reportgen.report.evidence import run_scope
from reportgen.report.experiments import (
    AdjustedTest,
    base_family,
    change_verdict,
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
    Stat,
    Table,
    capital,
    p_parts,
    sentence,
    stat,
    stat_cell,
    variant_key,
)
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, STUDY_MODELS, SUPPORTED
from reportgen.report.plots import SERIES_COLOURS, per_epoch_axes, plot_band
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import DifferenceOfDifferences, Significance, bootstrap_parts, interval_cell

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
        "accuracy with augmentation minus without; its verdict is the accuracy rule's, decided by the p-value "
        "adjusted within the family of variant-against-base comparisons. One model relies on augmentation more when "
        "its drop is larger, augmentation significantly helped it, and the difference of the two drops (the primary "
        "comparison) is significant at "
        f"α = {rules.alpha:g} by the hierarchical bootstrap over seeds and test images (which keeps both sources of "
        "variance without assuming normality). With one seed the bootstrap is over the test images only: the result "
        "describes that run and no reliance is claimed.")


def drop(variant: VariantFacts, m: ModelFacts, sig: Significance) -> Stat:
    """Test accuracy with augmentation minus without, points, per paired seed (the negated variant-minus-base)."""
    return stat(variant_key(variant.name, f"{m.key}.drop_pts"), "points", (-d for d in sig.difference.values))


def drop_sentence(m: ModelFacts, off: ModelFacts, change: Stat, test: AdjustedTest) -> Sentence:
    """"Without augmentation, the ViT's test accuracy falls from 75% to 60%, a drop of 15 points; a significant
    change (...)", or "rises ..., a rise of ..." when it was higher without."""
    value = change.mean.value
    if value > 0:
        moves, size = "falls", [", a drop of ", change.parts(" points")]
    elif value < 0:
        moves, size = "rises", [", a rise of ", rise(change).parts(" points")]
    else:
        moves, size = "stays the same", []
    return sentence(f"Without augmentation, {m.the}'s test accuracy {moves}: from ", m.accuracy.parts("%"), " to ",
                    off.accuracy.parts("%"), size, f"; {change_verdict(test)} (", test.evidence(), ").")


def rise(change: Stat) -> Stat:
    """The negated drop: how much higher a model's accuracy is without augmentation."""
    return stat(change.key.replace("drop_pts", "rise_pts"), "points", (-v for v in change.values))


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


def reliance_test(contents: ReportContents, variant: VariantFacts) -> DifferenceOfDifferences:
    """The primary comparison: the first model's drop minus the second's (with minus without), in points."""
    a, b = contents.models
    return interaction(contents.rules, variant_key(variant.name, "drop_difference"), contents.runs[a.key],
                       variant.runs[a.key], contents.runs[b.key], variant.runs[b.key])


def reliance_sentence(contents: ReportContents, variant: VariantFacts) -> Sentence:
    """Which model's accuracy depends more on augmentation, only when the difference of the drops is significant
    over seeds and augmentation helped that model (a larger drop of a model that did better without it is no
    reliance). With one seed: the difference as measured in this run, and the seeds that would test it."""
    a, b = contents.models
    test = reliance_test(contents, variant)
    evidence = bootstrap_parts(test.oriented)  # the interval of the larger drop's excess, as the sentence states it
    if test.difference.value == 0:
        return sentence("Without augmentation both models' test accuracy changes by the same amount (", evidence, ").")
    more, less = (a, b) if test.difference.value > 0 else (b, a)
    by = test.oriented.metric("diff")
    helped = more.accuracy.mean.value > variant.facts[more.key].accuracy.mean.value
    # Both drops negative when augmentation did not help the model with the larger one: then say it as gains.
    size = ([f"{capital(more.the)}'s drop is ", by, f" points larger than {less.the}'s"] if helped else
            [f"Without augmentation {less.the} gains ", by, f" points more than {more.the}"])
    if not test.over_seeds:
        return sentence("In this run ", size[0][:1].lower() + size[0][1:], size[1:], " (", evidence, ").",
                        one_run_clause(contents))
    if not test.significant:
        return sentence(size, ", but the difference is not significant (", evidence,
                        "), so neither model is shown to rely on augmentation more.")
    return sentence(size, ", a significant difference (", evidence, f"): {_reliance(contents, variant, more, less)}.")


def _reliance(contents: ReportContents, variant: VariantFacts, more: ModelFacts, less: ModelFacts) -> str:
    """What a significantly larger drop means: reliance only where augmentation significantly helped that model."""
    tests = base_family(contents)

    def significant_drop(m: ModelFacts, sign: int) -> bool:
        test = tests[(variant.name, m.key)]  # variant minus base: a drop is negative
        return test.significant and test.sig.direction == -sign

    if significant_drop(more, +1):
        return f"{more.the} relies on augmentation more"
    if significant_drop(less, -1):
        return (f"augmentation did not significantly help {more.the}, and it held {less.the} back, which is "
                "significantly more accurate without it")
    return f"augmentation did not significantly help {more.the}, so neither model is shown to rely on it more"


def hurt_sentences(contents: ReportContents, variant: VariantFacts) -> list[Sentence]:
    """For the Conclusion: each model that augmentation hurt, by its (adjusted) variant-against-base test."""
    tests = base_family(contents)
    out = []
    for m in contents.models:
        test = tests[(variant.name, m.key)]
        if test.significant and test.sig.direction > 0:
            out.append(sentence(f"Augmentation hurt {m.the}{run_scope(test.sig.over_seeds)}: without it its test "
                                "accuracy was ", test.sig.difference.mean, " points higher (", test.evidence(), ")."))
    return out


def reliance_row(contents: ReportContents, variant: VariantFacts) -> SummaryRow:
    """The experiment's line of the Summary of findings: each model's drop, their difference and its interval."""
    a, b = contents.models
    test = reliance_test(contents, variant)
    tests = base_family(contents)
    drops = [stat_cell(drop(variant, m, tests[(variant.name, m.key)].sig)) for m in (a, b)]
    if test.significant and test.over_seeds:
        more, less = (a, b) if test.difference.value > 0 else (b, a)
        helped = more.accuracy.mean.value > variant.facts[more.key].accuracy.mean.value
        # As the prose says it: a larger "drop" of a model that did better without augmentation is the other's gain.
        larger = f"{more.name}'s drop larger" if helped else f"{less.name}'s gain without it larger"
        words = f"{larger} ({interaction_verdict(test)})"
    else:
        words = interaction_verdict(test)
    return SummaryRow("Accuracy drop without augmentation (points)", tuple(drops), test.difference,
                      interval_cell(test.bootstrap), sentence(words, ", ", p_parts(test.p)), primary=True)


def reliance_claim(contents: ReportContents, variant: VariantFacts) -> ClaimFinding:
    """The original study's "the ViT relies on augmentation", from the interaction over seeds only."""
    test = reliance_test(contents, variant)
    vit_first = contents.models[0].key == "vit"
    vit_more = (test.difference.value > 0) == vit_first and test.difference.value != 0
    facts = ["the ViT's drop minus the CNN's is ", Metric(f"{test.key}.vit_minus_cnn_pts",
                                                           test.difference.value * (1 if vit_first else -1),
                                                           "points"), " points, ", p_parts(test.p)]
    if not test.over_seeds:
        return ClaimFinding("vit-relies-on-augmentation", INCONCLUSIVE,
                            sentence("one seed: in this run ", facts, "; no test over seeds"))
    if not test.significant:
        return ClaimFinding("vit-relies-on-augmentation", INCONCLUSIVE, sentence(facts, ", not significant"))
    helped = base_family(contents)[(variant.name, "vit")]
    if vit_more and helped.significant and helped.sig.direction < 0:
        return ClaimFinding("vit-relies-on-augmentation", SUPPORTED, sentence(facts, ", significant"))
    if vit_more:
        return ClaimFinding("vit-relies-on-augmentation", INCONCLUSIVE,
                            sentence(facts, ", but augmentation did not significantly help the ViT"))
    return ClaimFinding("vit-relies-on-augmentation", CONTRADICTED, sentence(facts, ", significant"))


def augmentation_table(contents: ReportContents, variant: VariantFacts) -> Table:
    rows: list[list[Cell]] = []
    tests = base_family(contents)
    for m in contents.models:
        off = variant.facts[m.key]
        test = tests[(variant.name, m.key)]
        gaps: list[Cell] = ([stat_cell(m.training.acc_gap), stat_cell(off.training.acc_gap)]
                            if m.training and off.training else ["—", "—"])
        rows.append([m.name, stat_cell(m.accuracy, "%"), stat_cell(off.accuracy, "%"),
                     stat_cell(drop(variant, m, test.sig)), test.p_cell(), test.verdict, *gaps])
    return Table(["model", "with augmentation", "without", "drop (points)", "p / adjusted p", "verdict",
                  "gap with (points)", "gap without (points)"], rows,
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
        tests = base_family(contents)
        for m in contents.models:
            off, test = variant.facts[m.key], tests[(variant.name, m.key)]
            facts.append(drop_sentence(m, off, drop(variant, m, test.sig), test))
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
        variant = augmentation_off_variants(contents)[0]
        hurt = tuple(hurt_sentences(contents, variant))
        if not contents.comparative:
            return Verdict(hurt) if hurt else None
        claims = ((reliance_claim(contents, variant),)
                  if sorted(m.key for m in contents.models) == sorted(STUDY_MODELS) else ())
        return Verdict((sentence("Augmentation: ", reliance_sentence(contents, variant)), *hurt),
                       rows=(reliance_row(contents, variant),), claims=claims)
