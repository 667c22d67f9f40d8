"""reportgen.report.evidence: a p-value at the floor of its simulation reads as a bound, in prose and in tables, and
the Conclusion states the one-seed caveats of several sections once."""

from __future__ import annotations

from reportgen.report.evidence import merged_one_run_notes, one_run_note
from reportgen.report.kernel import Metric, floored_p, p_parts, sentence


def test_a_p_at_the_floor_is_a_bound_and_above_it_a_value():
    floor = 2 / 1001
    at, above = Metric("k.p", floor, "pvalue"), Metric("k.p", 0.0312, "pvalue")
    assert floored_p(at, floor).text == "≤ 0.001998" and floored_p(above, floor) is above
    assert sentence(p_parts(floored_p(at, floor))).text == "p ≤ 0.001998"
    assert sentence(p_parts(floored_p(above, floor))).text == "p = 0.03120"


def test_one_run_notes_merge_where_the_last_stood_and_a_lone_one_stays():
    finding = sentence("A finding.")
    notes = [one_run_note("the calibration comparisons"), finding, one_run_note("the robustness comparisons")]
    merged = merged_one_run_notes(notes)
    assert [s.text for s in merged][0] == "A finding."
    assert merged[1].text.startswith("With one seed, the calibration and robustness comparisons describe")
    assert merged_one_run_notes(notes[:2]) == notes[:2]
