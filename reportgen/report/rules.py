"""The rules that several parts of the report judge by, as printed in it, from the report config.

Each threshold is a typed field of `reportgen.config.ReportConfig` (report.alpha,
report.overfit_acc_gap_points, ...). Only the shared rules live here: the accuracy-significance rule
(the Accuracy section, the experiments, `reportgen compare`), the overfitting rule (applied to every
trained model's facts in `reportgen.report.contents`, printed by the Generalisation section, stated by
the Conclusion) and the plateau rule (whether a validation curve had levelled off: the curves section
and the training-length section read every curve by it, so they never disagree). A rule that one section
uses lives in that section's module, beside the code that applies it. Either way a section applies the
rule and prints its text from the same fields, so what the report says it does is what it does. Changing a
threshold is a ``report.*`` change: the next build
re-renders with it and retrains nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.kernel import Sentence, sentence

if TYPE_CHECKING:  # contents applies the overfitting rule below: imported for the annotation only
    from reportgen.report.contents import ModelFacts


def is_overfitting(rules: ReportConfig, acc_gap_pts: float, val_loss_rise_pct: float) -> bool:
    """A model overfits when its final train-validation accuracy gap or its validation loss rise passes its limit."""
    return acc_gap_pts > rules.overfit_acc_gap_points or val_loss_rise_pct > rules.overfit_val_loss_rise_pct


def overfitting_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report calls a model overfitting."""
    return sentence(
        "Rule used in this report: a model overfits when, after training, its training accuracy exceeds its "
        f"validation accuracy by more than {rules.overfit_acc_gap_points:g} percentage points, or its validation loss "
        f"is more than {rules.overfit_val_loss_rise_pct:g}% above its lowest; on the clean gap, read with its 95% "
        "interval (below).")


def overfitting_clause(m: ModelFacts) -> str:
    """"the CNN overfits" or "the CNN does not overfit", by the overfitting rule (`m` trained here)."""
    return f"{m.the} {'overfits' if m.training.overfits else 'does not overfit'}"


def significance_rule(rules: ReportConfig, side: str = "model") -> Sentence:
    """The rule by which an accuracy difference between two `side`s (models, bundles) is called significant."""
    alpha = rules.alpha
    return sentence(
        f"Rule used for accuracy differences: significant when every test that applies rejects equal accuracy at "
        f"α = {alpha:g}. McNemar's exact test (b: test images only the first {side} classifies correctly, c: only the "
        f"second; two-sided binomial test of b in b + c at 1/2) must give p < {alpha:g} for the {side} ahead in more "
        f"than half of the seeds both ran (with one seed: in that seed). With two or more seeds per {side}, a t-test "
        f"over seeds (paired when both {side}s ran the same seeds, else Welch's) and the hierarchical bootstrap over "
        f"seeds, then test images, must also give p < {alpha:g}. With one seed the tests hold the trained weights "
        f"fixed: they describe the run, not the {side}s. A difference that is not significant is not called a win.")


def plateau_epoch(val_acc_pts: np.ndarray, tolerance_pts: float) -> int:
    """1-based epoch after which validation accuracy (percent, per epoch) never beats its best so far by more than
    `tolerance_pts`: the last epoch when it was still improving by more than that at the end."""
    best_so_far = np.maximum.accumulate(val_acc_pts)
    for e in range(len(val_acc_pts)):
        if e == len(val_acc_pts) - 1 or val_acc_pts[e + 1:].max() - best_so_far[e] <= tolerance_pts:
            return e + 1
    raise AssertionError("unreachable: the last epoch always qualifies")


def still_improving(val_acc_pts: np.ndarray, tolerance_pts: float) -> bool:
    """Whether a validation-accuracy curve was still improving when training stopped, by the plateau rule."""
    return plateau_epoch(val_acc_pts, tolerance_pts) == len(val_acc_pts)


def plateau_rule(rules: ReportConfig) -> str:
    """The plateau rule in words (one clause of the curves' and the training length's rules)."""
    return ("validation accuracy has levelled off from the first epoch after which it never beats its best so "
            f"far by more than {rules.plateau_points:g} percentage points (report.plateau_points); a curve whose last "
            "epoch still beats that is still improving")


