"""`reportgen grade`: one grade sheet for many submitted bundles: grades.csv, grades.json, grades.html.

One row per bundle, in the order given: whether it verified (reportgen.verify; deeply, from its
weights, with `deep=True`) and the first failure's reason, per model the test accuracy and macro F1
recomputed from its predictions (mean over seeds), epochs, seeds, its origin (trained or evaluated),
its dataset fingerprint, the config keys that differ from the seed protocol (reportgen.config's
defaults), and flags:

* possible copies, naming the other bundle: identical weights (sha256 of weights.pt), identical
  predictions (the same predicted class for every test image), or near-identical predictions
  (NEAR_IDENTICAL_*: agreement on at least 99 % of at least 1,000 test images, and the same wrong
  class on at least 90 % of the images either one gets wrong);
* numbers that its predictions do not support: in report.html or metrics.json (what verify finds),
  and with `deep=True` predictions, probabilities, labels or visuals that its weights do not give.

A bundle that cannot be read (missing, broken, hostile) gets a row that says why; the sheet is
always written. A rubric (YAML, see `load_rubric`) adds the points of each criterion and the score.
The deep checks run in parallel worker processes (spawned: fresh interpreters) with a progress bar;
the rest reads only the bundles, without torch, in seconds for a hundred of them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import jinja2
import numpy as np

from reportgen import __version__
from reportgen.bundle import Bundle, RunData, atomic_output
from reportgen.compare import flatten
from reportgen.config import KNOWN_MODELS, Config
from reportgen.errors import ConfigError, ReportgenError
from reportgen.evaluation import compute_metrics
from reportgen.verification import Check, verify_bundle

GRADES_CSV, GRADES_JSON, GRADES_HTML = "grades.csv", "grades.json", "grades.html"
# Two independent trainings of the same study disagree on many more test images than 1 %: on the quick
# preset, seeds 42 and 43 agree on 78.9 % (CNN) and 67.6 % (ViT) of the 1,000 test images, with the same
# wrong class on 58 % and 50 % of the errors (README, "Grading a class"). Agreement alone is not enough
# for models that are nearly always right, so the errors must coincide too; and on fewer than 1,000
# images chance agreement is too likely to call anything a copy.
NEAR_IDENTICAL_AGREEMENT = 0.99
NEAR_IDENTICAL_SAME_ERRORS = 0.90
NEAR_IDENTICAL_MIN_IMAGES = 1000
# Config keys that do not change results: where files are, CPU threads, what the report shows and analyses.
IGNORED_CONFIG_KEYS = ("data.dir", "data.cache_dir", "train.num_threads")
IGNORED_CONFIG_PREFIXES = ("report.", "analysis.")
NUMBERS_CHECKS = ("metrics.json recomputed from predictions.csv", "report.html: numbers equal")


@dataclass
class RunPrint:
    """What copy detection compares of one run."""

    model: str
    seed: int
    weights_sha256: str
    labels: np.ndarray
    preds: np.ndarray


@dataclass
class Submission:
    """One graded bundle: its row of the sheet and the prints of its runs."""

    path: Path
    row: dict[str, Any]
    prints: list[RunPrint] = field(default_factory=list)


# ---------------------------------------------------------------- one bundle


def empty_row(path: Path) -> dict[str, Any]:
    """A row with every column, as for a bundle nothing could be read from: its counts are unknown (None),
    not 0, so that no rubric criterion is met by what could not be read."""
    row: dict[str, Any] = {"bundle": str(path), "verified": False, "verify_failure": "", "deep_verified": None,
                           "deep_failure": "", "origin": None, "dataset": None}
    for model in KNOWN_MODELS:
        row[f"{model}_accuracy"] = None
        row[f"{model}_macro_f1"] = None
    row.update(epochs=None, seeds=[], seed_count=None, config_changes=[], config_change_count=None, flags=[],
               flag_count=None)
    return row


def read_submission(path: Path) -> Submission:
    """Verify the bundle at `path` and read its row; a bundle that cannot be read gets a row that says why.

    Any exception counts as unreadable, not only reportgen's own errors: one hostile bundle must never
    stop the sheet of a whole class, and its row names the error.
    """
    submission = Submission(path, empty_row(path))
    try:
        bundle = Bundle(path)
        checks = verify_bundle(bundle)
        _fill_row(submission, bundle, checks)
    except ReportgenError as exc:
        submission.row["verify_failure"] = str(exc)
    except Exception as exc:  # see the docstring: the row names it
        submission.row["verify_failure"] = f"unreadable ({type(exc).__name__}: {str(exc)[:200]})"
    return submission


def first_failure(checks: Sequence[Check]) -> str:
    """The first failed check as "name: detail", or "" when all passed."""
    for check in checks:
        if not check.ok:
            return check.name + (f": {check.detail}" if check.detail else "")
    return ""


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
    row["flags"] = [f"numbers its predictions do not support: {c.name}: {c.detail}"
                    for c in checks if not c.ok and any(marker in c.name for marker in NUMBERS_CHECKS)]
    row["flag_count"] = len(row["flags"])
    submission.prints = [_run_print(bundle, run) for run in every_run]


def _run_print(bundle: Bundle, run: RunData) -> RunPrint:
    weights = (run.path / "weights.pt").relative_to(bundle.root).as_posix()
    return RunPrint(run.model, run.seed, bundle.sha256(weights), run.labels, run.preds)


def config_changes(config: Config) -> list[str]:
    """The config keys whose values differ from the seed protocol (Config()'s defaults), as key=value.

    Keys that do not change results (IGNORED_CONFIG_KEYS, report.*, analysis.*) are left out.
    """
    ours, seed = flatten(config.to_dict()), flatten(Config().to_dict())
    return [f"{key}={json.dumps(value)[:80]}" for key, value in ours.items()
            if value != seed.get(key) and key not in IGNORED_CONFIG_KEYS
            and not key.startswith(IGNORED_CONFIG_PREFIXES)]


# ---------------------------------------------------------------- copies


def copy_flags(submissions: Sequence[Submission]) -> None:
    """Flag, on both rows, each pair of submissions that share a run's weights or (near-)identical predictions."""
    for i, first in enumerate(submissions):
        for second in submissions[i + 1:]:
            for model in KNOWN_MODELS:
                findings = [_likeness(a, b) for a in first.prints if a.model == model
                            for b in second.prints if b.model == model]
                strongest = min((f for f in findings if f is not None), default=None)
                if strongest is not None:
                    note = _reproduction_note(first.row, second.row) if strongest[0] == 0 else ""
                    why = f"{model} {strongest[1]}{note}"
                    add_flag(first.row, f"possible copy of {second.row['bundle']}: {why}")
                    add_flag(second.row, f"possible copy of {first.row['bundle']}: {why}")


def _reproduction_note(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A caveat for identical weights when two submissions ran the same config at the same seeds on the same data:
    an honest reproduction gives the same weights on a CPU, so the match proves a copy only if they were meant to
    differ. (Identical predictions from other weights get no such caveat: a reproduction would share the weights.)"""
    same = all(a[key] == b[key] for key in ("config_changes", "seeds", "dataset")) and a["dataset"] is not None
    return (" (but both ran the same config at the same seeds on the same data, which reproduces the same "
            "results on a CPU: a copy only if the submissions were meant to differ)") if same else ""


def add_flag(row: dict[str, Any], flag: str) -> None:
    """Add a flag to a row read from a bundle (a row that could not be read gets none: its failure says why)."""
    row["flags"].append(flag)
    row["flag_count"] = len(row["flags"])


def _likeness(a: RunPrint, b: RunPrint) -> tuple[int, str] | None:
    """(rank, description) of how alike two runs are, rank 0 the strongest evidence; None when they are not."""
    if a.weights_sha256 == b.weights_sha256:
        return 0, f"weights identical (sha256 {a.weights_sha256[:12]}…)"
    if not np.array_equal(a.labels, b.labels):
        return None  # other test images: predictions cannot be compared
    if np.array_equal(a.preds, b.preds):
        return 1, f"predictions identical on all {len(a.preds):,} test images"
    agreement, same_errors = prediction_likeness(a.labels, a.preds, b.preds)
    if (len(a.preds) >= NEAR_IDENTICAL_MIN_IMAGES and agreement >= NEAR_IDENTICAL_AGREEMENT
            and same_errors >= NEAR_IDENTICAL_SAME_ERRORS):
        return 2, (f"predictions nearly identical ({agreement:.1%} agreement on {len(a.preds):,} test images, "
                   f"the same wrong class on {same_errors:.0%} of the errors)")
    return None


def prediction_likeness(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """(share of images with the same prediction, share of the images either gets wrong on which both
    predict the same wrong class); the second is 0 when neither makes an error."""
    errors = (first != labels) | (second != labels)
    same_errors = (first == second) & (first != labels)
    return float((first == second).mean()), float(same_errors.sum() / errors.sum()) if errors.any() else 0.0


# ---------------------------------------------------------------- deep checks, in parallel

_worker_data: dict[tuple, Any] = {}  # per worker process: the data sets loaded so far, by source


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def deep_result(path: Path, data_dir: Path | None) -> tuple[bool, str]:
    """(passed, first failure) of `verify --deep` for one bundle; runs in a worker process."""
    from reportgen.data import load_data
    from reportgen.verification import deep_data_config, verify_deep

    try:
        bundle = Bundle(path)
        config = deep_data_config(bundle, data_dir)
        key = (config.dataset, config.dir)
        if key not in _worker_data:
            _worker_data[key] = load_data(config)
        failure = first_failure(verify_deep(bundle, _worker_data[key]))
    except ReportgenError as exc:
        failure = str(exc)
    except Exception as exc:  # one hostile bundle must not stop the sheet: its row names the error
        failure = f"unreadable ({type(exc).__name__}: {str(exc)[:200]})"
    return not failure, failure


def run_deep(submissions: Sequence[Submission], data_dir: Path | None, jobs: int, progress: bool) -> None:
    """Fill deep_verified and deep_failure of every row, `jobs` bundles at a time in worker processes."""
    import multiprocessing

    from tqdm import tqdm

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no threads or torch state inherited
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(deep_result, s.path, data_dir): s for s in submissions}
        for future in tqdm(as_completed(futures), total=len(futures), desc="verify --deep", unit="bundle",
                           disable=not progress):
            row = futures[future].row
            row["deep_verified"], row["deep_failure"] = future.result()
            if row["deep_failure"].startswith("deep: ") and row["flag_count"] is not None:  # a check, not an error
                add_flag(row, f"results its weights do not give: {row['deep_failure']}")


# ---------------------------------------------------------------- rubric

NUMERIC_FIELDS = (*(f"{m}_{q}" for m in KNOWN_MODELS for q in ("accuracy", "macro_f1")), "epochs", "seed_count",
                  "config_change_count", "flag_count")
BOOLEAN_FIELDS = ("verified", "deep_verified")
TEXT_FIELDS = ("origin",)
CRITERION_KEYS = {"name", "field", "points", "min", "max", "equals"}


@dataclass
class Criterion:
    """One rubric line: `points` when the row's `field` is within min..max (inclusive) and equals `equals`."""

    name: str
    field: str
    points: float
    min: float | None = None
    max: float | None = None
    equals: Any = None

    def met(self, row: dict[str, Any]) -> bool:
        value = row.get(self.field)
        if value is None:
            return False
        return ((self.min is None or value >= self.min) and (self.max is None or value <= self.max)
                and (self.equals is None or value == self.equals))


def load_rubric(path: Path) -> list[Criterion]:
    """The criteria of a rubric file; ConfigError (exit 2) with one line naming what is wrong.

    The file is YAML: ``criteria:``, a list of mappings with name, field (a numeric, yes/no or text
    column of the sheet), points (> 0) and at least one of min, max (numeric fields) or equals.
    """
    import yaml

    if not path.is_file():
        raise ConfigError(f"rubric {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"rubric {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or set(data) != {"criteria"} or not isinstance(data["criteria"], list) \
            or not data["criteria"]:
        raise ConfigError(f"rubric {path} must hold one key, criteria: a list of criteria (name, field, points, "
                          "and min, max or equals)")
    criteria = [_criterion(raw, f"rubric {path}: criterion {i}") for i, raw in enumerate(data["criteria"], 1)]
    names = [c.name for c in criteria]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"rubric {path}: two criteria are named '{duplicate}'; give each its own name")
    return criteria


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _criterion(raw: Any, where: str) -> Criterion:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (name, field, points, min/max/equals)")
    unknown = sorted(set(map(str, raw)) - CRITERION_KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown key '{unknown[0]}'; known keys are {', '.join(sorted(CRITERION_KEYS))}")
    name, column = raw.get("name"), raw.get("field")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} needs a name")
    where = f"{where} ('{name}')"
    fields = (*NUMERIC_FIELDS, *BOOLEAN_FIELDS, *TEXT_FIELDS)
    if column not in fields:
        raise ConfigError(f"{where}: field {column!r} is not a column of the sheet; choose one of {', '.join(fields)}")
    if not _is_number(raw.get("points")) or not math.isfinite(raw["points"]) or raw["points"] <= 0:
        raise ConfigError(f"{where}: points must be a positive number")
    if not {"min", "max", "equals"} & set(raw):
        raise ConfigError(f"{where}: give a threshold: min, max (numeric fields) or equals")
    _check_thresholds(raw, column, where)
    return Criterion(name, column, float(raw["points"]), raw.get("min"), raw.get("max"), raw.get("equals"))


def _check_thresholds(raw: dict, column: str, where: str) -> None:
    if column in NUMERIC_FIELDS:
        for key in ("min", "max", "equals"):
            if key in raw and (not _is_number(raw[key]) or not math.isfinite(raw[key])):
                raise ConfigError(f"{where}: {key} must be a finite number for field {column}")
        if "min" in raw and "max" in raw and raw["min"] > raw["max"]:
            raise ConfigError(f"{where}: min {raw['min']} is above max {raw['max']}, so it can never be met")
        return
    if "min" in raw or "max" in raw:
        raise ConfigError(f"{where}: min and max apply to numeric fields; {column} takes equals")
    expected = bool if column in BOOLEAN_FIELDS else str
    if not isinstance(raw["equals"], expected):
        raise ConfigError(f"{where}: equals must be {'true or false' if expected is bool else 'text'} for {column}")


def apply_rubric(row: dict[str, Any], criteria: Sequence[Criterion]) -> None:
    """Add the points of each criterion, the score and the maximum score to `row`."""
    row["points"] = {c.name: (c.points if c.met(row) else 0.0) for c in criteria}
    row["score"] = sum(row["points"].values())
    row["max_score"] = sum(c.points for c in criteria)


# ---------------------------------------------------------------- the sheet


def grade_bundles(paths: Sequence[Path], out: Path, deep: bool = False, data_dir: Path | None = None,
                  rubric: Path | None = None, jobs: int | None = None, progress: bool = True,
                  log: Callable[[str], None] = print) -> list[Path]:
    """Grade the bundles at `paths` into ``<out>/grades.{csv,json,html}``; return the files written.

    `out` must not be inside a graded bundle (the sheet would become part of it). The rubric is read
    before any bundle, so a broken rubric stops at once.
    """
    criteria = load_rubric(rubric) if rubric is not None else []
    out = Path(out)
    for path in paths:
        if Path(path).is_dir() and out.resolve().is_relative_to(Path(path).resolve()):
            raise ReportgenError(f"{out} is inside the graded bundle {path}: write the sheet to another folder")
    submissions = [read_submission(Path(p)) for p in paths]
    copy_flags(submissions)
    if deep:
        count = f"{len(submissions)} bundle{'s' if len(submissions) != 1 else ''}"
        log(f"verifying {count} deeply (weights re-predict the test set)")
        run_deep(submissions, data_dir, jobs or min(len(submissions), os.cpu_count() or 1), progress)
    rows = [s.row for s in submissions]
    for row in rows:
        if criteria:
            apply_rubric(row, criteria)
    return write_sheet(rows, criteria, out, deep)


def write_sheet(rows: list[dict[str, Any]], criteria: Sequence[Criterion], out: Path, deep: bool) -> list[Path]:
    """Write grades.csv, grades.json and grades.html, each atomically."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {"reportgen_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "deep": deep, "near_identical": {"agreement": NEAR_IDENTICAL_AGREEMENT,
                                             "same_errors": NEAR_IDENTICAL_SAME_ERRORS,
                                             "min_images": NEAR_IDENTICAL_MIN_IMAGES},
            "rubric": [c.__dict__ for c in criteria] or None}
    documents = {GRADES_CSV: _csv_text(rows, criteria),
                 GRADES_JSON: json.dumps({**meta, "rows": rows}, indent=2) + "\n",
                 GRADES_HTML: _html_text(rows, criteria, meta)}
    written = []
    for name, text in documents.items():
        with atomic_output(out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


def columns(criteria: Sequence[Criterion]) -> list[str]:
    """The sheet's columns, in order (a rubric adds its points, the score and the maximum)."""
    base = list(empty_row(Path()))
    return base + [f"points: {c.name}" for c in criteria] + (["score", "max_score"] if criteria else [])


def _cell(row: dict[str, Any], column: str) -> Any:
    value = row["points"][column[len("points: "):]] if column.startswith("points: ") else row.get(column)
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return "" if value is None else value


def _csv_text(rows: list[dict[str, Any]], criteria: Sequence[Criterion]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns(criteria))
    for row in rows:
        writer.writerow([_cell(row, column) for column in columns(criteria)])
    return buffer.getvalue()


def _html_text(rows: list[dict[str, Any]], criteria: Sequence[Criterion], meta: dict[str, Any]) -> str:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    table = [[(_cell(row, c), _sort_key(_cell(row, c))) for c in columns(criteria)] for row in rows]
    return environment.from_string(SHEET_TEMPLATE).render(
        columns=columns(criteria), table=table, rows=rows, meta=meta, criteria=criteria)


def _sort_key(value: Any) -> str:
    """What the table sorts a cell by: numbers as numbers (the script compares them numerically)."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


# The sheet: every value is autoescaped text; the script only reorders rows, by data-sort attributes.
SHEET_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grade sheet</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #eee; cursor: pointer; position: sticky; top: 0; }
tr.failed td:first-child { border-left: 4px solid #c00; }
tr.flagged td:first-child { border-left: 4px solid #e90; }
</style></head><body>
<h1>Grade sheet</h1>
<p>{{ rows|length }} bundles, graded {{ meta.created }} by reportgen {{ meta.reportgen_version }}{% if meta.deep %},
verified deeply (each run's weights re-predict the test set){% endif %}. Accuracy in %, macro F1 from 0 to 1,
both recomputed from the predictions (mean over seeds). Possible copies: identical weights, identical predictions,
or agreement on at least {{ (100 * meta.near_identical.agreement)|round(1) }} % of at least
{{ "{:,}".format(meta.near_identical.min_images) }} test images with the same wrong class on at least
{{ (100 * meta.near_identical.same_errors)|round(0)|int }} % of the errors. Click a column to sort.</p>
{% if criteria %}<p>Rubric: {% for c in criteria %}{{ c.name }} ({{ c.points }} points)
{{- "; " if not loop.last }}{% endfor %}.</p>{% endif %}
<table id="grades"><thead><tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>{% for cells in table %}{% set row = rows[loop.index0] %}
<tr class="{{ 'failed' if not row.verified or row.deep_verified == false else ('flagged' if row.flags else '') }}">
{% for value, key in cells %}<td data-sort="{{ key }}">{{ value }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<script>
document.querySelectorAll("#grades th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = document.querySelector("#grades tbody");
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.order !== "up";
    th.dataset.order = up ? "up" : "down";
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
      var numeric = x !== "" && y !== "" && !isNaN(Number(x)) && !isNaN(Number(y));
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
</script>
</body></html>
"""
