"""Section "Conclusion": the closing verdict, as the sections that conclude something state it.

Each such section says what it concludes through `Section.verdict` (reportgen.report.section): the
accuracy and its significance, the training cost, the overfitting rule, each experiment the bundle
holds (augmentation, data size, training length, recipe), and the caveats (one seed, a reduced-scale
run). The Conclusion collects them from the registry, in report order, and imports no section: a
new section that concludes something adds its `verdict`, and appears here.
"""

from __future__ import annotations

from typing import Sequence

from reportgen.report.contents import ReportContents
from reportgen.report.kernel import Bullets, Item, Sentence
from reportgen.report.registry import registry
from reportgen.report.section import FigureDrawer, Section, conclude


def conclusion_sentences(contents: ReportContents, sections: Sequence[Section] | None = None) -> list[Sentence]:
    """The verdicts of the sections that apply (the registry's, unless `sections` is given), in their order:
    every finding, then every top-level caveat."""
    return conclude(registry() if sections is None else sections, contents).sentences


class Conclusion(Section):
    key = "conclusion"
    title = "Conclusion"
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [Bullets(conclusion_sentences(contents))]
