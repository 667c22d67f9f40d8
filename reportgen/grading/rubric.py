"""The rubric of a grade sheet: loading and validating its YAML file, and scoring each row with it.

A rubric is ``criteria:``, a list of criteria; each has a name, a field (a numeric, yes/no or text
column of the sheet), points (> 0) and thresholds: min and/or max (numeric fields, inclusive) or
equals. A criterion is met when the row's value is present and within them; a mistake in the file
is a ConfigError (exit code 2) of one line.

Two optional keys are for Gradescope (reportgen.grading.gradescope), ignored by the sheet: `visibility`
(when students see the criterion's test: one of VISIBILITIES, Gradescope's own values; default: visible)
and `tags` (a list of short texts, the test's tags).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Sequence

from reportgen.config import KNOWN_MODELS
from reportgen.errors import ConfigError
from reportgen.plain_data import load_yaml

NUMERIC_FIELDS = (*(f"{m}_{q}" for m in KNOWN_MODELS for q in ("accuracy", "macro_f1")), "epochs", "seed_count",
                  "config_change_count", "flag_count")
BOOLEAN_FIELDS = ("verified", "deep_verified")
TEXT_FIELDS = ("origin",)
CRITERION_KEYS = {"name", "field", "points", "min", "max", "equals", "visibility", "tags"}
# When Gradescope shows a test or a submission's results to the student: the values its results.json allows.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


@dataclass
class Criterion:
    """One rubric line: `points` when the row's `field` is within min..max (inclusive) and equals `equals`."""

    name: str
    field: str
    points: float
    min: float | None = None
    max: float | None = None
    equals: Any = None
    visibility: str | None = None  # Gradescope's visibility of its test (None: Gradescope's default, visible)
    tags: list[str] = dataclass_field(default_factory=list)  # Gradescope's tags of its test

    def met(self, row: dict[str, Any]) -> bool:
        """Whether `row` meets the criterion; never when its field is unknown (None)."""
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
        data = load_yaml(path.read_text(encoding="utf-8"))
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
    visibility, tags = raw.get("visibility"), raw.get("tags", [])
    if "visibility" in raw and visibility not in VISIBILITIES:
        raise ConfigError(f"{where}: visibility {visibility!r} is not one of Gradescope's: {', '.join(VISIBILITIES)}")
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ConfigError(f"{where}: tags must be a list of texts, e.g. [accuracy, cnn]")
    return Criterion(name, column, float(raw["points"]), raw.get("min"), raw.get("max"), raw.get("equals"),
                     visibility, list(tags))


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
