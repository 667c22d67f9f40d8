"""How the grade sheet names each submission: its path as one line, told apart from every other row's.

`reportgen grade submissions/*` shows each bundle by its path, a stranger's string. errors.one_line already
escapes what would break or disguise a line (line breaks, overrides, bytes that are not UTF-8). What remains are
names that are different strings but look the same: "café" composed (U+00E9) and decomposed (e, U+0301), or a
ligature "ﬁ" beside "fi". `shown_names` is the one place that decides how each submission is shown, and every
output of grading (grades.csv, grades.json, grades.html, the Gradescope results, the command's messages) shows
that text: a name that is not in Unicode NFC form, or that is the same as another submission's under NFKC
normalisation (which also makes composed and decomposed forms equal), is shown with its characters as code points
(`caf\\u0065\\u0301`, `caf\\u00e9`) and carries the reason, which the sheet gives as a flag where the name looks
like another submission's. Letters of other scripts that only resemble Latin ones (Cyrillic "а" for "a") are not
caught: that needs Unicode's confusables table (UTS #39), which reportgen does not ship.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from reportgen.errors import one_line

NOT_NFC = "is not in Unicode NFC form (its accents are separate characters)"
LOOKALIKE = "looks the same as another submission's (equal under Unicode NFKC normalisation)"
READS_LIKE = "reads like another submission's name shown as code points"


@dataclass(frozen=True)
class ShownName:
    """How every grading output shows one submission: `text`, and `problem`, why it is shown as code points
    ("" when it is shown as it is)."""

    text: str
    problem: str = ""

    @property
    def looks_like_another(self) -> bool:
        """Whether a reader could take this row for another's: that is flagged. A name that is only not NFC
        (macOS writes decomposed accents of its own accord) is shown as code points but flags nothing, so that a
        rubric on flag_count docks no student for it."""
        return LOOKALIKE in self.problem or READS_LIKE in self.problem


def shown_names(paths: Sequence[Path]) -> list[ShownName]:
    """How each of `paths` is shown (see the module's docstring): in order, one per path."""
    texts = [one_line(str(path)) for path in paths]
    raw = [str(path) for path in paths]
    alike = Counter(_lookalike(text) for text in texts)
    problems = {i: "; ".join(reason for reason, found in ((NOT_NFC, unicodedata.normalize("NFC", text) != text),
                                                          (LOOKALIKE, alike[_lookalike(text)] > 1)) if found)
                for i, text in enumerate(texts)}
    problems = {i: problem for i, problem in problems.items() if problem}
    while True:  # an ASCII name can read like another's code points (a folder named "caf\u00e9"): escape it too
        shown = [code_points(raw[i]) if i in problems else text for i, text in enumerate(texts)]
        alike = Counter(_lookalike(text) for text in shown)
        more = {i: READS_LIKE for i, text in enumerate(shown) if i not in problems and alike[_lookalike(text)] > 1}
        if not more:
            return [ShownName(text, problems.get(i, "")) for i, text in enumerate(shown)]
        problems.update(more)


def _lookalike(text: str) -> str:
    """What a reader sees of `text`: the same for strings that differ only in Unicode normalisation."""
    return unicodedata.normalize("NFKC", text)


def code_points(text: str) -> str:
    """`text` in printable ASCII that names every other character by its code point: `caf\\u0065\\u0301`.

    A character is kept when it is printable ASCII other than the backslash and no combining mark follows it;
    the backslash is `\\u005c`, so that no name can spell another's escapes; a byte of a folder name that is not
    UTF-8 is `\\xff`, as errors.one_line shows it. Different texts never give the same result.
    """
    shown = []
    for i, ch in enumerate(text):
        code = ord(ch)
        marked = i + 1 < len(text) and unicodedata.combining(text[i + 1]) != 0
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8 (surrogateescape)
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif 0x20 <= code < 0x7F and ch != "\\" and not marked:
            shown.append(ch)
        else:
            shown.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(shown)
