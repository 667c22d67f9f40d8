"""verification.numbers: every number of report.html is checked against the report rebuilt from the bundle (its
metrics recomputed from the predictions, every registered section, no figure drawn), whichever section shows it;
a section registered tomorrow is verified without a change to verification."""

import json
import re

import pytest

import reportgen.report.render
import reportgen.report.sections
from reportgen.bundle import write_manifest
from reportgen.report import render_report
from reportgen.report.kernel import Metric, Paragraph, model_key, sentence
from reportgen.report.section import Section
from reportgen.verification import read_report_metrics, verify_bundle
from reportgen.verification.numbers import SUMMARY_CHECK, TABLES_CHECK
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.torch_free import assert_runs_without_torch
from tests.verification_helpers import (
    NUMBERS_CHECK,
    failed,
    rendered_bundle,
    show_in_report,
)


def numbers_detail(root) -> str:
    """The numbers check's failure (summary.json, rendered with the report, may fail beside it)."""
    failures = [c for c in verify_bundle(root) if not c.ok]
    assert {c.name for c in failures} <= {NUMBERS_CHECK, SUMMARY_CHECK}
    (check,) = [c for c in failures if c.name == NUMBERS_CHECK]
    return check.detail


def test_a_number_edited_in_the_html_is_caught(bundle):
    show_in_report(bundle, "vit.seed42.accuracy", "99.99")
    assert failed(bundle) == [NUMBERS_CHECK]


@pytest.mark.parametrize("section, key", [
    ("accuracy", "compare.mcnemar.seed42.p"),
    ("errors", "cnn.errors"),
    ("generalisation", "cnn.acc_gap_pts.mean"),
    ("title", "run.seeds"),  # the title page: the renderer's own numbers, rebuilt with the sections
])
def test_a_number_outside_the_experiments_edited_in_the_html_is_caught(bundle, section, key):
    show_in_report(bundle, key, "12.34", within=section)
    assert f"{key}: shows 12.34, recomputed" in numbers_detail(bundle)


def test_a_number_no_section_shows_is_caught(bundle):
    html = bundle / "report.html"
    html.write_text(html.read_text().replace(
        "</body>", '<span class="metric" data-metric="cnn.seed42.made_up" data-unit="percent">1.00</span></body>'))
    write_manifest(bundle)
    assert "cnn.seed42.made_up: shows 1.00, but the report rebuilt from the bundle has no such number" in \
        numbers_detail(bundle)


def test_a_report_rendered_from_a_forged_metrics_json_is_caught_twice(bundle):
    """The rebuilt report recomputes each run's metrics from predictions.csv: it does not trust metrics.json."""
    path = bundle / "runs" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    render_report(bundle, pdf=False)  # the report shows the forged accuracy, consistently
    write_manifest(bundle)
    # summary.json and tables/ were rendered from the same forgery: they fail too.
    assert failed(bundle) == ["cnn seed 42: metrics.json recomputed from predictions.csv", NUMBERS_CHECK,
                              SUMMARY_CHECK, TABLES_CHECK]


def test_an_edited_calibration_number_is_caught(bundle):
    assert 'data-metric="cnn.calibration.ece.mean" data-unit="percent">' in (bundle / "report.html").read_text()
    show_in_report(bundle, "cnn.calibration.ece.mean", "0.01")
    assert "cnn.calibration.ece.mean: shows 0.01, recomputed" in numbers_detail(bundle)


def test_an_edited_robustness_number_is_caught(tmp_path):
    root = rendered_bundle(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    assert all(c.ok for c in verify_bundle(root))
    key = sorted(re.findall(r'data-metric="(cnn\.robustness[^"]*)"', (root / "report.html").read_text()))[0]
    show_in_report(root, key, "1.23")
    assert f"{key}: shows 1.23, recomputed" in numbers_detail(root)


def test_a_variant_accuracy_edited_in_the_report_is_caught(study):
    show_in_report(study, "variant.no-augment.vit.accuracy.mean", "99.99")
    assert failed(study) == [NUMBERS_CHECK]


# Training length is judged by the longer-training variant now (the slope, vit.end_slope.*, is gone).
@pytest.mark.parametrize("key", ["variant.no-augment.drop_difference.p", "variant.longer.gain_difference.p",
                                 "variant.no-augment.cnn.drop_pts.mean"])
def test_an_experiment_number_edited_in_the_report_is_caught(study, key):
    show_in_report(study, key, "12.34")
    assert failed(study) == [NUMBERS_CHECK]


class ToySection(Section):
    """A section verification has never heard of: each model's count of right predictions."""

    key = "toy"
    title = "A toy analysis"

    def build(self, contents, figures):
        return [Paragraph([sentence(f"{m.the} got ", Metric(model_key(m.key, "toy.right"), int(
            sum(run.metrics["per_class"][i]["support"] * run.metrics["per_class"][i]["recall"]
                for run in contents.runs[m.key] for i in range(len(m.class_names)))), "count"), " right.")])
                for m in contents.models]


def test_a_newly_registered_section_is_verified_without_a_change_to_verification(tmp_path, monkeypatch):
    registry = (*reportgen.report.sections.SECTIONS, ToySection())
    monkeypatch.setattr(reportgen.report.sections, "SECTIONS", registry)
    monkeypatch.setattr(reportgen.report.render, "SECTIONS", registry)  # the name render imported
    root = rendered_bundle(tmp_path / "b")
    assert "cnn.toy.right" in dict(read_report_metrics(root / "report.html"))
    assert failed(root) == []
    show_in_report(root, "cnn.toy.right", "7")
    assert "cnn.toy.right: shows 7, recomputed" in numbers_detail(root)
    monkeypatch.undo()  # unregistered again: the toy's numbers are supported by no section
    assert "cnn.toy.right: shows 7, but the report rebuilt from the bundle has no such number" in \
        numbers_detail(root)


def test_verification_never_imports_torch(bundle):
    assert_runs_without_torch(f"""
        from reportgen.verification import verify_bundle
        assert [c.name for c in verify_bundle({str(bundle)!r}) if not c.ok] == []
    """)
