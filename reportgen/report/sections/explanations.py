"""Section "What the models look at": each model's saliency maps on the same test images, drawn side by side,
and how faithful they are, measured by deletion curves (explanations.npz, reportgen/analysis/explanations.py).

The maps are shown, not described: a map's look is not a measurement. What the section says is
measured: for each image, the area under the true class's probability, normalised by the intact
image's (p(t)/p(0), so that a model's starting confidence does not enter), as the most salient patches
are occluded first, against random occlusion orders (`Faithfulness`), tested by the hierarchical bootstrap over
the model's seeds, then the images, so that with several seeds the seed-to-seed spread enters the test (rule:
`faithfulness_rule`). Each model's own method (Grad-CAM, attention
rollout) stands beside one method the same for every model (occlusion, captum), by which the models'
faithfulness is compared, by the hierarchical bootstrap over seeds and images (reportgen.report.stats);
the between-model tests are one family adjusted by report.multiplicity, the tests against random orders
another. Metric keys: ``<model>.explanations.*`` (own method), ``<model>.explanations.occlusion.*``
(occlusion). A file without a part (no captum at build time, or a file of reportgen 0.5 or earlier
without occlusion) is reported as missing, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.analyses import EXPLANATION_PARTS, EXPLANATIONS
from reportgen.config import ReportConfig
from reportgen.errors import BundleError
from reportgen.report.analysis_files import check_fields
from reportgen.report.contents import ReportContents
from reportgen.report.evidence import (
    METHOD_NAMES,
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
    first_seed,
    indefinite_article,
    model_key,
    p_parts,
    sentence,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.plots import IMAGE_EXTENT, SERIES_COLOURS, bare, hwc
from reportgen.report.section import FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.stats import BootstrapTest, hierarchical_bootstrap


def faithfulness_rule(rules: ReportConfig, images: Metric, grid: int, steps: int, orders: int) -> Sentence:
    """How the explanations' faithfulness is measured, and when one is called more faithful."""
    side = 32 // grid
    return sentence(
        "How faithfulness is measured: the explained images are the first test images of each class (", images,
        f" images, the same for every model), cut into {indefinite_article(grid)} {grid} × {grid} grid of {side} × "
        f"{side}-pixel patches, "
        f"occluded (the training set's mean colour) most salient first in {steps} equal groups, and in {orders} random "
        "orders per image (the same for every model); after each group, the true class's probability over the intact "
        "image's, p(t)/p(0), so that the starting confidence does not enter. The area under such a curve is smaller "
        "when the probability falls sooner; the gap (random orders' area minus salient-first area) is larger when the "
        "map points at what the model relies on. A map beats random orders when the mean per-image gap is positive "
        f"with a two-sided bootstrap p, adjusted by {METHOD_NAMES[rules.multiplicity]} over every model and method, "
        f"below {rules.alpha:g}; one model's map is more faithful when the mean per-image difference of the gaps has "
        "such a p, adjusted within the between-model comparisons (own methods, occlusion), below "
        f"{rules.alpha:g}. The bootstrap resamples the seeds both ran, then the images "
        f"({rules.bootstrap_resamples} resamples, seed {rules.bootstrap_seed}). Occlusion removes one patch at a time, "
        "as the deletion test removes patches, so it should beat random orders; between models it says whose single "
        "patches better predict removing many (how local the evidence is), not which is easier to explain.")


@dataclass(frozen=True)
class Faithfulness:
    """One model's explanations of the chosen images, and their deletion areas over its seeds."""

    key: str  # the model's key
    scope: str  # metric key scope: "explanations" (own method) or "explanations.occlusion" (the shared one)
    name: str
    method: str  # "Grad-CAM", "attention rollout" or "occlusion"
    indices: np.ndarray = field(repr=False)  # (M,) test-set index of each explained image
    labels: np.ndarray = field(repr=False)  # (M,)
    images: np.ndarray = field(repr=False)  # (M, 3, 32, 32) uint8
    maps: np.ndarray = field(repr=False)  # (M, h, w) the first seed's saliency maps
    curves: np.ndarray = field(repr=False)  # (2, M, S + 1) mean over seeds: salient-first, random orders
    area: np.ndarray = field(repr=False)  # (M,) area under the salient-first curve, mean over seeds
    random_area: np.ndarray = field(repr=False)  # (M,) the random orders' mean area, mean over seeds
    seed_gaps: np.ndarray = field(repr=False)  # (seeds, M) each seed's random-order area minus salient-first area
    fractions: np.ndarray = field(repr=False)  # (S + 1,) share of the patches occluded at each point
    grid: int
    random_orders: int

    @property
    def the(self) -> str:
        return f"the {self.name}"

    @property
    def gap(self) -> np.ndarray:
        """(M,) random-order area minus salient-first area: larger is more faithful."""
        return self.random_area - self.area

    def mean(self, name: str, values: np.ndarray, unit: str = "fraction") -> Metric:
        return Metric(self.metric_key(name), float(np.mean(values)), unit)

    def metric_key(self, name: str) -> str:
        """``<model>.explanations.<name>`` (own method) or ``<model>.explanations.occlusion.<name>``."""
        return model_key(self.key, f"{self.scope}.{name}")

    @property
    def images_count(self) -> Metric:
        return Metric(self.metric_key("images"), len(self.indices), "count")


START_FLOOR = 1e-6  # a curve is divided by its intact-image probability, floored so that a 0 start stays finite
OCCLUSION = "occlusion"


def normalised(curves: np.ndarray) -> np.ndarray:
    """(..., M, P) deletion curves divided by each image's intact-image probability (point 0): p(t) / p(0)."""
    return curves / np.maximum(curves[..., :1], START_FLOOR)


def faithfulness(key: str, name: str, records: Sequence[dict[str, np.ndarray]], part: str) -> Faithfulness:
    """A model's Faithfulness by one method ("own" or "occlusion") from its seeds' explanations.npz contents (the
    same images for every seed), on curves normalised by the intact image's probability."""
    first = records[0]
    fractions = first["fractions"]
    field_name, maps_name = ("deletion", "saliency") if part == "own" else ("occlusion_deletion",
                                                                             "occlusion_saliency")
    salient = normalised(np.stack([r[field_name] for r in records]))  # (seeds, M, S + 1)
    random = normalised(np.stack([r["random_deletion"] for r in records]))
    areas = np.trapezoid(salient, fractions, axis=-1), np.trapezoid(random, fractions, axis=-1)  # (seeds, M) each
    return Faithfulness(
        key, "explanations" if part == "own" else f"explanations.{OCCLUSION}", name,
        str(first["method"]) if part == "own" else OCCLUSION, first["indices"], first["labels"], first["images"],
        first[maps_name], np.stack([salient.mean(axis=0), random.mean(axis=0)]), areas[0].mean(axis=0),
        areas[1].mean(axis=0), areas[1] - areas[0], fractions,
        int(first[maps_name].shape[-1]) if part != "own" else int(first["grid_saliency"].shape[-1]),
        int(first["random_orders"]))


@dataclass(frozen=True)
class Explained:
    """Every model's explanations by part ("own": each model's method, "occlusion": the shared one), and what is
    missing from the files."""

    parts: dict[str, list[Faithfulness]]
    missing: list[Sentence]


def explained_parts(contents: ReportContents) -> Explained:
    """The explanations of every model whose runs all hold explanations.npz, in config order, by part."""
    parts: dict[str, list[Faithfulness]] = {"own": [], "occlusion": []}
    missing: list[Sentence] = []
    for m in contents.models:
        records = contents.analysis(m.key, EXPLANATIONS.filename, EXPLANATIONS.spec)
        if records is None:
            continue
        if any(r["labels"].min() < 0 or r["labels"].max() >= len(contents.class_names) for r in records):
            raise BundleError(f"an explanations.npz of model '{m.key}' holds a label outside the "
                              f"{len(contents.class_names)} classes")
        for part, spec in EXPLANATION_PARTS.items():
            if all(name in r for r in records for name in spec):
                for run, record in zip(contents.runs[m.key], records):
                    check_fields(record, run.path / EXPLANATIONS.filename, spec)  # the part's shapes, checked once
                parts[part].append(faithfulness(m.key, m.name, records, part))
            elif any("skipped" in r for r in records):
                missing.append(sentence(f"{capital(m.name)}: {part if part == OCCLUSION else records[0]['method']} "
                                        f"skipped: {records[0]['skipped']}."))
            elif part == OCCLUSION:
                missing.append(sentence(f"{capital(m.name)}: this bundle's explanations.npz has no occlusion "
                                        "(written by reportgen 0.5 or earlier): the models are not compared by one "
                                        "method; a rebuild adds it."))
    return Explained(parts, missing)


def explained(contents: ReportContents) -> list[Faithfulness]:
    """Each model's explanation by its own method (where the file holds it)."""
    return explained_parts(contents).parts["own"]


def against_random(f: Faithfulness, rules: ReportConfig) -> BootstrapTest:
    """The mean per-image gap over random orders against 0 (``<model>.<scope>.vs_random.{diff, low, high, p}``), by
    the hierarchical bootstrap over the model's seeds, then the images: with several seeds the spread between them
    is part of the test, as in every other comparison of the report."""
    return hierarchical_bootstrap(f.metric_key("vs_random"), [f.seed_gaps], lambda m: m[0], rules.bootstrap_seed,
                                  rules.bootstrap_resamples, 1 - rules.alpha, scale=1.0, unit="fraction")


def beats_random(test: BootstrapTest, alpha: float, fam: Family) -> bool:
    """Whether occluding by the map lowers the probability sooner than at random: a positive gap, decided by its
    p adjusted within the family of tests against random orders."""
    return test.estimate > 0 and decided(test, alpha, fam)


def random_family(models: Sequence[Faithfulness], rules: ReportConfig) -> Family:
    """The tests against random orders of every model and method, adjusted together."""
    return family("the tests against random orders", [against_random(f, rules).metric("p") for f in models],
                  rules.multiplicity)


def between(first: Faithfulness, second: Faithfulness, rules: ReportConfig) -> BootstrapTest | None:
    """The mean per-image gap of the first model minus the second's (``compare.<scope>.{diff, low, high, p}``), by
    the hierarchical bootstrap over the seeds both ran and the images; None on different images."""
    if not np.array_equal(first.indices, second.indices):
        return None
    return hierarchical_bootstrap(compare_key(first.scope), [first.seed_gaps, second.seed_gaps],
                                  lambda m: m[0] - m[1], rules.bootstrap_seed, rules.bootstrap_resamples,
                                  1 - rules.alpha, scale=1.0, unit="fraction")


# ---------------------------------------------------------------- prose


def _method(f: Faithfulness) -> str:
    """"the CNN's Grad-CAM", "the ViT's occlusion map"."""
    return f"{f.the}'s {f.method}{' map' if f.method == OCCLUSION else ''}"


def _maps(found: Sequence[Faithfulness]) -> str:
    """"the CNN's Grad-CAM, the ViT's attention rollout and the CNN's occlusion map"."""
    return and_list([_method(f) for f in found])


def random_sentence(models: Sequence[Faithfulness], rules: ReportConfig, fam: Family) -> Sentence:
    """Which maps beat random occlusion orders (each by its p adjusted within the family of these tests), in one
    sentence: the table beside it holds every map's areas, gap, interval and p."""
    tests = [(f, against_random(f, rules)) for f in models]
    better = [f for f, t in tests if beats_random(t, rules.alpha, fam)]
    others = [f for f in models if f not in better]
    scope = run_scope(all(t.over_seeds for _, t in tests))
    parts: list[Part] = []
    if better:
        parts += [f"Occluding the most salient patches first lowers the true class's probability significantly sooner "
                  f"than occluding at random{scope} for {_maps(better)}"]
    if others:
        parts += ["; " if better else "", f"{_maps(others) if better else capital(_maps(others))} "
                  f"{'is' if len(others) == 1 else 'are'} not shown to be more faithful than a random order{scope}"]
    adjusted = f"{METHOD_NAMES[fam.method]}-adjusted over {fam.name}" if len(fam.raw) > 1 else "raw"
    return sentence(parts, f" (the areas, gaps with their {1 - rules.alpha:.0%} intervals and p, {adjusted}, are "
                    f"in the table below; over the ", models[0].images_count, " explained images).")


def comparison_sentence(first: Faithfulness, second: Faithfulness, rules: ReportConfig,
                        fam: Family | None = None) -> Sentence:
    """Whose explanation is more faithful: the larger mean gap over random orders, when the bootstrap says so (by
    its adjusted p within the family of between-model tests)."""
    test = between(first, second, rules)
    if test is None:
        return sentence("The two models' explanations cover different images, so their faithfulness is not compared.")
    evidence = ["mean per-image difference ", test.metric("diff"), ", ", *bootstrap_evidence(test, fam)]
    if test.estimate == 0:
        return sentence(f"{capital(_method(first))} and {_method(second)} have the same gap over random orders"
                        f"{run_scope(test.over_seeds)} (", evidence, ").")
    w, lo = (first, second) if test.estimate > 0 else (second, first)
    gaps = [w.mean("gap", w.gap), " against ", lo.mean("gap", lo.gap)]
    if decided(test, rules.alpha, fam) and w.method == OCCLUSION:  # one method for both: how local, not faithful
        return sentence(f"{capital(_method(w))} has the larger gap over random orders{run_scope(test.over_seeds)}, ",
                        gaps, " (", evidence, "): more local evidence, not an easier model to explain.")
    if decided(test, rules.alpha, fam):
        return sentence(f"{capital(_method(w))} is more faithful than {_method(lo)}{run_scope(test.over_seeds)}: "
                        "a gap over random orders of ", gaps, " (", evidence, ").")
    return sentence(f"{capital(_method(w))} has the larger gap over random orders{run_scope(test.over_seeds)}, ", gaps,
                    ", but the difference is not significant (", evidence, "), so neither explanation is shown to be "
                    "more faithful.")


def faithfulness_row(first: Faithfulness, second: Faithfulness, rules: ReportConfig,
                     fam: Family | None) -> SummaryRow | None:
    """One between-model comparison as a (secondary) line of the Summary of findings: each model's mean gap over
    random orders, the difference with its interval, the verdict by the adjusted p."""
    test = between(first, second, rules)
    if test is None:
        return None
    w = first if test.estimate > 0 else second
    better = "larger gap (more local evidence)" if first.method == OCCLUSION else "more faithful"
    verdict = f"{w.name} {better}" if decided(test, rules.alpha, fam) else "no difference shown"
    adjusted = fam is not None and len(fam.raw) > 1
    p = p_parts(fam.adjusted_p(test.metric("p").key)) if adjusted else bootstrap_p_parts(test)
    methods = "one method (occlusion)" if first.method == OCCLUSION else f"own methods ({first.method}, " \
        f"{second.method})"
    return SummaryRow(f"Faithfulness, {methods}: deletion gap over random orders", (
        first.mean("gap", first.gap), second.mean("gap", second.gap)), test.metric("diff"), interval_cell(test),
        sentence(verdict, run_scope(test.over_seeds), " (", "adjusted " if adjusted else "", *p, ")"))


# ---------------------------------------------------------------- table and figures


def faithfulness_table(models: Sequence[Faithfulness], rules: ReportConfig, fam: Family) -> Table:
    """Per model and method: deletion areas, gap with its interval and its test against random orders (raw and
    adjusted p)."""
    seeds = " and seeds" if len(models[0].seed_gaps) > 1 else ""
    resampled = "hierarchical bootstrap over the seeds, then the images" if seeds else \
        "bootstrap over the images (one seed)"
    rows: list[list[Cell]] = []
    for f in models:
        test = against_random(f, rules)
        adjusted: Cell = fam.adjusted_p(test.metric("p").key) if len(fam.raw) > 1 else "—"
        rows.append([f.name, f.method, f.mean("area", f.area), f.mean("random_area", f.random_area),
                     f.mean("gap", f.gap), interval_cell(test), bootstrap_p_cell(test), adjusted])
    return Table(["model", "method", "area, salient first", "area, random orders", "gap",
                  f"{1 - rules.alpha:.0%} interval",
                  "p (vs random)", "adjusted p"], rows,
                 caption="Deletion areas under the true class's probability over the intact image's (lower: the "
                         f"probability falls sooner), means over the explained images{seeds}; the gap's interval "
                         f"and p: {resampled}; p adjusted over every model and method.")


def shown(models: Sequence[Faithfulness]) -> list[int]:
    """Positions of the images drawn: the first explained image of each class."""
    labels = models[0].labels
    return [int(np.flatnonzero(labels == k)[0]) for k in dict.fromkeys(labels.tolist())]


def draw_maps(models: Sequence[Faithfulness], class_names: Sequence[str]) -> plt.Figure:
    """One column per class (its first explained image), rows: the image, then each model's map overlaid."""
    columns = shown(models)
    fig, axes = plt.subplots(1 + len(models), len(columns), figsize=(0.72 * len(columns), 0.8 * (1 + len(models))),
                             squeeze=False)
    for j, i in enumerate(columns):
        image = hwc(models[0].images[i])
        axes[0, j].imshow(image, extent=IMAGE_EXTENT)
        axes[0, j].set_title(class_names[int(models[0].labels[i])], fontsize=6)
        for r, f in enumerate(models, start=1):
            saliency = f.maps[i] / f.maps[i].max() if f.maps[i].max() > 0 else f.maps[i]
            axes[r, j].imshow(image, extent=IMAGE_EXTENT)
            axes[r, j].imshow(saliency, cmap="jet", alpha=0.5, extent=IMAGE_EXTENT, interpolation="bilinear",
                              vmin=0, vmax=1)
    for r, f in enumerate(models, start=1):
        axes[r, 0].set_ylabel(f"{f.name}\n{f.method}", fontsize=6)
    axes[0, 0].set_ylabel("image", fontsize=6)
    for ax in axes.flat:
        bare(ax)
    fig.tight_layout(pad=0.2, w_pad=0.2, h_pad=0.2)
    return fig


def draw_curves(models: Sequence[Faithfulness]) -> plt.Figure:
    """Mean p(t)/p(0) against the share of patches occluded: each model and method salient first (solid), and each
    model's random orders (dashed) once, as they do not depend on the method."""
    fig, ax = plt.subplots(figsize=(4.8, 2.3))
    random_drawn: set[str] = set()
    for f, colour in zip(models, SERIES_COLOURS):
        ax.plot(f.fractions, f.curves[0].mean(axis=0), color=colour, lw=1.3,
                label=f"{f.name} {f.method}, most salient first")
        if f.name not in random_drawn:
            random_drawn.add(f.name)
            ax.plot(f.fractions, f.curves[1].mean(axis=0), color=colour, lw=1.0, ls="--",
                    label=f"{f.name}, random orders")
    ax.set_xlabel("share of patches occluded")
    ax.set_ylabel("true-class prob. / intact image's")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the curves, never on them
    return fig


def between_family(found: Explained, rules: ReportConfig) -> Family | None:
    """The between-model tests (own methods, occlusion) of two models, adjusted together."""
    ps = [t.metric("p") for part in found.parts.values()
          if len(part) == 2 and (t := between(*part, rules)) is not None]
    return family("the between-model comparisons", ps, rules.multiplicity) if ps else None


def compared(found: Explained) -> list[list[Faithfulness]]:
    """The parts (own methods, occlusion) that both models of the report hold."""
    return [part for part in found.parts.values() if len(part) == 2]


class Explanations(Section):
    key = "explanations"
    title = "What the models look at"

    def applies(self, contents: ReportContents) -> bool:
        return any(contents.analysis(m.key, EXPLANATIONS.filename, EXPLANATIONS.spec) is not None
                   for m in contents.models)

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        found, rules = explained_parts(contents), contents.rules
        notes = [Callout("note", found.missing)] if found.missing else []
        shown = found.parts["own"] + found.parts["occlusion"]
        if not shown:
            return notes
        first = shown[0]
        maps = figures.draw("explanations", lambda: draw_maps(shown, contents.class_names), sentence(
            "Saliency maps on the first explained test image of each class, overlaid (red: most salient), from "
            f"{first_seed(contents.config.train.seeds)}: ", "; ".join(f"{f.name}: {f.method}" for f in shown), "."),
            "70%")
        curves = figures.draw("deletion", lambda: draw_curves(shown), sentence(
            "Deletion curves: the true class's probability over the intact image's, averaged over the ",
            first.images_count, " explained images, as patches are occluded most salient first and in random "
            "orders."), "64%")
        vs_random = random_family(shown, rules)
        facts = [random_sentence(shown, rules, vs_random)]
        if contents.comparative and compared(found):
            fam = between_family(found, rules)
            # with one seed, "in this run" here; the Conclusion says once which seeds would make them tests
            facts += [comparison_sentence(*part, rules, fam) for part in compared(found)]
        rule = faithfulness_rule(rules, first.images_count, first.grid, len(first.fractions) - 1,
                                 first.random_orders)
        return [Callout("rule", [rule]), *notes, maps, curves, Bullets(facts),
                faithfulness_table(shown, rules, vs_random)]

    @staticmethod
    def one_run(found: Explained, rules: ReportConfig) -> list[Sentence]:
        """The one-seed caveat when a between-model comparison resampled images only."""
        tests = [between(*part, rules) for part in compared(found)]
        if any(t is not None and not t.over_seeds for t in tests):
            return [one_run_note("the faithfulness comparisons")]
        return []

    def verdict(self, contents: ReportContents) -> Verdict | None:
        found, rules = explained_parts(contents), contents.rules
        pairs = compared(found)
        if not contents.comparative or not pairs:
            return None
        fam = between_family(found, rules)
        rows = tuple(row for part in pairs if (row := faithfulness_row(*part, rules, fam)) is not None)
        return Verdict(tuple(labelled("Explanations", comparison_sentence(*part, rules, fam)) for part in pairs),
                       (*found.missing, *self.one_run(found, rules)), rows)
