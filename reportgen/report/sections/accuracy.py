"""Section "Accuracy": which model is more accurate, by how much, and whether the difference is significant.

With two models: the significance rule (reportgen.report.rules), the accuracy statement, the
per-class score counts and the table of McNemar's test per seed and the t-test over seeds
(reportgen.report.stats). A difference that is not significant is never called a win. With one
model: its headline numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.report.common import accuracy_lead, headline_sentence, model_significance, run_accuracy
from reportgen.report.contents import ModelFacts, ReportContents, over_seeds
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Paragraph,
    Part,
    Sentence,
    Table,
    capital,
    compare_key,
    dataset_key,
    name_list,
    sentence,
    stat_cell,
)
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.rules import significance_rule
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import (
    BootstrapTest,
    Significance,
    correctness,
    hierarchical_bootstrap,
    significance_evidence,
)


def _spread(sig: Significance) -> list[Part]:
    """" (± s over the paired seeds)" of the per-seed accuracy differences, when there are several."""
    std = sig.difference.std
    return [] if std is None else [" (± ", std, " over the paired seeds)"]


def accuracy_sentence(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """Which model is more accurate and by how many percentage points, if the difference is significant."""
    ahead = accuracy_lead(a, b)
    evidence = significance_evidence(sig)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} are equally accurate: ", a.accuracy.parts("%"),
                        " and ", b.accuracy.parts("%"), " test accuracy (", evidence, ").")
    w, lo = ahead.winner, ahead.loser
    if sig.significant:
        return sentence(
            f"{capital(w.the)} is more accurate: ", w.accuracy.parts("%"), " test accuracy against ",
            lo.accuracy.parts("%"), f" for {lo.the}", over_seeds(w), ", a lead of ", ahead.margin,
            " percentage points", _spread(sig), "; the difference is significant (", evidence, ").")
    return sentence(
        f"{capital(w.the)}'s test accuracy, ", w.accuracy.parts("%"), ", is ", ahead.margin, " percentage points",
        _spread(sig), f" above {lo.the}'s ", lo.accuracy.parts("%"), over_seeds(w),
        ", but the difference is not significant (", evidence, "), so neither model is the more accurate on "
        "this evidence.")


@dataclass(frozen=True)
class ClassWins:
    """Which classes each of two models scores higher on, by one per-class metric."""

    first: tuple[str, ...]
    second: tuple[str, ...]
    ties: tuple[str, ...]


def class_wins(class_names: Sequence[str], first: Sequence[float], second: Sequence[float]) -> ClassWins:
    """Per-class comparison; equal at the displayed 4 decimals counts as a tie."""
    a, b = np.round(first, 4), np.round(second, 4)
    return ClassWins(
        first=tuple(n for n, x, y in zip(class_names, a, b) if x > y),
        second=tuple(n for n, x, y in zip(class_names, a, b) if x < y),
        ties=tuple(n for n, x, y in zip(class_names, a, b) if x == y),
    )


def wins_sentence(a: ModelFacts, b: ModelFacts, metric: str, sig: Significance) -> Sentence:
    """In how many classes each model has the higher per-class `metric` ("f1" or "accuracy").

    Per-class differences are not tested one by one, so they are stated as scores, never as wins; when
    the overall accuracy difference is not significant, the sentence says they show no better model.
    """
    scores = {"f1": (a.class_f1, b.class_f1), "accuracy": (a.class_accuracy, b.class_accuracy)}[metric]
    wins = class_wins(a.class_names, *scores)
    label = {"f1": "F1", "accuracy": "accuracy"}[metric]
    parts: list[Part] = [
        f"By per-class {label}, {a.the} scores higher in ",
        Metric(compare_key(f"{metric}_wins.{a.key}"), len(wins.first), "count"), " of ",
        Metric(dataset_key("num_classes"), len(a.class_names), "count"),
        f" classes ({name_list(wins.first)}) and {b.the} in ",
        Metric(compare_key(f"{metric}_wins.{b.key}"), len(wins.second), "count"), f" ({name_list(wins.second)})",
    ]
    if wins.ties:
        parts += ["; they tie in ", Metric(compare_key(f"{metric}_ties"), len(wins.ties), "count"),
                  f" ({name_list(wins.ties)})"]
    if not sig.significant:
        parts += ["; as the overall accuracy difference is not significant, these per-class differences do not show "
                  "either model to be better"]
    return sentence(parts, ".")


def significance_table(contents: ReportContents, sig: Significance) -> Table:
    """Per seed both models ran with: their accuracies, the difference and McNemar's b, c and p; then the
    mean difference over seeds, the t-test and the verdict."""
    first, second = contents.models
    accuracy = {key: {run.seed: run_accuracy(run) for run in runs} for key, runs in contents.runs.items()}
    rows: list[list[Cell]] = [
        [str(m.seed), sentence(accuracy[first.key][m.seed], "%"), sentence(accuracy[second.key][m.seed], "%"),
         *(m.metric(name) for name in ("diff_pts", "b", "c", "p"))]
        for m in sig.mcnemar
    ]
    footer: list[list[Cell]] = []
    if max(len(first.seeds), len(second.seeds)) > 1:
        footer.append(["mean ± std over seeds", stat_cell(first.accuracy, "%"), stat_cell(second.accuracy, "%"),
                       stat_cell(sig.difference), "", "", ""])
    if sig.ttest is not None:
        footer.append([sentence(f"{sig.ttest.name}, t = ", sig.ttest.metric("t")), "", "", "", "", "",
                       sig.ttest.metric("p")])
    footer.append([f"verdict at α = {sig.alpha:g}: {sig.verdict}", "", "", "", "", "", ""])
    return Table(["seed", f"{first.name} accuracy", f"{second.name} accuracy", "difference (points)",
                  f"b ({first.name} only)", f"c ({second.name} only)", "p"], rows, footer,
                 caption=f"Significance of the accuracy difference ({first.name} minus {second.name}): McNemar's "
                         f"exact test per seed (b: test images only the {first.name} classifies correctly, c: only "
                         f"the {second.name}), then the t-test over seeds.")


def accuracy_verdict(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """Which model is more accurate, only if significantly so."""
    ahead = accuracy_lead(a, b)
    if ahead is None:
        return sentence(f"On this run the {a.name} and the {b.name} are equally accurate.")
    if sig.significant:
        return sentence(f"On this run {ahead.winner.the} is the more accurate model, by ", ahead.margin,
                        " percentage points, a significant difference.")
    return sentence(f"On this run neither model is shown to be more accurate: {ahead.winner.the}'s lead of ",
                    ahead.margin, " percentage points is not significant.")


def accuracy_interval(contents: ReportContents) -> BootstrapTest:
    """The first model's accuracy minus the second's, in points, with its hierarchical-bootstrap interval (over
    seeds and test images; with one seed, over test images only)."""
    first, second = contents.runs.values()
    rules = contents.rules
    return hierarchical_bootstrap(compare_key("accuracy_boot"), [correctness(first), correctness(second)],
                                  lambda m: m[0] - m[1], rules.bootstrap_seed, rules.bootstrap_resamples,
                                  1 - rules.alpha)


def interval_cell(test: BootstrapTest) -> Sentence:
    """"[low, high]" of a bootstrap interval."""
    return sentence("[", test.metric("low"), ", ", test.metric("high"), "]")


def accuracy_row(a: ModelFacts, b: ModelFacts, sig: Significance, interval: BootstrapTest) -> SummaryRow:
    """The accuracy line of the Summary of findings (a primary comparison)."""
    ahead = accuracy_lead(a, b)
    scope = "" if interval.over_seeds else " in this run"
    if ahead is None or not sig.significant:
        verdict = sentence(f"no difference shown{scope}")
    else:
        verdict = sentence(f"{ahead.winner.name} higher{scope}")
    return SummaryRow("Test accuracy (%)", (stat_cell(a.accuracy), stat_cell(b.accuracy)), sig.difference.mean,
                      interval_cell(interval), verdict, primary=True)


def accuracy_claim(a: ModelFacts, b: ModelFacts, sig: Significance) -> ClaimFinding:
    """The original study's "the CNN is more accurate", as this report's accuracy test bears on it."""
    ahead = accuracy_lead(a, b)
    if ahead is None or not sig.significant:
        return ClaimFinding("cnn-more-accurate", INCONCLUSIVE, sentence("the difference is not significant"))
    status = SUPPORTED if ahead.winner.key == "cnn" else CONTRADICTED
    return ClaimFinding("cnn-more-accurate", status,
                        sentence(f"{ahead.winner.name} ahead by ", ahead.margin, " points, significant"))


class Accuracy(Section):
    key = "accuracy"
    title = "Accuracy"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        if not contents.comparative:
            return [Paragraph([headline_sentence(m) for m in contents.models])]
        a, b = contents.models
        sig = model_significance(contents)
        return [
            Callout("rule", [significance_rule(contents.rules)]),
            Bullets([accuracy_sentence(a, b, sig), wins_sentence(a, b, "f1", sig),
                     wins_sentence(a, b, "accuracy", sig)]),
            significance_table(contents, sig),
        ]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        a, b = contents.models
        sig = model_significance(contents)
        return Verdict((accuracy_verdict(a, b, sig),), rows=(accuracy_row(a, b, sig, accuracy_interval(contents)),),
                       claims=(accuracy_claim(a, b, sig),))
