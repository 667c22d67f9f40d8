"""Section "Evaluated weights": which runs were evaluated from weights trained elsewhere, not trained here,
with each weights file's name as given and its sha256 (run.json's origin, weights_source, weights_sha256)."""

from __future__ import annotations

from reportgen.report.contents import ReportContents, has_history
from reportgen.report.kernel import Cell, Item, Paragraph, Table, sentence
from reportgen.report.section import FigureDrawer, Section


class EvaluatedWeights(Section):
    key = "weights"
    title = "Evaluated weights"
    descriptive = True

    def applies(self, contents: ReportContents) -> bool:
        return any(not has_history(run) for runs in contents.runs.values() for run in runs)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rows: list[list[Cell]] = [
            [run.display_name, str(run.seed), str(run.info.get("weights_source", "not recorded")),
             str(run.info.get("weights_sha256", "not recorded"))]
            for runs in contents.runs.values() for run in runs if not has_history(run)]
        return [
            Paragraph([sentence("These weights were evaluated, not trained, by reportgen: they were trained elsewhere "
                                "and loaded as given, so the report has no training history, time or learning "
                                "curves for them, and does not know on which images, for how many epochs or with "
                                "which augmentation they were trained; the config's training settings describe "
                                "what a build would do, not what these weights saw. What is known is their "
                                "architecture (they load strictly into it) and how they classify this bundle's test "
                                "images. The sha256 identifies each weights file exactly.")]),
            Table(["model", "seed", "weights file", "sha256"], rows, caption="Evaluated weights.",
                  kind="fingerprints"),
        ]
