"""What a report section is, and how the registry's sections are laid out into numbered ones.

A section (one module under reportgen/report/sections/) subclasses `Section`: it has a key (its
HTML id), a title, `applies(contents)` (by what the bundle holds and what its models can do, never
by model name) and `build(contents, figures)`, which returns layout items (reportgen.report.kernel)
and draws its figures through `figures`. A section that concludes something also has
`verdict(contents)`: a `Verdict`, the sentences the Conclusion states for it (`conclude` collects
them from the registry, in its order). A `Group` is a numbered chapter whose applicable children
become its subsections (7.1, 7.2, ...). `layout` numbers the sections that apply, in registry
order (appendices by letter), then their subsections, tables and figures, so numbering and the
table of contents always come from the registry. The rules the sections apply (their "rule" callouts) are
moved out of the sections into one lettered appendix, "Methods and rules" (`gather_rules`), each leaving a
one-line reference behind: the sections read as results, the methods stay one look away.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import matplotlib.pyplot as plt

from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import Callout, Cell, Figure, Item, Sentence, Subsection, Table, sentence
from reportgen.report.plots import FIGURE_SUFFIX, STYLE, save_figure


class FigureDrawer:
    """Draws a section's figures into a figures/ folder (render's, then moved into the bundle) and returns them as
    layout items."""

    def __init__(self, folder: Path, document_root: Path):
        self.folder = folder
        self.document_root = document_root  # the folder the HTML links figures from
        folder.mkdir(parents=True, exist_ok=True)

    def draw(self, key: str, draw: Callable[[], plt.Figure], caption: Cell, width: str = "100%") -> Figure:
        """Save the matplotlib figure `draw()` makes as ``<key>.svg`` (atomically) and return its layout item."""
        with plt.rc_context(STYLE):
            path = save_figure(draw(), self.folder / f"{key}{FIGURE_SUFFIX}")
        return Figure(key, path.relative_to(self.document_root).as_posix(), caption, width)


class UndrawnFigures(FigureDrawer):
    """A FigureDrawer that draws and writes nothing: for recomputing a section's numbers (reportgen verify)."""

    def __init__(self):
        pass  # no folder: nothing is written

    def draw(self, key: str, draw: Callable[[], plt.Figure], caption: Cell, width: str = "100%") -> Figure:
        return Figure(key, "", caption, width)


@dataclass(frozen=True)
class SummaryRow:
    """One row of the Summary of findings (page 1): a measure, each model's value, the difference with its 95%
    interval, and the verdict as decided (by the adjusted p-value for a secondary test)."""

    measure: str  # e.g. "Test accuracy (%)"
    values: tuple[Cell, ...]  # one per model, in the report's model order
    difference: Cell  # the first model's value minus the second's ("" when there is one model)
    interval: Cell  # the difference's interval, e.g. "[5.1, 9.8]"; "" when none is computed
    verdict: Cell  # in words, e.g. "CNN higher (p = 0.0012)", "no difference shown", "machine busy: no verdict"
    primary: bool = False  # a declared primary comparison (one test, unadjusted); else a secondary, adjusted one


@dataclass(frozen=True)
class ClaimFinding:
    """What this report's evidence says of one of the original study's claims (reportgen.report.original_study)."""

    claim: str  # the claim's key in ORIGINAL_CLAIMS
    status: str  # one of original_study.STATUSES: "supported", "contradicted", "inconclusive"
    evidence: Sentence  # why, in a few words with the deciding numbers


@dataclass(frozen=True)
class Verdict:
    """What a section concludes, as the Conclusion states it: `findings` (its results, in the words its section
    uses) and `caveats` (limits on what may be concluded). Caveats close the findings of the part they belong to:
    a group's children's caveats follow its children's findings; top-level caveats close the conclusion. `rows`
    are its lines of the Summary of findings, `claims` what it says of the original study's claims."""

    findings: tuple[Sentence, ...] = ()
    caveats: tuple[Sentence, ...] = ()
    rows: tuple[SummaryRow, ...] = ()
    claims: tuple[ClaimFinding, ...] = ()

    @property
    def sentences(self) -> list[Sentence]:
        """The findings, then the caveats."""
        return [*self.findings, *self.caveats]


class Section:
    """One analysis of the report. Subclasses set `key` and `title` and implement `build`, and `verdict` when
    the Conclusion states what they found."""

    key: str = ""
    title: str = ""
    appendix: bool = False  # lettered (A, B, ...) after the numbered sections
    # Purely descriptive (the setup, the data, one image's maps): it concludes nothing, so it has no `verdict`.
    # Every other section that applies gives the Conclusion a verdict (tests/test_sections.py holds it to that).
    descriptive: bool = False

    def applies(self, contents: ReportContents) -> bool:
        """Whether the bundle holds what this section needs; a section that does not apply is left out."""
        return True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        raise NotImplementedError

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """What the Conclusion states for this section (asked only where it applies); None: nothing."""
        return None


def verdict_of(section: Section, contents: ReportContents) -> Verdict | None:
    """`section.verdict(contents)`, drawn once per contents: the Summary of findings, the Conclusion and a chapter
    each ask for it, and its tests (bootstraps over seeds and images) are the costly part of a render."""
    if section not in contents.verdicts:
        contents.verdicts[section] = section.verdict(contents)
    return contents.verdicts[section]


def conclude(sections: Sequence[Section], contents: ReportContents) -> Verdict:
    """The verdicts of the sections that apply, in their order: every finding, then every caveat."""
    verdicts = [v for s in sections if s.applies(contents) and (v := verdict_of(s, contents)) is not None]
    return Verdict(tuple(f for v in verdicts for f in v.findings), tuple(c for v in verdicts for c in v.caveats),
                   tuple(r for v in verdicts for r in v.rows), tuple(c for v in verdicts for c in v.claims))


class TrainingSection(Section):
    """A section about how models trained: it applies when some model of the bundle was trained by reportgen
    (weights evaluated from elsewhere have no history)."""

    def applies(self, contents: ReportContents) -> bool:
        return bool(contents.trained)


def per_model(models: Sequence[ModelFacts], key: str, body: Callable[[ModelFacts], list[Item]]) -> list[Item]:
    """Each model's items: inline for a single model, one subsection per model (``<key>-<model>``) for several."""
    if len(models) == 1:
        return body(models[0])
    return [Subsection(f"{key}-{m.key}", m.name, body(m)) for m in models]


class Group(Section):
    """A chapter made of sections: each applicable child becomes a numbered subsection."""

    def __init__(self, key: str, title: str, children: Sequence[Section]):
        self.key, self.title, self.children = key, title, tuple(children)

    def applies(self, contents: ReportContents) -> bool:
        return any(child.applies(contents) for child in self.children)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [Subsection(child.key, child.title, child.build(contents, figures))
                for child in self.children if child.applies(contents)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """The children's verdicts in order; their caveats close the chapter's findings."""
        children = conclude(self.children, contents)
        if not (children.sentences or children.rows or children.claims):
            return None
        return Verdict(tuple(children.sentences), (), children.rows, children.claims)


@dataclass
class LaidOutSection:
    """A section that applies, with its number ("7", "A") and its built items."""

    key: str
    title: str
    number: str
    items: list[Item]
    subsections: list[Subsection] = field(default_factory=list)  # for the table of contents


def layout(sections: Sequence[Section], contents: ReportContents, figures: FigureDrawer) -> list[LaidOutSection]:
    """Build every section that applies, number sections, subsections, tables and figures in report order."""
    laid_out: list[LaidOutSection] = []
    numbered = lettered = 0
    for section in sections:
        if not section.applies(contents):
            continue
        if section.appendix:
            number, lettered = string.ascii_uppercase[lettered], lettered + 1
        else:
            numbered += 1
            number = str(numbered)
        items = section.build(contents, figures)
        subsections = _number_subsections(items, number)
        laid_out.append(LaidOutSection(section.key, section.title, number, items, subsections))
    methods = gather_rules(laid_out, string.ascii_uppercase[lettered])
    laid_out += [methods] if methods is not None else []
    _number_floats([item for s in laid_out for item in _walk(s.items)])
    return laid_out


RULE = "rule"  # the Callout kind of a rule a section applies
RULE_REFERENCE = "rule-ref"  # the Callout kind of the line a moved rule leaves behind
METHODS_KEY, METHODS_TITLE = "methods", "Methods and rules"


def gather_rules(laid_out: Sequence[LaidOutSection], letter: str) -> LaidOutSection | None:
    """Move every rule callout of `laid_out` into the appendix `letter`, "Methods and rules": one subsection per
    (sub)section that states rules, titled after it; its first rule leaves a reference behind ("Rule: appendix
    B.3."), the others go without one. None when no section states a rule."""
    gathered: list[Subsection] = []
    for section in laid_out:
        for key, title, holder in _rule_holders(section.key, f"{section.title} (section {section.number})",
                                                section.items):
            rules = [item for item in holder if _is_rule(item)]
            number = f"{letter}.{len(gathered) + 1}"
            gathered.append(Subsection(f"{METHODS_KEY}-{key}", title, list(rules), number))
            reference = Callout(RULE_REFERENCE, [sentence(f"Rule: appendix {number} ({METHODS_TITLE}).")])
            holder[:] = [reference if item is rules[0] else item for item in holder
                         if item is rules[0] or not _is_rule(item)]
    if not gathered:
        return None
    return LaidOutSection(METHODS_KEY, METHODS_TITLE, letter, gathered, gathered)


def _is_rule(item: Item) -> bool:
    return isinstance(item, Callout) and item.kind == RULE


def _rule_holders(key: str, title: str, items: list[Item]) -> Iterator[tuple[str, str, list[Item]]]:
    """(key, numbered title, items) of each list of items in `items`' tree that holds a rule, in document order."""
    if any(_is_rule(item) for item in items):
        yield key, title, items
    for item in items:
        if isinstance(item, Subsection):
            yield from _rule_holders(item.key, f"{item.title} (section {item.number})", item.items)


def _number_subsections(items: list[Item], prefix: str) -> list[Subsection]:
    """Give each Subsection of `items` its number (prefix.k, recursively); return the top-level ones."""
    subsections = [item for item in items if isinstance(item, Subsection)]
    for k, sub in enumerate(subsections, start=1):
        sub.number = f"{prefix}.{k}"
        _number_subsections(sub.items, sub.number)
    return subsections


def _walk(items: list[Item]) -> Iterator[Item]:
    """Every item in document order, descending into subsections."""
    for item in items:
        yield item
        if isinstance(item, Subsection):
            yield from _walk(item.items)


def _number_floats(items: list[Item]) -> None:
    """Number the figures, and the tables that have a caption, in document order."""
    figures = [item for item in items if isinstance(item, Figure)]
    tables = [item for item in items if isinstance(item, Table) and item.caption]
    for n, item in enumerate(figures, start=1):
        item.number = n
    for n, item in enumerate(tables, start=1):
        item.number = n


def figure_numbers(sections: Sequence[LaidOutSection]) -> dict[str, int]:
    """Figure key -> its number, for the FigureRef parts of sentences."""
    return {item.key: item.number for s in sections for item in _walk(s.items)
            if isinstance(item, Figure) and item.number is not None}
