"""The build adds each switched-on analysis to every run it copies, from the run store when it is there."""

from __future__ import annotations

import pytest

import reportgen.build as build_module
import reportgen.report
from reportgen import analyses as registry
from reportgen.report.contents import read_contents
from reportgen.report.sections import SECTIONS
from reportgen.report.sections.efficiency import Efficiency
from reportgen.report.sections.explanations import Explanations
from reportgen.report.sections.robustness import Robustness
from reportgen.runtime import resolve_runtime
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import make_bundle
from tests.conftest import tiny_config, tiny_data
from tests.torch_free import assert_runs_without_torch


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    monkeypatch.setattr(build_module, "load_data", lambda cfg: tiny_data())


def build(config, tmp_path, out="bundle") -> list[str]:
    messages: list[str] = []
    build_module.build(config, resolve_runtime(config),
        tmp_path / out, tmp_path / "runs", progress=False, log=messages.append)
    return messages


def config(**analysis):
    c = tiny_config(epochs=1, analyses=True)  # every build-time analysis on, unless `analysis` switches it off
    c.analysis.timing_repeats, c.analysis.corruption_images, c.analysis.explanation_images = 5, 12, 1
    for name, value in analysis.items():
        setattr(c.analysis, name, value)
    return c


def test_every_run_of_the_bundle_holds_its_analyses_and_the_sections_apply(tmp_path):
    build(config(), tmp_path)
    for model in ("cnn", "vit"):
        folder = tmp_path / "bundle" / "runs" / model / "seed-42"
        assert all((folder / name).is_file() for name in (a.filename for a in registry.ANALYSES.values())), model
    report = read_contents(tmp_path / "bundle")
    assert Efficiency().applies(report) and Robustness().applies(report) and Explanations().applies(report)
    html = (tmp_path / "bundle" / "report.html").read_text()
    assert all(f'id="{key}"' in html for key in ("efficiency", "robustness", "explanations"))


def test_an_analysis_switched_on_later_is_computed_alone_from_the_stored_run(tmp_path):
    build(config(robustness=False, explanations=False), tmp_path)
    assert not (tmp_path / "bundle" / "runs" / "vit" / "seed-42" / "robustness.npz").exists()
    assert 'id="robustness"' not in (tmp_path / "bundle" / "report.html").read_text()
    messages = build(config(explanations=False), tmp_path, "again")
    assert [m for m in messages if "training on" in m] == []
    assert sum("robustness computed" in m for m in messages) == 2
    assert sum("efficiency reused" in m for m in messages) == 2
    assert (tmp_path / "again" / "runs" / "vit" / "seed-42" / "robustness.npz").is_file()


def test_a_report_setting_recomputes_no_analysis(tmp_path, monkeypatch):
    monkeypatch.setattr(reportgen.report, "render_report", lambda root, pdf=True: (root / "report.html").write_text(
        "<html>stand-in: this test is about what is computed</html>"))
    build(config(), tmp_path)
    changed = config()
    changed.report.alpha, changed.report.title = 0.01, "Another title"
    messages = build(changed, tmp_path, "again")
    assert not [m for m in messages if "computed" in m or "training on" in m]
    assert len([m for m in messages if "reused (stored for this run" in m]) == 6


def test_the_registry_places_the_sections_in_their_chapters():
    keys = {top.key: [child.key for child in getattr(top, "children", ())] for top in SECTIONS}
    assert keys["analysis"].index("efficiency") == keys["analysis"].index("speed") + 1
    assert "robustness" in keys["analysis"] and keys["learning"][-1] == "explanations"


def test_the_analysis_sections_render_without_torch(tmp_path):
    root = make_bundle(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    assert_runs_without_torch(f"""
        from reportgen.report import render_report
        render_report({str(root)!r}, pdf=False)
    """)
    html = (root / "report.html").read_text()
    assert all(f'id="{key}"' in html for key in ("efficiency", "robustness", "explanations"))
