"""Helpers for the section tests: build one section of a synthetic bundle and read its text back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from reportgen.report.contents import ModelFacts, ReportContents, read_contents
from reportgen.report.kernel import Bullets, Callout, Figure, Item, Paragraph, Sentence, Stat, Subsection, Table
from reportgen.report.section import FigureDrawer, Section, UndrawnFigures
from tests.bundle_factory import VariantSpec, make_bundle

SWAPPED = dict(accuracies={"cnn": 0.62, "vit": 0.86}, epoch_times={"cnn": 4.0, "vit": 1.0},
               train_gaps={"cnn": 0.15, "vit": 0.01})  # every comparison of the default bundle, the other way round
HAIR = dict(accuracies={"cnn": 0.800, "vit": 0.795})  # 3 of 600 test images apart

# The study's experiments on the default bundle (CNN 85%, ViT 72%): without augmentation the ViT drops far more;
# the gap between the models narrows from the smallest training set to the whole one; the modern recipe closes
# half of it. Trained 12 epochs, the ViT's validation curve still rising at the end, the CNN's flat.
STUDY_VARIANTS = {
    "no-augment": VariantSpec({"augment.enabled": False}, {"cnn": 0.80, "vit": 0.55}),
    "d10": VariantSpec({"data.train_fraction": 0.1}, {"cnn": 0.6, "vit": 0.4}),
    "d25": VariantSpec({"data.train_fraction": 0.25}, {"cnn": 0.7, "vit": 0.5}),
    "d50": VariantSpec({"data.train_fraction": 0.5}, {"cnn": 0.8, "vit": 0.62}),
    "modern": VariantSpec({"train.label_smoothing": 0.1, "augment.policy": "trivialaugment"},
                          {"cnn": 0.88, "vit": 0.82}),
}
STUDY = dict(epochs=12, curves={"vit": "rising", "cnn": "flat"}, variants=STUDY_VARIANTS)


def swapped_models(spec: VariantSpec) -> VariantSpec:
    """`spec` with the two models' accuracies (and train gaps) exchanged: every comparison of it the other way."""
    flip = {"cnn": "vit", "vit": "cnn"}
    return replace(spec, accuracies={flip[m]: a for m, a in spec.accuracies.items()},
                   train_gaps={flip[m]: g for m, g in spec.train_gaps.items()})


def contents(root: Path, **bundle_options) -> ReportContents:
    """A synthetic bundle written to `root` (bundle_factory.make_bundle options), read as the report reads it."""
    return read_contents(make_bundle(root, **bundle_options))


def build(section: Section, report: ReportContents) -> list[Item]:
    """The items `section` builds for `report`, drawing any figures into the bundle's figures/.

    For a test that looks at the figures (their files, sizes, that drawing works); one that checks only numbers,
    sentences, tables or which figures there are uses `numbers`, which draws nothing (drawing is most of a section's
    build time)."""
    root = report.root.resolve()
    return section.build(report, FigureDrawer(root / "figures", root))


def numbers(section: Section, report: ReportContents) -> list[Item]:
    """The items `section` builds for `report`, its figures undrawn (their keys and captions only, no file)."""
    return section.build(report, UndrawnFigures())


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


def facts(items: Iterable[Item]) -> str:
    """The plain reading of the bulleted facts only (no rule callout, which names every verdict it can reach)."""
    return text(item for item in walk(items) if isinstance(item, Bullets))


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
