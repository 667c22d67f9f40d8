"""Appendix "Per-seed metrics": each run's per-class table, when a model ran with several seeds."""

from __future__ import annotations

from reportgen.report.common import per_class_table
from reportgen.report.contents import ReportContents
from reportgen.report.kernel import Item
from reportgen.report.section import FigureDrawer, Section


class PerSeed(Section):
    key = "appendix"
    title = "Per-seed metrics"
    descriptive = True
    appendix = True

    def applies(self, contents: ReportContents) -> bool:
        return contents.several_seeds

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [per_class_table(run, contents.class_names) for runs in contents.runs.values() for run in runs]
