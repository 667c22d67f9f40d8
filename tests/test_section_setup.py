"""Section "Setup and reproducibility": the environment and one row per run."""

from __future__ import annotations

from reportgen.report.sections.setup import Setup
from tests.section_helpers import contents, numbers, tables


def test_environment_and_runs(tmp_path):
    environment, runs = tables(numbers(Setup(), contents(tmp_path / "b", seeds=(1, 2))))
    assert "dataset fingerprint (sha256)" in [row[0] for row in environment.rows]
    assert [(row[0], row[1]) for row in runs.rows] == [("CNN", "1"), ("CNN", "2"), ("ViT", "1"), ("ViT", "2")]
