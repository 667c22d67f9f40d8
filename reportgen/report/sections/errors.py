"""Section "Errors": each model's most confused class pairs and, for CIFAR-10's classes, how many of its
errors stay within the animal or the vehicle group, against what a uniform wrong label would give."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import Item, Metric, Paragraph, Part, Sentence, capital, model_key, sentence
from reportgen.report.section import FigureDrawer, Section

CIFAR10_GROUPS = {
    "animal": frozenset({"bird", "cat", "deer", "dog", "frog", "horse"}),
    "vehicle": frozenset({"airplane", "automobile", "ship", "truck"}),
}


@dataclass(frozen=True)
class ConfusedPair:
    """Two classes and how often the model mixed them up, in both directions together."""

    first: str
    second: str
    count: int
    share_pct: float  # of all errors


def confused_pairs(confusion: np.ndarray, class_names: Sequence[str], top: int = 3) -> list[ConfusedPair]:
    """The `top` class pairs with the most errors between them (i as j plus j as i), most first."""
    cm = np.asarray(confusion, dtype=np.int64)
    errors = int(cm.sum() - np.trace(cm))
    both_ways = cm + cm.T
    pairs = [(int(both_ways[i, j]), i, j) for i in range(len(cm)) for j in range(i + 1, len(cm)) if both_ways[i, j]]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))  # ties broken by class order, for stable prose
    return [ConfusedPair(class_names[i], class_names[j], count, 100 * count / errors) for count, i, j in pairs[:top]]


def class_groups(class_names: Sequence[str]) -> list[int] | None:
    """Group index of each class when the classes are exactly CIFAR-10's, else None."""
    groups = list(CIFAR10_GROUPS.values())
    if set(class_names) != set().union(*groups) or len(class_names) != len(set(class_names)):
        return None
    return [next(g for g, members in enumerate(groups) if name in members) for name in class_names]


def within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors whose true and predicted class share a CIFAR-10 group (animal or vehicle).

    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors = cm.sum() - np.trace(cm)
    if groups is None or errors == 0:
        return None
    same = np.equal.outer(groups, groups) & ~np.eye(len(groups), dtype=bool)
    return float(100 * cm[same].sum() / errors)


def chance_within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors expected to stay within a group if each misclassified image's wrong label were
    drawn uniformly from the other K - 1 classes, given where the model's errors actually fall.

    A misclassified image of true class c keeps a uniformly drawn wrong label within c's group with
    probability (|group(c)| - 1) / (K - 1); the baseline is that probability averaged over the errors,
    weighted by e_c, the errors on true class c (the off-diagonal sum of row c of `confusion`).
    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors_per_class = cm.sum(axis=1) - np.diag(cm)
    total = int(errors_per_class.sum())
    if groups is None or total == 0:
        return None
    k = len(groups)
    stay = np.array([(groups.count(g) - 1) / (k - 1) for g in groups])
    return float(100 * (errors_per_class * stay).sum() / total)


def groups_sentence() -> Sentence:
    """The definition of the CIFAR-10 class groups, stated once for all models."""
    return sentence(f"CIFAR-10's classes form two groups: animals ({', '.join(sorted(CIFAR10_GROUPS['animal']))}) "
                    f"and vehicles ({', '.join(sorted(CIFAR10_GROUPS['vehicle']))}).")


def confusion_sentences(m: ModelFacts) -> list[Sentence]:
    """The most confused class pairs and, for CIFAR-10 classes, how many errors stay within a group."""
    errors = m.errors
    seeds = [", summed over ", m.seed_count, " seeds"] if len(m.seeds) > 1 else []
    if errors.value == 0:
        return [sentence(f"{capital(m.the)} made no errors on the test set.")]
    listed: list[Part] = []
    for rank, pair in enumerate(confused_pairs(m.confusion, m.class_names), start=1):
        listed += ["; " if rank > 1 else "", f"{pair.first} ↔ {pair.second} (",
                   Metric(model_key(m.key, f"confusion.pair{rank}.count"), pair.count, "count"), " errors, ",
                   Metric(model_key(m.key, f"confusion.pair{rank}.share_pct"), pair.share_pct, "percent"), "%)"]
    out = [sentence("Of the ", errors, f" test errors of {m.the}", seeds, ", the most frequent confusions, "
                    "counting both directions, are: ", listed, ".")]
    share = within_group_share(m.confusion, m.class_names)
    chance = chance_within_group_share(m.confusion, m.class_names)
    if share is not None and chance is not None:
        out.append(sentence(
            "Of its errors, ", Metric(model_key(m.key, "confusion.within_group_pct"), share, "percent"),
            "% stay within a group, against ",
            Metric(model_key(m.key, "confusion.within_group_chance_pct"), chance, "percent"),
            "% expected if each misclassified image's wrong label were drawn uniformly from the other classes, "
            "given how its errors fall over the true classes; the remaining ",
            Metric(model_key(m.key, "confusion.cross_group_pct"), 100 - share, "percent"),
            "% cross between the groups."))
    return out


class Errors(Section):
    key = "errors"
    title = "Errors"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        intro = [Paragraph([groups_sentence()])] if class_groups(contents.class_names) is not None else []
        return intro + [Paragraph(confusion_sentences(m)) for m in contents.models]
