"""summary.json: the report's machine-readable twin, every number the report prints with its key, unit and section.

Built from the same context as report.html (`render.build_context`): the title page's numbers (section
"title"), then every laid-out section's, in report order, each data-metric key once (its first appearance,
as `reportgen verify` reads report.html). A chapter of sections (a `Group`: analysis, learning, experiments)
names its child section (accuracy, calibration, variants, ...), not the chapter. `reportgen verify` rebuilds the
same entries from metrics recomputed from the predictions and compares them (`compare_summary`). Torch-free.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Mapping

from reportgen import __version__
from reportgen.bundle_files import atomic_output
from reportgen.report.kernel import Metric, Sentence, Subsection, item_metrics

if TYPE_CHECKING:
    from reportgen.report.section import LaidOutSection

SUMMARY_JSON = "summary.json"
SUMMARY_SCHEMA_VERSION = 1
TITLE_SECTION = "title"  # the section key of the title page's numbers
SINCE_VERSION = "0.5.0"  # the first reportgen whose bundles hold summary.json


def context_metrics(context: Mapping[str, Any], chapters: Collection[str]) -> list[tuple[str, Metric]]:
    """(section key, metric) of every number a report context shows, in report order, repeats included.

    `chapters` are the keys of the registry's `Group`s (`render.CHAPTERS`): their numbers are filed under the
    child section that shows them."""
    found: list[tuple[str, Metric]] = []
    for value in context.values():  # the title page's numbers (and scale note)
        metrics = [value] if isinstance(value, Metric) else value.metrics if isinstance(value, Sentence) else []
        found += [(TITLE_SECTION, m) for m in metrics]
    section: "LaidOutSection"
    for section in context["sections"]:
        if section.key in chapters:
            for child in section.items:
                items = child.items if isinstance(child, Subsection) else [child]
                key = child.key if isinstance(child, Subsection) else section.key
                found += [(key, m) for m in item_metrics(items)]
        else:
            found += [(section.key, m) for m in item_metrics(section.items)]
    return found


def plain_number(value: Any) -> int | float | None:
    """A metric's value as JSON writes it: an int stays an int (counts), anything else a float; JSON has no
    infinity, so an infinite value (the t of a difference that is the same at every seed) is null, its text "inf"."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return int(value)
    return float(value) if math.isfinite(value) else None


def summary_entries(found: Iterable[tuple[str, Metric]]) -> list[dict[str, Any]]:
    """One entry per data-metric key (its first appearance): key, value, unit, text (as printed), section."""
    entries: dict[str, dict[str, Any]] = {}
    for section, metric in found:
        if metric.key not in entries:
            entries[metric.key] = {"key": metric.key, "value": plain_number(metric.value), "unit": metric.unit,
                                   "text": metric.text, "section": section}
    return list(entries.values())


def summary_document(context: Mapping[str, Any], chapters: Collection[str]) -> dict[str, Any]:
    """summary.json's content for a report context."""
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "reportgen_version": __version__,
        "title": context["title"],
        "metrics": summary_entries(context_metrics(context, chapters)),
    }


def write_summary(path: Path, context: Mapping[str, Any], chapters: Collection[str]) -> Path:
    """Write summary.json atomically; return its path."""
    with atomic_output(path) as tmp:
        document = summary_document(context, chapters)
        tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def same_value(a: Any, b: Any) -> bool:
    """Values equal up to float rounding (metrics.json and the predictions may differ in the last bits)."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def compare_summary(shown: Any, expected: list[dict[str, Any]]) -> list[str]:
    """What differs between a summary.json's content and the expected entries (empty when they agree)."""
    if not isinstance(shown, dict) or not isinstance(shown.get("metrics"), list):
        return ["summary.json has no list of metrics"]
    problems: list[str] = []
    if shown.get("schema_version") != SUMMARY_SCHEMA_VERSION:
        problems.append(f"schema_version {shown.get('schema_version')!r}, expected {SUMMARY_SCHEMA_VERSION}")
    by_key = {e["key"]: e for e in expected}
    seen: set[str] = set()
    for entry in shown["metrics"]:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or key not in by_key:
            problems.append(f"{key}: in summary.json, but the report rebuilt from the bundle has no such number")
            continue
        if key in seen:
            problems.append(f"{key}: listed twice")
        seen.add(key)
        want = by_key[key]
        for field in ("unit", "text", "section"):
            if entry.get(field) != want[field]:
                problems.append(f"{key}: {field} {entry.get(field)!r}, recomputed {want[field]!r}")
        if not (entry.get("value") is None is want["value"] or same_value(entry.get("value"), want["value"])):
            problems.append(f"{key}: value {entry.get('value')!r}, recomputed {want['value']!r}")
    problems += [f"{key}: shown in the report but absent from summary.json" for key in by_key if key not in seen]
    return problems
