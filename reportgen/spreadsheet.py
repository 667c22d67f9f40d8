"""CSV cells that a spreadsheet shows as text and never evaluates (OWASP, "CSV Injection").

A grade sheet or a table export holds strings from strangers: submission folder names, class names, a dataset
fingerprint. A spreadsheet evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)`` sends the neighbouring cells away), and one that begins with a tab or a carriage return
after stripping them. Such a text cell is written with a leading single quote, which spreadsheets read as
"text follows" and do not display; numbers stay numbers (a negative number is a number, not a formula).
The csv module quotes cells that hold the separator or quotes, as the same guidance asks. Torch-free.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """`value` as a CSV cell: a string that a spreadsheet would evaluate gets a leading ``'``; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
