"""Section "Training length": whether the models would have gained from training longer.

Judged by a longer-training variant where the bundle holds one (a variant that changes only train.epochs,
upward): each model's test accuracy with more epochs against the base runs', by the accuracy rule (decided by
the p-value adjusted within the family of variant-against-base comparisons), and the experiment's interaction,
its primary comparison (one model's gain minus the other's, reportgen.report.experiments.interaction). Without
one, the section only describes the curves by the plateau rule (reportgen.report.rules), the rule the curves
section reads them by, so the two never disagree: under a cosine schedule the learning rate nears 0 at the end
and flattens any curve, so the curves alone cannot say whether more epochs would raise the accuracy.
"""

from __future__ import annotations

from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents, VariantFacts, stack_curves
from reportgen.report.experiments import (
    AdjustedTest,
    base_family,
    change_claim,
    change_verdict,
    interaction,
    interaction_verdict,
    one_run_clause,
)
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Sentence,
    Table,
    capital,
    p_parts,
    sentence,
    stat_cell,
    variant_key,
)
from reportgen.report.original_study import INCONCLUSIVE, STUDY_MODELS
from reportgen.report.rules import plateau_epoch
from reportgen.report.section import ClaimFinding, FigureDrawer, SummaryRow, TrainingSection, Verdict
from reportgen.report.stats import DifferenceOfDifferences, interval_cell

MIN_EPOCHS = 3  # fewer epochs leave no curve to read
TRAINING_LENGTH_KEYS = frozenset({"train.epochs"})  # what a variant changes to test another training length


def training_length_rule(rules: ReportConfig) -> Sentence:
    """How training length is judged: by a longer-training variant, else only described by the plateau rule."""
    return sentence(
        "Rule used for training length: a model would gain from training longer when a variant that changes only "
        "train.epochs, upward, raises its test accuracy significantly by the accuracy rule (adjusted within the "
        "variant-against-base comparisons); one model gains more when the difference of the two gains is significant "
        f"at α = {rules.alpha:g} by the hierarchical bootstrap over seeds and test images. Without such a variant the "
        "curves are described by the plateau rule (the curves section's), not judged: under the cosine schedule the "
        "learning rate nears 0 at the end, so a flat end can be the schedule's doing.")


def length_variants(contents: ReportContents) -> list[VariantFacts]:
    """Variants that change only the number of epochs, in config order."""
    return contents.variants_changing(TRAINING_LENGTH_KEYS)


def longest(contents: ReportContents) -> VariantFacts | None:
    """The variant that trains longest beyond the base config, or None when no variant trains longer."""
    longer = [v for v in length_variants(contents) if v.changes["train.epochs"] > contents.config.train.epochs]
    return max(longer, key=lambda v: v.changes["train.epochs"]) if longer else None


def plateau(m: ModelFacts, rules: ReportConfig) -> Metric:
    """The epoch after which `m`'s seed-mean validation accuracy levelled off (the curves section's key)."""
    val_acc = 100 * stack_curves(m.training.histories, "val_acc").mean(axis=0)
    return Metric(m.metric_key("curve.plateau_epoch"), plateau_epoch(val_acc, rules.plateau_points), "epoch")


def curve_sentence(m: ModelFacts, rules: ReportConfig, lead: str = "By the plateau rule") -> Sentence:
    """What the plateau rule reads from one model's seed-mean validation accuracy, as the curves section does
    (`lead` in lower case where the sentence continues another)."""
    epoch = plateau(m, rules)
    if epoch.value < m.training.epochs.value:
        return sentence(f"{lead}, {m.the}'s validation accuracy had levelled off after epoch ", epoch, " of ",
                        m.training.epochs, f" (no later epoch beat its best by more than {rules.plateau_points:g} "
                        "points).")
    return sentence(f"{lead}, {m.the}'s validation accuracy was still improving at its final epoch, ",
                    m.training.epochs, ".")


def gain_sentence(contents: ReportContents, variant: VariantFacts, m: ModelFacts, test: AdjustedTest) -> Sentence:
    """One model's test accuracy with the variant's epochs against the base config's, and the verdict."""
    epochs = variant.changes["train.epochs"]
    return sentence(f"Trained for {epochs} epochs instead of {contents.config.train.epochs} (variant {variant.name}), "
                    f"{m.the} reaches ", variant.facts[m.key].accuracy.parts("%"), " against ", m.accuracy.parts("%"),
                    ": a change of ", test.sig.difference.mean, f" points, {change_verdict(test)} (", test.evidence(),
                    ").")


def gain_test(contents: ReportContents, variant: VariantFacts) -> DifferenceOfDifferences:
    """The primary comparison: the first model's gain with more epochs minus the second's, in points."""
    a, b = contents.models
    return interaction(contents.rules, variant_key(variant.name, "gain_difference"), variant.runs[a.key],
                       contents.runs[a.key], variant.runs[b.key], contents.runs[b.key])


def gain_difference_sentence(contents: ReportContents, variant: VariantFacts) -> Sentence:
    """Whether one model gains more from the longer training than the other, only from the test over seeds."""
    a, b = contents.models
    test = gain_test(contents, variant)
    said = [f"{capital(a.the)}'s gain from the longer training minus {b.the}'s is ", test.difference, " points (",
            test.evidence, ")"]
    if not test.over_seeds:
        return sentence("In this run ", said[0][:1].lower() + said[0][1:], said[1:], ".", one_run_clause(contents))
    if not test.significant:
        return sentence(said, ": not significant, so neither model is shown to gain more from longer training.")
    more = a if test.difference.value > 0 else b
    return sentence(said, f": significant, {more.the} gains more from longer training.")


def gain_table(contents: ReportContents, variants: list[VariantFacts]) -> Table:
    """Per length variant and model: accuracy, the change against the base, its p-values and verdict."""
    tests = base_family(contents)
    rows: list[list[Cell]] = []
    for v in variants:
        for m in contents.models:
            test = tests[(v.name, m.key)]
            rows.append([v.name, str(v.changes["train.epochs"]), m.name, stat_cell(m.accuracy, "%"),
                         stat_cell(v.facts[m.key].accuracy, "%"), test.sig.difference.mean, test.p_cell(),
                         test.verdict])
    return Table(["variant", "epochs", "model", "base accuracy", "variant accuracy", "change (points)",
                  "p / adjusted p", "verdict"], rows,
                 caption=f"Test accuracy with another number of epochs against the base config's "
                         f"{contents.config.train.epochs} (variant minus base, at the same seeds).")


def gain_row(contents: ReportContents, variant: VariantFacts) -> SummaryRow:
    """The experiment's line of the Summary of findings: each model's gain, their difference and its interval."""
    tests = base_family(contents)
    test = gain_test(contents, variant)
    gains = tuple(stat_cell(tests[(variant.name, m.key)].sig.difference) for m in contents.models)
    return SummaryRow(f"Accuracy gain from longer training, variant {variant.name} (points)", gains, test.difference,
                      interval_cell(test.bootstrap), sentence(interaction_verdict(test), ", ", p_parts(test.p)),
                      primary=True)


def longer_training_claim(contents: ReportContents) -> ClaimFinding:
    """The original study's "the ViT would benefit from more epochs": from a longer-training variant over seeds;
    without one, inconclusive, with what the curves show by the plateau rule."""
    vit = contents.facts["vit"]
    variant = longest(contents)
    if variant is None:
        said = (curve_sentence(vit, contents.rules, "by the plateau rule") if vit.training is not None else
                sentence("no curves"))
        return ClaimFinding("vit-needs-longer-training", INCONCLUSIVE,
                            sentence("no longer-training variant; from the curves only: ", said))
    test = base_family(contents)[(variant.name, "vit")]
    epochs = Metric(variant_key(variant.name, "config.train.epochs"), variant.changes["train.epochs"], "count")
    facts = ["with ", epochs, " epochs the ViT changes by ", test.sig.difference.mean, " points"]
    return ClaimFinding("vit-needs-longer-training", *change_claim(test, facts))


class TrainingLength(TrainingSection):
    key = "training-length"
    title = "Training length"

    def applies(self, contents: ReportContents) -> bool:
        return super().applies(contents) and min(
            len(h["epoch"]) for m in contents.trained for h in m.training.histories) >= MIN_EPOCHS

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        facts = [curve_sentence(m, contents.rules) for m in contents.trained]
        variants = length_variants(contents)
        tests = base_family(contents)
        items: list[Item] = [Callout("rule", [training_length_rule(contents.rules)])]
        if variants:
            items.append(gain_table(contents, variants))
            facts += [gain_sentence(contents, v, m, tests[(v.name, m.key)]) for v in variants for m in contents.models]
        variant = longest(contents)
        if variant is not None and contents.comparative:
            facts.append(gain_difference_sentence(contents, variant))
        if variant is None:
            facts.append(sentence("No variant of this build trains longer, so whether more epochs would raise the test "
                                  "accuracy is not tested here: a variant that changes only train.epochs tests it "
                                  "(the study preset trains one)."))
        return items + [Bullets(facts)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        variant = longest(contents)
        claims = (longer_training_claim(contents),) if sorted(contents.facts) == sorted(STUDY_MODELS) else ()
        if variant is None:
            findings = tuple(sentence("Training length (not tested, no longer-training variant): ",
                                      curve_sentence(m, contents.rules, "by the plateau rule"))
                             for m in contents.trained)
            return Verdict(findings, claims=claims)
        tests = base_family(contents)
        findings = [sentence("Training length: ", gain_sentence(contents, variant, m, tests[(variant.name, m.key)]))
                    for m in contents.models]
        rows: tuple[SummaryRow, ...] = ()
        if contents.comparative:
            findings.append(gain_difference_sentence(contents, variant))
            rows = (gain_row(contents, variant),)
        return Verdict(tuple(findings), rows=rows, claims=claims)
