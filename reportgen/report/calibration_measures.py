"""Calibration measures of stored test probabilities, torch-free (the Calibration section's numbers).

Per run, over equal-width bins of the top-class confidence: the plug-in ECE and its distribution were the
model perfectly calibrated at its confidences (`perfect_eces`), the debiased ℓ2 ECE of Kumar, Liang and Ma
(NeurIPS 2019, `debiased_ece`), the MCE over bins of enough images, NLL and Brier score per image, and
temperature scaling by two-fold cross-fitting (`cross_fitted`: fitted on one half of the images by NLL
with scipy, applied to the other). Between two models: the debiased ℓ2 ECE difference and the proper
scores' differences by the hierarchical bootstrap (reportgen.report.stats). Shapes: N images, K classes,
B bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from reportgen.bundle import RunData
from reportgen.config import ReportConfig
from reportgen.report.kernel import compare_key
from reportgen.report.stats import BootstrapTest, hierarchical_bootstrap

NLL_FLOOR = 1e-7  # predictions.csv stores probabilities with 6 decimals: a stored 0 means below 5e-7
TEMPERATURE_BOUNDS = (-3.0, 3.0)  # ln T searched: T from 0.05 to 20


@dataclass(frozen=True)
class Binned:
    """One run's test images by confidence bin: which bin, the top-class confidence, and whether it was right."""

    bin: np.ndarray  # (N,) int, 0..bins-1
    confidence: np.ndarray  # (N,) float
    correct: np.ndarray  # (N,) float, 1.0 where the prediction is the label
    bins: int


def binned_probs(probs: np.ndarray, labels: np.ndarray, bins: int) -> Binned:
    """Bin (N, K) probabilities by top-class confidence; a confidence of exactly 1.0 goes to the top bin."""
    confidence = probs.max(axis=1)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    return Binned(index, confidence, (probs.argmax(axis=1) == labels).astype(np.float64), bins)


def binned(run: RunData, bins: int) -> Binned:
    """A run's test predictions by confidence bin (its stored probabilities)."""
    return binned_probs(run.probs, run.labels, bins)


def bin_table(b: Binned) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, accuracy, mean confidence) per bin; empty bins are NaN."""
    count = np.bincount(b.bin, minlength=b.bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(b.bin, weights=b.correct, minlength=b.bins) / count
        confidence = np.bincount(b.bin, weights=b.confidence, minlength=b.bins) / count
    return count, accuracy, confidence


def expected_calibration_error(b: Binned) -> float:
    """ECE: the image-weighted mean over bins of |accuracy - mean confidence| (a fraction)."""
    count, accuracy, confidence = bin_table(b)
    full = count > 0
    return float((count[full] * np.abs(accuracy[full] - confidence[full])).sum() / count.sum())


def debiased_from_bins(count: np.ndarray, correct: np.ndarray, confidence: np.ndarray) -> float:
    """Kumar et al.'s debiased ℓ2 calibration error from per-bin image counts and sums of correctness and confidence
    (B,): sqrt(max(0, Σ_b n_b/N [(acc_b - conf_b)² - acc_b (1 - acc_b) / (n_b - 1)])); bins of fewer than 2 images
    carry no estimate of their variance and are left out."""
    full = count >= 2
    n, accuracy, mean_confidence = count[full], correct[full] / count[full], confidence[full] / count[full]
    squared = (accuracy - mean_confidence) ** 2 - accuracy * (1 - accuracy) / (n - 1)
    return float(np.sqrt(max(0.0, float((n * squared).sum() / count.sum()))))


def debiased_ece(b: Binned) -> float:
    """The debiased ℓ2 ECE of one run (a fraction)."""
    sums = [np.bincount(b.bin, weights=w, minlength=b.bins) for w in (np.ones_like(b.correct), b.correct,
                                                                        b.confidence)]
    return debiased_from_bins(*sums)


def perfect_eces(b: Binned, draws: int, seed: int) -> np.ndarray:
    """(draws,) plug-in ECE of a perfectly calibrated model at these confidences: each image right with probability
    its confidence, the bins unchanged."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(b.bins)[b.bin]  # (N, B)
    count = onehot.sum(axis=0)
    right = (rng.random((draws, len(b.bin))) < b.confidence).astype(np.float64) @ onehot  # (draws, B)
    return np.abs(right - b.confidence @ onehot).sum(axis=1) / count.sum()


def maximum_calibration_error(b: Binned, min_bin: int) -> float | None:
    """MCE: the largest |accuracy - mean confidence| of a bin of at least `min_bin` images; None when no bin has."""
    count, accuracy, confidence = bin_table(b)
    large = count >= min_bin
    return float(np.abs(accuracy - confidence)[large].max()) if large.any() else None


def image_nll(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) -ln p(true class), each p floored at NLL_FLOOR (a stored 0 is below the storage precision)."""
    return -np.log(np.maximum(probs[np.arange(len(labels)), labels], NLL_FLOOR))


def image_brier(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) squared distance between each probability vector and its one-hot label."""
    return ((probs - np.eye(probs.shape[1])[labels]) ** 2).sum(axis=1)


def negative_log_likelihood(run: RunData) -> float:
    return float(image_nll(run.probs, run.labels).mean())


def brier_score(run: RunData) -> float:
    return float(image_brier(run.probs, run.labels).mean())


def scaled(logp: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of log-probabilities (N, K) divided by a temperature."""
    return np.exp(log_softmax(logp / temperature, axis=1))


def fitted_temperature(logp: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the NLL of these images (scipy's bounded scalar search on ln T)."""
    nll = lambda ln_t: float(image_nll(scaled(logp, np.exp(ln_t)), labels).mean())  # noqa: E731
    return float(np.exp(minimize_scalar(nll, bounds=TEMPERATURE_BOUNDS, method="bounded").x))


def cross_fitted(run: RunData, seed: int) -> tuple[np.ndarray, float]:
    """Temperature-scaled probabilities of every test image, each scaled by the temperature fitted on the other
    half of the images (two-fold cross-fitting, halves drawn with `seed`), and the mean of the two temperatures."""
    logp = np.log(np.maximum(run.probs, NLL_FLOOR))
    order = np.random.default_rng(seed).permutation(len(run.labels))
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    out = np.empty_like(run.probs)
    temperatures = []
    for fit, apply in (halves, halves[::-1]):
        t = fitted_temperature(logp[fit], run.labels[fit])
        out[apply] = scaled(logp[apply], t)
        temperatures.append(t)
    return out, float(np.mean(temperatures))


def run_measures(run: RunData, rules: ReportConfig) -> dict[str, float | None]:
    """Every calibration measure of one run: ECE, its expectation if perfect, debiased ℓ2 ECE and MCE in percent; NLL,
    Brier; and ECE, NLL after temperature scaling with the temperature."""
    b = binned(run, rules.calibration_bins)
    mce = maximum_calibration_error(b, rules.calibration_min_bin)
    probs, temperature = cross_fitted(run, rules.bootstrap_seed)
    return {"ece": 100 * expected_calibration_error(b), "ece_debiased": 100 * debiased_ece(b),
            "ece_perfect": 100 * float(perfect_eces(b, rules.bootstrap_resamples, rules.bootstrap_seed).mean()),
            "mce": None if mce is None else 100 * mce, "nll": negative_log_likelihood(run), "brier": brier_score(run),
            "ece_ts": 100 * expected_calibration_error(binned_probs(probs, run.labels, rules.calibration_bins)),
            "nll_ts": float(image_nll(probs, run.labels).mean()), "temperature": temperature}


def bin_sides(runs: Sequence[RunData], bins: int) -> list[np.ndarray]:
    """3 x bins (seeds, N) arrays of one model: per bin, its images, their correctness and their confidence."""
    bs = [binned(run, bins) for run in runs]
    masks = [np.array([b.bin == k for b in bs], dtype=float) for k in range(bins)]
    return ([*masks, *(mask * np.array([b.correct for b in bs]) for mask in masks),
             *(mask * np.array([b.confidence for b in bs]) for mask in masks)])


def pooled_debiased(means: np.ndarray, images: int) -> float:
    """The debiased ℓ2 ECE of one model's 3 x bins side means, pooled over its `images` = seeds x N predictions."""
    count, correct, confidence = np.split(means * images, 3)
    return debiased_from_bins(count, correct, confidence)


def ece_test(first: Sequence[RunData], second: Sequence[RunData], rules: ReportConfig) -> BootstrapTest:
    """The debiased ℓ2 ECE difference (bins pooled over each model's seeds), first minus second, in points."""
    sides = bin_sides(first, rules.calibration_bins) + bin_sides(second, rules.calibration_bins)
    half, n = 3 * rules.calibration_bins, len(first[0].labels)

    def contrast(m: np.ndarray) -> float:
        return pooled_debiased(m[:half], len(first) * n) - pooled_debiased(m[half:], len(second) * n)

    return hierarchical_bootstrap(compare_key("calibration.ece_debiased"), sides, contrast, rules.bootstrap_seed,
                                  rules.bootstrap_resamples, 1 - rules.alpha)


SCORES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], str, str]] = {
    "nll": (image_nll, "loss", "NLL"), "brier": (image_brier, "fraction", "Brier score")}


def score_test(name: str, first: Sequence[RunData], second: Sequence[RunData], rules: ReportConfig) -> BootstrapTest:
    """A proper score's difference (first minus second), by the hierarchical bootstrap over seeds and images."""
    score, unit, _ = SCORES[name]
    sides = [np.array([score(run.probs, run.labels) for run in runs]) for runs in (first, second)]
    return hierarchical_bootstrap(compare_key(f"calibration.{name}"), sides, lambda m: m[0] - m[1],
                                  rules.bootstrap_seed, rules.bootstrap_resamples, 1 - rules.alpha, scale=1.0,
                                  unit=unit)


