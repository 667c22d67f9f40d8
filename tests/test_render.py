"""Rendering a bundle: the report's files, machine-checkable metrics, escaping, PDF, URL fetching, no torch."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest
from scipy.stats import ttest_rel

from reportgen.bundle import Bundle, write_json, write_manifest
from reportgen.errors import BundleError
from reportgen.report import render as render_module
from reportgen.report.kernel import Metric, Table, key_value_table, sentence
from reportgen.report.render import render_bundle, render_report, resolve_inside
from tests.bundle_factory import make_bundle
from tests.report_checks import check_report_against_predictions
from tests.torch_free import assert_runs_without_torch

SECTIONS = ("title", "findings", "introduction", "setup", "data", "architectures", "training", "results", "analysis",
            "learning", "experiments", "conclusion")  # "experiments": training length, which any trained bundle has
SEEDS = (3, 11)


class MetricParser(HTMLParser):
    """Collects (data-metric key, displayed text) pairs and the ids of <section>s."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[str, str]] = []
        self.sections: list[str] = []
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-metric" in attributes:
            self._key = attributes["data-metric"]
            self.metrics.append((self._key, ""))
        if tag == "section":
            self.sections.append(attributes.get("id"))

    def handle_data(self, data):
        if self._key is not None:
            key, text = self.metrics[-1]
            self.metrics[-1] = (key, text + data)

    def handle_endtag(self, tag):
        self._key = None


def parse(html: str) -> MetricParser:
    parser = MetricParser()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = make_bundle(tmp_path_factory.mktemp("report") / "bundle", seeds=SEEDS)
    return root, render_report(root)


def test_render_writes_html_and_pdf(rendered):
    root, written = rendered
    assert written == [root.resolve() / "report.html", root.resolve() / "report.pdf"]
    assert not [p for p in root.iterdir() if ".tmp-" in p.name]


def test_html_has_every_section_and_figure(rendered):
    root, _ = rendered
    html = (root / "report.html").read_text()
    assert parse(html).sections == [*SECTIONS, "appendix", "methods"]
    for figure in ("samples", "curves_cnn", "confusion", "feature_maps_cnn", "attention_vit"):
        assert f'src="figures/{figure}.svg"' in html
    assert "this run trained for" in html.lower() and "the original study&#39;s protocol is 80" in html


def test_a_metric_key_always_shows_the_same_text(rendered):
    root, _ = rendered
    shown: dict[str, set[str]] = {}
    for key, text in parse((root / "report.html").read_text()).metrics:
        shown.setdefault(key, set()).add(text)
    assert {key: texts for key, texts in shown.items() if len(texts) > 1} == {}


def test_per_class_and_overall_metrics_match_predictions(rendered):
    root, _ = rendered
    assert check_report_against_predictions(root) == 2 * len(SEEDS) * 10 * 4


def test_headline_metrics_are_means_over_seeds(rendered):
    root, _ = rendered
    metrics = dict(parse((root / "report.html").read_text()).metrics)
    runs = Bundle(root).runs("vit")
    mean = 100 * sum(r.metrics["accuracy"] for r in runs) / len(runs)
    assert metrics["vit.accuracy.mean"] == f"{mean:.2f}"
    assert "vit.accuracy.std" in metrics
    assert "compare.accuracy_diff_pts" in metrics and "compare.speed_factor" in metrics


def test_significance_table_shows_mcnemar_counts_and_the_paired_ttest(rendered):
    root, _ = rendered
    html = (root / "report.html").read_text()
    metrics = dict(parse(html).metrics)
    bundle = Bundle(root)
    cnn, vit = bundle.runs("cnn"), bundle.runs("vit")
    for a, b in zip(cnn, vit):
        only_cnn = int(((a.preds == a.labels) & (b.preds != b.labels)).sum())
        only_vit = int(((a.preds != a.labels) & (b.preds == b.labels)).sum())
        assert metrics[f"compare.mcnemar.seed{a.seed}.b"] == str(only_cnn)
        assert metrics[f"compare.mcnemar.seed{a.seed}.c"] == str(only_vit)
        assert f"compare.mcnemar.seed{a.seed}.p" in metrics
    expected = ttest_rel([100 * r.metrics["accuracy"] for r in cnn], [100 * r.metrics["accuracy"] for r in vit])
    assert metrics["compare.ttest.t"] == f"{expected.statistic:.2f}"
    assert metrics["compare.ttest.p"] == Metric("p", expected.pvalue, "pvalue").text
    assert "Rule used for accuracy differences" in html and "verdict at α = 0.05: significant" in html


def test_pdf_is_valid_and_has_several_pages(rendered):
    root, _ = rendered
    pdf = root / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert len(pypdf.PdfReader(pdf).pages) > 1


def test_bundle_text_is_escaped(tmp_path):
    hostile = "<script>alert(1)</script>"
    root = make_bundle(tmp_path / "b", models=("cnn",), num_classes=3, class_names=[hostile, "b&c", "x"])
    (html_path,) = render_report(root, pdf=False)
    html = html_path.read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b&amp;c" in html


def test_single_model_report_has_no_comparisons(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",))
    (html_path,) = render_report(root, pdf=False)
    parser = parse(html_path.read_text())
    assert parser.sections == [*(s for s in SECTIONS if s != "findings"), "methods"]  # one model: nothing to summarise
    keys = {key for key, _ in parser.metrics}
    assert "cnn.seed42.accuracy" in keys
    assert not [k for k in keys if k.startswith(("compare.", "vit."))]


def test_url_fetcher_serves_only_files_inside_the_bundle(rendered, tmp_path):
    root, _ = rendered
    root = root.resolve()
    inside = root / "figures" / "samples.svg"
    assert resolve_inside(root, inside.as_uri()) == inside
    (tmp_path / "secret.txt").write_text("secret")
    link = root / "figures" / "link.png"
    link.symlink_to(tmp_path / "secret.txt")
    try:
        for url in ("file:///etc/passwd", "http://example.com", "https://example.com/x.png", link.as_uri(),
                    (root / "figures" / ".." / ".." / "secret.txt").as_uri(), "data:text/plain,hello"):
            with pytest.raises(BundleError):
                resolve_inside(root, url)
    finally:
        link.unlink()


def test_a_staged_bundle_renders_before_its_manifest_is_written(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",))
    (root / "manifest.json").unlink()  # `reportgen build` writes the manifest after rendering
    (html_path,) = render_report(root, pdf=False)
    assert html_path.is_file()


def test_a_figures_symlink_is_refused(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "figures").symlink_to(elsewhere)
    with pytest.raises(BundleError, match="symbolic link"):
        render_report(root, pdf=False)
    assert list(elsewhere.iterdir()) == []


def test_failed_pdf_leaves_the_previous_report_untouched(rendered, monkeypatch):
    root, _ = rendered
    before = {name: (root / name).read_bytes() for name in ("report.html", "report.pdf")}

    def broken_pdf(html: str, root: Path) -> bytes:
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(render_module, "html_to_pdf", broken_pdf)
    with pytest.raises(RuntimeError):
        render_report(root)
    assert {name: (root / name).read_bytes() for name in before} == before


def test_rendering_never_imports_torch(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn", "vit"))
    assert_runs_without_torch(f"""
        from reportgen.report import render_report
        render_report({str(root)!r}, pdf=True)
    """)
    assert (root / "report.pdf").is_file()


def test_render_bundle_refuses_edited_results_and_drops_a_stale_pdf(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",))
    render_report(root)
    write_manifest(root)
    removed: list[str] = []
    render_bundle(root, pdf=False, log=removed.append)
    assert not (root / "report.pdf").exists() and removed and "would not match" in removed[0]
    assert Bundle(root).manifest_differences() == ([], [], [])
    metrics = root / "runs" / "cnn" / "seed-42" / "metrics.json"
    write_json(metrics, {**json.loads(metrics.read_text()), "accuracy": 0.99})
    before = (root / "report.html").read_bytes()
    with pytest.raises(BundleError, match="changed since the bundle was built"):
        render_bundle(root)
    assert (root / "report.html").read_bytes() == before


def test_figures_no_longer_drawn_are_removed(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",))
    (root / "figures").mkdir()
    (root / "figures" / "attention.svg").write_bytes(b"an earlier rendering's figure")
    (root / "figures" / "curves_cnn.png").write_bytes(b"a figure of a rendering from before figures were SVG")
    render_report(root, pdf=False)
    assert not (root / "figures" / "attention.svg").exists() and not (root / "figures" / "curves_cnn.png").exists()
    assert (root / "figures" / "curves_cnn.svg").is_file()


def test_headings_stay_with_what_follows_them(rendered):
    html = (rendered[0] / "report.html").read_text()
    # A chapter whose first item is a subsection carries its heading into that subsection's first block.
    assert re.search(r'<div class="subsection" id="accuracy">\s*<div class="keep-with-next">\s*'
                     r'<h2>\d+ Analysis of performance</h2>\s*<h3>\d+\.1 Accuracy</h3>', html)


def _page_texts(pdf: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(pdf).pages]


def test_page_one_is_the_title_and_the_summary_of_findings(rendered):
    root, _ = rendered
    first, second, *_ = _page_texts(root / "report.pdf")
    first = " ".join(first.split())  # table cells wrap where the PDF's columns are narrow
    assert "1 Summary of findings" in first and "Test accuracy (%) (primary)" in first
    assert "measure CNN ViT difference (CNN − ViT) 95% interval verdict" in first
    assert "Contents" not in first  # the contents follow the summary (and the claims table)


def test_no_page_is_blank(rendered):
    root, _ = rendered
    title = "Comparative Analysis"  # the running header of every page but the first
    for n, page in enumerate(_page_texts(root / "report.pdf"), start=1):
        body = [line for line in page.splitlines() if line.strip() and not line.startswith(title)
                and not re.fullmatch(r"\d+ / \d+", line.strip())]
        assert body, f"page {n} is blank"


def test_rules_move_to_the_methods_appendix_and_leave_a_reference(rendered):
    html = (rendered[0] / "report.html").read_text()
    accuracy = html.split('id="accuracy"')[1].split('<div class="subsection"')[0]
    methods = html.split('<section id="methods">')[1]
    assert re.search(r'class="rule-ref">Rule: appendix B\.\d+ \(Methods and rules\)', accuracy)
    assert 'class="rule"' not in html.split('<section id="methods">')[0]  # no rule left in a section
    assert "B.1 " in methods and "Rule used for accuracy differences" in methods


def test_an_svg_figure_with_an_image_inside_reaches_the_pdf(rendered, caplog):
    root, _ = rendered
    html = '<img src="figures/feature_maps_cnn.svg">'
    assert b"data:image/png;base64" in (root / "figures" / "feature_maps_cnn.svg").read_bytes()
    with caplog.at_level("WARNING", logger="weasyprint"):
        render_module.html_to_pdf(html, root.resolve())
    assert not [r for r in caplog.records if "image" in r.getMessage().lower()]


def test_a_summary_too_long_for_the_rest_of_page_one_still_starts_there(tmp_path):
    # A real reduced-scale report has a scale note on page 1 and a summary of a dozen wrapped rows: its table must
    # break across pages (its header repeated) rather than move whole to page 2 as the other tables do.
    import weasyprint

    css = (Path(render_module.__file__).resolve().parents[2] / "templates" / "report.css").read_text()
    rows = "".join(f"<tr><td>measure {i}</td><td>{i}</td></tr>" for i in range(40))
    html = (f"<html><head><style>{css}</style></head><body><section class='title-page'>"
            f"<div style='height: 200mm'>title and scale note</div></section><section class='lead'>"
            f"<div class='table-block'><table><thead><tr><th>measure</th><th>value</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></section></body></html>")
    weasyprint.HTML(string=html).write_pdf(tmp_path / "lead.pdf")
    first, *rest = _page_texts(tmp_path / "lead.pdf")
    assert "measure 0" in first and rest and "measure 39" in rest[-1]


def test_a_long_label_value_table_prints_two_pairs_a_row_its_first_half_on_the_left():
    pairs = [(f"label {i}", Metric(f"k{i}", i, "count")) for i in range(7)]
    table = key_value_table(pairs)
    rows = render_module.paired_rows(table)
    assert [[cell if isinstance(cell, str) else cell.text for cell in row] for row in rows] == [
        ["label 0", "0", "label 4", "4"], ["label 1", "1", "label 5", "5"], ["label 2", "2", "label 6", "6"],
        ["label 3", "3", "", ""]]
    assert render_module.paired_rows(key_value_table(pairs[:6])) == key_value_table(pairs[:6]).rows  # short: as is
    assert not render_module.is_paired(Table(["a", "b"], table.rows))  # only label/value tables


def test_an_interval_or_a_floored_p_reads_as_a_number_and_a_long_table_keeps_one_footer():
    interval = sentence("[", Metric("a.low", 1.0, "points"), ", ", Metric("a.high", 2.0, "points"), "]")
    assert render_module.template_environment().tests["numeric"](interval)
    assert render_module.template_environment().tests["numeric"](sentence("≤ ", Metric("a.p", 0.001, "pvalue")))
    assert not render_module.template_environment().tests["numeric"](sentence("time ratio ", Metric("r", 1, "factor")))
    # a footer in <tfoot> would be printed again on every page a long table (of more than 12 rows) spans
    macro = render_module.template_environment().from_string(
        '{% from "macros.html.j2" import table with context %}{{ table(t) }}')
    for rows, long in ((13, True), (3, False)):
        html = macro.render(t=Table(["a"], [[str(i)] for i in range(rows)], [["total"]]), figure_numbers={})
        assert ("<tfoot>" not in html and '<tbody class="foot">' in html) is long and ("long" in html) is long
