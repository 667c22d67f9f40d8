"""Every section of the registry, on one-seed and several-seed bundles, with one model and with two, with and
without the build-time analyses and the study's config variants.

A section that applies renders (its id is in report.html, under its number); one that does not is
absent, and the numbering of the others stays consecutive; a number shown under one key shows one value.
Parametrised over the registry, so a new section is covered the day it is registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import pytest

from reportgen.report import render_report
from reportgen.report.contents import ReportContents, read_contents
from reportgen.report.kernel import Bullets, Callout, Figure, Item, Paragraph, Subsection, Table
from reportgen.report.section import Group, Section, UndrawnFigures, layout
from reportgen.report.sections import SECTIONS
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import make_bundle
from tests.section_helpers import STUDY, metric_keys, numbers

VARIANTS = {
    "two models, one seed": {},
    "two models, three seeds": {"seeds": (1, 2, 3)},
    "one model, one seed": {"models": ("vit",)},
    "one model, two seeds": {"models": ("cnn",), "seeds": (4, 5)},
    "two models, two seeds, with the build-time analyses": {"seeds": (1, 2), "analyses": AnalysisOptions(ANALYSES)},
    "one model, with the build-time analyses": {"models": ("vit",), "analyses": AnalysisOptions(ANALYSES)},
    "two models, one seed, with the study's variants": STUDY,
    "two models, two seeds, with the study's variants": {"seeds": (1, 2), **STUDY},
    "one model, with the study's variants": {"models": ("vit",), **STUDY},
}
STUDY_BUNDLES = [name for name in VARIANTS if "with the study's variants" in name]
ALL_SECTIONS = [s for top in SECTIONS for s in (top.children if isinstance(top, Group) else (top,))]
EXPERIMENTS = next(top for top in SECTIONS if top.key == "experiments")


@dataclass
class Rendered:
    """A bundle of one shape, rendered; its contents read once, and each section built once (on first use).

    The rendering drew every figure; the sections' own builds here check numbers and structure, so they draw none."""

    root: Path
    html: str
    report: ReportContents
    builds: dict[str, list[Item]] = field(default_factory=dict)

    def build(self, section: Section) -> list[Item]:
        if section.key not in self.builds:
            self.builds[section.key] = numbers(section, self.report)
        return self.builds[section.key]


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request, tmp_path_factory) -> Rendered:
    root = make_bundle(tmp_path_factory.mktemp("sections") / "bundle", **VARIANTS[request.param])
    render_report(root, pdf=False)
    return Rendered(root, (root / "report.html").read_text(), read_contents(root))


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.key)
def test_a_section_is_in_the_report_exactly_when_it_applies(rendered, section: Section):
    present = f'id="{section.key}"' in rendered.html
    assert present is section.applies(rendered.report)
    if present:
        assert rendered.build(section)


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.key)
def test_a_section_builds_only_numbers_that_render(rendered, section: Section):
    if section.applies(rendered.report):
        shown = set(re.findall(r'data-metric="([^"]+)"', rendered.html))
        assert metric_keys(rendered.build(section)) <= shown


def test_every_number_shows_one_value_under_its_key(rendered):
    """A key that two sections print must print the same text (verify compares each key's text)."""
    texts: dict[str, set[str]] = {}
    for key, shown in re.findall(r'data-metric="([^"]+)"[^>]*>([^<]*)<', rendered.html):
        texts.setdefault(key, set()).add(shown.strip())
    assert {key: shown for key, shown in texts.items() if len(shown) > 1} == {}


@pytest.mark.parametrize("name", STUDY_BUNDLES)
def test_the_study_variants_bring_every_experiment_section(tmp_path, name):
    report = read_contents(make_bundle(tmp_path / "bundle", **VARIANTS[name]))
    assert [s.key for s in EXPERIMENTS.children if s.applies(report)] == [
        "variants", "augmentation", "data-efficiency", "training-length", "recipe"]
    assert EXPERIMENTS.applies(report)
    without = read_contents(make_bundle(tmp_path / "plain", models=report.config.models))
    assert [s.key for s in EXPERIMENTS.children if s.applies(without)] == ["training-length"]


def test_numbering_and_contents_come_from_the_registry(rendered):
    html = unescape(rendered.html)  # titles are HTML-escaped in the page: "The study's claims tested"
    laid_out = layout(SECTIONS, rendered.report, UndrawnFigures())  # the rendering drew the figures
    numbered = [s.number for s in laid_out if s.number.isdigit()]
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert all(not s.number.isdigit() for s in laid_out[len(numbered):])  # appendices last, by letter
    for s in laid_out:
        assert f'<a href="#{s.key}">{s.number} {s.title}</a>' in html
        assert f"<h2>{s.number} {s.title}</h2>" in html
        for k, sub in enumerate(s.subsections, start=1):
            assert sub.number == f"{s.number}.{k}" and f"{sub.number} {sub.title}" in html


def test_figures_and_tables_are_numbered_in_order_and_references_resolve(rendered):
    html = rendered.html
    figure_numbers = [int(n) for n in re.findall(r'<span class="label">Figure (\d+)\.</span>', html)]
    table_numbers = [int(n) for n in re.findall(r'<span class="label">Table (\d+)\.</span>', html)]
    assert figure_numbers == list(range(1, len(figure_numbers) + 1))
    assert table_numbers == list(range(1, len(table_numbers) + 1))
    for key, number in re.findall(r'<a class="ref" href="#figure-([^"]+)">Figure (\d+)</a>', html):
        assert re.search(rf'<figure id="figure-{key}"[^>]*>\s*<img[^>]*>\s*<figcaption><span class="label">Figure '
                         rf'{number}\.</span>', html)


FULL = {"analyses": AnalysisOptions(ANALYSES), "config_overrides": {"analysis.calibration": True},
        "clean_gaps": {"cnn": 0.02, "vit": 0.12}, **STUDY}


@pytest.fixture(scope="module")
def full_reports(tmp_path_factory) -> list[ReportContents]:
    """A bundle with everything a section can read (every analysis, calibration, the study's variants), at one
    seed and at two, and one of weights evaluated, not trained."""
    trained = [read_contents(make_bundle(tmp_path_factory.mktemp("full") / "b", seeds=seeds, **FULL))
               for seeds in ((42,), (1, 2))]
    return trained + [read_contents(make_bundle(tmp_path_factory.mktemp("evaluated") / "b", origin="evaluated"))]


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.key)
def test_every_applicable_section_concludes_unless_it_is_descriptive(full_reports, section: Section):
    """The Conclusion covers every section that applied: one that applies and states no finding is a bug, unless it
    is marked purely descriptive (`Section.descriptive`), and then it states none (a caveat at most)."""
    applied = [report for report in full_reports if section.applies(report)]
    assert applied
    for report in applied:
        verdict = section.verdict(report)
        if section.descriptive:
            assert verdict is None or not verdict.findings
        else:
            assert verdict is not None and verdict.findings


# The quick preset's report aims at about 10 pages and prints 12 (docs/sections.md, "How the report reads"): pinned
# by what fills pages, the figures, tables, table rows, prose and rule texts (the Methods appendix) of a one-seed
# bundle with every build-time analysis and no variant. reportgen 0.6.0 printed 19,381 characters of prose there;
# before the cuts of 2026-12-06 (15 pages) 18 tables of 129 rows, 17,115 characters of prose and 9,092 of rules;
# after them (12 pages) 17 tables of 122 rows, 14,756 and 7,106; the review's additions of the same day (the absolute
# robustness verdict in the Conclusion, the within-group test in Errors, the overfitting interval) brought the prose to
# 15,070.
PAGE_BUDGET = {"figures": 11, "tables": 17, "table rows": 125, "prose characters": 15100, "rule characters": 7300}


def _items(items: list[Item]):
    for item in items:
        yield item
        if isinstance(item, Subsection):
            yield from _items(item.items)


def test_the_quick_report_keeps_its_page_budget(tmp_path):
    quick_like = read_contents(make_bundle(tmp_path / "b", analyses=AnalysisOptions(ANALYSES),
                                           config_overrides={"analysis.calibration": True}))
    items = [item for s in layout(SECTIONS, quick_like, UndrawnFigures()) for item in _items(s.items)]
    tables = [item for item in items if isinstance(item, Table)]
    used = {"figures": sum(isinstance(item, Figure) for item in items), "tables": len(tables),
            "table rows": sum(len(t.rows) + len(t.footer) for t in tables),
            "prose characters": sum(len(s.text) for item in items if isinstance(item, (Paragraph, Bullets))
                                    for s in item.sentences),
            "rule characters": sum(len(s.text) for item in items if isinstance(item, Callout) and item.kind == "rule"
                                   for s in item.sentences)}
    assert all(used[k] <= PAGE_BUDGET[k] for k in PAGE_BUDGET), used
