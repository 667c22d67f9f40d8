"""Section "A modern training recipe": the original study's architectures trained with a stronger recipe.

Applies to every variant that changes only recipe ingredients (label smoothing, TrivialAugment / RandAugment,
MixUp / CutMix, learning-rate warm-up; reportgen.presets.RECIPE_KEYS, beside the presets' modern recipe). Per
model: test accuracy under the base recipe and under the variant's, and the change by the accuracy rule (decided
by the p-value adjusted within the family of variant-against-base comparisons). With two models the experiment's
interaction, its primary comparison: how much of the gap between them under the base recipe the new recipe
closes, and whether the change of the gap is significant (reportgen.report.experiments.interaction, the
hierarchical bootstrap over seeds and test images; with one seed a description of that run).
"""

from __future__ import annotations

from reportgen.config import ReportConfig
from reportgen.presets import RECIPE_KEYS
from reportgen.report.contents import ModelFacts, ReportContents, VariantFacts
from reportgen.report.experiments import (
    AdjustedTest,
    base_family,
    between_models,
    change_claim,
    change_verdict,
    describe_changes,
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
    Subsection,
    Table,
    compare_key,
    p_parts,
    sentence,
    stat_cell,
    variant_key,
)
from reportgen.report.original_study import STUDY_MODELS
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import DifferenceOfDifferences, interval_cell


def recipe_variants(contents: ReportContents) -> list[VariantFacts]:
    """Variants that change only training-recipe ingredients (label smoothing, policy, MixUp/CutMix, warm-up)."""
    return contents.variants_changing(RECIPE_KEYS)


def recipe_rule(rules: ReportConfig, variant: str, ingredients: str) -> Sentence:
    """What the recipe variant changes, and how its effect and the gap it closes are tested."""
    return sentence(
        f"Rule used for the recipe: variant {variant} trains the same architectures at the same seeds with "
        f"{ingredients}; everything else is the base config's. Each model's change of test accuracy is tested by the "
        "accuracy rule, decided by the p-value adjusted within the family of variant-against-base comparisons. The "
        "gap is the first model's accuracy minus the second's; the share of the base recipe's gap that the recipe "
        "closes is (gap before − gap after in the leader's favour) / gap before, and the change of the gap (the "
        f"primary comparison) is significant at α = {rules.alpha:g} by the hierarchical bootstrap over seeds and test "
        "images, which keeps both sources of variance without assuming normality. The gap is said to narrow, widen "
        "or reverse only when that change is significant over seeds; with one seed it is described for that run.")


def change_sentence(m: ModelFacts, new: ModelFacts, test: AdjustedTest, recipe: str) -> Sentence:
    """One model's test accuracy under the base recipe and the new one, and the change's verdict."""
    change = test.sig.difference.mean
    moves = "rises" if change.value > 0 else "falls" if change.value < 0 else "stays the same"
    return sentence(f"With the {recipe} recipe, {m.the}'s test accuracy {moves}: from ", m.accuracy.parts("%"), " to ",
                    new.accuracy.parts("%"), " (", change, f" points); {change_verdict(test)} (", test.evidence(),
                    ").")


def gap_change(contents: ReportContents, variant: VariantFacts) -> DifferenceOfDifferences:
    """The primary comparison: the gap between the models under the recipe minus the gap under the base recipe."""
    a, b = contents.models
    return interaction(contents.rules, variant_key(variant.name, "gap_change"), variant.runs[a.key],
                       variant.runs[b.key], contents.runs[a.key], contents.runs[b.key])


def gap_sentence(contents: ReportContents, variant: VariantFacts) -> Sentence:
    """How much of the base recipe's gap between the models the new recipe closes, by the gap-change test.

    A gap that narrows, widens or reverses is said so only when the change of the gap is significant; otherwise
    the two gaps are given as measured, with the verdict that the recipe is not shown to change the gap."""
    a, b = contents.models
    before = between_models(contents.runs, contents.rules, "compare")  # the Accuracy section's test, under its keys
    after = between_models(variant.runs, contents.rules, variant_key(variant.name, "compare"))
    change = gap_change(contents, variant)
    if not change.over_seeds:
        return sentence(f"In this run the gap ({a.name} minus {b.name}) is ", after.difference.mean,
                        f" points with the {variant.name} recipe against ", before.difference.mean,
                        " under the base recipe, a change of ", change.difference, " points (", change.evidence, ").",
                        one_run_clause(contents))
    evidence = ["the change of the gap, ", change.difference, " points, is ",
                "significant" if change.significant else "not significant", " (", change.evidence, ")"]
    g0, g1 = before.difference.mean.value, after.difference.mean.value
    if not before.significant or g0 == 0:
        if g1 == 0:
            after_words: list = ["the models are equally accurate"]
        elif after.significant:
            after_words = [f"{(a if g1 > 0 else b).the} leads by ",
                           Metric(variant_key(variant.name, "gap_pts"), abs(g1), "points"), " points, a significant "
                           "difference"]
        else:
            after_words = [f"the gap ({a.name} minus {b.name}) is ", after.difference.mean,
                           " points, not significant either"]
        return sentence("Under the base recipe the two models' accuracies do not differ significantly, so there is no "
                        f"significant gap for the recipe to close; with the {variant.name} recipe, ", after_words, "; ",
                        evidence, ".")
    leader, other = (a, b) if g0 > 0 else (b, a)
    opening = f"Under the base recipe {leader.the} leads {other.the} significantly. With the {variant.name} recipe "
    kept = g1 if g0 > 0 else -g1  # the seed leader's lead under the new recipe (negative: the other now leads)
    closed = Metric(variant_key(variant.name, "gap_closed_pct"), 100 * (abs(g0) - kept) / abs(g0), "percent")
    if not change.significant:
        return sentence(opening, f"the gap ({a.name} minus {b.name}) is ", after.difference.mean, " points, against ",
                        before.difference.mean, " under the base recipe (", closed, "% of it closed, as measured); ",
                        evidence, ", so the recipe is not shown to close or widen the gap.")
    lead_before = Metric(compare_key("lead_pts"), abs(g0), "points")
    lead_after = Metric(variant_key(variant.name, "lead_pts"), abs(kept), "points")
    if kept > 0:
        moves = "narrows" if kept < abs(g0) else "widens"
        shape = [f"{leader.the}'s lead {moves} from ", lead_before, " to ", lead_after, " points"]
        shape += [", closing ", closed, "% of the gap"] if kept < abs(g0) else []
    elif kept == 0:
        shape = ["the gap closes: ", lead_before, " points under the base recipe, none with it (", closed,
                 "% of the gap closed)"]
    elif after.significant:
        shape = ["the gap reverses: ", other.the, " now leads by ", lead_after, " points, a significant lead, having "
                 "trailed by ", lead_before, " (", closed, "% of the gap closed)"]
    else:
        shape = ["the gap changes sign: ", other.the, " is ahead by ", lead_after, " points, not significantly, "
                 "having trailed by ", lead_before, " (", closed, "% of the gap closed)"]
    return sentence(opening, shape, "; ", evidence, ".")


def recipe_table(contents: ReportContents, variant: VariantFacts) -> Table:
    tests = base_family(contents)
    rows: list[list[Cell]] = []
    for m in contents.models:
        test = tests[(variant.name, m.key)]
        rows.append([m.name, stat_cell(m.accuracy, "%"), stat_cell(variant.facts[m.key].accuracy, "%"),
                     test.sig.difference.mean, test.p_cell(), test.verdict])
    return Table(["model", "base recipe", f"{variant.name} recipe", "change (points)", "p / adjusted p", "verdict"],
                 rows, caption=f"Test accuracy under the base recipe and the {variant.name} recipe (same "
                               "architectures).")


def recipe_items(contents: ReportContents, variant: VariantFacts) -> list[Item]:
    tests = base_family(contents)
    facts = [change_sentence(m, variant.facts[m.key], tests[(variant.name, m.key)], variant.name)
             for m in contents.models]
    if contents.comparative:
        facts.append(gap_sentence(contents, variant))
    return [Callout("rule", [recipe_rule(contents.rules, variant.name, describe_changes(variant.changes))]),
            recipe_table(contents, variant), Bullets(facts)]


def gap_row(contents: ReportContents, variant: VariantFacts) -> SummaryRow:
    """The recipe's line of the Summary of findings: each model's change, their difference and its interval."""
    tests = base_family(contents)
    change = gap_change(contents, variant)
    return SummaryRow(f"Accuracy change with the {variant.name} recipe (points)",
                      tuple(stat_cell(tests[(variant.name, m.key)].sig.difference) for m in contents.models),
                      change.difference, interval_cell(change.bootstrap),
                      sentence(interaction_verdict(change), ", ", p_parts(change.p)), primary=True)


def recipe_claim(contents: ReportContents, variant: VariantFacts) -> ClaimFinding:
    """The original study's "a stronger recipe would improve the ViT": the ViT's change under the recipe, over seeds
    and adjusted within its family."""
    test = base_family(contents)[(variant.name, "vit")]
    facts = [f"with the {variant.name} recipe the ViT changes by ", test.sig.difference.mean, " points"]
    return ClaimFinding("stronger-recipe-helps-vit", *change_claim(test, facts))


class Recipe(Section):
    key = "recipe"
    title = "A modern training recipe"

    def applies(self, contents: ReportContents) -> bool:
        return bool(recipe_variants(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        variants = recipe_variants(contents)
        if len(variants) == 1:
            return recipe_items(contents, variants[0])
        return [Subsection(f"recipe-{v.name}", f"Recipe {v.name}", recipe_items(contents, v)) for v in variants]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        variants = recipe_variants(contents)
        # The original study's claim, from the first recipe variant (the presets train one).
        claims = (recipe_claim(contents, variants[0]),) if sorted(contents.facts) == sorted(STUDY_MODELS) else ()
        return Verdict(tuple(sentence(f"Recipe {v.name}: ", gap_sentence(contents, v)) for v in variants),
                       rows=tuple(gap_row(contents, v) for v in variants), claims=claims)
