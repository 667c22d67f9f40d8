"""Section "Calibration": how well each model's stored test probabilities match how often it is right.

From predictions.csv alone (no torch, nothing computed at build time), per run over
`report.calibration_bins` equal-width bins of the top-class confidence: the plug-in expected calibration
error (ECE), which is biased upwards at a thousand images, with its expected value if the model were
perfectly calibrated at these confidences (labels simulated from its own confidences, seeded by
report.bootstrap_seed) and a test against it; the debiased ℓ2 ECE of Kumar, Liang and Ma ("Verified
uncertainty calibration", NeurIPS 2019); the maximum calibration error over bins of at least
`report.calibration_min_bin` images; the negative log-likelihood and the Brier score; and the same after
temperature scaling fitted on held-out images (two-fold cross-fitting on the test probabilities). Every
variant of the bundle gets the same measures in one table. With two models the debiased ℓ2 ECE difference
is a primary comparison; the NLL and Brier differences a family of secondary tests (hierarchical
bootstrap over seeds and images, adjusted by report.multiplicity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.calibration_measures import (
    NLL_FLOOR,
    SCORES,
    Binned,
    bin_sides,
    bin_table,
    binned,
    ece_test,
    expected_calibration_error,
    perfect_eces,
    pooled_debiased,
    run_measures,
    score_test,
)
from reportgen.report.contents import ReportContents
from reportgen.report.evidence import (
    bootstrap_evidence,
    bootstrap_p_parts,
    decided,
    interval_cell,
    labelled,
    one_run_note,
    run_scope,
)
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
    floored_p,
    model_key,
    p_parts,
    run_key,
    sentence,
    stat,
    stat_cell,
    variant_key,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.plots import SERIES_COLOURS
from reportgen.report.section import FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import BootstrapTest


def calibration_rule(rules: ReportConfig) -> Sentence:
    """How calibration is measured and when one model is said to be better calibrated."""
    return sentence(
        f"How calibration is measured: {rules.calibration_bins} equal-width bins of the top-class confidence (1 in "
        "the top bin). ECE: the image-weighted mean over bins of |accuracy − mean confidence|, biased upwards at this "
        "number of images; beside it, its expected value were the model perfectly calibrated at these confidences "
        f"(each image's correctness drawn from its confidence, {rules.bootstrap_resamples} draws, seed "
        f"{rules.bootstrap_seed}); the share of draws at least as large as the observed ECE is the p of “perfectly "
        "calibrated”. Debiased ℓ2 ECE: Kumar et al.'s (2019) estimator of the root-mean-square calibration error, per "
        "bin (accuracy − mean confidence)² less accuracy·(1 − accuracy)/(n − 1), weighted by the bin's share, summed "
        "and square-rooted: a root mean square, so not the ECE made unbiased, and it can exceed it; 0 when the sum is "
        "negative (the bins' gaps no larger than their sampling noise). MCE: "
        f"the largest gap of a bin of at least {rules.calibration_min_bin} images (report.calibration_min_bin). NLL: "
        f"the mean −ln p(true class), p floored at {NLL_FLOOR:g}; Brier: the mean Σₖ (pₖ − [k is the true class])². "
        "Temperature scaling: fitted by NLL on one random half of the test images (seed "
        f"{rules.bootstrap_seed}) and applied to the other, both ways. Better calibrated: the debiased ℓ2 ECE "
        f"difference (bins pooled over each model's seeds) has a bootstrap p < {rules.alpha:g} (the seeds both ran, "
        f"then the test images, {rules.bootstrap_resamples} resamples; a primary comparison). The NLL and Brier "
        "differences: the same test, one family adjusted together; the tests against perfect calibration another.")


# ---------------------------------------------------------------- per model and between models

MEASURES = (  # (key, label, unit) of the model table
    ("ece", "ECE", "percent"), ("ece_perfect", "ECE if perfectly calibrated", "percent"),
    ("ece_debiased", "debiased ℓ2 ECE", "percent"), ("mce", "MCE", "percent"), ("nll", "NLL", "loss"),
    ("brier", "Brier score", "fraction"))
VARIANT_MEASURES = (("ece", "ECE", "percent"), ("ece_ts", "ECE, temperature-scaled", "percent"),
                    ("temperature", "temperature", "statistic"), ("nll", "NLL", "loss"),
                    ("nll_ts", "NLL, temperature-scaled", "loss"), ("brier", "Brier score", "fraction"))


@dataclass(frozen=True)
class ModelCalibration:
    """One model's (or one variant's model's) runs and their calibration measures, per seed."""

    key: str  # metric key prefix: "<model>" or "variant.<v>.<model>"
    name: str
    runs: tuple[RunData, ...]
    values: tuple[dict[str, float | None], ...]  # run_measures per seed

    @property
    def the(self) -> str:
        return f"the {self.name}"

    def cell(self, name: str, unit: str) -> Cell:
        """Mean ± std over seeds, or a dash where some run has no value (an MCE without a large enough bin)."""
        values = [v[name] for v in self.values]
        if any(v is None for v in values):
            return "—"
        return stat_cell(stat(f"{self.key}.calibration.{name}", unit, values), "%" if unit == "percent" else "")


def calibrated(key: str, name: str, runs: Sequence[RunData], rules: ReportConfig) -> ModelCalibration:
    return ModelCalibration(key, name, tuple(runs), tuple(run_measures(run, rules) for run in runs))


def perfect_p(m: ModelCalibration, rules: ReportConfig) -> Metric:
    """p of "perfectly calibrated": the share (+1 corrected) of simulated mean ECEs at least the observed mean ECE."""
    sims = np.mean([perfect_eces(binned(run, rules.calibration_bins), rules.bootstrap_resamples,
                                 rules.bootstrap_seed) for run in m.runs], axis=0)
    observed = np.mean([expected_calibration_error(binned(run, rules.calibration_bins)) for run in m.runs])
    p = (1 + int(np.sum(sims >= observed - 1e-12))) / (len(sims) + 1)
    return floored_p(Metric(model_key(m.key, "calibration.perfect.p"), p, "pvalue"), 1 / (len(sims) + 1))


@dataclass(frozen=True)
class Comparison:
    """Two models' calibration compared: the primary ECE test and the family of score tests."""

    first: ModelCalibration
    second: ModelCalibration
    ece: BootstrapTest
    scores: dict[str, BootstrapTest]
    family: Family
    alpha: float


def compare(contents: ReportContents, models: Sequence[ModelCalibration]) -> Comparison:
    rules = contents.rules
    a, b = models
    scores = {name: score_test(name, a.runs, b.runs, rules) for name in SCORES}
    return Comparison(a, b, ece_test(a.runs, b.runs, rules), scores,
                      family("the NLL and Brier differences", [t.metric("p") for t in scores.values()],
                             rules.multiplicity), rules.alpha)


def pooled_value(m: ModelCalibration, bins: int) -> Metric:
    """A model's debiased ℓ2 ECE with bins pooled over its seeds, percent: what the comparison compares."""
    sides = bin_sides(m.runs, bins)
    means = np.array([side.mean() for side in sides])
    return Metric(model_key(m.key, "calibration.ece_debiased_pooled"),
                  100 * pooled_debiased(means, len(m.runs) * len(m.runs[0].labels)), "percent")


# ---------------------------------------------------------------- prose


def pooled_scope(m: ModelCalibration) -> str:
    """" (its seeds' predictions pooled)" where the debiased ℓ2 ECE pools several seeds' bins."""
    return " (its seeds' predictions pooled)" if len(m.runs) > 1 else ""


def perfect_sentence(m: ModelCalibration, p: Metric, adjusted: Metric | None, alpha: float) -> Sentence:
    """Whether a model's ECE is distinguishable from that of a perfectly calibrated model at its confidences."""
    observed = stat(f"{m.key}.calibration.ece", "percent", [v["ece"] for v in m.values])
    expected = stat(f"{m.key}.calibration.ece_perfect", "percent", [v["ece_perfect"] for v in m.values])
    decide = adjusted if adjusted is not None else p
    evidence: list[Part] = [*p_parts(p),  # perfect_p's p: a bound at the floor of its draws
                            *([", adjusted over the models ", *p_parts(adjusted)] if adjusted else [])]
    scope = run_scope(len(m.runs) > 1)  # with one seed: of this run's weights
    verdict = (f"it is miscalibrated{scope}" if decide.value < alpha
               else f"it is not shown to be miscalibrated at this number of images{scope}")
    # the debiased ℓ2 ECE is the table's and the comparison's: not repeated here
    return sentence(f"{capital(m.the)}'s ECE, ", observed.parts("%"), ", against ", expected.parts("%"),
                    " expected if it were perfectly calibrated at its confidences (", evidence, "): ", verdict, ".")


def comparison_sentence(c: Comparison, bins: int) -> Sentence:
    """Which model is better calibrated by the debiased ℓ2 ECE, only when the test says so."""
    t = c.ece
    values = [f"debiased ℓ2 ECE {c.first.name} ", pooled_value(c.first, bins), f"%, {c.second.name} ",
              pooled_value(c.second, bins), "% (difference ", t.metric("diff"), " points, ",
              *bootstrap_evidence(t), ")"]
    if not decided(t, c.alpha):
        return sentence(f"Neither model is shown to be better calibrated{run_scope(t.over_seeds)}: ", values, ".")
    better = c.first if t.estimate < 0 else c.second
    return sentence(f"{capital(better.the)} is better calibrated{run_scope(t.over_seeds)}: ", values, ".")


def scores_sentence(c: Comparison) -> Sentence:
    """The NLL and Brier differences, decided by their adjusted p."""
    parts: list[Part] = []
    for i, (name, t) in enumerate(c.scores.items()):
        label = SCORES[name][2]
        lower = c.first if t.estimate < 0 else c.second
        verdict = (f"{lower.the} lower" if decided(t, c.alpha, c.family) else "no difference shown")
        parts += ["; " if i else "", f"{label}: {verdict} (difference ", t.metric("diff"), ", ",
                  *bootstrap_evidence(t, c.family), ")"]
    scope = run_scope(c.ece.over_seeds)
    return sentence(f"Proper scores, {c.first.name} minus {c.second.name}{scope}: ", parts, "; these "
                    "scores reward accuracy as well as calibration (the debiased ℓ2 ECE decides calibration).")


def temperature_sentence(models: Sequence[ModelCalibration]) -> Sentence:
    """What temperature scaling fitted on held-out images does to each model's ECE and NLL."""
    parts: list[Part] = []
    for i, m in enumerate(models):
        values = lambda name, unit: stat(f"{m.key}.calibration.{name}", unit, [v[name] for v in m.values])  # noqa
        parts += ["; " if i else "", f"{m.the}: temperature ", values("temperature", "statistic").parts(),
                  ", ECE ", values("ece", "percent").parts("%"), " → ", values("ece_ts", "percent").parts("%"),
                  ", NLL ", values("nll", "loss").parts(), " → ", values("nll_ts", "loss").parts()]
    return sentence("Temperature scaling, each half of the test images scaled by the temperature fitted on the "
                    "other half (held out): ", parts, ".")


# ---------------------------------------------------------------- tables and figure


def model_table(models: Sequence[ModelCalibration], perfect: Sequence[Metric], bins: int) -> Table:
    """ECE, its expectation if perfect and the test (perfect_p: "≤" at the floor of its draws), debiased ℓ2 ECE, MCE,
    NLL and Brier score of each model."""
    rows: list[list[Cell]] = []
    for m, p in zip(models, perfect):
        cells = [sentence(pooled_value(m, bins), "%") if key == "ece_debiased" else m.cell(key, unit)
                 for key, _, unit in MEASURES]
        rows.append([m.name, *cells[:2], p, *cells[2:]])
    labels = [label for _, label, _ in MEASURES]
    several = any(len(m.runs) > 1 for m in models)
    return Table(["model", *labels[:2], "p (perfect)", *labels[2:]], rows,
                 caption=f"Calibration of the test probabilities ({bins} bins; "
                         f"{'mean ± std over seeds; ' if several else ''}lower is better). p (perfect): the chance "
                         "that a perfectly calibrated model at these confidences scores an ECE at least this large."
                         + (" The debiased ℓ2 ECE is one value per model, of its seeds' predictions pooled in each "
                            "bin: the quantity the comparison tests." if several else "") + below_noise(models, bins))


def below_noise(models: Sequence[ModelCalibration], bins: int) -> str:
    """What a debiased ℓ2 ECE of 0 means, said where one is: the estimate fell below zero, no gap beyond noise."""
    zero = [m.name for m in models if pooled_value(m, bins).value == 0]
    if not zero:
        return ""
    return (f" The {' and '.join(zero)}'s debiased ℓ2 ECE of 0: its estimate falls below zero, so no miscalibration "
            "shows beyond the bins' noise.")


def variants_table(groups: Sequence[tuple[str, Sequence[ModelCalibration]]]) -> Table:
    """Every variant of the bundle (the base first) by model: ECE, after temperature scaling, NLL, Brier."""
    rows = [[variant, m.name, *(m.cell(key, unit) for key, _, unit in VARIANT_MEASURES)]
            for variant, models in groups for m in models]
    spread = " (mean ± std over seeds)" if any(len(m.runs) > 1 for _, models in groups for m in models) else ""
    return Table(["variant", "model", *(label for _, label, _ in VARIANT_MEASURES)], rows,
                 caption=f"Calibration of every configuration of the bundle{spread}, before and after temperature "
                         "scaling fitted on the other half of the test images.")


def draw_reliability(models: Sequence[ModelCalibration], bins: int) -> plt.Figure:
    """Per model: accuracy per bin (pooled over seeds; bars at the bin, dots at its mean confidence) against the
    diagonal, the ECE printed in the panel, and the images per bin below."""
    fig, axes = plt.subplots(2, len(models), figsize=(3.0 * len(models), 2.9), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    for col, m in enumerate(models):
        bs = [binned(run, bins) for run in m.runs]
        pooled = Binned(*(np.concatenate([getattr(b, f) for b in bs]) for f in ("bin", "confidence", "correct")),
                        bins)
        count, accuracy, confidence = bin_table(pooled)
        centres, full = (np.arange(bins) + 0.5) / bins, count > 0
        top, bottom = axes[0, col], axes[1, col]
        top.plot([0, 1], [0, 1], color="#888", lw=0.8, ls="--", label="perfect calibration")
        top.bar(centres[full], accuracy[full], width=1 / bins, color=SERIES_COLOURS[col], alpha=0.75,
                edgecolor="white", label="accuracy per bin")
        top.plot(confidence[full], accuracy[full], "o", color="#222", ms=2.5,
                 label="accuracy at the bin's mean confidence")
        ece = np.mean([v["ece"] for v in m.values])
        perfect = np.mean([v["ece_perfect"] for v in m.values])
        top.text(0.97, 0.05, f"ECE {ece:.2f}%\nif perfect {perfect:.2f}%", transform=top.transAxes, ha="right",
                 va="bottom", fontsize=7)
        top.set_title(f"{m.name} reliability")
        top.set_ylabel("accuracy")
        top.set_ylim(0, 1)
        bottom.bar(centres, count, width=1 / bins, color=SERIES_COLOURS[col], alpha=0.75)
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("images")
        bottom.set_xlim(0, 1)
    axes[0, 0].legend(frameon=False, loc="upper left", fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


class Calibration(Section):
    key = "calibration"
    title = "Calibration"

    def applies(self, contents: ReportContents) -> bool:
        return contents.config.analysis.calibration

    @staticmethod
    def models(contents: ReportContents) -> list[ModelCalibration]:
        return [calibrated(m.key, m.name, contents.runs[m.key], contents.rules) for m in contents.models]

    @staticmethod
    def perfect(contents: ReportContents, models: Sequence[ModelCalibration]) -> tuple[list[Metric], Family]:
        ps = [perfect_p(m, contents.rules) for m in models]
        return ps, family("the models", ps, contents.rules.multiplicity)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rules, models = contents.rules, self.models(contents)
        ps, fam = self.perfect(contents, models)
        facts = [perfect_sentence(m, p, fam.adjusted_p(p.key) if len(ps) > 1 else None, rules.alpha)
                 for m, p in zip(models, ps)]
        if contents.comparative:
            c = compare(contents, models)
            # with one seed, "in this run" here; the Conclusion says once which seeds would make them tests
            facts = [comparison_sentence(c, rules.calibration_bins), *facts, scores_sentence(c)]
        facts.append(temperature_sentence(models))
        facts += [per_run_sentence(m) for m in models if len(m.runs) > 1]
        seeds = " (pooled over seeds)" if contents.several_seeds else ""
        figure = figures.draw("reliability", lambda: draw_reliability(models, rules.calibration_bins),
                              f"Reliability diagrams{seeds}: the accuracy of the test images in each confidence bin "
                              "(bars; dots: at the bin's mean confidence) against the diagonal of perfect "
                              "calibration, each panel's ECE and its value if perfectly calibrated, and the images "
                              "per bin below.", "72%")
        table = model_table(models, ps, rules.calibration_bins)
        items: list[Item] = [Callout("rule", [calibration_rule(rules)]), table, figure, Bullets(facts)]
        if contents.variants:
            items.append(variants_table(variant_groups(contents, models)))
        return items

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        c = compare(contents, self.models(contents))
        caveats = () if c.ece.over_seeds else (one_run_note("the calibration comparisons"),)
        return Verdict((labelled("Calibration", comparison_sentence(c, contents.rules.calibration_bins)),),
                       caveats, summary_rows(c, contents.rules.calibration_bins))


def per_run_sentence(m: ModelCalibration) -> Sentence:
    """Each seed's ECE, so a reader sees the spread the table summarises."""
    parts: list[Part] = []
    for i, (run, v) in enumerate(zip(m.runs, m.values)):
        parts += [", " if i else "", f"seed {run.seed}: ", Metric(run_key(m.key, run.seed, "calibration.ece"),
                                                                   v["ece"], "percent"), "%"]
    return sentence(f"{capital(m.the)}'s ECE per seed: ", parts, ".")


def variant_groups(contents: ReportContents, base: Sequence[ModelCalibration]
                   ) -> list[tuple[str, list[ModelCalibration]]]:
    """The base models, then each variant's, measured alike (metric keys "variant.<v>.<model>.calibration.*")."""
    groups = [("base", list(base))]
    for name, v in contents.variants.items():
        groups.append((name, [calibrated(variant_key(name, m), v.facts[m].name, runs, contents.rules)
                              for m, runs in v.runs.items() if runs]))
    return groups


def summary_rows(c: Comparison, bins: int) -> tuple[SummaryRow, ...]:
    """The primary debiased-ECE line and the secondary NLL and Brier lines of the Summary of findings."""
    t = c.ece
    better = c.first if t.estimate < 0 else c.second
    verdict = f"{better.name} better calibrated" if decided(t, c.alpha) else "no difference shown"
    rows = [SummaryRow("Calibration error (debiased ℓ2 ECE, %)", (pooled_value(c.first, bins),
                                                               pooled_value(c.second, bins)),
                       t.metric("diff"), interval_cell(t), sentence(verdict, run_scope(t.over_seeds), " (",
                                                                    *bootstrap_p_parts(t), ")"), primary=True)]
    for name, s in c.scores.items():
        _, unit, label = SCORES[name]
        lower = c.first if s.estimate < 0 else c.second
        adjusted = c.family.adjusted_p(s.metric("p").key)
        rows.append(SummaryRow(label, tuple(c_.cell(name, unit) for c_ in (c.first, c.second)), s.metric("diff"),
                               interval_cell(s), sentence(
                                   f"{lower.name} lower" if decided(s, c.alpha, c.family) else "no difference shown",
                                   run_scope(s.over_seeds), " (adjusted ", *p_parts(adjusted), ")")))
    return tuple(rows)
