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
model (`versus_base`), or two models within the same runs' setting (`between_models`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from reportgen.bundle import RunData
from reportgen.report.contents import ReportContents, VariantFacts
from reportgen.report.kernel import Part, Sentence, plural, sentence, variant_key
from reportgen.report.stats import Significance, accuracy_significance, significance_evidence

# How the prose names a change of a config key: key -> its value in words (any other key: "key = value").
POLICY_NAMES = {"trivialaugment": "TrivialAugment", "randaugment": "RandAugment", "none": "no augmentation policy"}
CHANGE_WORDS: dict[str, Callable[[Any], str]] = {
    "train.label_smoothing": lambda v: f"label smoothing {v:g}",
    "train.warmup_epochs": lambda v: f"a linear learning-rate warm-up over {plural(v, 'epoch')}",
    "augment.policy": lambda v: POLICY_NAMES[v],
    "augment.policy_group": lambda v: f"policy groups of {v} images",
    "augment.mixup_alpha": lambda v: f"MixUp α = {v:g}",
    "augment.cutmix_alpha": lambda v: f"CutMix α = {v:g}",
    "augment.enabled": lambda v: "training augmentation on" if v else "no training augmentation",
    "data.train_fraction": lambda v: f"{v:.4g} of the training images",
    "train.epochs": lambda v: plural(v, "epoch"),
}


def describe_changes(changes: dict[str, Any]) -> str:
    """A variant's changes in words, e.g. "label smoothing 0.1, TrivialAugment, data.train_fraction = 0.25"."""
    return ", ".join(CHANGE_WORDS[key](value) if key in CHANGE_WORDS else f"{key} = {_plain(value)}"
                     for key, value in changes.items())


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def versus_base(contents: ReportContents, variant: VariantFacts, model: str) -> Significance:
    """The variant's runs of `model` against the base runs of `model` (variant minus base), by the accuracy rule."""
    return accuracy_significance(variant.runs[model], contents.runs[model], contents.rules.alpha,
                                 key=variant_key(variant.name, f"{model}.vs_base"))


def base_evidence(sig: Significance) -> list[Part]:
    """The tests behind a variant-against-base verdict: its sides are two configs, not two models."""
    return significance_evidence(sig, side="config")


def change_verdict(sig: Significance) -> str:
    """"a significant change" or "not a significant change", by the accuracy rule's verdict."""
    return "a significant change" if sig.significant else "not a significant change"


def between_models(runs: dict[str, Sequence[RunData]], alpha: float, key: str) -> Significance:
    """The first model's runs against the second's (first minus second, config order), by the accuracy rule."""
    first, second = runs.values()
    return accuracy_significance(first, second, alpha, key=key)


def one_seed_note(contents: ReportContents) -> Sentence | None:
    """The caveat of experiments run at one seed: their tests see the test images' sampling, not the runs' own
    variation, so a verdict may not survive another seed. None with several seeds."""
    if contents.several_seeds:
        return None
    return sentence("Every model ran with one seed: the experiments' tests measure how the test images were "
                    "sampled, not how much a run varies from seed to seed, so a verdict may change with another seed; "
                    "--seeds 42,43,44 tests each difference over seeds as well.")
