"""The tables and the figure of a comparison: bundles, data, config differences, per-model metrics with
deltas, per-class scores, and the validation curves overlaid (one line per bundle)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.compare.bundles import (
    COUNTS,
    MISSING,
    QUANTITIES,
    Compared,
    config_differences,
    delta_metric,
    holding,
    signed,
    stat_delta,
)
from reportgen.compare.prose import device_name
from reportgen.report.contents import ModelFacts, stack_curves
from reportgen.report.kernel import Cell, Figure, Metric, Table, bundle_key, listing, sentence, stat_cell
from reportgen.report.plots import SERIES_COLOURS, per_epoch_axes, plot_band
from reportgen.report.section import FigureDrawer


def bundles_table(compared: Sequence[Compared]) -> Table:
    """Label, build time, versions that built it, device, models and seeds of each bundle."""
    rows: list[list[Cell]] = [
        [c.label, c.bundle.built(), str(c.environment.get("reportgen", "not recorded")),
         str(c.environment.get("torch", "not recorded")), device_name(c.environment),
         ", ".join(f.name for f in c.facts.values()),
         sentence(listing(bundle_key(c.index, "seeds"), c.contents.config.train.seeds, "count"))]
        for c in compared
    ]
    return Table(["bundle", "built", "reportgen", "PyTorch", "device", "models", "seeds"], rows,
                 caption="The compared bundles.")


def dataset_table(compared: Sequence[Compared]) -> Table:
    """Source, sizes and fingerprint of each bundle's data."""
    rows: list[list[Cell]] = [
        [c.label, str(c.dataset.get("source", "not recorded")),
         Metric(bundle_key(c.index, "dataset.train_size"), int(c.dataset["train_size"]), "count"),
         Metric(bundle_key(c.index, "dataset.test_size"), int(c.dataset["test_size"]), "count"),
         str(c.dataset.get("fingerprint", "not recorded"))]
        for c in compared
    ]
    return Table(["bundle", "source", "training images", "test images", "fingerprint (sha256)"], rows,
                 caption="The data of each bundle.")


def config_value(prefix: str, key: str, value: Any) -> Cell:
    """A config value as a cell: numbers (and lists of numbers) as metrics b<n>.config.<key>[.<index>]."""
    if _is_number(value):
        return Metric(f"{prefix}.config.{key}", value, "number")
    if isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
        return sentence(listing(f"{prefix}.config.{key}", value))
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def config_table(compared: Sequence[Compared]) -> Table | None:
    """The config keys whose values differ, with each bundle's value; None when the configs are equal."""
    keys = config_differences([c.config for c in compared])
    if not keys:
        return None
    rows: list[list[Cell]] = [
        [key, *(config_value(c.prefix, key, c.config[key]) if key in c.config else MISSING for c in compared)]
        for key in keys
    ]
    return Table(["config key", *(c.label for c in compared)], rows,
                 caption="Config values that differ between the bundles (all other keys are equal).")


def _columns(compared: Sequence[Compared], reference: Compared) -> list[str]:
    """Each bundle's label, followed by "Δ" except for the reference."""
    return [header for c in compared for header in ([c.label] if c is reference else [c.label, "Δ"])]


def _cells(c: Compared, reference: Compared, value: Cell, delta: Metric | None) -> list[Cell]:
    """One bundle's cells of a row: its value, then its signed delta unless it is the reference."""
    if c is reference:
        return [value]
    return [value, signed(delta) if delta is not None else ""]


def metrics_table(compared: Sequence[Compared], model: str) -> Table:
    """The QUANTITIES, seeds and epochs of `model` in each bundle, with deltas against the reference."""
    reference = holding(compared, model)[0]
    rows: list[list[Cell]] = []
    for quantity in QUANTITIES:
        label, _, suffix, _ = quantity
        row: list[Cell] = [label]
        for c in compared:
            value = c.stat(model, quantity) if model in c.facts else None
            row += _cells(c, reference, MISSING if value is None else stat_cell(value, suffix),
                          None if value is None else stat_delta(reference, c, model, quantity))
        rows.append(row)
    for label, count in COUNTS.items():
        row = [label]
        for c in compared:
            value = count(c.facts[model]) if model in c.facts else None
            cell = MISSING if value is None else Metric(bundle_key(c.index, f"{model}.{label}"), value, "count")
            row += _cells(c, reference, cell, None)
        rows.append(row)
    return Table(["", *_columns(compared, reference)], rows,
                 caption=f"{reference.facts[model].name}: mean ± std over seeds; Δ is the bundle's mean minus that "
                         f"of {reference.label}.")


def per_class_table(compared: Sequence[Compared], model: str, field: str,
                    scores: Callable[[ModelFacts], np.ndarray], title: str) -> Table:
    """Per-class `field` (mean over seeds) of `model` in each bundle, with deltas; rows are the reference's classes."""
    reference = holding(compared, model)[0]
    ref_facts = reference.facts[model]
    rows: list[list[Cell]] = []
    for i, name in enumerate(ref_facts.class_names):
        ref_value = float(scores(ref_facts)[i])
        row: list[Cell] = [name]
        for c in compared:
            facts = c.facts.get(model)
            if facts is None or name not in facts.class_names:
                row += _cells(c, reference, MISSING, None)
                continue
            j = facts.class_names.index(name)  # the bundle's own label id of the class
            value = float(scores(facts)[j])
            row += _cells(c, reference, Metric(bundle_key(c.index, f"{model}.class{j}.{field}"), value, "fraction"),
                          delta_metric(bundle_key(c.index, f"delta.{model}.class{j}.{field}"), value, ref_value,
                                       "fraction"))
        rows.append(row)
    return Table(["class", *_columns(compared, reference)], rows,
                 caption=f"{ref_facts.name}: per-class {title} on the test set, mean over seeds; Δ against "
                         f"{reference.label}.")


def draw_overlaid_curves(histories: Mapping[str, Sequence[Mapping[str, np.ndarray]]], colours: Mapping[str, str],
                         name: str) -> plt.Figure:
    """Validation accuracy (in %) and loss per epoch of one model, one line per bundle label, in its colour.

    Each line is the mean over that bundle's seeds, with the min-max band when it has several.
    """
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(6.6, 2.5))
    panels = ((acc_ax, "val_acc", 100.0, "validation accuracy (%)"), (loss_ax, "val_loss", 1.0, "validation loss"))
    for ax, column, scale, ylabel in panels:
        for label, runs in histories.items():
            plot_band(ax, scale * stack_curves(runs, column), colours[label], label)
        per_epoch_axes(ax, ylabel, f"{name} {ylabel.split(' (')[0]}")
    acc_ax.legend(frameon=False)
    fig.tight_layout(pad=0.3)
    return fig


def curves_figure(compared: Sequence[Compared], model: str, figures: FigureDrawer) -> Figure | None:
    """The overlaid validation curves of `model` over the bundles that trained it; None when none did.

    A bundle keeps its colour (by its position) in every figure, also where a model is missing from others.
    """
    trained = [c for c in holding(compared, model) if c.facts[model].training is not None]
    if not trained:
        return None
    name = trained[0].facts[model].name
    colours = {c.label: SERIES_COLOURS[(c.index - 1) % len(SERIES_COLOURS)] for c in compared}
    histories = {c.label: c.facts[model].training.histories for c in trained}
    splits = {c.contents.validation_split for c in trained}
    validation = f"on {splits.pop()}" if len(splits) == 1 else \
        "on each bundle's own validation split: held out of its training images, or its test split"
    return figures.draw(f"curves_{model}", lambda: draw_overlaid_curves(histories, colours, name),
                        f"{name}: validation accuracy and loss per epoch (validation {validation}), one line "
                        "per bundle: the mean over its seeds, with the min–max band when it has several.")
