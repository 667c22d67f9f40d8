"""A submission's row of the grade sheet: its bundle verified and read into numbers, and its flags.

`read_submission` opens one bundle (reportgen.bundle, untrusted input), runs `verify_bundle` on it and
fills its row: whether it verified and the first failure, per model the test accuracy and macro F1
recomputed from its predictions (mean over seeds), epochs, seeds, origin, dataset fingerprint, the
config keys that differ from the seed protocol, and a flag for each check of kind NUMBERS that failed.
It also keeps each run's print (`RunPrint`) for copy detection (reportgen.grading.copies).

This module is the one place grading imports reportgen's verification from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reportgen.bundle import Bundle, RunData
from reportgen.config import KNOWN_MODELS, Config
from reportgen.errors import ReportgenError, one_line
from reportgen.grading.names import ShownName, shown_names
from reportgen.mappings import flatten
from reportgen.metrics import compute_metrics
from reportgen.verification import DEEP, NUMBERS, Check, deep_data_config, verify_bundle, verify_deep

__all__ = ["COPY", "DEEP", "FLAG_LABELS", "NAME", "NUMBERS", "SHORT_LABEL", "Check", "Flag", "RunPrint",
           "ShownName", "Submission", "add_flag", "check_flag", "config_changes", "deep_data_config", "empty_row",
           "first_failed", "failure_text", "first_failure", "name_flag", "named", "read_submission", "shorten",
           "shown_names", "verify_bundle", "verify_deep"]

# Flag kinds: a possible copy (reportgen.grading.copies), a folder name shown as code points because a reader
# could not tell it from another's (reportgen.grading.names); the others are the kinds of the failed checks they
# come from: numbers its predictions do not support (NUMBERS), results its weights do not give (DEEP).
COPY, NAME = "copy", "name"
# How a flag's short label starts, by kind.
FLAG_LABELS = {COPY: "copy?", NAME: "name?", NUMBERS: "unsupported:", DEEP: "weights disagree:"}
# Config keys that do not change results: where files are, CPU threads, what the report shows and analyses.
IGNORED_CONFIG_KEYS = ("data.dir", "data.cache_dir", "train.num_threads")
IGNORED_CONFIG_PREFIXES = ("report.", "analysis.")
SHORT_LABEL = 44  # the most characters of a flag's short label (grades.html shows it in the flags cell)


@dataclass(frozen=True)
class Flag:
    """One flag of a row: its `kind` (COPY, NUMBERS or DEEP), a `short` label for the HTML cell, the full
    `detail`, and a `caveat` that weakens it ("" for none), given once per sheet in grades.html."""

    kind: str
    short: str
    detail: str
    caveat: str = ""

    @property
    def text(self) -> str:
        """The flag as grades.json and grades.csv give it: the detail, and the caveat if any."""
        return self.detail + (f" (caveat: {self.caveat})" if self.caveat else "")


@dataclass
class RunPrint:
    """What copy detection compares of one run; `key` is the run key run.json records (None: none recorded)."""

    model: str
    seed: int
    weights_sha256: str
    labels: np.ndarray
    preds: np.ndarray
    key: str | None = None


@dataclass
class Submission:
    """One graded bundle: its row of the sheet, its flags (the row holds their text) and the prints of its runs."""

    path: Path
    row: dict[str, Any]
    prints: list[RunPrint] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with "…" where it was cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" :;,") + "…"


def empty_row(path: Path, name: ShownName | None = None) -> dict[str, Any]:
    """A row with every column, as for a bundle nothing could be read from: its counts are unknown (None),
    not 0, so that no rubric criterion is met by what could not be read. `name`: how the sheet shows `path`
    among the others graded (reportgen.grading.names; by default as if it were the only one)."""
    shown = name or shown_names([path])[0]
    row: dict[str, Any] = {"bundle": shown.text, "verified": False, "verify_failure": "",
                           "deep_verified": None, "deep_failure": "", "origin": None, "dataset": None}
    for model in KNOWN_MODELS:
        row[f"{model}_accuracy"] = None
        row[f"{model}_macro_f1"] = None
    row.update(epochs=None, seeds=[], seed_count=None, config_changes=[], config_change_count=None, flags=[],
               flag_count=None)
    return row


def read_submission(path: Path, name: ShownName | None = None) -> Submission:
    """Verify the bundle at `path` and read its row; a bundle that cannot be read gets a row that says why.
    `name`: how the sheet shows it among the others (`empty_row`); a name shown as code points is flagged.

    Any exception counts as unreadable, not only reportgen's own errors: one hostile bundle must never
    stop the sheet of a whole class, and its row names the error.
    """
    submission = Submission(path, empty_row(path, name))
    try:
        bundle = Bundle(path)
        checks = verify_bundle(bundle)
        _fill_row(submission, bundle, checks)
    except Exception as exc:  # see the docstring: the row names it
        submission.row["verify_failure"] = named(failure_text(exc), submission)
    if name is not None and name.looks_like_another:
        add_flag(submission, name_flag(name))
    return submission


def named(text: str, submission: Submission) -> str:
    """`text` (a failure's line) with the submission's path in it as the sheet shows it (`empty_row`)."""
    return text.replace(one_line(str(submission.path)), submission.row["bundle"])


def name_flag(name: ShownName) -> Flag:
    """The flag of a submission whose name is shown as code points (reportgen.grading.names)."""
    return Flag(NAME, shorten(f"{FLAG_LABELS[NAME]} {name.problem}", SHORT_LABEL),
                f"its folder name {name.problem}: shown as {name.text}, its characters as code points, so that it "
                "can be told apart")


def failure_text(exc: Exception) -> str:
    """Why a bundle could not be read, as one line of its row: reportgen's own error as it is, any other as
    unreadable with its type (a stranger's folder name in it escaped: errors.one_line)."""
    if isinstance(exc, ReportgenError):
        return one_line(str(exc))
    return one_line(f"unreadable ({type(exc).__name__}: {str(exc)[:200]})")


def first_failure(checks: Sequence[Check]) -> str:
    """The first failed check as "name: detail", or "" when all passed."""
    failed = first_failed(checks)
    return "" if failed is None else failed.name + (f": {failed.detail}" if failed.detail else "")


def first_failed(checks: Sequence[Check]) -> Check | None:
    """The first check that failed, or None when all passed."""
    return next((check for check in checks if not check.ok), None)


def check_flag(check: Check) -> Flag:
    """The flag of a failed check of kind NUMBERS or DEEP."""
    label = FLAG_LABELS[check.kind] + " "
    short = label + shorten(check.name.removeprefix("deep: "), SHORT_LABEL - len(label))
    if check.kind == NUMBERS:
        return Flag(NUMBERS, short, f"numbers its predictions do not support: {check.name}: {check.detail}")
    detail = check.name + (f": {check.detail}" if check.detail else "")
    return Flag(DEEP, short, f"results its weights do not give: {detail}")


def add_flag(submission: Submission, flag: Flag) -> None:
    """Add a flag to a submission read from a bundle (one that could not be read gets none: its failure says why)."""
    if submission.row["flag_count"] is None:
        return
    submission.flags.append(flag)
    submission.row["flags"].append(flag.text)
    submission.row["flag_count"] = len(submission.flags)


def _fill_row(submission: Submission, bundle: Bundle, checks: list[Check]) -> None:
    row = submission.row
    runs = {model: bundle.runs(model) for model in bundle.models()}
    classes = bundle.dataset()["classes"]
    row["verify_failure"] = first_failure(checks)
    row["verified"] = not row["verify_failure"]
    every_run = [run for model_runs in runs.values() for run in model_runs]
    row["origin"] = "/".join(sorted({run.origin for run in every_run}))
    row["dataset"] = bundle.dataset()["fingerprint"][:12]
    for model, model_runs in runs.items():  # the config allows only KNOWN_MODELS, the sheet's columns
        metrics = [compute_metrics(run.labels, run.preds, classes) for run in model_runs]
        row[f"{model}_accuracy"] = round(100 * float(np.mean([m["accuracy"] for m in metrics])), 2)
        row[f"{model}_macro_f1"] = round(float(np.mean([m["macro"]["f1"] for m in metrics])), 4)
    epochs = [run.info["epochs"] for run in every_run if run.history is not None]
    row["epochs"] = max(epochs) if epochs else None
    row["seeds"] = sorted({run.seed for run in every_run})
    row["seed_count"] = len(row["seeds"])
    row["config_changes"] = config_changes(bundle.config())
    row["config_change_count"] = len(row["config_changes"])
    row["flag_count"] = 0
    for check in checks:
        if not check.ok and check.kind == NUMBERS:
            add_flag(submission, check_flag(check))
    submission.prints = [_run_print(bundle, run) for run in every_run]


def _run_print(bundle: Bundle, run: RunData) -> RunPrint:
    weights = (run.path / "weights.pt").relative_to(bundle.root).as_posix()
    key = run.info.get("key")  # build records it; evaluated runs have none
    return RunPrint(run.model, run.seed, bundle.sha256(weights), run.labels, run.preds,
                    key if isinstance(key, str) and key else None)


def config_changes(config: Config) -> list[str]:
    """The config keys whose values differ from the seed protocol (Config()'s defaults), as key=value.

    Keys that do not change results (IGNORED_CONFIG_KEYS, report.*, analysis.*) are left out.
    """
    ours, seed = flatten(config.to_dict()), flatten(Config().to_dict())
    return [f"{key}={json.dumps(value)[:80]}" for key, value in ours.items()
            if value != seed.get(key) and key not in IGNORED_CONFIG_KEYS
            and not key.startswith(IGNORED_CONFIG_PREFIXES)]
