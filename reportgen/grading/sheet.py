"""Writing the grade sheet: grades.csv, grades.json and grades.html, each atomically.

grades.csv and grades.json give every value in full, the flags as text (reportgen.grading.rows.Flag.text).
grades.html renders ``templates/grades.html.j2`` (autoescaped: everything from a bundle is text, never
markup): a table that sorts by any column on a click and scrolls sideways rather than squeezing its
columns; each flag is a short label (its full text as a tooltip), and each caveat is given once, in a
legend under the table that the flags mark with its number; long text cells are cut, in full as a tooltip.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

import jinja2

from reportgen import __version__
from reportgen.bundle_files import atomic_output
from reportgen.grading.copies import NEAR_IDENTICAL_AGREEMENT, NEAR_IDENTICAL_MIN_IMAGES, NEAR_IDENTICAL_SAME_ERRORS
from reportgen.grading.rows import COPY, DEEP, FLAG_LABELS, NAME, NUMBERS, Flag, Submission, empty_row, shorten
from reportgen.grading.rubric import Criterion
from reportgen.spreadsheet import spreadsheet_safe

GRADES_CSV, GRADES_JSON, GRADES_HTML = "grades.csv", "grades.json", "grades.html"
TEMPLATE = "grades.html.j2"
LONG_TEXT = 120  # grades.html cuts a text cell after this many characters (the tooltip gives it in full)
TEXT_COLUMNS = ("verify_failure", "deep_failure", "config_changes")  # wrapped when longer than WRAPPED_TEXT
WRAPPED_TEXT = 40
# What each kind of flag means, for the legend under the table (by its short label, FLAG_LABELS).
FLAG_MEANINGS = {
    COPY: "a possible copy of the bundle named, flagged on both rows: a run with the same weights (weights =), "
          "the same predictions (predictions =) or nearly the same predictions (predictions ≈) as one of its runs",
    NAME: "a folder name that a reader could not tell from another row's (the same as another's under NFKC "
          "normalisation), shown with its characters as code points, e.g. caf\\u0065\\u0301 (a name that is only "
          "not in Unicode NFC form is shown so too, unflagged)",
    NUMBERS: "numbers its predictions do not support: metrics.json or a number shown in report.html that "
             "recomputation from predictions.csv does not give",
    DEEP: "results its weights do not give: predictions, probabilities, labels or visuals that re-predicting "
          "from weights.pt does not reproduce",
}


@dataclass(frozen=True)
class Cell:
    """One cell of grades.html: the text shown, the full text as a tooltip when it was cut, what the
    table sorts by, and for the flags column its flags (shown as a list instead of `text`)."""

    text: str
    sort: str
    title: str = ""
    flags: tuple[tuple[Flag, int], ...] = ()  # (flag, its caveat's number in the legend; 0: no caveat)
    wrap: bool = False  # a long text, wrapped in a column of fixed width rather than kept on one line


def write_sheet(submissions: Sequence[Submission], criteria: Sequence[Criterion], out: Path,
                deep: bool) -> list[Path]:
    """Write grades.csv, grades.json and grades.html of the submissions' rows into `out`, each atomically;
    return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [s.row for s in submissions]
    meta = {"reportgen_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "deep": deep, "near_identical": {"agreement": NEAR_IDENTICAL_AGREEMENT,
                                             "same_errors": NEAR_IDENTICAL_SAME_ERRORS,
                                             "min_images": NEAR_IDENTICAL_MIN_IMAGES},
            "rubric": [c.__dict__ for c in criteria] or None}
    documents = {GRADES_CSV: csv_text(rows, criteria),
                 GRADES_JSON: json.dumps({**meta, "rows": rows}, indent=2) + "\n",
                 GRADES_HTML: html_text(submissions, criteria, meta)}
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


def cell_value(row: dict[str, Any], column: str) -> Any:
    """A row's value in `column` as the sheet shows it: lists joined by "; ", unknown values empty."""
    value = row["points"][column[len("points: "):]] if column.startswith("points: ") else row.get(column)
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return "" if value is None else value


def csv_text(rows: list[dict[str, Any]], criteria: Sequence[Criterion]) -> str:
    """grades.csv: a header of `columns`, then one line per row, its text cells neutralised for spreadsheets
    (reportgen.spreadsheet: a submission's folder name is a stranger's string)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns(criteria))
    for row in rows:
        writer.writerow([spreadsheet_safe(cell_value(row, column)) for column in columns(criteria)])
    return buffer.getvalue()


def sort_key(value: Any) -> str:
    """What the table sorts a cell by: numbers as numbers (the script compares them numerically)."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def html_text(submissions: Sequence[Submission], criteria: Sequence[Criterion], meta: dict[str, Any]) -> str:
    """grades.html of the submissions (see the module's docstring)."""
    caveats: list[str] = []  # each caveat once, numbered in the order the sheet first shows it
    for submission in submissions:
        for flag in submission.flags:
            if flag.caveat and flag.caveat not in caveats:
                caveats.append(flag.caveat)
    table = [[_cell(submission, column, caveats) for column in columns(criteria)] for submission in submissions]
    return sheet_environment().get_template(TEMPLATE).render(
        columns=columns(criteria), table=table, rows=[s.row for s in submissions],
        meta=meta, criteria=criteria, caveats=caveats, legend=[
            (FLAG_LABELS[kind].rstrip(":"), meaning) for kind, meaning in FLAG_MEANINGS.items()
            if any(f.kind == kind for s in submissions for f in s.flags)])


def _cell(submission: Submission, column: str, caveats: list[str]) -> Cell:
    value = cell_value(submission.row, column)
    if column == "flags":
        return Cell("", "; ".join(f.short for f in submission.flags),  # by label: the caveats stay in the legend
                    flags=tuple((f, caveats.index(f.caveat) + 1 if f.caveat else 0) for f in submission.flags))
    text = str(value)
    wrap = column in TEXT_COLUMNS and len(text) > WRAPPED_TEXT
    if len(text) <= LONG_TEXT:
        return Cell(text, sort_key(value), wrap=wrap)
    return Cell(shorten(text, LONG_TEXT), sort_key(value), title=text, wrap=wrap)


def _template_source(name: str) -> str:
    return (files("reportgen.templates") / name).read_text(encoding="utf-8")


def sheet_environment() -> jinja2.Environment:
    """Jinja2 environment over the packaged templates, as the report's (autoescaping, strict about undefined
    names) but without the report's tests, so that grading does not import the report."""
    return jinja2.Environment(loader=jinja2.FunctionLoader(_template_source), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
