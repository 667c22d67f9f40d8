"""Section "Experiments at a glance": every variant of the build, what it changes, and each model's test
accuracy under it against the base config's, with the accuracy rule's verdict (reportgen.report.rules)."""

from __future__ import annotations

from reportgen.report.contents import ReportContents
from reportgen.report.experiments import describe_changes, one_seed_note, versus_base
from reportgen.report.kernel import Callout, Cell, Item, Metric, Paragraph, Table, sentence, stat_cell
from reportgen.report.section import FigureDrawer, Section, Verdict


def overview_table(contents: ReportContents) -> Table:
    """One row per variant (the base config first): its changes, and per model its accuracy, its difference
    from the base config's (points, variant minus base) and whether that difference is significant."""
    models = contents.models
    rows: list[list[Cell]] = [["base config", "—", *(cell for m in models for cell in (stat_cell(m.accuracy, "%"),
                                                                                        "", ""))]]
    for variant in contents.variants.values():
        row: list[Cell] = [variant.name, describe_changes(variant.changes)]
        for m in models:
            sig = versus_base(contents, variant, m.key)
            row += [stat_cell(variant.facts[m.key].accuracy, "%"), sig.difference.mean, sig.verdict]
        rows.append(row)
    header = ["variant", "changes"] + [h for m in models for h in (f"{m.name} accuracy", "vs base (points)",
                                                                      f"{m.name} verdict")]
    return Table(header, rows, caption="Test accuracy of every variant against the base config, model by model "
                                       "(variant minus base; the verdict by the accuracy rule, at the same seeds).")


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
        intro = sentence("Besides the base config, this build trained ", count, f" {variants} of it, each changing "
                         "only the keys listed below; every variant trained every model at the base config's seeds (",
                         seeds, f" {'seed' if seeds.value == 1 else 'seeds'} per model) and was tested on the same "
                         "test images. A difference is significant by the accuracy rule (Accuracy section): McNemar's "
                         "exact test per seed, and a t-test over seeds with two or more.")
        note = one_seed_note(contents)
        return [Paragraph([intro]), *([Callout("note", [note])] if note else []), overview_table(contents)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """The caveat on every experiment's verdict at one seed."""
        note = one_seed_note(contents)
        return Verdict(caveats=(note,)) if note else None
