"""Section "Summary of findings" (page 1): the rows and claims every applicable section gives, in one table each."""

from __future__ import annotations

from reportgen.report.kernel import Metric, sentence
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, NOT_TESTED, ORIGINAL_CLAIMS, SUPPORTED
from reportgen.report.section import SummaryRow
from reportgen.report.sections.findings import Findings, claims_table, findings_table
from tests.section_helpers import SWAPPED, contents, numbers, tables, text


def _row(measure: str, primary: bool) -> SummaryRow:
    values = (Metric(f"{measure}.a", 1.0, "percent"), Metric(f"{measure}.b", 2.0, "percent"))
    return SummaryRow(measure, values, Metric(f"{measure}.d", -1.0, "points"), sentence("[-2, 0]"),
                      "no difference shown", primary)


def test_the_accuracy_row_and_the_claims_reach_the_summary(tmp_path):
    items = numbers(Findings(), contents(tmp_path / "b"))
    summary, claims = tables(items)
    assert summary.header == ["measure", "CNN", "ViT", "difference (CNN − ViT)", "95% interval", "verdict"]
    (accuracy,) = [r for r in summary.rows if r[0] == "Test accuracy (%) (primary)"]
    assert accuracy[-1].text == "CNN higher in this run" and accuracy[4].text.startswith("[")
    assert [row[0] for row in claims.rows] == [c.text for c in ORIGINAL_CLAIMS]
    assert claims.rows[0][1] == INCONCLUSIVE  # one seed: the weights of this run, not the architectures
    three = tables(numbers(Findings(), contents(tmp_path / "three", seeds=(1, 2, 3))))[1]
    assert three.rows[0][1] == SUPPORTED
    assert "Primary comparisons, declared before any result was read: Test accuracy (%)" in text(items)


def test_the_verdicts_flip_with_the_results(tmp_path):
    items = numbers(Findings(), contents(tmp_path / "b", **SWAPPED))
    summary, claims = tables(items)
    assert summary.rows[0][-1].text == "ViT higher in this run"
    assert claims.rows[0][1] == INCONCLUSIVE
    three = tables(numbers(Findings(), contents(tmp_path / "three", seeds=(1, 2, 3), **SWAPPED)))[1]
    assert three.rows[0][1] == CONTRADICTED


def test_primary_rows_come_first_and_secondary_ones_follow_in_order(tmp_path):
    report = contents(tmp_path / "b")
    table = findings_table(report, [_row("ECE", False), _row("accuracy", True), _row("NLL", False)])
    assert [r[0] for r in table.rows] == ["accuracy (primary)", "ECE", "NLL"]


def test_an_untested_claim_says_what_would_test_it(tmp_path):
    table = claims_table(contents(tmp_path / "b"), [])
    assert {row[1] for row in table.rows} == {NOT_TESTED}
    assert table.rows[0][2] == f"needs {ORIGINAL_CLAIMS[0].needs}"


def test_one_model_has_no_summary(tmp_path):
    assert not Findings().applies(contents(tmp_path / "b", models=("cnn",)))
