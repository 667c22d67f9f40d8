"""The rules the report judges by, as printed in it: generated here, in one place, from the report config.

Each threshold is a typed field of `reportgen.config.ReportConfig` (report.alpha,
report.overfit_acc_gap_points, ...). Sections apply the rule through the functions below and print
its text through the `*_rule` sentences, so what the report says it does is what it does. Changing a
threshold is a ``report.*`` change: the next build re-renders with it and retrains nothing.
"""

from __future__ import annotations

import math

from reportgen.config import ReportConfig
from reportgen.report.kernel import Sentence, sentence


def is_overfitting(rules: ReportConfig, acc_gap_pts: float, val_loss_rise_pct: float) -> bool:
    """A model overfits when its final train-validation accuracy gap or its validation loss rise passes its limit."""
    return acc_gap_pts > rules.overfit_acc_gap_points or val_loss_rise_pct > rules.overfit_val_loss_rise_pct


def overfitting_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report calls a model overfitting."""
    return sentence(
        "Rule used in this report: a model overfits when, at its final epoch, its training accuracy exceeds "
        f"its validation accuracy by more than {rules.overfit_acc_gap_points:g} percentage points, or its validation "
        f"loss has risen more than {rules.overfit_val_loss_rise_pct:g}% above the lowest value it reached during "
        "training.")


def significance_rule(rules: ReportConfig, side: str = "model") -> Sentence:
    """The rule by which an accuracy difference between two `side`s (models, bundles) is called significant."""
    alpha = rules.alpha
    return sentence(
        f"Rule used for accuracy differences: a difference is significant when every test that applies rejects "
        f"equal accuracy at α = {alpha:g}. McNemar's exact test compares the two {side}s' predictions of the same "
        f"test images (b images only the first {side} classifies correctly, c only the second; two-sided binomial "
        f"test of b in b + c at 1/2); it must give p < {alpha:g} in favour of the {side} that is more accurate on "
        "average in more than half of the seeds both ran with (with one seed: in that seed). With two or more seeds "
        f"per {side}, a t-test over seeds of the test accuracy (paired by seed when both {side}s ran the same seeds, "
        f"else Welch's) must also give p < {alpha:g}. A difference that is not significant is not called a win.")


def generalisation_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report says that one model generalises better than the other."""
    return sentence(
        "Rule used for the generalisation comparison: a model generalises better when its final train–validation "
        "accuracy gap is smaller (a negative gap, validation above training accuracy, counts as no gap) and, with "
        "two or more seeds per model, a t-test over seeds of the gaps (paired by seed when both models ran the same "
        f"seeds, else Welch's) gives p < {rules.alpha:g}. With fewer than two seeds for either model the difference "
        "cannot be tested, and neither model is said to generalise better.")


def curve_rule(rules: ReportConfig) -> Sentence:
    """How the learning curves are read: milestones, the plateau and where training and validation diverge."""
    return sentence(
        "How the curves are read: milestones are the first epochs at which the validation loss falls below "
        f"{rules.val_loss_milestone:g} and the validation accuracy reaches {rules.val_acc_milestone:.0%}; validation "
        "accuracy has stopped improving from the first epoch after which it never beats its best so far by more than "
        f"{rules.plateau_points:g} percentage points; training and validation diverge from the first epoch after which "
        f"the train–validation accuracy gap stays above {rules.overfit_acc_gap_points:g} points. With several seeds "
        "the curves are averaged epoch by epoch first.")


def top_patch_count(rules: ReportConfig, patches: int) -> int:
    """How many patches make up the top `report.top_patch_fraction` of `patches` (rounded up, at least one)."""
    return max(1, math.ceil(rules.top_patch_fraction * patches))


def top_share_label(rules: ReportConfig, patches: int) -> str:
    """What the attention top share measures, e.g. "share of attention on the top 10% of patches (7 of 64)"."""
    return (f"share of attention on the top {rules.top_patch_fraction:.0%} of patches "
            f"({top_patch_count(rules, patches)} of {patches})")


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
