"""The study's experiments as the report reads them: which variant tests what, and their shared tests.

A variant is recognised by what it changes from the base config (`VariantFacts.changes`, the difference of
the two resolved configs), never by its name: a variant that switches only augmentation off tests reliance
on augmentation, one that changes only the training-set fraction is a point of the data-efficiency curve,
one that changes only recipe ingredients is a recipe, one that changes only the epochs is a training length.
Each experiment's key set lives with its section (`augmentation.AUGMENTATION_SWITCH`,
`data_efficiency.DATA_SIZE_KEYS`, `training_length.TRAINING_LENGTH_KEYS`; the recipe's is
`reportgen.config.RECIPE_KEYS`, beside the presets that define the modern recipe); this module holds what the
experiments share.
Every comparison is of runs on the same test images: a variant's runs against the base runs of the same
model (`versus_base`), or two models within the same runs' setting (`between_models`), by the accuracy rule.
Each experiment's interaction (one model's change against the other's) is its primary comparison, tested once
by the hierarchical bootstrap over seeds and test images (`interaction`); the variant-against-base tests form
one family of secondary tests adjusted by report.multiplicity (`base_family`), and a section's other repeated
tests (per training-set size, per model) form theirs (`adjusted_tests`). With one seed every result describes
that run, and the prose says which seeds would make it a test (`one_run_clause`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.contents import ReportContents, VariantFacts
from reportgen.report.evidence import SEEDS_FOR_A_TEST, run_scope
from reportgen.report.kernel import Metric, Part, Sentence, p_parts, plural, sentence, variant_key
from reportgen.report.multiplicity import Family, family
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.stats import (
    BootstrapTest,
    DifferenceOfDifferences,
    Significance,
    accuracy_significance,
    correctness,
    difference_of_differences,
    hierarchical_bootstrap,
    significance_evidence,
)

# How the prose names a change of a config key: key -> its value in words (any other key: "key = value").
POLICY_NAMES = {"trivialaugment": "TrivialAugment", "randaugment": "RandAugment", "none": "no augmentation policy"}
CHANGE_WORDS: dict[str, Callable[[Any], str]] = {
    "train.label_smoothing": lambda v: f"label smoothing {v:g}",
    "train.warmup_epochs": lambda v: f"a linear learning-rate warm-up over {plural(v, 'epoch')}",
    "augment.policy": lambda v: POLICY_NAMES[v],
    "augment.mixup_alpha": lambda v: f"MixUp α = {v:g}",
    "augment.cutmix_alpha": lambda v: f"CutMix α = {v:g}",
    "augment.enabled": lambda v: "training augmentation on" if v else "no training augmentation",
    "data.train_fraction": lambda v: f"{v:.4g} of the training images",
    "train.epochs": lambda v: plural(v, "epoch"),
}
ADJUSTMENTS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}  # report.multiplicity's methods, as the prose names them


def describe_changes(changes: dict[str, Any]) -> str:
    """A variant's changes in words, e.g. "label smoothing 0.1, TrivialAugment, data.train_fraction = 0.25"."""
    return ", ".join(CHANGE_WORDS[key](value) if key in CHANGE_WORDS else f"{key} = {_plain(value)}"
                     for key, value in changes.items())


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def accuracy_test(first: Sequence[RunData], second: Sequence[RunData], rules: ReportConfig, key: str) -> Significance:
    """The accuracy rule on two sets of runs (first minus second), with the report's bootstrap settings."""
    return accuracy_significance(first, second, rules.alpha, key=key, resamples=rules.bootstrap_resamples,
                                 bootstrap_seed=rules.bootstrap_seed)


def versus_base(contents: ReportContents, variant: VariantFacts, model: str) -> Significance:
    """The variant's runs of `model` against the base runs of `model` (variant minus base), by the accuracy rule."""
    return accuracy_test(variant.runs[model], contents.runs[model], contents.rules,
                         variant_key(variant.name, f"{model}.vs_base"))


def between_models(runs: dict[str, Sequence[RunData]], rules: ReportConfig, key: str) -> Significance:
    """The first model's runs against the second's (first minus second, config order), by the accuracy rule."""
    first, second = runs.values()
    return accuracy_test(first, second, rules, key)


def interaction(rules: ReportConfig, key: str, a1: Sequence[RunData], a2: Sequence[RunData], b1: Sequence[RunData],
                b2: Sequence[RunData]) -> DifferenceOfDifferences:
    """An experiment's interaction, (a1 - a2) - (b1 - b2) in points, by the hierarchical bootstrap: one primary test,
    unadjusted (the Summary of findings declares it)."""
    return difference_of_differences(key, a1, a2, b1, b2, rules.alpha, rules.bootstrap_resamples,
                                     rules.bootstrap_seed)


def gap_interval(runs: dict[str, Sequence[RunData]], rules: ReportConfig, key: str) -> BootstrapTest:
    """The first model's accuracy minus the second's, in points, with its hierarchical-bootstrap interval at level
    1 - alpha (over seeds and test images; with one seed over the test images only)."""
    first, second = runs.values()
    return hierarchical_bootstrap(key, [correctness(first), correctness(second)], lambda m: m[0] - m[1],
                                  rules.bootstrap_seed, rules.bootstrap_resamples, 1 - rules.alpha)


@dataclass(frozen=True)
class AdjustedTest:
    """A secondary accuracy test with its p-value adjusted within its family: the verdict is decided by the
    adjusted p (and by the accuracy rule's other conditions)."""

    sig: Significance
    family: Family | None  # None when there is nothing to adjust: no test applies, or a family of one test

    @property
    def adjusted_p(self) -> Metric | None:
        raw = self.sig.deciding_p
        return None if raw is None or self.family is None else self.family.adjusted_p(raw.key)

    @property
    def significant(self) -> bool:
        adjusted = self.adjusted_p  # None for a family of one: its raw p decides, within the accuracy rule
        return self.sig.significant and (adjusted is None or adjusted.value < self.sig.alpha)

    @property
    def verdict(self) -> str:
        """"significant" or "not significant", with "in this run" at one seed."""
        return ("significant" if self.significant else "not significant") + run_scope(self.sig.over_seeds)

    def evidence(self, side: str = "config") -> list[Part]:
        """The tests behind the verdict, then the deciding p-value raw and adjusted."""
        parts = significance_evidence(self.sig, side)
        adjusted = self.adjusted_p
        if adjusted is None or self.family is None:
            return parts
        return [*parts, f"; {ADJUSTMENTS[self.family.method]}-adjusted within {self.family.name}, ",
                *p_parts(adjusted)]

    def p_cell(self) -> Sentence:
        """"raw / adjusted" p-values as a table cell (the raw p alone in a family of one, "—" when no test applies)."""
        raw, adjusted = self.sig.deciding_p, self.adjusted_p
        if raw is None:
            return sentence("—")
        return sentence(raw) if adjusted is None else sentence(raw, " / ", adjusted)


def adjusted_tests(name: str, sigs: Sequence[Significance], method: str) -> list[AdjustedTest]:
    """A family of secondary accuracy tests, adjusted together by `method` (report.multiplicity); one test alone is
    no family and is decided by its raw p."""
    raw = [sig.deciding_p for sig in sigs if sig.deciding_p is not None]
    adjusted = family(name, raw, method) if len(raw) > 1 else None
    return [AdjustedTest(sig, adjusted if sig.deciding_p is not None else None) for sig in sigs]


def base_family(contents: ReportContents) -> dict[tuple[str, str], AdjustedTest]:
    """Every variant's runs against the base runs, model by model: one family of secondary tests, the same in every
    experiment section, keyed by (variant name, model key)."""
    pairs = [(v.name, m.key) for v in contents.variants.values() for m in contents.models]
    sigs = [versus_base(contents, contents.variants[v], m) for v, m in pairs]
    name = f"the {plural(len(sigs), 'variant-against-base comparison')}"
    return dict(zip(pairs, adjusted_tests(name, sigs, contents.rules.multiplicity)))


def base_evidence(sig: Significance) -> list[Part]:
    """The tests behind a variant-against-base verdict: its sides are two configs, not two models."""
    return significance_evidence(sig, side="config")


def change_verdict(test: AdjustedTest) -> str:
    """"a significant change" or "not a significant change" (by the adjusted p), "in this run" at one seed."""
    return ("a significant change" if test.significant else "not a significant change") + run_scope(test.sig.over_seeds)


def interaction_verdict(test: DifferenceOfDifferences) -> str:
    """"significant", "not significant", or at one seed "excludes 0 in this run" / "includes 0 in this run"."""
    if test.over_seeds:
        return "significant" if test.significant else "not significant"
    return "interval excludes 0 in this run" if test.significant else "interval includes 0 in this run"


def one_run_clause(contents: ReportContents) -> str:
    """What a one-seed result is, and which seeds would make it a test."""
    return (" With one seed this describes the trained weights of this run, not the models: train with "
            f"{SEEDS_FOR_A_TEST} to test it over seeds.")


def one_seed_note(contents: ReportContents) -> Sentence | None:
    """The caveat of experiments run at one seed: their intervals see the test images' sampling, not the runs' own
    variation, so they describe this run. None with several seeds."""
    if contents.several_seeds:
        return None
    return sentence("Every model ran with one seed: the experiments' intervals and tests measure how the test images "
                    "were sampled, not how much a run varies from seed to seed, so each result describes this run and "
                    f"no claim about a model or a treatment is made from it; {SEEDS_FOR_A_TEST} tests each "
                    "difference over seeds and test images (a hierarchical bootstrap).")


def change_claim(test: AdjustedTest, facts: Sequence[Part]) -> tuple[str, Sentence]:
    """(status, evidence) of an original-study claim that a treatment improves a model, from that model's
    variant-against-base test: supported or contradicted only by a significant test over seeds (adjusted within its
    family), else inconclusive, saying why."""
    if not test.sig.over_seeds:
        return INCONCLUSIVE, sentence("one seed: in this run ", *facts)
    if not test.significant:
        return INCONCLUSIVE, sentence(*facts, ", not significant")
    return (SUPPORTED if test.sig.direction > 0 else CONTRADICTED), sentence(*facts, ", significant")
