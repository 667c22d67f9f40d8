"""Section "Robustness to corrupted images": accuracy on the build's CIFAR-10-C style suite, from each run's
robustness.npz (predictions on every corrupted copy, reportgen/analysis/robustness.py).

Two measures (reportgen/report/corruption_results.py). Absolute: accuracy over the corrupted copies
(per corruption and severity in a heatmap; compared overall by McNemar's exact test over images); it
mostly restates the clean accuracy gap. Relative, which defines "more robust": on the images a model
classifies correctly when clean, the share of their corrupted copies it still classifies correctly;
two models are compared on the images both classify correctly when clean, by a hierarchical bootstrap
over seeds and images. The overall relative comparison is a primary comparison (one test); the
per-corruption tests are one family and the per-family tests another, each adjusted by
report.multiplicity (reportgen.report.multiplicity), decided by the adjusted p. A family of one
corruption is not tested again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.analyses import ROBUSTNESS
from reportgen.config import ReportConfig
from reportgen.report.contents import ReportContents
from reportgen.report.corruption_results import (
    PairedTest,
    Suite,
    both_right_share,
    comparable,
    paired_test,
    relative_test,
    suite,
    tested_scopes,
)
from reportgen.report.evidence import (
    and_list,
    bootstrap_evidence,
    bootstrap_p_cell,
    bootstrap_p_parts,
    decided,
    interval_cell,
    labelled,
    one_run_note,
    run_scope,
)
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Part,
    Sentence,
    Table,
    capital,
    compare_key,
    p_parts,
    sentence,
    stat_cell,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.section import FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import BootstrapTest


def robustness_rule(rules: ReportConfig, images: Metric, corruptions: int, severities: int, seed: int) -> Sentence:
    """What the corruption suite is, and when one model is called more robust than another."""
    return sentence(
        "Rule used for robustness: the suite corrupts ", images, f" test images (drawn at random with seed {seed}, "
        f"analysis.seed, the same for every model) with {corruptions} corruptions at {severities} "
        "severities each, with the CIFAR-10-C constants of Hendrycks and Dietterich (2019). Mean corruption accuracy: "
        "the accuracy over every corrupted copy (mostly the clean accuracy again). Relative robustness: of the images "
        "a model classifies correctly when clean, the share of corrupted copies it still gets right. More robust: a "
        "higher relative robustness on the images both models get right clean, by a hierarchical bootstrap over the "
        f"seeds both ran, then the images ({rules.bootstrap_resamples} resamples, seed {rules.bootstrap_seed}; "
        f"percentile {1 - rules.alpha:.0%} interval, two-sided p), p < {rules.alpha:g} overall (a primary "
        "comparison); per corruption and per family of several corruptions, the same test adjusted within each family "
        f"({'Holm' if rules.multiplicity == 'holm' else 'Benjamini-Hochberg'}). Absolute accuracies: McNemar's exact "
        "test over the images (an image counts for the model that gets more of its copies right; ties drop out).")


def suites(contents: ReportContents) -> list[Suite]:
    """The suite results of every model whose runs all hold robustness.npz, in config order."""
    out = []
    for m in contents.models:
        records = contents.analysis(m.key, ROBUSTNESS.filename, ROBUSTNESS.spec)
        if records is not None:
            out.append(suite(m.key, m.name, m.seeds, records))
    return out


@dataclass(frozen=True)
class Comparison:
    """Two models' suites compared: the primary relative test, its families of secondary tests, the absolute test."""

    first: Suite
    second: Suite
    overall: BootstrapTest  # relative robustness, overall
    tests: dict[str, BootstrapTest]  # relative robustness per tested family and corruption scope
    families: Family | None  # the per-family tests, adjusted together (None: no family is tested)
    corruptions: Family | None  # the per-corruption tests
    absolute: PairedTest  # accuracy over every corrupted copy, McNemar's test
    alpha: float

    def family_of(self, scope: str) -> Family | None:
        return self.families if scope.startswith("family.") else self.corruptions

    def decided(self, scope: str) -> bool:
        test = self.overall if scope == "overall" else self.tests[scope]
        return decided(test, self.alpha, None if scope == "overall" else self.family_of(scope))


def compare(first: Suite, second: Suite, rules: ReportConfig) -> Comparison:
    """Every test of two comparable suites, with the per-family and per-corruption families adjusted."""
    level = 1 - rules.alpha
    run = lambda scope: relative_test(first, second, scope, rules.bootstrap_seed,  # noqa: E731
                                      rules.bootstrap_resamples, level)
    family_scopes, corruption_scopes = tested_scopes(first)
    tests = {scope: run(scope) for scope in family_scopes + corruption_scopes}

    def adjusted(name: str, scopes: list[str]) -> Family | None:
        return family(name, [tests[s].metric("p") for s in scopes], rules.multiplicity) if scopes else None

    return Comparison(first, second, run("overall"), tests,
                      adjusted(f"the {len(family_scopes)} corruption families", family_scopes),
                      adjusted(f"the {len(corruption_scopes)} corruptions", corruption_scopes),
                      paired_test(first, second, "overall", rules.alpha), rules.alpha)


# ---------------------------------------------------------------- prose


def scope_name(scope: str) -> str:
    return scope.partition(".")[2].replace("_", " ")


def model_sentence(s: Suite) -> Sentence:
    """A model's mean corruption accuracy, clean accuracy on the same images and relative robustness."""
    return sentence(f"{capital(s.the)}'s mean corruption accuracy is ", s.mean_corruption.parts("%"), " against ",
                    s.clean.parts("%"), " on the same ", s.images, " images uncorrupted; of the images it classifies "
                    "correctly when clean, it still classifies ", s.relative.parts("%"), " of the corrupted copies "
                    "correctly (its own kept share; the models are compared on the images both classify correctly "
                    "when clean).")


def relative_sentence(c: Comparison) -> Sentence:
    """Which model is more robust, by the relative measure on the images both get right clean, if significantly."""
    t, (kept_first, kept_second) = c.overall, both_right_share(c.first, c.second, "overall")
    shares = [f"on the images both classify correctly when clean, {c.first.the} keeps ", kept_first, "% of the "
              f"corrupted copies and {c.second.the} ", kept_second, "% (difference ", t.metric("diff"), " points, ",
              *bootstrap_evidence(t), ")"]
    if not c.decided("overall"):
        return sentence("Neither model is shown to be more robust", run_scope(t.over_seeds), ": ", shares, ".")
    w = c.first if t.estimate > 0 else c.second
    return sentence(f"{capital(w.the)} is more robust{run_scope(t.over_seeds)}: ", shares, ".")


def absolute_verdict(c: Comparison) -> list[Part]:
    """"In absolute terms the CNN is more accurate on the corrupted images in this run (45.42% against 38.52%":
    what the Conclusion states beside the relative verdict, and the section's sentence begins with."""
    t, first, second = c.absolute, c.first, c.second
    if t.significant:
        w = first if t.direction > 0 else second
        verdict: list[Part] = [f"{w.the} is more accurate on the corrupted images"]
    else:
        verdict = ["neither model is shown to be more accurate on the corrupted images"]
    return ["In absolute terms ", *verdict, run_scope(c.overall.over_seeds), " (", *first.mean_corruption.parts("%"),
            " against ", *second.mean_corruption.parts("%")]


def absolute_sentence(c: Comparison) -> Sentence:
    """The absolute accuracies under corruption, their McNemar test, and why they do not define robustness."""
    t, first, second = c.absolute, c.first, c.second
    evidence = ["McNemar's exact test over the images: ", t.metric("b"), f" favour {first.the}, ", t.metric("c"),
                f" {second.the}, ", *p_parts(t.metric("p"))]
    return sentence(*absolute_verdict(c), ", ", t.metric("diff_pts"), " points; ", evidence,
                    "), but with clean accuracies of ",
                    first.clean.parts("%"), " and ", second.clean.parts("%"), " on the same images this mostly "
                    "restates the clean gap, so it is not what decides robustness here.")


def scopes_sentence(c: Comparison, scopes: Sequence[str], fam: Family, kind: str) -> Sentence:
    """Per family or per corruption: where each model keeps significantly more after adjustment, and how many raw
    wins the adjustment removes."""
    ahead = {1: [s for s in scopes if c.decided(s) and c.tests[s].estimate > 0],
             -1: [s for s in scopes if c.decided(s) and c.tests[s].estimate < 0]}
    raw_only = [s for s in scopes if c.tests[s].p < c.alpha and not c.decided(s) and c.tests[s].estimate != 0]
    # with one seed the tests hold the weights fixed: the verdicts describe this run, as the overall one says
    parts: list[Part] = [f"By {kind}, relative robustness adjusted over {fam.name}{run_scope(c.overall.over_seeds)}: "]
    clauses = [f"{model.the} keeps significantly more under {and_list([scope_name(s) for s in ahead[d]])}"
               for d, model in ((1, c.first), (-1, c.second)) if ahead[d]]
    parts.append("; ".join(clauses) if clauses else f"neither model keeps significantly more under any {kind}")
    key = compare_key(f"robustness.{'families' if kind == 'family' else 'corruptions'}")
    parts += [" (", Metric(f"{key}.first_ahead", len(ahead[1]), "count"), f" of {len(scopes)} for {c.first.the}, ",
              Metric(f"{key}.second_ahead", len(ahead[-1]), "count"), f" for {c.second.the})"]
    if raw_only:
        one = len(raw_only) == 1
        parts += ["; ", Metric(f"{key}.raw_only", len(raw_only), "count"), f" raw p-value{'' if one else 's'} below "
                  "the level (", ", ".join(scope_name(s) for s in raw_only), f") {'does' if one else 'do'} not "
                  "survive the adjustment"]
    return sentence(parts, ".")


def comparison_facts(c: Comparison) -> list[Sentence]:
    facts = [relative_sentence(c), absolute_sentence(c)]
    families, corruptions = tested_scopes(c.first)
    if c.families is not None:
        facts.append(scopes_sentence(c, families, c.families, "family"))
    if c.corruptions is not None:
        facts.append(scopes_sentence(c, corruptions, c.corruptions, "corruption"))
    return facts  # with one seed, "in this run" here; the Conclusion says once which seeds would make them tests


# ---------------------------------------------------------------- table and figure


def p_cells(c: Comparison, scope: str) -> list[Cell]:
    """The relative test's difference, p and adjusted p of one scope (the overall one is not adjusted)."""
    test = c.overall if scope == "overall" else c.tests.get(scope)
    if test is None:
        return ["", "", "", ""]
    fam = None if scope == "overall" else c.family_of(scope)
    adjusted: Cell = fam.adjusted_p(test.metric("p").key) if fam is not None and len(fam.raw) > 1 else "—"
    return [test.metric("diff"), interval_cell(test), bootstrap_p_cell(test), adjusted]


def robustness_table(models: Sequence[Suite], c: Comparison | None) -> Table:
    """Per corruption, each model's absolute accuracy and relative robustness (pooled over severities and seeds), with
    the relative test of two models; the families, the overall values and the clean accuracy in the footer."""
    first = models[0]

    def row(label: str, fam: str, scope: str) -> list[Cell]:
        cells: list[Cell] = [label, fam, *(sentence(s.scope_accuracy(scope), "%") for s in models),
                             *(sentence(s.scope_relative(scope), "%") for s in models)]
        return cells + (p_cells(c, scope) if c is not None else [])

    rows = [row(name.replace("_", " "), f, f"corruption.{name}") for name, f in zip(first.corruptions,
                                                                                   first.families)]
    footer = [row(f"{f} family", "", f"family.{f}") for f in first.family_names]
    footer.append(["all corruptions", "", *(stat_cell(s.mean_corruption, "%") for s in models),
                   *(stat_cell(s.relative, "%") for s in models), *(p_cells(c, "overall") if c is not None else [])])
    footer.append(["clean (same images)", "", *(stat_cell(s.clean, "%") for s in models), *([""] * len(models)),
                   *(["", "", "", ""] if c is not None else [])])
    header = ["corruption", "family", *(f"{s.name} accuracy" for s in models), *(f"{s.name} kept" for s in models)]
    if c is not None:
        header += [f"kept, {models[0].name} − {models[1].name} (both right)", "interval", "p", "adjusted p"]
    over = "the severities and seeds" if len(models[0].seeds) > 1 else "the severities"
    return Table(header, rows, footer, caption="Accuracy on the corrupted test images and relative robustness (kept: "
                 f"the share of corrupted copies right, of the images right when clean), over {over}; the "
                 "difference of kept shares (points) is on the images both models get right clean. A family of one "
                 "corruption is not tested again (its corruption's row holds the test); —: primary, not adjusted.")


def draw_heatmaps(models: Sequence[Suite]) -> plt.Figure:
    """One panel per model: accuracy (%) per corruption (rows) on the clean images, then per severity (columns),
    annotated, on one colour scale."""
    # rows just taller than their 6-point numbers: the grid is read cell by cell, not as a picture
    fig, axes = plt.subplots(1, len(models), figsize=(3.5 * len(models), 0.22 * len(models[0].corruptions) + 0.9),
                             squeeze=False, sharey=True)
    for ax, s in zip(axes[0], models):
        clean = np.full((len(s.corruptions), 1), s.clean.mean.value)
        grid = np.hstack([clean, s.cell_accuracy])  # (C, 1 + S)
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                    color="black" if value > 60 else "white")
        ax.axvline(0.5, color="white", lw=1.5)
        ax.set_xticks(range(1 + len(s.severities)), ["clean", *(str(v) for v in s.severities)])
        ax.set_yticks(range(len(s.corruptions)), [c.replace("_", " ") for c in s.corruptions])
        ax.set_xlabel("severity")
        ax.set_title(s.name)
    fig.colorbar(image, ax=axes[0].tolist(), label="accuracy (%)", shrink=0.8)
    return fig


class Robustness(Section):
    key = "robustness"
    title = "Robustness to corrupted images"

    def applies(self, contents: ReportContents) -> bool:
        return bool(suites(contents))

    @staticmethod
    def comparison(contents: ReportContents, models: Sequence[Suite]) -> Comparison | None:
        """The two models' comparison, or None with one model or suites that cannot be paired."""
        if len(models) != 2 or not contents.comparative or not comparable(*models):
            return None
        return compare(*models, contents.rules)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        models, rules = suites(contents), contents.rules
        figure = figures.draw("robustness", lambda: draw_heatmaps(models), sentence(
            "Accuracy (%) on the corrupted test images per corruption and severity (1 mildest, 5 strongest)",
            " (mean over seeds)." if contents.several_seeds else "."), "70%")
        first = models[0]
        rule = robustness_rule(rules, first.images, len(first.corruptions), len(first.severities), first.seed)
        c = self.comparison(contents, models)
        # compared, each model's accuracies and kept share are the table's last rows: the comparison's sentences only
        facts = comparison_facts(c) if c is not None else [model_sentence(s) for s in models]
        return [Callout("rule", [rule]), figure, Bullets(facts), robustness_table(models, c)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        c = self.comparison(contents, suites(contents))
        if c is None:
            return None
        caveats = () if c.overall.over_seeds else (one_run_note("the robustness comparisons"),)
        restates = ", which mostly restates the clean gap" if c.absolute.significant else ""
        absolute = sentence(*absolute_verdict(c), f"){restates}.")
        return Verdict((labelled("Robustness", relative_sentence(c)), absolute), caveats, summary_rows(c))


def summary_rows(c: Comparison) -> tuple[SummaryRow, ...]:
    """The primary relative-robustness line, and the secondary absolute one, of the Summary of findings."""
    t = c.overall
    w = c.first if t.estimate > 0 else c.second
    scope = run_scope(t.over_seeds)
    verdict = f"{w.name} more robust{scope}" if c.decided("overall") else f"no difference shown{scope}"
    primary = SummaryRow("Relative robustness (% of corrupted copies kept, images both right clean)",
                         both_right_share(c.first, c.second, "overall"), t.metric("diff"), interval_cell(t),
                         sentence(verdict, " (", *bootstrap_p_parts(t), ")"), primary=True)
    a = c.absolute
    aw = c.first if a.direction > 0 else c.second
    absolute = SummaryRow("Accuracy under corruption (%)", (stat_cell(c.first.mean_corruption),
                                                            stat_cell(c.second.mean_corruption)),
                          a.metric("diff_pts"), "", sentence(
                              f"{aw.name} higher" if a.significant else "no difference shown", run_scope(t.over_seeds),
                              " (McNemar ",
                              *p_parts(a.metric("p")), "; mostly the clean gap)"))
    return primary, absolute
