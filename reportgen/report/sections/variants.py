"""Section "Experiments at a glance": every variant of the build, what it changes, and each model's test
accuracy under it against the base config's, by the accuracy rule (reportgen.report.rules), the deciding p-value
adjusted within the family of every variant-against-base comparison (reportgen.report.experiments.base_family)."""

from __future__ import annotations

from reportgen.report.contents import ReportContents
from reportgen.report.experiments import base_family, describe_changes, one_seed_note
from reportgen.report.kernel import Callout, Cell, Item, Metric, Paragraph, Table, sentence, stat_cell
from reportgen.report.multiplicity import METHODS
from reportgen.report.section import FigureDrawer, Section, Verdict


def overview_table(contents: ReportContents) -> Table:
    """One row per variant (the base config first): its changes, and per model its accuracy, its difference
    from the base config's (points, variant minus base), the deciding p-value raw and adjusted, and the verdict."""
    models = contents.models
    tests = base_family(contents)
    rows: list[list[Cell]] = [["base config", "—", *(cell for m in models for cell in (stat_cell(m.accuracy, "%"),
                                                                                        "", "", ""))]]
    for variant in contents.variants.values():
        row: list[Cell] = [variant.name, describe_changes(variant.changes)]
        for m in models:
            test = tests[(variant.name, m.key)]
            row += [stat_cell(variant.facts[m.key].accuracy, "%"), test.sig.difference.mean, test.p_cell(),
                    test.verdict]
        rows.append(row)
    header = ["variant", "changes"] + [h for m in models for h in (f"{m.name} accuracy", "vs base (points)",
                                                                      "p / adjusted p", f"{m.name} verdict")]
    return Table(header, rows, caption="Test accuracy of every variant against the base config, model by model "
                                       "(variant minus base, at the same seeds; the verdict by the accuracy rule, "
                                       "decided by the p-value adjusted within the family of these comparisons).")


class Variants(Section):
    key = "variants"
    title = "Experiments at a glance"
    descriptive = True

    def applies(self, contents: ReportContents) -> bool:
        return bool(contents.variants)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        seeds = contents.models[0].seed_count
        count = Metric("variant.count", len(contents.variants), "count")
        variants = "variant" if count.value == 1 else "variants"
        tests = "McNemar's exact test per seed, a t-test over seeds and the hierarchical bootstrap over seeds and " \
                "test images" if contents.several_seeds else "McNemar's exact test on the one seed's predictions"
        method = METHODS[contents.rules.multiplicity]
        intro = sentence("Besides the base config, this build trained ", count, f" {variants} of it, each changing "
                         "only the keys listed below; every variant trained every model at the base config's seeds (",
                         seeds, f" {'seed' if seeds.value == 1 else 'seeds'} per model) and was tested on the same "
                         f"test images. A change is tested by the accuracy rule (Accuracy section: {tests}); the "
                         "comparisons of the table are one family of secondary tests, whose deciding p-values are "
                         f"adjusted together by {method}, and a verdict is decided by the adjusted one.")
        note = one_seed_note(contents)
        return [Paragraph([intro]), *([Callout("note", [note])] if note else []), overview_table(contents)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """The caveat on every experiment's verdict at one seed."""
        note = one_seed_note(contents)
        return Verdict(caveats=(note,)) if note else None
