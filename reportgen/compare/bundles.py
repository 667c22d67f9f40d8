"""The bundles of a comparison, each read once, and the numbers compared between them (no torch).

Each bundle is read as the report reads it (reportgen.report.contents), so a comparison states the
same facts as the bundles' own reports. The reference of a model is the first bundle holding it;
deltas are a bundle's mean minus the reference's, and accuracy differences are tested with the
report's significance rule (reportgen.report.stats), with the reference as the first side.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from reportgen.bundle import Bundle, RunData
from reportgen.errors import ReportgenError, one_line
from reportgen.mappings import flatten
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import Metric, Sentence, Stat, bundle_key, sentence
from reportgen.report.stats import Significance, accuracy_significance

MISSING = "—"
# The quantities of the per-model table: row label, how to read it from a model's facts (None when the
# bundle lacks it: evaluated weights have no training facts), suffix of its value, unit of its delta.
Quantity = tuple[str, Callable[[ModelFacts], Stat | None], str, str]
QUANTITIES: tuple[Quantity, ...] = (
    ("test accuracy", lambda f: f.accuracy, "%", "points"),
    ("macro F1", lambda f: f.macro_f1, "", "fraction"),
    ("training time (s)", lambda f: f.training and f.training.train_time, "", "seconds"),
    ("time per epoch (s)", lambda f: f.training and f.training.epoch_time, "", "seconds"),  # warm-up included
    ("steady-state time per epoch (s)", lambda f: f.training and f.training.steady_epoch_time, "", "seconds"),
    ("final train − val. accuracy gap (points)", lambda f: f.training and f.training.acc_gap, "", "points"),
)
ACCURACY, _, _, EPOCH_TIME, STEADY_EPOCH_TIME, _ = QUANTITIES
COUNTS: dict[str, Callable[[ModelFacts], int | None]] = {
    "seeds": lambda f: len(f.seeds),
    "epochs": lambda f: None if f.training is None else int(f.training.epochs.value)}
CLASS_FIELDS = (("f1", lambda f: f.class_f1, "F1"), ("accuracy", lambda f: f.class_accuracy, "accuracy"))


@dataclass(frozen=True, eq=False)  # identity: two bundles are never "equal"
class Compared:
    """One bundle of the comparison, read once (the report's own contents and facts)."""

    index: int  # 1-based position, the "b<n>" of its metric keys
    label: str
    contents: ReportContents
    config: dict[str, Any]  # flattened to dotted keys

    @property
    def prefix(self) -> str:
        return f"b{self.index}"

    @property
    def bundle(self) -> Bundle:
        return self.contents.bundle

    @property
    def facts(self) -> dict[str, ModelFacts]:
        return self.contents.facts

    @property
    def runs(self) -> dict[str, list[RunData]]:
        return self.contents.runs

    @property
    def dataset(self) -> dict[str, Any]:
        return self.contents.dataset

    @property
    def environment(self) -> dict[str, Any]:
        return self.contents.environment

    def stat(self, model: str, quantity: Quantity) -> Stat | None:
        """A quantity of `model`, keyed for this bundle (e.g. b2.vit.accuracy); None when the bundle lacks it."""
        value = quantity[1](self.facts[model])
        return None if value is None else value.rekeyed(bundle_key(self.index, value.key))


def load_compared(paths: Sequence[Path], labels: Sequence[str] | None = None) -> list[Compared]:
    """Open every bundle (complete ones only) with its label."""
    if len(paths) < 2:
        raise ReportgenError("compare needs at least two bundles")
    if labels is None:
        labels = [Path(p).name for p in paths]
        if len(_distinct(labels)) < len(labels):  # e.g. a/quick and b/quick: the paths tell them apart
            labels = [str(p) for p in paths]
    labels = [one_line(label) for label in labels]  # a folder name: its line breaks, overrides and bytes escaped
    if len(labels) != len(paths):
        raise ReportgenError(f"{len(labels)} label{'s' if len(labels) != 1 else ''} for {len(paths)} bundles: "
                             "give one label per bundle")
    if len(_distinct(labels)) < len(labels):
        raise ReportgenError(f"the labels must differ, got {', '.join(labels)}: name each bundle with --label, "
                             "once per bundle in order, e.g. --label before --label after")
    bundles = [Bundle(path) for path in paths]
    for bundle in bundles:
        bundle.require_intact_results()
    return [_load(bundle, index, label) for index, (bundle, label) in enumerate(zip(bundles, labels), start=1)]


def _distinct(labels: Sequence[str]) -> set[str]:
    """The labels that a reader can tell apart: "café" composed and decomposed look the same (Unicode NFC)."""
    return {unicodedata.normalize("NFC", label) for label in labels}


def _load(bundle: Bundle, index: int, label: str) -> Compared:
    contents = ReportContents(bundle)
    return Compared(index=index, label=label, contents=contents, config=flatten(contents.config.to_dict()))


def config_differences(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Dotted keys whose values are not the same in every config (a key a config lacks counts as differing)."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    missing = object()
    return [key for key in keys if len({repr(config.get(key, missing)) for config in configs}) > 1]


def models_in(compared: Sequence[Compared]) -> list[str]:
    """Model keys present in any bundle, in order of first appearance."""
    return list(dict.fromkeys(model for c in compared for model in c.facts))


def holding(compared: Sequence[Compared], model: str) -> list[Compared]:
    return [c for c in compared if model in c.facts]


# ---------------------------------------------------------------- numbers


def delta_metric(key: str, value: float, reference: float, unit: str) -> Metric:
    """`value` minus `reference`; a difference that rounds to zero is 0, never shown as "-0.00"."""
    delta = Metric(key, value - reference, unit)
    return delta if float(delta.text) != 0 else Metric(key, 0.0, unit)


def signed(delta: Metric) -> Sentence:
    """A delta with its sign: "+1.23", "-1.23" or "0.00"."""
    return sentence("+", delta) if delta.value > 0 else sentence(delta)


def stat_delta(reference: Compared, other: Compared, model: str, quantity: Quantity) -> Metric | None:
    """`quantity`'s mean of `model` in `other` minus the reference's: b<n>.delta.<model>.<quantity>; None when
    either bundle lacks it."""
    value, ref = quantity[1](other.facts[model]), quantity[1](reference.facts[model])
    if value is None or ref is None:
        return None
    return delta_metric(bundle_key(other.index, f"delta.{value.key}"), value.mean.value, ref.mean.value, quantity[3])


def same_test_images(first: Sequence[RunData], second: Sequence[RunData]) -> bool:
    """Whether two sets of runs predicted the same test images, so that paired tests apply."""
    return all(np.array_equal(a.labels, b.labels) for a in first for b in second)


def bundle_significance(reference: Compared, other: Compared, model: str) -> Significance | None:
    """The accuracy test of `model` between the reference and another bundle; None when their test images differ."""
    first, second = reference.runs[model], other.runs[model]
    if reference.dataset.get("fingerprint") != other.dataset.get("fingerprint") or not same_test_images(first, second):
        return None
    return accuracy_significance(first, second, reference.contents.rules.alpha,
                                 key=bundle_key(other.index, f"{model}.vs_{reference.prefix}"))
