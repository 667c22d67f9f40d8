"""Section "Generalisation": each model's clean train-validation gap with its 95% interval, the difference of the
two models' gaps, the overfitting verdict, and the original study's claim that the ViT overfits.

The clean gap (reportgen.report.contents.CleanGap) is the training accuracy measured once training has ended, in
eval mode on un-augmented training images, minus the validation accuracy of the same weights; the history's
final train accuracy is a running average over augmented batches with dropout on, which can even fall below the
validation accuracy (MixUp), so it is shown beside the clean gap but never judged. The gaps' intervals and tests
are a hierarchical bootstrap: seeds, then training images and validation images, each set resampled jointly for
both models (paired by image). The per-model gaps and their difference are one family of secondary tests
(reportgen.report.multiplicity). A bundle whose runs do not record the clean accuracy gets the running gap,
said to be no clean measure, and no verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from reportgen.config import ReportConfig
from reportgen.errors import BundleError
from reportgen.report.contents import CleanGap, ModelFacts, ReportContents
from reportgen.report.evidence import SEEDS_FOR_A_TEST
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
    model_key,
    p_parts,
    sentence,
    stat_cell,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.rules import overfitting_rule
from reportgen.report.section import ClaimFinding, FigureDrawer, SummaryRow, TrainingSection, Verdict
from reportgen.report.stats import BootstrapTest

OVERFITS, FITS, UNDECIDED = "yes", "no", "undecided"


def overfitting_state(m: ModelFacts, test: BootstrapTest, rules: ReportConfig) -> str:
    """The overfitting rule on the clean gap, read with its interval: OVERFITS when the whole interval lies above
    the limit (or the validation loss rose past its own limit), FITS when it lies at or below it, UNDECIDED when it
    spans the limit: a gap whose interval holds the limit does not tell which side the model is on."""
    if m.training.val_loss_rise.mean.value > rules.overfit_val_loss_rise_pct or test.low > rules.overfit_acc_gap_points:
        return OVERFITS
    return FITS if test.high <= rules.overfit_acc_gap_points else UNDECIDED


def overfitting_words(m: ModelFacts, state: str, rules: ReportConfig) -> str:
    """"the CNN overfits", "the CNN does not overfit", or why the rule cannot tell."""
    if state == UNDECIDED:
        return (f"whether {m.the} overfits is undecided: its clean gap's interval spans the "
                f"{rules.overfit_acc_gap_points:g}-point limit")
    return f"{m.the} {'overfits' if state == OVERFITS else 'does not overfit'}"


def generalisation_rule(rules: ReportConfig) -> Sentence:
    """How the report measures the gap and decides that one model's gap is larger, as printed in it."""
    return sentence(
        "Rule used for the generalisation gap: the clean gap is the training accuracy measured after training in eval "
        "mode on un-augmented training images, minus the validation accuracy of the same weights; its interval and p "
        "come from a bootstrap over seeds, then training and validation images (the same for both models). Each "
        "model's gap and the difference of the gaps are one family, adjusted together; a gap is called larger only "
        f"when the adjusted p < {rules.alpha:g}. The overfitting rule reads the clean gap with its interval: a model "
        f"overfits when the whole interval lies above {rules.overfit_acc_gap_points:g} points, does not when it lies "
        "at or below, and is undecided when it spans the limit. With one seed the weights are held fixed: the result "
        "describes the run.")


def gap_bootstrap(key: str, gaps: Sequence[CleanGap], contrast: Callable[[np.ndarray], float],
                  rules: ReportConfig) -> BootstrapTest:
    """Bootstrap a contrast of the models' clean gaps (points) over seeds, then training and validation images.

    One resample draws seeds with replacement (the same positions for every model when all ran as many seeds),
    then the training images and the validation images with replacement, each set the same for every model;
    `contrast` maps the (models,) vector of resampled gaps to the statistic. Percentile interval at 1 - alpha;
    two-sided p, twice the smaller share of resamples on either side of 0, +1 corrected. Deterministic.
    """
    if len({g.train_correct.shape[1] for g in gaps}) != 1 or len({g.val_correct.shape[1] for g in gaps}) != 1:
        raise BundleError("the models' clean gaps were measured on different images: no paired test is possible")
    counts = [g.train_correct.shape[0] for g in gaps]
    rng = np.random.default_rng(rules.bootstrap_seed)

    def weights(n: int) -> np.ndarray:  # (n,) how often each of n items is drawn, over n
        return np.bincount(rng.integers(0, n, n), minlength=n) / n

    def resampled() -> float:
        train_w, val_w = weights(gaps[0].train_correct.shape[1]), weights(gaps[0].val_correct.shape[1])
        shared = weights(counts[0]) if len(set(counts)) == 1 else None
        values = []
        for g, count in zip(gaps, counts):
            seed_w = shared if shared is not None else weights(count)
            values.append(seed_w @ g.train_correct @ train_w - seed_w @ g.val_correct @ val_w)
        return contrast(np.array(values))

    observed = 100 * contrast(np.array([g.train_correct.mean() - g.val_correct.mean() for g in gaps]))
    values = 100 * np.array([resampled() for _ in range(rules.bootstrap_resamples)])
    low, high = np.quantile(values, [rules.alpha / 2, 1 - rules.alpha / 2])
    extreme = min(int(np.sum(values <= 0)), int(np.sum(values >= 0)))
    p = min(1.0, 2 * (extreme + 1) / (rules.bootstrap_resamples + 1)) if observed != 0 else 1.0
    return BootstrapTest(key, float(observed), float(low), float(high), float(p), 1 - rules.alpha, min(counts),
                         rules.bootstrap_resamples)


@dataclass(frozen=True)
class GapTests:
    """Each model's clean gap against 0, the difference of two models' gaps (first minus second), and their family."""

    models: tuple[ModelFacts, ...]
    gaps: tuple[BootstrapTest, ...]  # one per model, in the report's order
    difference: BootstrapTest | None  # with two models
    family: Family
    alpha: float

    @property
    def tests(self) -> tuple[BootstrapTest, ...]:
        return self.gaps + ((self.difference,) if self.difference else ())

    def adjusted(self, test: BootstrapTest) -> Metric:
        return self.family.adjusted_p(test.metric("p").key)

    def significant(self, test: BootstrapTest) -> bool:
        """Whether `test` rejects 0 at alpha after adjustment within the family."""
        return self.adjusted(test).value < self.alpha

    @property
    def over_seeds(self) -> bool:
        return all(test.over_seeds for test in self.tests)


def gap_tests(contents: ReportContents) -> GapTests | None:
    """The family of clean-gap tests of the trained models; None when a model's runs do not record the clean gap."""
    models = tuple(contents.trained)
    if not models or any(m.training.clean is None for m in models):
        return None
    rules = contents.rules
    gaps = tuple(gap_bootstrap(model_key(m.key, "clean_gap"), [m.training.clean], lambda g: g[0], rules)
                 for m in models)
    difference = (gap_bootstrap(compare_key("clean_gap"), [m.training.clean for m in models],
                                lambda g: g[0] - g[1], rules) if len(models) == 2 else None)
    tests = gaps + ((difference,) if difference else ())
    adjusted = family("the clean generalisation gaps", [t.metric("p") for t in tests], rules.multiplicity)
    return GapTests(models, gaps, difference, adjusted, rules.alpha)


def interval(test: BootstrapTest) -> list[Part]:
    """"[low, high]" of a test's 95% interval."""
    return ["[", test.metric("low"), ", ", test.metric("high"), "]"]


def evidence(tests: GapTests, test: BootstrapTest) -> list[Part]:
    """"95% interval [a, b]; p = x, adjusted p = y" of one test of the family."""
    return [f"{test.level:.0%} interval ", *interval(test), "; ", *p_parts(test.metric("p")), ", adjusted ",
            *p_parts(tests.adjusted(test))]


def clean_gap_sentence(m: ModelFacts, test: BootstrapTest, rules: ReportConfig) -> Sentence:
    """What the table does not say of one model: on how many training images its clean accuracy was measured, its
    history's running training accuracy and validation loss rise, and the rule's verdict on the clean gap and its
    interval (its accuracies, clean gap, interval and p are the table's)."""
    c, t = m.training.clean, m.training
    where = ("a class-proportional draw of " if c.train_images.value < c.of_images.value else "all ")
    return sentence(
        f"{capital(m.the)}'s clean training accuracy is measured on {where}", c.train_images, " training images; its "
        "history's final training accuracy, a running average over augmented batches with dropout on, is ",
        t.final_train_acc.parts("%"), " (not judged), and its final validation loss lies ", t.val_loss_rise.parts("%"),
        " above its minimum. By the overfitting rule, on the clean gap and its interval, "
        f"{overfitting_words(m, overfitting_state(m, test, rules), rules)}.")


def difference_sentence(tests: GapTests) -> Sentence:
    """Whose clean gap is larger, said only when the adjusted test says so; with one seed, of this run only."""
    a, b = tests.models
    diff = tests.difference
    opener = "" if tests.over_seeds else "in this run, "
    if not tests.significant(diff):
        return sentence(capital(f"{opener}the clean gaps of {a.the} and {b.the} differ by "), diff.metric("diff"),
                        f" points ({a.name} minus {b.name}; ", evidence(tests, diff),
                        "), not significantly: neither model is shown to generalise better.", _one_seed(tests))
    larger, smaller = (a, b) if diff.estimate > 0 else (b, a)
    return sentence(capital(f"{opener}{larger.the}'s clean gap is larger than {smaller.the}'s by "),
                    Metric(f"{diff.key}.larger_by", abs(diff.estimate), "points"),
                    f" points ({a.name} minus {b.name}: ", diff.metric("diff"), "; ", evidence(tests, diff),
                    f"): {smaller.the} generalises better.", _one_seed(tests))


def _one_seed(tests: GapTests) -> str:
    """What would turn a one-seed description into a test of the architectures."""
    if tests.over_seeds:
        return ""
    return (" With one seed per model this describes these trained weights; runs at several seeds "
            f"({SEEDS_FOR_A_TEST}) would test it as a difference between the architectures.")


def clean_table(tests: GapTests, validation: str, rules: ReportConfig) -> Table:
    """Per model: clean training and validation accuracy, the clean gap with its interval and p, the running gap."""
    rows: list[list[Cell]] = []
    for m, test in zip(tests.models, tests.gaps):
        c = m.training.clean
        rows.append([m.name, stat_cell(c.train_acc, "%"), stat_cell(c.val_acc, "%"), test.metric("diff"),
                     sentence(interval(test)), sentence(test.metric("p"), " / ", tests.adjusted(test)),
                     stat_cell(m.training.acc_gap), overfitting_state(m, test, rules)])
    return Table(["model", "clean train acc.", "val. acc.", "clean gap (points)", "95% interval",
                  "p / adjusted p", "running gap (points)", "overfits"], rows,
                 caption=f"Generalisation after training: clean accuracies (eval mode, no augmentation), validation on "
                         f"{validation}; the running gap is the history's, over augmented batches with dropout on.")


def running_table(models: Sequence[ModelFacts], validation: str) -> Table:
    """The history's final-epoch numbers, for bundles without a clean gap: shown, never judged."""
    rows: list[list[Cell]] = [
        [f.name, stat_cell(f.training.final_train_acc, "%"), stat_cell(f.training.final_val_acc, "%"),
         stat_cell(f.training.acc_gap), stat_cell(f.training.loss_gap), stat_cell(f.training.val_loss_rise, "%")]
        for f in models]
    return Table(["model", "running train acc.", "val. acc.", "running gap (points)", "val. − train loss",
                  "val. loss above min."], rows,
                 caption=f"The history's final epoch (validation on {validation}); no clean gap was recorded.")


def not_measured_note() -> Sentence:
    """Why a bundle without clean training accuracy gets no generalisation verdict."""
    return sentence(
        "These runs do not record a clean training accuracy (measured after training in eval mode on un-augmented "
        "training images), so the gap is not measured cleanly here: the history's training accuracy is a running "
        "average over augmented batches with dropout on, and its gap to the validation accuracy is shown but draws "
        "no verdict, on overfitting or on which model generalises better.")


def overfitting_verdict(tests: GapTests, rules: ReportConfig) -> Sentence:
    """Which of the trained models overfit, by the overfitting rule on the clean gap and its interval."""
    models = tests.models
    states = [overfitting_state(m, t, rules) for m, t in zip(models, tests.gaps)]
    if len(models) == 2 and states[0] == states[1] != UNDECIDED:
        text = "both models overfit" if states[0] == OVERFITS else "neither model overfits"
    elif len(models) == 2 and states[0] == states[1]:
        text = (f"whether either model overfits is undecided: both clean gaps' intervals span the "
                f"{rules.overfit_acc_gap_points:g}-point limit")
    else:
        text = "; ".join(overfitting_words(m, state, rules) for m, state in zip(models, states))
    return sentence(f"By the overfitting rule on the clean gap and its interval, {text}.")


def gap_row(tests: GapTests) -> SummaryRow:
    """The clean-gap line of the Summary of findings: a secondary test, decided by its adjusted p."""
    diff = tests.difference
    scope = "" if tests.over_seeds else " in this run"
    if tests.significant(diff):
        larger = tests.models[0] if diff.estimate > 0 else tests.models[1]
        verdict = sentence(f"{larger.name} larger{scope} (adjusted ", p_parts(tests.adjusted(diff)), ")")
    else:
        verdict = sentence(f"no difference shown{scope} (adjusted ", p_parts(tests.adjusted(diff)), ")")
    values = tuple(sentence(t.metric("diff"), " ", interval(t)) for t in tests.gaps)
    return SummaryRow("Clean train − validation gap (points)", values, diff.metric("diff"), sentence(interval(diff)),
                      verdict)


def vit_overfits_claim(tests: GapTests, rules: ReportConfig) -> ClaimFinding | None:
    """The original study's "the ViT overfits; the CNN overfits little", by the clean gaps: supported only when the
    ViT's gap is significantly larger (adjusted, over seeds) and the CNN's is within the overfitting rule."""
    keys = [m.key for m in tests.models]
    if sorted(keys) != ["cnn", "vit"]:
        return None
    cnn = tests.models[keys.index("cnn")]
    diff = tests.difference
    vit_minus_cnn = diff.estimate if keys[0] == "vit" else -diff.estimate
    by = Metric(f"{diff.key}.vit_minus_cnn", vit_minus_cnn, "points")
    larger = "the CNN's is the larger; " if vit_minus_cnn < 0 else ""
    said = ["the ViT's clean gap minus the CNN's is ", by, f" points ({larger}adjusted ",
            *p_parts(tests.adjusted(diff)), ")"]
    if not tests.over_seeds:
        return ClaimFinding("vit-overfits", INCONCLUSIVE, sentence(
            "one seed: in this run ", said, f"; {SEEDS_FOR_A_TEST} would test it"))
    if not tests.significant(diff):
        return ClaimFinding("vit-overfits", INCONCLUSIVE, sentence(said, ", not significant"))
    if vit_minus_cnn < 0:
        return ClaimFinding("vit-overfits", CONTRADICTED, sentence(said, ": the CNN's gap is the larger"))
    cnn_gap = cnn.training.clean.gap
    cnn_state = overfitting_state(cnn, tests.gaps[keys.index("cnn")], rules)
    if cnn_state == OVERFITS:
        return ClaimFinding("vit-overfits", CONTRADICTED, sentence(
            said, "; but the CNN overfits too by the rule (clean gap ", cnn_gap.parts(" points"), ")"))
    if cnn_state == UNDECIDED:
        return ClaimFinding("vit-overfits", INCONCLUSIVE, sentence(
            said, "; whether the CNN overfits is undecided (clean gap ", cnn_gap.parts(" points"),
            ", its interval spanning the limit)"))
    return ClaimFinding("vit-overfits", SUPPORTED, sentence(
        said, "; the CNN's clean gap, ", cnn_gap.parts(" points"), ", is within the overfitting rule"))


class Generalisation(TrainingSection):
    key = "generalisation"
    title = "Generalisation"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rules, validation = contents.rules, contents.validation_split
        tests = gap_tests(contents)
        if tests is None:
            return [Callout("note", [not_measured_note()]), running_table(contents.trained, validation)]
        facts = [clean_gap_sentence(m, t, rules) for m, t in zip(tests.models, tests.gaps)]
        if tests.difference is not None:
            facts.insert(0, difference_sentence(tests))
        return [Callout("rule", [overfitting_rule(rules), generalisation_rule(rules)]),
                clean_table(tests, validation, rules), Bullets(facts)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        tests = gap_tests(contents)
        if tests is None or tests.difference is None or not contents.comparative:
            return None
        claim = vit_overfits_claim(tests, contents.rules)
        return Verdict((overfitting_verdict(tests, contents.rules), difference_sentence(tests)), rows=(gap_row(tests),),
                       claims=(claim,) if claim else ())
