"""Section "Introduction": what the report compares."""

from __future__ import annotations

from reportgen.report.sections.introduction import Introduction
from tests.section_helpers import build, contents, text


def test_compares_two_models_or_evaluates_one(tmp_path):
    assert text(build(Introduction(), contents(tmp_path / "a"))).startswith("This report compares the CNN and the ViT")
    single = text(build(Introduction(), contents(tmp_path / "b", models=("vit",))))
    assert single.startswith("This report evaluates the ViT") and "no comparison is made" in single
