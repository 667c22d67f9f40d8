"""Appendix "Per-seed metrics": one per-class table per run, only with several seeds."""

from __future__ import annotations

from reportgen.report.sections.per_seed import PerSeed
from tests.section_helpers import contents, numbers, tables


def test_one_table_per_run_with_several_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2))
    assert PerSeed().applies(report)
    assert [t.caption for t in tables(numbers(PerSeed(), report))] == [
        "CNN, seed 1: per-class metrics on the test set.", "CNN, seed 2: per-class metrics on the test set.",
        "ViT, seed 1: per-class metrics on the test set.", "ViT, seed 2: per-class metrics on the test set."]
    assert not PerSeed().applies(contents(tmp_path / "c"))
