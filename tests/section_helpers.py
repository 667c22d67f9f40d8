"""Helpers for the section tests: build one section of a synthetic bundle and read its text back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from reportgen.report.contents import ModelFacts, ReportContents, read_contents
from reportgen.report.kernel import Bullets, Callout, Figure, Item, Paragraph, Sentence, Stat, Subsection, Table
from reportgen.report.section import FigureDrawer, Section
from tests.bundle_factory import make_bundle

SWAPPED = dict(accuracies={"cnn": 0.62, "vit": 0.86}, epoch_times={"cnn": 4.0, "vit": 1.0},
               train_gaps={"cnn": 0.15, "vit": 0.01})  # every comparison of the default bundle, the other way round
HAIR = dict(accuracies={"cnn": 0.800, "vit": 0.795})  # 3 of 600 test images apart


def contents(root: Path, **bundle_options) -> ReportContents:
    """A synthetic bundle written to `root` (bundle_factory.make_bundle options), read as the report reads it."""
    return read_contents(make_bundle(root, **bundle_options))


def build(section: Section, report: ReportContents) -> list[Item]:
    """The items `section` builds for `report`, drawing any figures into the bundle's figures/."""
    root = report.root.resolve()
    return section.build(report, FigureDrawer(root / "figures", root))


def walk(items: Iterable[Item]) -> Iterable[Item]:
    """Every item, descending into subsections."""
    for item in items:
        yield item
        if isinstance(item, Subsection):
            yield from walk(item.items)


def sentences(items: Iterable[Item]) -> list[Sentence]:
    """Every sentence of paragraphs, bullets and callouts, in order."""
    return [s for item in walk(items) if isinstance(item, (Paragraph, Bullets, Callout)) for s in item.sentences]


def text(items: Iterable[Item]) -> str:
    """The plain reading of every sentence, joined by spaces."""
    return " ".join(s.text for s in sentences(items))


def tables(items: Iterable[Item]) -> list[Table]:
    return [item for item in walk(items) if isinstance(item, Table)]


def figures(items: Iterable[Item]) -> list[Figure]:
    return [item for item in walk(items) if isinstance(item, Figure)]


def metric_keys(items: Iterable[Item]) -> set[str]:
    """The data-metric keys of every sentence."""
    return {m.key for s in sentences(items) for m in s.metrics}


def with_gaps(facts: ModelFacts, gaps: tuple[float, ...], seeds: tuple[int, ...] | None = None) -> ModelFacts:
    """`facts` with the given per-seed final train-validation accuracy gaps (and seeds)."""
    seeds = facts.seeds if seeds is None else seeds
    training = replace(facts.training, acc_gap=Stat(f"{facts.key}.acc_gap_pts", "points", gaps))
    return replace(facts, seeds=seeds, training=training)
