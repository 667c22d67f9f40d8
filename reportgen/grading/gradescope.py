"""Gradescope results: one ``results.json`` per graded submission, for running reportgen in an autograder.

The format is Gradescope's autograder output, "Autograder Specifications", section "Output format"
(https://gradescope-autograders.readthedocs.io/en/latest/specs/). Of its fields, reportgen writes:

* top level: ``score`` (the submission's score; Gradescope takes it over the tests' total when given, so
  it is written and always equals the sum of the tests' scores), ``execution_time`` (seconds, an
  integer), ``output`` (text about the whole submission: what was graded, whether it verified and why
  not, its flags, the score) and ``tests``; ``visibility`` and ``stdout_visibility`` are left out, so
  that the assignment's own settings on Gradescope apply;
* per test: ``name``, ``number`` (text, "1", "2", ... in order), ``score``, ``max_score``, ``status``
  ("passed" or "failed", the spec's two values: a test worth 0 points shows as failed only through it),
  ``output`` (plain text), ``tags`` and ``visibility`` (one of ``VISIBILITIES``: "hidden",
  "after_due_date", "after_published", "visible").

The tests are, in order:

1. ``verification``: every `reportgen verify` check passed (integrity: schema, manifest, checksums;
   numbers: every metric and every number of report.html recomputed from the predictions), the first
   failure as its output otherwise;
2. ``verification from the weights``, only when `--deep` ran (as `verify --deep`);
3. one test per rubric criterion: ``max_score`` is the criterion's points, ``score`` those points when
   the criterion is met and 0 otherwise; the output gives the field's value and the rule; the
   criterion's optional `visibility` and `tags` (reportgen.grading.rubric) become the test's.

Without a rubric each verification test is worth VERIFICATION_POINTS (1) point, so the score is the
number of them passed (1 of 1, or 2 of 2 with --deep). With a rubric the rubric alone says what a
submission is worth: the verification tests are worth 0 points and report only their status (a rubric
that wants points for verifying names the field `verified` or `deep_verified`).

A submission that cannot be read (missing, broken, hostile) gets a results.json too: score 0, every test
failed, and an ``output`` that says why; one bad submission never stops the others.

Where the files go: with one graded bundle, ``<dir>/results.json`` (Gradescope's autograder grades one
submission, at /autograder/submission, and reads /autograder/results/results.json); with several,
``<dir>/<name>/results.json`` per bundle, the name being the bundle folder's name with every character
but letters, digits, ".", "_" and "-" replaced by "_", cut to NAME_LENGTH characters; names that would be the
same (also when they differ only in case) get "-2", "-3", ... in the order given. Each file is written atomically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from reportgen import __version__
from reportgen.bundle_files import atomic_output
from reportgen.grading.rows import Submission
from reportgen.grading.rubric import VISIBILITIES, Criterion

__all__ = ["RESULTS_JSON", "VERIFICATION_POINTS", "VISIBILITIES", "results", "results_names", "write_gradescope"]

RESULTS_JSON = "results.json"
VERIFICATION_POINTS = 1.0  # what each verification test is worth when there is no rubric
PASSED, FAILED = "passed", "failed"  # Gradescope's test statuses
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# The longest folder name kept (then "-2", "-3", ...): ASCII once SAFE_NAME has replaced the rest, so well within
# the 255 bytes of a file name however long the submission's folder name was.
NAME_LENGTH = 200


def _test(name: str, score: float, max_score: float, passed: bool, output: str, tags: Sequence[str],
          visibility: str | None) -> dict[str, Any]:
    test: dict[str, Any] = {"name": name, "score": score, "max_score": max_score,
                            "status": PASSED if passed else FAILED, "output": output, "tags": list(tags)}
    if visibility is not None:
        test["visibility"] = visibility
    return test


def _unreadable(row: dict[str, Any]) -> bool:
    """Whether nothing could be read from the row's bundle (rows.empty_row's unknown counts stayed unknown)."""
    return row.get("flag_count") is None


def _rule(criterion: Criterion) -> str:
    parts = []
    if criterion.min is not None:
        parts.append(f"at least {criterion.min:g}")
    if criterion.max is not None:
        parts.append(f"at most {criterion.max:g}")
    if criterion.equals is not None:
        parts.append(f"equal to {json.dumps(criterion.equals)}")
    return f"{criterion.field} {' and '.join(parts)}"


def _criterion_test(row: dict[str, Any], criterion: Criterion) -> dict[str, Any]:
    met = criterion.met(row)
    value = row.get(criterion.field)
    shown = "unknown" + (" (the bundle could not be read)" if _unreadable(row) else "") if value is None \
        else json.dumps(value)
    output = (f"{criterion.field} is {shown}; the rule: {_rule(criterion)}: "
              f"{'met' if met else 'not met'}, {criterion.points if met else 0.0:g} of {criterion.points:g} points")
    return _test(criterion.name, criterion.points if met else 0.0, criterion.points, met, output,
                 criterion.tags, criterion.visibility)


def _verification_tests(row: dict[str, Any], deep: bool, points: float) -> list[dict[str, Any]]:
    why = row["verify_failure"] or "the bundle could not be read"
    tests = [_test("verification", points if row["verified"] else 0.0, points, bool(row["verified"]),
                   "every check passed: the manifest's checksums, the schema, and every metric and number of "
                   "report.html recomputed from the predictions" if row["verified"] else f"failed: {why}",
                   ["verification"], None)]
    if deep:
        ok = row["deep_verified"] is True
        detail = row["deep_failure"] or (why if _unreadable(row) else "not verified")
        tests.append(_test("verification from the weights", points if ok else 0.0, points, ok,
                           "the weights re-predict the stored predictions, probabilities and visuals" if ok
                           else f"failed: {detail}", ["verification"], None))
    return tests


def results(submission: Submission, criteria: Sequence[Criterion], deep: bool,
            execution_time: float) -> dict[str, Any]:
    """The results.json of one graded submission (see the module's docstring)."""
    row = submission.row
    points = 0.0 if criteria else VERIFICATION_POINTS
    tests = _verification_tests(row, deep, points) + [_criterion_test(row, c) for c in criteria]
    for number, test in enumerate(tests, 1):
        test["number"] = str(number)
    score = sum(test["score"] for test in tests)
    max_score = sum(test["max_score"] for test in tests)
    lines = [f"reportgen {__version__} graded {row['bundle']}."]
    if _unreadable(row):
        lines.append(f"The bundle could not be read, so it scores 0: {row['verify_failure']}")
    else:
        lines.append("It verified." if row["verified"] else f"It did not verify: {row['verify_failure']}")
        if deep:
            lines.append("It verified from its weights." if row["deep_verified"]
                         else f"It did not verify from its weights: {row['deep_failure'] or 'not verified'}")
        lines.extend(f"Flag: {flag}" for flag in row["flags"])
    lines.append(f"Score: {score:g} of {max_score:g}.")
    return {"score": score, "execution_time": max(0, round(execution_time)), "output": "\n".join(lines),
            "tests": tests}


def results_names(submissions: Sequence[Submission]) -> list[str]:
    """Each submission's folder name under the Gradescope folder: sanitised and unique (see the docstring)."""
    names: list[str] = []
    taken: set[str] = set()
    for submission in submissions:
        path = Path(submission.path)
        base = SAFE_NAME.sub("_", path.name or path.resolve().name).lstrip(".")[:NAME_LENGTH] or "submission"
        name, count = base, 1
        while name.lower() in taken:
            count += 1
            name = f"{base}-{count}"
        taken.add(name.lower())
        names.append(name)
    return names


def write_gradescope(submissions: Sequence[Submission], criteria: Sequence[Criterion], folder: Path, deep: bool,
                     execution_time: float) -> list[Path]:
    """Write each submission's results.json under `folder`, atomically; return the files written.

    One submission: ``<folder>/results.json``; several: ``<folder>/<name>/results.json`` (`results_names`).
    `execution_time` is the grading's wall time in seconds, given to every submission.
    """
    folder = Path(folder)
    if len(submissions) == 1:
        targets = [folder / RESULTS_JSON]
    else:
        targets = [folder / name / RESULTS_JSON for name in results_names(submissions)]
    for submission, target in zip(submissions, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(results(submission, criteria, deep, execution_time), indent=2) + "\n"
        with atomic_output(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return targets
