"""Section "Calibration": how well each model's stored test probabilities match how often it is right.

From predictions.csv alone (no torch, nothing computed at build time): per run the expected and
maximum calibration errors over `report.calibration_bins` equal-width confidence bins, the negative
log-likelihood and the Brier score; per model a reliability diagram (pooled over seeds, with bin
counts); with two models, which is better calibrated, by a seeded percentile bootstrap interval over
the test images of the ECE difference (the rule: `calibration_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Sentence,
    Table,
    capital,
    compare_key,
    model_key,
    run_key,
    sentence,
    stat,
    stat_cell,
)
from reportgen.report.plots import SERIES_COLOURS
from reportgen.report.section import FigureDrawer, Section
from reportgen.report.stats import Interval, bootstrap_interval

MEASURES = (("ece", "ECE", "percent"), ("mce", "MCE", "percent"), ("nll", "NLL", "loss"), ("brier", "Brier score",
                                                                                          "fraction"))
NLL_FLOOR = 1e-7  # predictions.csv stores probabilities with 6 decimals: a stored 0 means below 5e-7


def calibration_rule(rules: ReportConfig) -> Sentence:
    """How calibration is measured and when one model is said to be better calibrated."""
    level = 95
    return sentence(
        f"How calibration is measured: the test images are put into {rules.calibration_bins} equal-width bins of "
        "their top-class confidence (a confidence of exactly 1 belongs to the top bin); the expected calibration "
        "error (ECE) is the image-weighted mean over bins of |accuracy − mean confidence|, the maximum calibration "
        "error (MCE) the largest such gap of a non-empty bin; the negative log-likelihood (NLL) is the mean of "
        f"−ln p(true class), each p floored at {NLL_FLOOR:g} (the stored probabilities have 6 decimals); the Brier "
        "score is the mean over images of Σₖ (pₖ − [k is the true class])². A model is better calibrated when the "
        f"{level}% percentile bootstrap interval of the ECE difference ({rules.bootstrap_resamples} resamples of the "
        f"test images, seed {rules.bootstrap_seed}, the same images for both models, ECE averaged over each model's "
        "seeds) excludes 0.")


@dataclass(frozen=True)
class Binned:
    """One run's test images by confidence bin: which bin, the top-class confidence, and whether it was right."""

    bin: np.ndarray  # (N,) int, 0..bins-1
    confidence: np.ndarray  # (N,) float
    correct: np.ndarray  # (N,) float, 1.0 where the prediction is the label
    bins: int


def binned(run: RunData, bins: int) -> Binned:
    """Bin a run's predictions by top-class confidence; a confidence of exactly 1.0 goes to the top bin."""
    confidence = run.probs.max(axis=1)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    return Binned(index, confidence, (run.preds == run.labels).astype(np.float64), bins)


def bin_table(b: Binned, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, accuracy, mean confidence) per bin, over the images `idx` (all by default); empty bins are NaN."""
    sel = slice(None) if idx is None else idx
    count = np.bincount(b.bin[sel], minlength=b.bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(b.bin[sel], weights=b.correct[sel], minlength=b.bins) / count
        confidence = np.bincount(b.bin[sel], weights=b.confidence[sel], minlength=b.bins) / count
    return count, accuracy, confidence


def expected_calibration_error(b: Binned, idx: np.ndarray | None = None) -> float:
    """ECE: the image-weighted mean over bins of |accuracy - mean confidence| (a fraction)."""
    count, accuracy, confidence = bin_table(b, idx)
    full = count > 0
    return float((count[full] * np.abs(accuracy[full] - confidence[full])).sum() / count.sum())


def maximum_calibration_error(b: Binned) -> float:
    """MCE: the largest |accuracy - mean confidence| of a non-empty bin (a fraction)."""
    count, accuracy, confidence = bin_table(b)
    return float(np.abs(accuracy - confidence)[count > 0].max())


def negative_log_likelihood(run: RunData) -> float:
    """Mean -ln p(true class), each p floored at NLL_FLOOR (a stored 0 is below the storage precision)."""
    return float(-np.log(np.maximum(run.probs[np.arange(len(run.labels)), run.labels], NLL_FLOOR)).mean())


def brier_score(run: RunData) -> float:
    """Mean over images of the squared distance between the probability vector and the one-hot label."""
    onehot = np.eye(run.probs.shape[1])[run.labels]
    return float(((run.probs - onehot) ** 2).sum(axis=1).mean())


def run_measures(run: RunData, bins: int) -> dict[str, float]:
    """ECE and MCE in percent, NLL and Brier score, of one run."""
    b = binned(run, bins)
    return {"ece": 100 * expected_calibration_error(b), "mce": 100 * maximum_calibration_error(b),
            "nll": negative_log_likelihood(run), "brier": brier_score(run)}


def ece_difference(first: Sequence[RunData], second: Sequence[RunData], rules: ReportConfig) -> Interval:
    """Bootstrap interval of (mean ECE over the first's seeds) - (the second's), in points, resampling test images.

    Both models are resampled on the same image indices, so the interval is of a paired difference.
    """
    a = [binned(run, rules.calibration_bins) for run in first]
    b = [binned(run, rules.calibration_bins) for run in second]

    def difference(idx: np.ndarray) -> float:
        return 100 * (np.mean([expected_calibration_error(x, idx) for x in a]) -
                      np.mean([expected_calibration_error(x, idx) for x in b]))

    return bootstrap_interval(difference, len(first[0].labels), rules.bootstrap_seed, rules.bootstrap_resamples)


def calibration_table(contents: ReportContents) -> Table:
    """ECE, MCE, NLL and Brier score of each model (mean ± std over seeds)."""
    rows: list[list[Cell]] = []
    for m in contents.models:
        values = [run_measures(run, contents.rules.calibration_bins) for run in contents.runs[m.key]]
        rows.append([m.name, *(stat_cell(stat(model_key(m.key, f"calibration.{key}"), unit, (v[key] for v in values)),
                                         "%" if unit == "percent" else "")
                               for key, _, unit in MEASURES)])
    return Table(["model", *(label for _, label, _ in MEASURES)], rows,
                 caption="Calibration of the test probabilities (mean ± std over seeds; lower is better).")


def per_run_sentence(m: ModelFacts, runs: Sequence[RunData], bins: int) -> Sentence:
    """Each seed's ECE, so a reader sees the spread the table summarises."""
    parts: list = []
    for i, run in enumerate(runs):
        ece = Metric(run_key(m.key, run.seed, "calibration.ece"), run_measures(run, bins)["ece"], "percent")
        parts += [", " if i else "", f"seed {run.seed}: ", ece, "%"]
    return sentence(f"{capital(m.the)}'s ECE per seed: ", parts, ".")


def comparison_sentence(a: ModelFacts, b: ModelFacts, diff: Interval) -> Sentence:
    """Which model is better calibrated, only when the bootstrap interval of the ECE difference excludes 0."""
    key = compare_key("calibration.ece_diff")
    interval = [" (", Metric(f"{key}.low", diff.low, "points"), " to ", Metric(f"{key}.high", diff.high, "points"),
                f", {diff.level:.0%} bootstrap interval)"]
    estimate = Metric(key, diff.estimate, "points")
    if diff.excludes_zero:
        better, worse = (a, b) if diff.estimate < 0 else (b, a)
        return sentence(f"{capital(better.the)} is better calibrated: {a.the}'s ECE minus {b.the}'s is ", estimate,
                        " points", interval, f", so {better.the}'s confidence matches its accuracy more closely than "
                        f"{worse.the}'s.")
    return sentence(f"{capital(a.the)}'s ECE minus {b.the}'s is ", estimate, " points", interval,
                    ": the interval includes 0, so neither model is shown to be better calibrated.")


def draw_reliability(models: Sequence[ModelFacts], binned_runs: dict[str, list[Binned]]) -> plt.Figure:
    """Per model: accuracy against confidence per bin (pooled over seeds) above, the images per bin below."""
    fig, axes = plt.subplots(2, len(models), figsize=(3.3 * len(models), 3.4), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    for col, m in enumerate(models):
        pooled = binned_runs[m.key]
        bins = pooled[0].bins
        pooled_bin = Binned(np.concatenate([b.bin for b in pooled]), np.concatenate([b.confidence for b in pooled]),
                            np.concatenate([b.correct for b in pooled]), bins)
        count, accuracy, confidence = bin_table(pooled_bin)
        centres = (np.arange(bins) + 0.5) / bins
        top, bottom = axes[0, col], axes[1, col]
        top.plot([0, 1], [0, 1], color="#888", lw=0.8, ls="--", label="perfect calibration")
        full = count > 0
        top.bar(centres[full], accuracy[full], width=1 / bins, color=SERIES_COLOURS[col], alpha=0.75,
                edgecolor="white", label="accuracy")
        top.plot(confidence[full], accuracy[full], "o", color="#222", ms=2.5, label="mean confidence")
        top.set_title(f"{m.name} reliability")
        top.set_ylabel("accuracy")
        top.set_ylim(0, 1)
        bottom.bar(centres, count, width=1 / bins, color=SERIES_COLOURS[col], alpha=0.75)
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("images")
        bottom.set_xlim(0, 1)
    axes[0, 0].legend(frameon=False, loc="upper left")
    fig.tight_layout(pad=0.3)
    return fig


class Calibration(Section):
    key = "calibration"
    title = "Calibration"

    def applies(self, contents: ReportContents) -> bool:
        return contents.config.analysis.calibration

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rules = contents.rules
        facts: list[Sentence] = [per_run_sentence(m, contents.runs[m.key], rules.calibration_bins)
                                 for m in contents.models if len(m.seeds) > 1]
        if contents.comparative:
            a, b = contents.models
            facts.insert(0, comparison_sentence(a, b, ece_difference(contents.runs[a.key], contents.runs[b.key],
                                                                     rules)))
        binned_runs = {m.key: [binned(run, rules.calibration_bins) for run in contents.runs[m.key]]
                       for m in contents.models}
        seeds = " (pooled over seeds)" if contents.several_seeds else ""
        figure = figures.draw("reliability", lambda: draw_reliability(contents.models, binned_runs),
                              f"Reliability diagrams{seeds}: the accuracy of the test images in each confidence bin "
                              "(bars) against the diagonal of perfect calibration, with the mean confidence of each "
                              "bin (dots) and the number of images per bin below.")
        return [Callout("rule", [calibration_rule(rules)]), calibration_table(contents), figure,
                *([Bullets(facts)] if facts else [])]
