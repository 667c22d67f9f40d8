"""Section "Accuracy": which model is more accurate, by how much, and whether the difference is significant.

With two models: the significance rule (reportgen.report.rules), the accuracy statement with each model's
95% interval, the per-class score counts and the table of McNemar's test per seed and, with several seeds, the
t-test and the hierarchical bootstrap over seeds and test images (reportgen.report.stats). The accuracy
difference is the report's first primary comparison. A difference that is not significant is never called a
win; with one seed the verdict describes that run, and the prose says which seeds would make it a test. With
one model: its headline numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.report.common import accuracy_lead, headline_sentence, model_significance, run_accuracy
from reportgen.report.contents import ModelFacts, ReportContents, over_seeds
from reportgen.report.evidence import SEEDS_FOR_A_TEST, run_scope
from reportgen.report.experiments import gap_interval, one_run_clause
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
    accuracy_interval,
    interval_cell,
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
    if sig.significant and not sig.over_seeds:
        return sentence(
            f"In this run {w.the} is more accurate: ", w.accuracy.parts("%"), " test accuracy against ",
            lo.accuracy.parts("%"), f" for {lo.the}, a lead of ", ahead.margin, " percentage points; the difference "
            "is significant on these test images (", evidence, ").")
    if sig.significant:
        return sentence(
            f"{capital(w.the)} is more accurate: ", w.accuracy.parts("%"), " test accuracy against ",
            lo.accuracy.parts("%"), f" for {lo.the}", over_seeds(w), ", a lead of ", ahead.margin,
            " percentage points", _spread(sig), "; the difference is significant (", evidence, ").")
    return sentence(
        f"{capital(w.the)}'s test accuracy, ", w.accuracy.parts("%"), ", is ", ahead.margin, " percentage points",
        _spread(sig), f" above {lo.the}'s ", lo.accuracy.parts("%"), over_seeds(w),
        f", but the difference is not significant{run_scope(sig.over_seeds)} (", evidence, "), so neither model is "
        "the more accurate on this evidence.")


def interval_sentence(contents: ReportContents, sig: Significance) -> Sentence:
    """Each model's test accuracy and the difference with their 95% intervals, and what the intervals cover."""
    a, b = contents.models
    diff = accuracy_difference_interval(contents)
    per_model = [part for m in contents.models for part in
                 ([", " if m is b else "", f"{m.the} ", *_interval_parts(model_interval(contents, m), "%")])]
    covers = "seeds and test images" if sig.over_seeds else "the test images, the trained weights held fixed"
    said = sentence(f"{diff.level:.0%} intervals (bootstrap over {covers}): ", per_model,
                    f"; the difference ({a.name} minus {b.name}) ", _interval_parts(diff, " points"), ".")
    return said if sig.over_seeds else sentence(said, one_run_clause(contents))


def _interval_parts(test: BootstrapTest, unit: str) -> list[Part]:
    return [test.metric("low"), " to ", test.metric("high"), unit]


def model_interval(contents: ReportContents, m: ModelFacts) -> BootstrapTest:
    """One model's test accuracy (percent) with its interval over seeds and test images."""
    rules = contents.rules
    return accuracy_interval(m.metric_key("accuracy_boot"), contents.runs[m.key], rules.bootstrap_resamples,
                             rules.bootstrap_seed, 1 - rules.alpha)


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


def wins_sentence(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """In how many classes each model has the higher per-class F1 and accuracy, in one sentence (the classes are the
    per-class table's rows; ties are named, as the table's equal scores are easy to miss).

    Per-class differences are tested in the Results section's table, so here they are stated as counts, never as
    wins; when the overall accuracy difference is not significant, the sentence says they show no better model.
    """
    parts: list[Part] = []
    for metric, scores in (("f1", (a.class_f1, b.class_f1)), ("accuracy", (a.class_accuracy, b.class_accuracy))):
        wins = class_wins(a.class_names, *scores)
        parts += ["By per-class F1, " if metric == "f1" else "; by per-class accuracy, ", f"{a.the} scores higher in ",
                  Metric(compare_key(f"{metric}_wins.{a.key}"), len(wins.first), "count"), " of ",
                  Metric(dataset_key("num_classes"), len(a.class_names), "count"), f" classes and {b.the} in ",
                  Metric(compare_key(f"{metric}_wins.{b.key}"), len(wins.second), "count")]
        if wins.ties:
            parts += [", with ", Metric(compare_key(f"{metric}_ties"), len(wins.ties), "count"),
                      f" {'tie' if len(wins.ties) == 1 else 'ties'} ({name_list(wins.ties)})"]
    if not sig.significant:
        parts += ["; as the overall accuracy difference is not significant, these per-class differences do not show "
                  "either model to be better"]
    return sentence(parts, " (counts, not tests).")



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
    if sig.bootstrap is not None:
        footer.append(["hierarchical bootstrap over seeds and test images", "", "", interval_cell(sig.bootstrap), "",
                       "", sig.bootstrap.metric("p")])
    footer.append([f"verdict at α = {sig.alpha:g}: {sig.verdict}{run_scope(sig.over_seeds)}", "", "", "", "", "",
                   ""])
    over_seeds = (", then the t-test and the hierarchical bootstrap over seeds and test images" if sig.over_seeds
                  else "; with one seed the verdict describes this run")
    return Table(["seed", f"{first.name} accuracy", f"{second.name} accuracy", "difference (points)",
                  f"b ({first.name} only)", f"c ({second.name} only)", "p"], rows, footer,
                 caption=f"Significance of the accuracy difference ({first.name} minus {second.name}): McNemar's "
                         f"exact test per seed (b: test images only the {first.name} classifies correctly, c: only "
                         f"the {second.name}){over_seeds}.")


def accuracy_verdict(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """Which model is more accurate, only if significantly so; with one seed, of this run."""
    ahead = accuracy_lead(a, b)
    scope = "Over the seeds and test images" if sig.over_seeds else "In this run"
    if ahead is None:
        return sentence(f"{scope} the {a.name} and the {b.name} are equally accurate.")
    if sig.significant:
        return sentence(f"{scope} {ahead.winner.the} is the more accurate model, by ", ahead.margin,
                        " percentage points, a significant difference.")
    return sentence(f"{scope} neither model is shown to be more accurate: {ahead.winner.the}'s lead of ",
                    ahead.margin, " percentage points is not significant.")


def accuracy_difference_interval(contents: ReportContents) -> BootstrapTest:
    """The first model's accuracy minus the second's, in points, with its hierarchical-bootstrap interval (over
    seeds and test images; with one seed, over test images only)."""
    return gap_interval(contents.runs, contents.rules, compare_key("accuracy_boot"))


def accuracy_row(contents: ReportContents, sig: Significance) -> SummaryRow:
    """The accuracy line of the Summary of findings (a primary comparison): each model's accuracy with its
    interval, the difference with its interval, and the verdict."""
    a, b = contents.models
    ahead = accuracy_lead(a, b)
    scope = run_scope(sig.over_seeds)
    if ahead is None or not sig.significant:
        verdict = sentence(f"no difference shown{scope}")
    else:
        verdict = sentence(f"{ahead.winner.name} higher{scope}")
    values = tuple(sentence(stat_cell(m.accuracy), " ", interval_cell(model_interval(contents, m)))
                   for m in (a, b))
    return SummaryRow("Test accuracy (%)", values, sig.difference.mean,
                      interval_cell(accuracy_difference_interval(contents)), verdict, primary=True)


def accuracy_claim(contents: ReportContents, sig: Significance) -> ClaimFinding:
    """The original study's "the CNN is more accurate", as this report's accuracy test bears on it: supported or
    contradicted only by a test over seeds."""
    ahead = accuracy_lead(*contents.models)
    if not sig.over_seeds:
        said = "not significant" if ahead is None or not sig.significant else f"{ahead.winner.name} ahead, significant"
        return ClaimFinding("cnn-more-accurate", INCONCLUSIVE,
                            sentence(f"one seed: in this run {said}; train with {SEEDS_FOR_A_TEST}"))
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
            Bullets([accuracy_sentence(a, b, sig), interval_sentence(contents, sig), wins_sentence(a, b, sig)]),
            significance_table(contents, sig),
        ]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        if not contents.comparative:
            return None
        a, b = contents.models
        sig = model_significance(contents)
        return Verdict((accuracy_verdict(a, b, sig),), rows=(accuracy_row(contents, sig),),
                       claims=(accuracy_claim(contents, sig),))
