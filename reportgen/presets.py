"""The presets a build starts from: the original study's protocol (`seed`), the quick sample, and the two studies
with their variants.

A preset is a partial config (nested sections); `load_config` applies it first, then a YAML file, then
overrides. The study presets add the variants that test the original study's claims (docs/experiments.md).
"""

from __future__ import annotations

from typing import Any

# The original study's claims that the study variants test (docs/experiments.md): augmentation, training-set
# size, a modern training recipe on the same architectures. The recipe: label smoothing 0.1, TrivialAugment, MixUp
# 0.8 / CutMix 1.0 (one of the two per batch) and a linear warm-up, as in DeiT-style recipes for small ViTs.
MODERN_RECIPE = {"train.label_smoothing": 0.1, "augment.policy": "trivialaugment", "augment.mixup_alpha": 0.8,
                 "augment.cutmix_alpha": 1.0}
# The recipe's ingredients, the one definition of what a recipe changes: the modern recipe's keys, its warm-up (each
# preset sets it by its epochs) and the policy's group size. A variant that changes only these keys is a recipe
# (the report's section "A modern training recipe").
RECIPE_KEYS = frozenset(MODERN_RECIPE) | {"train.warmup_epochs"}
QUICK_EPOCHS = 15


def equal_steps(fractions: dict[str, float]) -> dict[str, dict[str, Any]]:
    """For each data-size variant, "<name>-steps": the same fraction trained for proportionally more epochs (a
    multiple of the build's, so that it holds under --epochs), so that it takes as many optimiser steps as the whole
    training set does (data apart from optimisation)."""
    return {f"{name}-steps": {"data.train_fraction": f, "train.epochs": f"x{1 / f:g}"} for name, f in fractions.items()}


STUDY_FRACTIONS = {"data-10": 0.1, "data-25": 0.25, "data-50": 0.5}
STUDY_VARIANTS: dict[str, dict[str, Any]] = {
    "no-augment": {"augment.enabled": False},
    **{name: {"data.train_fraction": f} for name, f in STUDY_FRACTIONS.items()},
    **equal_steps(STUDY_FRACTIONS),
    "modern": {**MODERN_RECIPE, "train.warmup_epochs": 5},
    "longer": {"train.epochs": "x1.5"},  # judges training length: 1.5 times the epochs, nothing else
}
QUICK_FRACTIONS = {"data-12": 0.125, "data-25": 0.25, "data-50": 0.5}

# Presets are overrides on top of the original study's protocol (`seed`). `quick` trains on the packaged sample so
# that a fresh machine with 2 CPU cores builds the whole report offline in a few minutes; its smaller
# batch keeps the number of optimiser steps sensible on 4,000 training images, and its analyses
# corrupt 200 test images and explain 2 per class.
PRESETS: dict[str, dict[str, Any]] = {
    "seed": {},
    "quick": {
        # A tenth of each class's training images held out for validation (360 of 400 per class left to train on).
        "data": {"dataset": "sample", "val_fraction": 0.1},
        "train": {"epochs": QUICK_EPOCHS, "batch_size": 128},
        "report": {"sample_index": 123},
        # The analyses within a quarter of the quick build's time on 2 CPU cores (docs/performance.md).
        "analysis": {"corruption_images": 200, "explanation_images": 2},
    },
    # The seed protocol and the experiments that test its claims, for a GPU (docs/experiments.md), at three seeds:
    # the fewest with which a claim about an architecture or a treatment includes the seed-to-seed spread.
    # A tenth of the training images held out for validation; only `seed` validates on the test split, as the
    # original study did.
    "study": {"variants": STUDY_VARIANTS, "train": {"seeds": [42, 43, 44]}, "data": {"val_fraction": 0.1}},
}
# The same study on the sample with the quick budget, for 2 CPU cores. A tenth of the 4,000-image sample would
# leave 40 images a class, so its smallest fraction is an eighth (50); 15 epochs warm up over 2. The equal-steps
# variants each cost about one base run; no longer-training variant, which would cost 1.5 more (docs/experiments.md).
PRESETS["quick-study"] = {
    **PRESETS["quick"],
    "variants": {"no-augment": STUDY_VARIANTS["no-augment"],
                 **{name: {"data.train_fraction": f} for name, f in QUICK_FRACTIONS.items()},
                 **equal_steps(QUICK_FRACTIONS),
                 "modern": {**MODERN_RECIPE, "train.warmup_epochs": 2}},
}
