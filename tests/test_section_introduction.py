"""Section "Introduction": what the report compares."""

from __future__ import annotations

from reportgen.report.sections.introduction import Introduction
from tests.section_helpers import STUDY, contents, numbers, text


def test_compares_two_models_or_evaluates_one(tmp_path):
    compared = text(numbers(Introduction(), contents(tmp_path / "a")))
    assert compared.startswith("This report compares the CNN and the ViT")
    single = text(numbers(Introduction(), contents(tmp_path / "b", models=("vit",))))
    assert single.startswith("This report evaluates the ViT") and "no comparison is made" in single


def test_a_study_says_that_it_tests_the_claims(tmp_path):
    said = text(numbers(Introduction(), contents(tmp_path / "s", **STUDY)))
    assert ("The build also trained 5 variants of its config to test the original study's claims by experiment (see "
            "\"The study's claims tested\").") in said
    assert "variants of its config" not in text(numbers(Introduction(), contents(tmp_path / "plain")))
