"""The build-time analyses are registered once (reportgen.analyses): the build computes them from it,
the report reads their files by it, and reading it needs no torch."""

from __future__ import annotations

from dataclasses import fields

import pytest

from reportgen.analyses import ANALYSES
from reportgen.config import AnalysisConfig
from tests.torch_free import assert_runs_without_torch

SWITCHES = {f.name for f in fields(AnalysisConfig) if f.type in (bool, "bool")}


@pytest.mark.parametrize("name", list(ANALYSES))
def test_each_analysis_has_its_switch_its_module_and_its_file(name):
    analysis = ANALYSES[name]
    assert analysis.name == name and name in SWITCHES
    assert analysis.filename == f"{name}{analysis.suffix}" and analysis.suffix in (".json", ".npz")
    module = analysis.load()
    assert module.__name__ == analysis.module and callable(module.settings) and callable(module.compute)
    assert analysis.spec and all(len(kind_shape) == 2 for kind_shape in analysis.spec.values())


def test_the_registry_and_the_sections_reading_it_need_no_torch():
    assert_runs_without_torch("""
        from reportgen.analyses import ANALYSES
        from reportgen.report.sections import efficiency, explanations, robustness
        assert [a.filename for a in ANALYSES.values()] == ["efficiency.json", "robustness.npz", "explanations.npz"]
    """)
