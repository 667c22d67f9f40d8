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

from reportgen.bundle import Bundle
from reportgen.errors import BundleError
from reportgen.report.kernel import Metric, Sentence, item_metrics, run_key
from reportgen.verification.checks import INTEGRITY, NUMBERS, Check

NUMBERS_CHECK = "report.html: numbers equal those recomputed from the predictions and probabilities"


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
    """Every (data-metric key, displayed text) pair in a report.html."""
    return report_metrics(path.read_text(encoding="utf-8"))


class RebuiltReport:
    """The numbers of the report rebuilt from a bundle, built once: `metrics` (key -> Metric, in report order)
    and the keys of the test accuracies every report must show (`headline`)."""

    def __init__(self, bundle: Bundle):
        from reportgen.report.contents import ReportContents
        from reportgen.report.render import build_context
        from reportgen.report.section import UndrawnFigures

        contents = ReportContents(bundle, metrics_from_predictions=True)
        context = build_context(contents, UndrawnFigures())
        found: list[Metric] = []
        for value in context.values():  # the title page's numbers (and scale note)
            found += [value] if isinstance(value, Metric) else value.metrics if isinstance(value, Sentence) else []
        found += item_metrics(item for section in context["sections"] for item in section.items)
        self.metrics: dict[str, Metric] = {}
        for metric in found:
            self.metrics.setdefault(metric.key, metric)
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
    ]
