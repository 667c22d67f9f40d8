"""How a bootstrap test and its family adjustment read in prose and tables, for the measure sections
(robustness, calibration, explanations): one wording, so that every such verdict says the same things.

A `BootstrapTest` (reportgen.report.stats) over one seed holds the weights fixed: its verdict describes
that run ("in this run") and the prose says which seeds would make it a test of the models. A test in a
family (reportgen.report.multiplicity) is decided by its adjusted p; both p-values are printed.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportgen.presets import PRESETS
from reportgen.report.kernel import Metric, Part, Sentence, p_parts, sentence

if TYPE_CHECKING:  # annotations only: the wording needs no statistics, and keeps the import chain short
    from reportgen.report.multiplicity import Family
    from reportgen.report.stats import BootstrapTest

# What a one-run report says would turn its description into a test: the study preset's seeds.
SEEDS_FOR_A_TEST = "--seeds " + ",".join(str(seed) for seed in PRESETS["study"]["train"]["seeds"])
METHOD_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def interval_parts(test: BootstrapTest) -> list[Part]:
    """"[low, high]" of the test's percentile interval."""
    return ["[", test.metric("low"), ", ", test.metric("high"), "]"]


def interval_cell(test: BootstrapTest) -> Sentence:
    """The interval as a table cell."""
    return sentence(interval_parts(test))


def run_scope(over_seeds: bool) -> str:
    """"" when seed-to-seed variation is part of the test, else " in this run" (the weights held fixed)."""
    return "" if over_seeds else " in this run"


def bootstrap_evidence(test: BootstrapTest, family: Family | None = None) -> list[Part]:
    """"95% interval [a, b], p = x" (and ", adjusted p = y (Holm, the 10 corruptions)" within a family), and what
    was resampled."""
    resampled = "seeds and test images" if test.over_seeds else "test images, one seed"
    parts: list[Part] = [f"{test.level:.0%} interval ", *interval_parts(test), ", ", *bootstrap_p_parts(test)]
    if family is not None and len(family.raw) > 1:
        adjusted = family.adjusted_p(test.metric("p").key)
        parts += [f", {METHOD_NAMES[family.method]}-adjusted over {family.name} ", *p_parts(adjusted)]
    return parts + [f"; bootstrap over {resampled}"]


def decided(test: BootstrapTest, alpha: float, family: Family | None = None) -> bool:
    """Whether the test rejects "no difference": its adjusted p within a family of several tests, else its p."""
    if test.estimate == 0:
        return False
    if family is not None and len(family.raw) > 1:
        return family.adjusted_p(test.metric("p").key).value < alpha
    return test.p < alpha


def and_list(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def labelled(label: str, finding: Sentence) -> Sentence:
    """"Label: finding" for the Conclusion, the finding's first word in lower case unless it is a name (CNN)."""
    first, *rest = finding.parts
    if isinstance(first, str) and first[:1].isupper() and not first.split(" ", 1)[0].isupper():
        first = first[0].lower() + first[1:]
    return sentence(f"{label}: ", first, *rest)


def bootstrap_p_parts(test: BootstrapTest) -> list[Part]:
    """"p = x", or "p ≤ x" at the smallest p its resamples can give (2 / (resamples + 1)): no resample crossed 0."""
    return p_parts(test.metric("p"))


def bootstrap_p_cell(test: BootstrapTest) -> Metric:
    """A bootstrap test's p as a table cell, "≤ x" where no resample crossed 0."""
    return test.metric("p")


@dataclass(frozen=True)
class OneRunNote(Sentence):
    """The one-seed caveat of some comparisons (`what`: "the calibration comparisons"), so that the Conclusion can
    state the caveats of several sections once (`merged_one_run_notes`)."""

    what: str = ""


def one_run_note(what: str) -> OneRunNote:
    """The caveat of a comparison made at one seed: what it describes, and which seeds would make it a test."""
    return OneRunNote(sentence(
        f"With one seed, {what} describe this run's weights (the bootstrap resamples test images only); trained with "
        f"several seeds (e.g. {SEEDS_FOR_A_TEST}) they would test the models, with the seed-to-seed spread in the "
        "interval.").parts, what)


COMPARISONS = " comparisons"


def merged_one_run_notes(sentences: list[Sentence]) -> list[Sentence]:
    """`sentences` with their one-seed caveats of "the <X> comparisons" stated once, where the last stood (after every
    finding it qualifies): "With one seed, the calibration, robustness and faithfulness comparisons describe ..."."""
    notes = [s for s in sentences if isinstance(s, OneRunNote) and s.what.startswith("the ")
             and s.what.endswith(COMPARISONS)]
    if len(notes) < 2:
        return list(sentences)
    names = and_list([n.what.removeprefix("the ").removesuffix(COMPARISONS) for n in notes])
    merged = one_run_note(f"the {names}{COMPARISONS}")
    return [merged if s is notes[-1] else s for s in sentences if s is notes[-1] or not any(s is n for n in notes)]
