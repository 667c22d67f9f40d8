"""spreadsheet: text cells a spreadsheet would evaluate get a leading quote; numbers and plain text stay."""

import pytest

from reportgen.spreadsheet import spreadsheet_safe


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_formula_start_is_neutralised(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["cat", "a=b", "", -1.5, 3, None, True])
def test_everything_else_is_unchanged(value):
    assert spreadsheet_safe(value) == value
