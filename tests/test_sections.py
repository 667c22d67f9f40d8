"""Every section of the registry, on one-seed and several-seed bundles, with one model and with two.

A section that applies renders (its id is in report.html, under its number); one that does not is
absent, and the numbering of the others stays consecutive. Parametrised over the registry, so a new
section is covered the day it is registered.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reportgen.report import render_report
from reportgen.report.contents import read_contents
from reportgen.report.section import FigureDrawer, Group, Section, layout
from reportgen.report.sections import SECTIONS
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import make_bundle
from tests.section_helpers import build, metric_keys

VARIANTS = {
    "two models, one seed": {},
    "two models, three seeds": {"seeds": (1, 2, 3)},
    "one model, one seed": {"models": ("vit",)},
    "one model, two seeds": {"models": ("cnn",), "seeds": (4, 5)},
    "two models, two seeds, with the build-time analyses": {"seeds": (1, 2), "analyses": AnalysisOptions(ANALYSES)},
    "one model, with the build-time analyses": {"models": ("vit",), "analyses": AnalysisOptions(ANALYSES)},
}
ALL_SECTIONS = [s for top in SECTIONS for s in (top.children if isinstance(top, Group) else (top,))]


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request, tmp_path_factory) -> tuple[Path, str]:
    root = make_bundle(tmp_path_factory.mktemp("sections") / "bundle", **VARIANTS[request.param])
    render_report(root, pdf=False)
    return root, (root / "report.html").read_text()


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.key)
def test_a_section_is_in_the_report_exactly_when_it_applies(rendered, section: Section):
    root, html = rendered
    report = read_contents(root)
    present = f'id="{section.key}"' in html
    assert present is section.applies(report)
    if present:
        assert section.build(report, _drawer(report)) or isinstance(section, Group)


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.key)
def test_a_section_builds_only_numbers_that_render(rendered, section: Section):
    root, html = rendered
    report = read_contents(root)
    if section.applies(report):
        shown = set(re.findall(r'data-metric="([^"]+)"', html))
        assert metric_keys(build(section, report)) <= shown


def test_numbering_and_contents_come_from_the_registry(rendered):
    root, html = rendered
    laid_out = layout(SECTIONS, read_contents(root), _drawer(read_contents(root)))
    numbered = [s.number for s in laid_out if s.number.isdigit()]
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert all(not s.number.isdigit() for s in laid_out[len(numbered):])  # appendices last, by letter
    for s in laid_out:
        assert f'<a href="#{s.key}">{s.number} {s.title}</a>' in html
        assert f"<h2>{s.number} {s.title}</h2>" in html
        for k, sub in enumerate(s.subsections, start=1):
            assert sub.number == f"{s.number}.{k}" and f"{sub.number} {sub.title}" in html


def test_figures_and_tables_are_numbered_in_order_and_references_resolve(rendered):
    _, html = rendered
    figure_numbers = [int(n) for n in re.findall(r'<span class="label">Figure (\d+)\.</span>', html)]
    table_numbers = [int(n) for n in re.findall(r'<span class="label">Table (\d+)\.</span>', html)]
    assert figure_numbers == list(range(1, len(figure_numbers) + 1))
    assert table_numbers == list(range(1, len(table_numbers) + 1))
    for key, number in re.findall(r'<a class="ref" href="#figure-([^"]+)">Figure (\d+)</a>', html):
        assert re.search(rf'<figure id="figure-{key}">\s*<img[^>]*>\s*<figcaption><span class="label">Figure '
                         rf'{number}\.</span>', html)


def _drawer(report) -> FigureDrawer:
    root = report.root.resolve()
    return FigureDrawer(root / "figures", root)
