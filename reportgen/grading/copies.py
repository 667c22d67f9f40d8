"""Copy detection: each pair of submissions that share a run's weights or (near-)identical predictions.

Per model, the strongest evidence of any pair of runs is flagged on both rows, naming the other bundle:
identical weights (sha256 of weights.pt), identical predictions (the same predicted class for every
test image), or near-identical predictions (NEAR_IDENTICAL_*). Identical weights from the same
training (the same run key, or the same config at the same seeds on the same data) get a caveat,
REPRODUCTION: deterministic training reproduces them, and a shared run store reuses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reportgen.config import KNOWN_MODELS
from reportgen.grading.rows import COPY, FLAG_LABELS, SHORT_LABEL, Flag, RunPrint, Submission, add_flag, shorten

# Two independent trainings of the same study disagree on many more test images than 1 %: on the quick
# preset, seeds 42 and 43 agree on 78.9 % (CNN) and 67.6 % (ViT) of the 1,000 test images, with the same
# wrong class on 58 % and 50 % of the errors (README, "Grading a class"). Agreement alone is not enough
# for models that are nearly always right, so the errors must coincide too; and on fewer than 1,000
# images chance agreement is too likely to call anything a copy.
NEAR_IDENTICAL_AGREEMENT = 0.99
NEAR_IDENTICAL_SAME_ERRORS = 0.90
NEAR_IDENTICAL_MIN_IMAGES = 1000
REPRODUCTION = ("same config and seed: identical weights can be an honest reproduction (deterministic training, "
                "or a run reused from a shared run store), so a copy only if the submissions were meant to differ")


def copy_flags(submissions: Sequence[Submission]) -> None:
    """Flag, on both rows, each pair of submissions that share a run's weights or (near-)identical predictions."""
    for i, first in enumerate(submissions):
        for second in submissions[i + 1:]:
            for model in KNOWN_MODELS:
                findings = [(likeness(a, b), a, b) for a in first.prints if a.model == model
                            for b in second.prints if b.model == model]
                found = [(found, a, b) for found, a, b in findings if found is not None]
                if not found:
                    continue
                (rank, what, sign), a, b = min(found, key=lambda f: f[0][:2])
                caveat = REPRODUCTION if rank == 0 and same_training(a, b, first.row, second.row) else ""
                add_flag(first, _copy_flag(second, model, what, sign, caveat))
                add_flag(second, _copy_flag(first, model, what, sign, caveat))


def _copy_flag(other: Submission, model: str, what: str, sign: str, caveat: str) -> Flag:
    name = Path(other.row["bundle"]).name or other.row["bundle"]
    short = f"{FLAG_LABELS[COPY]} {model} {sign} "
    return Flag(COPY, short + shorten(name, max(8, SHORT_LABEL - len(short))),
                f"possible copy of {other.row['bundle']}: {model} {what}", caveat)


def same_training(a: RunPrint, b: RunPrint, first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two runs with identical weights come from the same training, as an honest reproduction would:
    the same run key (what the run store reuses a run by: the model's config, the seed, the data, the
    versions), or, for runs without one (evaluated), bundles of the same config at the same seeds on the
    same data. (Identical predictions from other weights get no caveat: a reproduction would share the weights.)"""
    if a.key is not None and a.key == b.key:
        return True
    return (all(first[key] == second[key] for key in ("config_changes", "seeds", "dataset"))
            and first["dataset"] is not None)


def likeness(a: RunPrint, b: RunPrint) -> tuple[int, str, str] | None:
    """(rank, description, sign for a short label) of how alike two runs are, rank 0 the strongest evidence;
    None when they are not alike."""
    if a.weights_sha256 == b.weights_sha256:
        return 0, f"weights identical (sha256 {a.weights_sha256[:12]}…)", "weights ="
    if not np.array_equal(a.labels, b.labels):
        return None  # other test images: predictions cannot be compared
    if np.array_equal(a.preds, b.preds):
        return 1, f"predictions identical on all {len(a.preds):,} test images", "predictions ="
    agreement, same_errors = prediction_likeness(a.labels, a.preds, b.preds)
    if (len(a.preds) >= NEAR_IDENTICAL_MIN_IMAGES and agreement >= NEAR_IDENTICAL_AGREEMENT
            and same_errors >= NEAR_IDENTICAL_SAME_ERRORS):
        return 2, (f"predictions nearly identical ({agreement:.1%} agreement on {len(a.preds):,} test images, "
                   f"the same wrong class on {same_errors:.0%} of the errors)"), "predictions ≈"
    return None


def prediction_likeness(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """(share of images with the same prediction, share of the images either gets wrong on which both
    predict the same wrong class); the second is 0 when neither makes an error."""
    errors = (first != labels) | (second != labels)
    same_errors = (first == second) & (first != labels)
    return float((first == second).mean()), float(same_errors.sum() / errors.sum()) if errors.any() else 0.0
