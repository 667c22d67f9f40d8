"""reportgen.report.multiplicity: Holm and Benjamini-Hochberg adjustment, and adjusted p-values that are bounds."""

from __future__ import annotations

import pytest

from reportgen.report.kernel import Metric
from reportgen.report.multiplicity import adjust, deciding_tests, family

PS = [0.002, 0.01, 0.003, 0.5]


def test_holm_and_bh_match_their_hand_computed_values():
    # Holm: sorted 0.002, 0.003, 0.01, 0.5 times 4, 3, 2, 1 -> 0.008, 0.009, 0.02, 0.5 (already monotone)
    assert adjust(PS, "holm") == pytest.approx([0.008, 0.02, 0.009, 0.5])
    # BH: times 4/1, 4/2, 4/3, 4/4 -> 0.008, 0.006, 0.0133, 0.5, then the running minimum from the top
    assert adjust(PS, "bh") == pytest.approx([0.006, 0.04 / 3, 0.006, 0.5])
    assert deciding_tests(PS, "holm") == [0, 1, 2, 3]
    assert deciding_tests(PS, "bh") == [2, 1, 2, 3]  # the smallest p's BH value comes from the second smallest


def test_an_adjusted_p_from_a_bound_is_a_bound_and_one_from_a_value_is_a_value():
    raw = [Metric("a.p", 0.002, "pvalue_bound"), Metric("b.p", 0.01, "pvalue"), Metric("c.p", 0.003, "pvalue"),
           Metric("d.p", 0.5, "pvalue")]
    holm = family("four", raw, "holm")
    assert [m.unit for m in holm.adjusted] == ["pvalue_bound", "pvalue", "pvalue", "pvalue"]
    assert holm.adjusted[0].text == "≤ 0.008000"
    # under BH the bound's own adjusted p is decided by c's exact p: a value, not a bound
    assert [m.unit for m in family("four", raw, "bh").adjusted] == ["pvalue"] * 4
    capped = family("two", [Metric("a.p", 0.6, "pvalue_bound"), Metric("b.p", 0.9, "pvalue")], "holm")
    assert capped.adjusted[0].value == 1.0 and capped.adjusted[0].unit == "pvalue"  # "≤ 1" would say nothing
