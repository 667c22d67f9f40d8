"""The report as its own oracle: every number report.html shows against the report rebuilt from the bundle.

The rebuild is the renderer's own (`render.build_context`: the title page and every section of the registry
`reportgen.report.sections.SECTIONS` that applies, by the section's own `applies`), over a `ReportContents`
whose per-run metrics are recomputed from predictions.csv rather than read from metrics.json, with no figure
drawn (`UndrawnFigures`). Each `data-metric` span of report.html must name a number of that rebuild and show
its text: a section registered today is verified today, with no change here.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from reportgen.bundle import Bundle, read_text
from reportgen.errors import BundleError
from reportgen.plain_data import load_json
from reportgen.report.kernel import Metric, run_key
from reportgen.report.summary import (
    SINCE_VERSION,
    SUMMARY_JSON,
    compare_summary,
    context_metrics,
    same_value,
    summary_entries,
)
from reportgen.report.tables_export import TABLES_FOLDER, read_csv_rows, table_files
from reportgen.verification.checks import INTEGRITY, NUMBERS, Check

NUMBERS_CHECK = "report.html: numbers equal those recomputed from the predictions and probabilities"
SUMMARY_CHECK = "summary.json: every number of the report, as recomputed from the predictions and probabilities"
TABLES_CHECK = "tables/: the report's main tables (CSV and LaTeX), as recomputed from the predictions"


class _MetricSpans(HTMLParser):
    """Collects (data-metric key, displayed text) from report.html."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._key: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        key = dict(attrs).get("data-metric")
        if key is not None:
            self._key, self._text = key, []

    def handle_data(self, data):
        if self._key is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._key is not None:
            self.found.append((self._key, "".join(self._text).strip()))
            self._key = None


def report_metrics(html: str) -> list[tuple[str, str]]:
    """Every (data-metric key, displayed text) pair in the HTML of a report."""
    parser = _MetricSpans()
    parser.feed(html)
    return parser.found


def read_report_metrics(path: Path) -> list[tuple[str, str]]:
    """Every (data-metric key, displayed text) pair in a report.html (read as every bundle file is)."""
    return report_metrics(read_text(path))


class RebuiltReport:
    """The numbers of the report rebuilt from a bundle, built once: `metrics` (key -> Metric, in report order)
    and the keys of the test accuracies every report must show (`headline`)."""

    def __init__(self, bundle: Bundle):
        from reportgen.report.contents import ReportContents
        from reportgen.report.render import CHAPTERS, build_context
        from reportgen.report.section import UndrawnFigures

        contents = ReportContents(bundle, metrics_from_predictions=True)
        context = build_context(contents, UndrawnFigures())
        found = context_metrics(context, CHAPTERS)  # the title page's numbers (and scale note), then every section's
        self.metrics: dict[str, Metric] = {}
        for _, metric in found:
            self.metrics.setdefault(metric.key, metric)
        self.summary = summary_entries(found)  # what summary.json must hold
        self.tables = table_files(context["sections"])  # what tables/ must hold, file name -> text
        # Every base run's test accuracy, and every model's mean over its seeds, of the base config and each variant.
        facts = [*contents.models, *(f for v in contents.variants.values() for f in v.facts.values())]
        self.headline = [run_key(model, run.seed, "accuracy") for model, runs in contents.runs.items() for run in runs]
        self.headline += [f.accuracy.mean.key for f in facts]


def report_number_checks(bundle: Bundle) -> list[Check]:
    """report.html's numbers against the rebuilt report's, and that it shows every test accuracy."""
    if not (bundle.root / "report.html").is_file():
        return [Check("report.html present", False, "rebuild or re-render the bundle", kind=INTEGRITY)]
    shown = report_metrics(bundle.read_text("report.html"))
    try:
        rebuilt = RebuiltReport(bundle)
    except BundleError as exc:  # a file the report needs is missing or broken: the integrity checks say which
        return [Check(NUMBERS_CHECK, False, f"the report cannot be rebuilt from the bundle to compare: {exc}",
                      kind=NUMBERS)]
    expected = rebuilt.metrics
    # No exception by key class: every number the report shows comes from the bundle through a section (or the
    # title page), so a key the rebuild lacks is a number nothing in the bundle supports (or a removed variant's).
    wrong = [f"{key}: shows {text}, recomputed {expected[key].text}" if key in expected
             else f"{key}: shows {text}, but the report rebuilt from the bundle has no such number"
             for key, text in shown if key not in expected or text != expected[key].text]
    shown_keys = {key for key, _ in shown}
    absent = [key for key in rebuilt.headline if key not in shown_keys]
    return [
        Check(NUMBERS_CHECK, not wrong, "; ".join(wrong[:5]) or f"{len(shown)} numbers compared", kind=NUMBERS),
        Check("report.html: shows every model's test accuracy", not absent, ", ".join(absent), kind=INTEGRITY),
        summary_check(bundle, rebuilt),
        tables_check(bundle, rebuilt),
    ]


def _listed(bundle: Bundle) -> list[str]:
    return sorted(bundle.manifest().get("files", {})) if (bundle.root / "manifest.json").is_file() else []


def summary_check(bundle: Bundle, rebuilt: RebuiltReport) -> Check:
    """summary.json against the rebuilt report's numbers: every key, value, unit, text and section; an old bundle
    without it passes, and says so (the manifest check catches one removed from a newer bundle)."""
    if SUMMARY_JSON not in _listed(bundle) and not (bundle.root / SUMMARY_JSON).is_file():
        return Check(SUMMARY_CHECK, True, f"not present (bundle older than reportgen {SINCE_VERSION})", kind=NUMBERS)
    try:
        shown = load_json(bundle.read_text(SUMMARY_JSON))
    except (BundleError, ValueError) as exc:
        return Check(SUMMARY_CHECK, False, f"summary.json cannot be read: {str(exc)[:200]}", kind=NUMBERS)
    problems = compare_summary(shown, rebuilt.summary)
    return Check(SUMMARY_CHECK, not problems, "; ".join(problems[:5]) or f"{len(rebuilt.summary)} numbers compared",
                 kind=NUMBERS)


def _csv_differences(name: str, shown: str, expected: str) -> list[str]:
    """Cells of a CSV table that differ: numbers up to float rounding, text exactly."""
    got, want = read_csv_rows(shown), read_csv_rows(expected)
    if len(got) != len(want) or any(len(a) != len(b) for a, b in zip(got, want)):
        return [f"{name}: not the rebuilt table's shape"]
    problems = []
    for r, (a_row, b_row) in enumerate(zip(got, want)):
        for c, (a, b) in enumerate(zip(a_row, b_row)):
            try:
                equal = a == b or same_value(float(a), float(b))
            except ValueError:
                equal = False
            if not equal:
                problems.append(f"{name} row {r} column {c}: {a!r}, recomputed {b!r}")
    return problems


def tables_check(bundle: Bundle, rebuilt: RebuiltReport) -> Check:
    """tables/ against the tables of the rebuilt report: the same files, CSV numbers and LaTeX texts."""
    prefix = f"{TABLES_FOLDER}/"
    present = [name.removeprefix(prefix) for name in _listed(bundle) if name.startswith(prefix)]
    if not present and not (bundle.root / TABLES_FOLDER).is_dir():
        return Check(TABLES_CHECK, True, f"not present (bundle older than reportgen {SINCE_VERSION})", kind=NUMBERS)
    problems = [f"{prefix}{name}: missing" for name in rebuilt.tables if name not in present]
    problems += [f"{prefix}{name}: not a table of the rebuilt report" for name in present if name not in rebuilt.tables]
    for name in (n for n in present if n in rebuilt.tables):
        try:
            text = bundle.read_text(prefix + name)
        except BundleError as exc:
            problems.append(str(exc))
            continue
        if name.endswith(".csv"):
            problems += _csv_differences(prefix + name, text, rebuilt.tables[name])
        elif text != rebuilt.tables[name]:
            problems.append(f"{prefix}{name}: differs from the rebuilt table")
    return Check(TABLES_CHECK, not problems, "; ".join(problems[:5]) or f"{len(rebuilt.tables)} files compared",
                 kind=NUMBERS)
