"""Section "Introduction": what the report compares and where its numbers come from."""

from __future__ import annotations

from reportgen.report.contents import ReportContents
from reportgen.report.kernel import Item, Metric, Paragraph, sentence
from reportgen.report.section import FigureDrawer, Section


class Introduction(Section):
    key = "introduction"
    title = "Introduction"
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        if contents.comparative:
            a, b = contents.models
            opening = sentence(
                f"This report compares {a.the} and {b.the} on image classification. Both are "
                f"{'evaluated' if not contents.trained else 'trained'} on the same data under the same protocol; "
                "their accuracy, computational efficiency and generalisation are then measured and compared, as in "
                "the original study.")
        elif len(contents.models) == 1:
            opening = sentence(
                f"This report evaluates {contents.models[0].the} of the original study on image classification: its "
                "accuracy, computational efficiency and generalisation. The bundle holds no second model, so no "
                "comparison is made.")
        else:
            opening = sentence(f"This report evaluates {len(contents.models)} models on image classification.")
        count = len(contents.variants)
        variants = "variant" if count == 1 else "variants"
        experiments = [sentence(
            "The build also trained ", Metric("variant.count", count, "count"), f" {variants} of its config to test "
            "the original study's claims by experiment (see \"The study's claims tested\").")] if count else []
        return [Paragraph([opening, *experiments, sentence(
            "Every number and every statement below is computed from the results bundle this report was rendered "
            "from: if the results change, the text changes with them.")])]
