"""Section "Summary of findings": page 1 of the report, what it found before how.

Gathered from the registry like the Conclusion (it imports no section): every applicable section's
`Verdict.rows` make one table (measure, each model's value, the difference, its 95% interval, the
verdict as decided: primary comparisons first, each one test; secondary ones by their p-value adjusted
within their family, reportgen.report.multiplicity), and the original study's claims
(reportgen.report.original_study) are each marked supported, contradicted, inconclusive or not tested
here, by the sections that tested them.
"""

from __future__ import annotations

from typing import Sequence

from reportgen.report.contents import ReportContents
from reportgen.report.kernel import Cell, Item, Paragraph, Table, sentence
from reportgen.report.original_study import NOT_TESTED, ORIGINAL_CLAIMS, STUDY_MODELS
from reportgen.report.registry import registry
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict, conclude


def findings_table(contents: ReportContents, rows: Sequence[SummaryRow]) -> Table:
    """The summary table: primary comparisons first, in registry order, then the secondary ones."""
    ordered = [r for r in rows if r.primary] + [r for r in rows if not r.primary]
    names = [m.name for m in contents.models]
    comparative = contents.comparative
    header = ["measure", *names, *([f"difference ({names[0]} − {names[1]})", "95% interval"] if comparative else []),
              "verdict"]
    body: list[list[Cell]] = [
        [f"{r.measure}{' (primary)' if r.primary else ''}", *r.values,
         *([r.difference, r.interval] if comparative else []), r.verdict]
        for r in ordered]
    return Table(header, body, caption=f"Summary of findings: primary comparisons (one test each, at α = "
                                       f"{contents.rules.alpha:g}) first, then secondary ones (decided by their p "
                                       "adjusted within their family; one alone in its family by its raw p). Methods "
                                       "and rules: the appendix.")


def claims_table(contents: ReportContents, found: Sequence[ClaimFinding]) -> Table:
    """Each of the original study's claims with the status this report's evidence gives it."""
    by_claim = {f.claim: f for f in found}
    rows: list[list[Cell]] = []
    for claim in ORIGINAL_CLAIMS:
        finding = by_claim.get(claim.key)
        if finding is None:
            rows.append([claim.text, NOT_TESTED, f"needs {claim.needs}"])
        else:
            rows.append([claim.text, finding.status, finding.evidence])
    return Table(["the original study's claim", "here", "evidence"], rows,
                 caption="The original study's claims, as this report's evidence bears on them: supported or "
                         "contradicted by a test that includes the seed-to-seed spread, or by measurements that do not "
                         "depend on the weights (memory, interleaved speed); inconclusive where this bundle cannot "
                         "decide (the evidence says why, and what would).", kind="claims")


def compares_study_models(contents: ReportContents) -> bool:
    """Whether the bundle compares the original study's two architectures, so that its claims can be weighed."""
    return sorted(m.key for m in contents.models) == sorted(STUDY_MODELS)


class Findings(Section):
    key = "findings"
    title = "Summary of findings"
    descriptive = True

    def applies(self, contents: ReportContents) -> bool:
        return bool(self.gathered(contents).rows) or compares_study_models(contents)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        gathered = self.gathered(contents)
        primary = [r.measure for r in gathered.rows if r.primary]
        items: list[Item] = []
        if primary:
            items.append(Paragraph([sentence("Primary comparisons, declared before any result was read: ",
                                             "; ".join(primary), ". Every other line is secondary.")]))
        if gathered.rows:
            items.append(findings_table(contents, gathered.rows))
        if compares_study_models(contents):
            items.append(claims_table(contents, gathered.claims))
        return items

    @staticmethod
    def gathered(contents: ReportContents) -> Verdict:
        """The rows and claims of every other applicable section of the registry, in its order."""
        return conclude([s for s in registry() if not isinstance(s, Findings)], contents)
