"""Section "Conclusion": the closing verdict, as the sections that conclude something state it.

Each such section says what it concludes through `Section.verdict` (reportgen.report.section): the
accuracy and its significance, the training cost, the overfitting rule, each experiment the bundle
holds (augmentation, data size, training length, recipe), and the caveats (one seed, a reduced-scale
run). The Conclusion collects them from the registry and imports no section: a new section that
concludes something adds its `verdict`, and appears here. It leads with the verdicts that hold a
primary comparison of the Summary of findings (the accuracy), then states the others in report order,
then the caveats, so that it opens with what the report set out to decide. The one-seed caveats of several
sections are stated once, where the last stood.
"""

from __future__ import annotations

from typing import Sequence

from reportgen.report.contents import ReportContents
from reportgen.report.evidence import merged_one_run_notes
from reportgen.report.kernel import Bullets, Item, Sentence
from reportgen.report.registry import registry
from reportgen.report.section import FigureDrawer, Section, Verdict, verdict_of


def conclusion_sentences(contents: ReportContents, sections: Sequence[Section] | None = None) -> list[Sentence]:
    """The verdicts of the sections that apply (the registry's, unless `sections` is given): those holding a primary
    comparison first, the others in their order; every finding, then every top-level caveat."""
    verdicts = [v for s in (registry() if sections is None else sections)
                if s.applies(contents) and (v := verdict_of(s, contents)) is not None]
    ordered = [v for v in verdicts if leads(v)] + [v for v in verdicts if not leads(v)]
    return merged_one_run_notes([f for v in ordered for f in v.findings] + [c for v in ordered for c in v.caveats])


def leads(verdict: Verdict) -> bool:
    """Whether a verdict holds a primary comparison (a line of the Summary of findings marked primary)."""
    return any(row.primary for row in verdict.rows)


class Conclusion(Section):
    key = "conclusion"
    title = "Conclusion"
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [Bullets(conclusion_sentences(contents))]
