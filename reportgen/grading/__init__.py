"""`reportgen grade`: one grade sheet for many submitted bundles: grades.csv, grades.json, grades.html.

One row per bundle, in the order given (reportgen.grading.rows): whether it verified (reportgen's
verification; deeply, from its weights, with `deep=True`) and the first failure's reason, per model
the test accuracy and macro F1 recomputed from its predictions (mean over seeds), epochs, seeds, its
origin (trained or evaluated), its dataset fingerprint, the config keys that differ from the seed
protocol (reportgen.config's defaults), and flags:

* possible copies, naming the other bundle (reportgen.grading.copies): identical weights (sha256 of
  weights.pt), identical predictions, or near-identical predictions; identical weights from the same
  training carry a caveat (an honest reproduction gives them too);
* numbers that its predictions do not support: the failed verification checks of kind NUMBERS, in
  report.html or metrics.json, and with `deep=True` those of kind DEEP: predictions, probabilities,
  labels or visuals that its weights do not give (reportgen.grading.deep).

A bundle that cannot be read (missing, broken, hostile) gets a row that says why; the sheet is always
written (reportgen.grading.sheet). A rubric (YAML, see `load_rubric` in reportgen.grading.rubric) adds the
points of each criterion and the score. The deep checks run in parallel worker processes (spawned: fresh
interpreters), or as Ray tasks or SLURM jobs, with a progress bar; the rest reads only the bundles, without
torch, in seconds for a hundred of them. With `gradescope`, each submission also gets a Gradescope results.json
(reportgen.grading.gradescope).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence

from reportgen.errors import ReportgenError
from reportgen.executor_config import ExecutorConfig
from reportgen.grading.copies import (
    NEAR_IDENTICAL_AGREEMENT,
    NEAR_IDENTICAL_MIN_IMAGES,
    NEAR_IDENTICAL_SAME_ERRORS,
    REPRODUCTION,
    copy_flags,
    prediction_likeness,
)
from reportgen.grading.deep import run_deep
from reportgen.grading.gradescope import RESULTS_JSON, write_gradescope
from reportgen.grading.rows import Flag, Submission, read_submission, shown_names
from reportgen.grading.rubric import Criterion, apply_rubric, load_rubric
from reportgen.grading.sheet import GRADES_CSV, GRADES_HTML, GRADES_JSON, columns, write_sheet

__all__ = ["GRADES_CSV", "GRADES_HTML", "GRADES_JSON", "NEAR_IDENTICAL_AGREEMENT", "NEAR_IDENTICAL_MIN_IMAGES",
           "NEAR_IDENTICAL_SAME_ERRORS", "REPRODUCTION", "RESULTS_JSON", "Criterion", "Flag", "Submission", "columns",
           "grade_bundles", "load_rubric", "prediction_likeness", "read_submission", "shown_names"]


def grade_bundles(paths: Sequence[Path], out: Path, deep: bool = False, data_dir: Path | None = None,
                  rubric: Path | None = None, jobs: int | None = None, progress: bool = True,
                  log: Callable[[str], None] = print, gradescope: Path | None = None,
                  executor: ExecutorConfig | None = None) -> list[Path]:
    """Grade the bundles at `paths` into ``<out>/grades.{csv,json,html}``; return the files written.

    `out` must not be inside a graded bundle (the sheet would become part of it). The rubric is read
    before any bundle, so a broken rubric stops at once. With `deep`, `jobs` worker processes (default:
    one per CPU core, at most one per bundle) verify the bundles from their weights, reading the images
    from `data_dir` (default: each bundle's own source, when this machine has it); `progress` shows a bar.
    With `gradescope`, a folder (not inside a graded bundle either), also write each submission's Gradescope
    results.json there: ``<gradescope>/results.json`` for one bundle, ``<gradescope>/<name>/results.json``
    for several (reportgen.grading.gradescope); the files written are returned after the sheet's. A Ray or SLURM
    `executor` runs each bundle's deep verification as one task or job (SLURM's files in `<out>/slurm`).
    """
    started = time.monotonic()
    criteria = load_rubric(rubric) if rubric is not None else []
    out = Path(out)
    targets = [(out, "the sheet")] + ([(Path(gradescope), "the Gradescope results")] if gradescope else [])
    for path in paths:
        for target, what in targets:
            if Path(path).is_dir() and target.resolve().is_relative_to(Path(path).resolve()):
                raise ReportgenError(f"{target} is inside the graded bundle {path}: write {what} to another folder")
    names = shown_names([Path(p) for p in paths])  # one name per row, told apart from the others'
    submissions = [read_submission(Path(p), name) for p, name in zip(paths, names)]
    copy_flags(submissions)
    if deep:
        count = f"{len(submissions)} bundle{'s' if len(submissions) != 1 else ''}"
        log(f"verifying {count} deeply (weights re-predict the test set)")
        run_deep(submissions, data_dir, jobs or min(len(submissions), os.cpu_count() or 1), progress, executor,
                 out / "slurm")
    if criteria:
        for submission in submissions:
            apply_rubric(submission.row, criteria)
    written = write_sheet(submissions, criteria, out, deep)
    if gradescope is not None:
        written += write_gradescope(submissions, criteria, Path(gradescope), deep, time.monotonic() - started)
    return written
