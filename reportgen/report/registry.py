"""The registry of sections, for the sections that gather the others' verdicts (the Summary of findings, the
Conclusion): the registry lists them too, so it is read when they are built, not when they are imported."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from reportgen.report.section import Section


def registry() -> Sequence["Section"]:
    """The report's sections (reportgen.report.sections.SECTIONS), in report order."""
    from reportgen.report import sections

    return sections.SECTIONS
