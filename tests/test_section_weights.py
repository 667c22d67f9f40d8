"""Section "Evaluated weights": runs evaluated from given weights are named, with their sha256."""

from __future__ import annotations

from reportgen.report.sections.weights import EvaluatedWeights
from tests.section_helpers import contents, numbers, tables, text


def test_applies_only_to_runs_without_history(tmp_path):
    report = contents(tmp_path / "b")
    assert not EvaluatedWeights().applies(report)
    (run,) = report.runs["vit"]
    run.history = None  # as a run evaluated from given weights reads
    run.info.update(origin="evaluated", weights_source="vit.pt", weights_sha256="ab" * 32)
    assert EvaluatedWeights().applies(report)
    items = numbers(EvaluatedWeights(), report)
    assert "evaluated, not trained" in text(items)
    assert "does not know on which images, for how many epochs or with which augmentation" in text(items)
    assert tables(items)[0].rows == [["ViT", "42", "vit.pt", "ab" * 32]]
