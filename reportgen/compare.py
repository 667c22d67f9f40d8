"""`reportgen compare`: one HTML/PDF comparison of several results bundles, reading only the bundles (no torch).

For two submissions, or one study before and after a config change. `compare_bundles` opens each
bundle with `Bundle` (complete bundles with intact results only) and writes ``<out_dir>/compare.html`` (and
``compare.pdf``) with ``<out_dir>/figures/curves_<model>.png``. It shows

* the bundles: label (the folder name unless given), when each was built, the reportgen and torch
  versions that built it, device, and the dataset with its fingerprint and whether all bundles used the same data;
* the config differences: each config flattened to dotted keys, only the keys whose values differ;
* per model present in any bundle, against its *reference*, the first bundle holding that model:
  test accuracy, macro F1, training time, time per epoch and final train-validation accuracy gap
  (mean ± std over seeds) with their deltas (bundle minus reference); per-class F1 and accuracy with
  deltas; the validation curves overlaid (one line per bundle, mean over seeds); and a computed
  summary. Its accuracy statement follows reportgen.narrative's significance rule, with the
  reference as the first side; the tests need the same test images, so bundles whose data differ
  from the reference's are compared without a test, and the summary says so.

Rendering is the report's: the same Jinja environment (autoescaped), macros and print CSS, the
restricted URL fetcher (reading only inside `out_dir`) and atomic writes (reportgen.report).

Machine-checkable numbers
-------------------------
As in report.html, every number is ``<span class="metric" data-metric="KEY" data-unit="UNIT">TEXT</span>``
and a key always shows the same TEXT. ``b<n>`` is the n-th bundle as given (1-based), ``<model>`` a
model key, ``<i>`` a class index (label id) of that bundle, units as in reportgen.report:
  b<n>.<model>.{accuracy,macro_f1,train_time_s,epoch_time_s,acc_gap_pts}.mean / .std
  b<n>.<model>.{seeds,epochs} (count)
  b<n>.<model>.class<i>.{f1,accuracy} (fraction, mean over seeds)
  b<n>.delta.<key> for each key above but seeds and epochs (without .mean): bundle n minus the
    model's reference, e.g. b2.delta.vit.accuracy (points), b2.delta.vit.class3.f1 (fraction)
  b<n>.margin.<model>.accuracy (points): the size of b<n>.delta.<model>.accuracy, for the prose
  b<n>.<model>.epoch_time_factor (factor): slower over faster mean time per epoch, bundle n vs reference
  b<n>.<model>.vs_b<r>.<significance key> (reference r first): mcnemar.seed<s>.p, mcnemar.{significant_seeds,
    seeds}, ttest.p, as in reportgen.report's scheme
  b<n>.seeds.<j>, b<n>.dataset.{train_size,test_size} (count)
  b<n>.config.<dotted key>[.<index>] (number) for each numeric config value that differs between bundles
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from reportgen import __version__
from reportgen.bundle import Bundle, RunData
from reportgen.errors import ReportgenError
from reportgen.figures import draw_comparison_figures
from reportgen.narrative import (
    Metric,
    ModelFacts,
    Part,
    Sentence,
    Significance,
    Stat,
    accuracy_significance,
    model_facts,
    sentence,
    significance_evidence,
    significance_rule,
)
from reportgen.report import (
    Cell,
    Table,
    figure_entry,
    figures_folder,
    listing,
    render_html,
    stat_cell,
    write_documents,
)

COMPARE_HTML = "compare.html"
COMPARE_PDF = "compare.pdf"
TEMPLATE = "compare.html.j2"
MISSING = "—"
# The quantities of the per-model table: row label, ModelFacts field, suffix of its value, unit of its delta.
QUANTITIES = (
    ("test accuracy", "accuracy", "%", "points"),
    ("macro F1", "macro_f1", "", "fraction"),
    ("training time (s)", "train_time", "", "seconds"),
    ("time per epoch (s)", "epoch_time", "", "seconds"),
    ("final train − val. accuracy gap (points)", "acc_gap", "", "points"),
)
DELTA_UNITS = {field: unit for _label, field, _suffix, unit in QUANTITIES}
COUNTS: dict[str, Callable[[ModelFacts], int]] = {"seeds": lambda f: len(f.seeds),
                                                 "epochs": lambda f: int(f.epochs.value)}
CLASS_FIELDS = (("f1", "class_f1", "F1"), ("accuracy", "class_accuracy", "accuracy"))


@dataclass(frozen=True, eq=False)  # identity: two bundles are never "equal"
class Compared:
    """One bundle of the comparison, read once."""

    index: int  # 1-based position, the "b<n>" of its metric keys
    label: str
    bundle: Bundle
    config: dict[str, Any]  # flattened to dotted keys
    dataset: dict[str, Any]
    environment: dict[str, Any]
    facts: dict[str, ModelFacts]  # model key -> facts, in the bundle's model order
    runs: dict[str, list[RunData]]

    @property
    def prefix(self) -> str:
        return f"b{self.index}"

    def stat(self, model: str, field: str) -> Stat:
        """A ModelFacts quantity, keyed for this bundle (e.g. b2.vit.accuracy)."""
        stat = getattr(self.facts[model], field)
        return replace(stat, key=f"{self.prefix}.{stat.key}")


def compare_bundles(bundles: list[Path], out_dir: Path, pdf: bool = True,
                    labels: list[str] | None = None) -> list[Path]:
    """Compare complete `bundles` into ``<out_dir>/compare.html`` (and compare.pdf); return the files written.

    `labels` name the bundles in the text (default: their folder names, or their paths when two
    folder names are equal). Refuses fewer than two bundles, an incomplete bundle (BundleError) and an
    `out_dir` inside one of the bundles (it would overwrite the bundle's figures or add files its
    manifest does not list).
    """
    compared = load_compared(bundles, labels)
    out_dir = Path(out_dir).resolve()
    if any(out_dir.is_relative_to(c.bundle.root.resolve()) for c in compared):
        raise ReportgenError(f"{out_dir} is inside a compared bundle: write the comparison to another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = draw_comparison_figures(_curves(compared), [c.label for c in compared], figures_folder(out_dir))
    html = render_html(build_compare_context(compared, figures), TEMPLATE)
    return write_documents(html, out_dir / COMPARE_HTML, out_dir / COMPARE_PDF if pdf else None)


def load_compared(paths: Sequence[Path], labels: Sequence[str] | None = None) -> list[Compared]:
    """Open every bundle (complete ones only) with its label."""
    if len(paths) < 2:
        raise ReportgenError("compare needs at least two bundles")
    if labels is None:
        labels = [Path(p).name for p in paths]
        if len(set(labels)) < len(labels):  # e.g. a/quick and b/quick: the paths tell them apart
            labels = [str(p) for p in paths]
    if len(labels) != len(paths):
        raise ReportgenError(f"{len(labels)} label{'s' if len(labels) != 1 else ''} for {len(paths)} bundles: "
                             "give one label per bundle")
    if len(set(labels)) < len(labels):
        raise ReportgenError(f"the labels must differ, got {', '.join(labels)}: name each bundle with --label, "
                             "once per bundle in order, e.g. --label before --label after")
    bundles = [Bundle(path) for path in paths]
    for bundle in bundles:
        bundle.require_intact_results()
    return [_load(bundle, index, label) for index, (bundle, label) in enumerate(zip(bundles, labels), start=1)]


def _load(bundle: Bundle, index: int, label: str) -> Compared:
    runs = {m: bundle.runs(m) for m in bundle.models()}
    return Compared(index=index, label=label, bundle=bundle, config=flatten(bundle.config().to_dict()),
                    dataset=bundle.dataset(), environment=bundle.environment(),
                    facts={m: model_facts(bundle, m, model_runs) for m, model_runs in runs.items()}, runs=runs)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: {"train": {"lr": 0.001}} -> {"train.lr": 0.001}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_differences(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Dotted keys whose values are not the same in every config (a key a config lacks counts as differing)."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    missing = object()
    return [key for key in keys if len({repr(config.get(key, missing)) for config in configs}) > 1]


def models_in(compared: Sequence[Compared]) -> list[str]:
    """Model keys present in any bundle, in order of first appearance."""
    return list(dict.fromkeys(model for c in compared for model in c.facts))


def _holding(compared: Sequence[Compared], model: str) -> list[Compared]:
    return [c for c in compared if model in c.facts]


# ---------------------------------------------------------------- numbers


def delta_metric(key: str, value: float, reference: float, unit: str) -> Metric:
    """`value` minus `reference`; a difference that rounds to zero is 0, never shown as "-0.00"."""
    delta = Metric(key, value - reference, unit)
    return delta if float(delta.text) != 0 else Metric(key, 0.0, unit)


def signed(delta: Metric) -> Sentence:
    """A delta with its sign: "+1.23", "-1.23" or "0.00"."""
    return sentence("+", delta) if delta.value > 0 else sentence(delta)


def stat_delta(reference: Compared, other: Compared, model: str, field: str) -> Metric:
    """The mean of the QUANTITIES `field` of `model` in `other` minus the reference's: b<n>.delta.<model>.<quantity>."""
    stat, ref = getattr(other.facts[model], field), getattr(reference.facts[model], field)
    return delta_metric(f"{other.prefix}.delta.{stat.key}", stat.mean.value, ref.mean.value, DELTA_UNITS[field])


def same_test_images(first: Sequence[RunData], second: Sequence[RunData]) -> bool:
    """Whether two sets of runs predicted the same test images, so that paired tests apply."""
    return all(np.array_equal(a.labels, b.labels) for a in first for b in second)


def bundle_significance(reference: Compared, other: Compared, model: str) -> Significance | None:
    """The accuracy test of `model` between the reference and another bundle; None when their test images differ."""
    first, second = reference.runs[model], other.runs[model]
    if reference.dataset.get("fingerprint") != other.dataset.get("fingerprint") or not same_test_images(first, second):
        return None
    return accuracy_significance(first, second, key=f"{other.prefix}.{model}.vs_{reference.prefix}")


# ---------------------------------------------------------------- sentences


def accuracy_summary(reference: Compared, other: Compared, model: str) -> Sentence:
    """How `model`'s test accuracy in `other` compares with the reference's, claiming a gain only if significant."""
    ref_acc, acc = reference.stat(model, "accuracy"), other.stat(model, "accuracy")
    delta = stat_delta(reference, other, model, "accuracy")
    subject = f"Against {reference.label}, {other.label}'s {other.facts[model].name}"
    values = [" (", *acc.parts("%"), " against ", *ref_acc.parts("%"), ")"]
    if delta.value == 0:
        return sentence(f"{subject} has the same test accuracy", values, ".")
    margin = Metric(f"{other.prefix}.margin.{model}.accuracy", abs(delta.value), "points")
    sig = bundle_significance(reference, other, model)
    higher = delta.value > 0
    if sig is None:
        return sentence(f"{subject} scores ", margin, f" points {'higher' if higher else 'lower'}", values,
                        "; the bundles used different test data, so no significance test applies.")
    evidence = significance_evidence(sig, side="bundle")
    if sig.significant:
        return sentence(f"{subject} is ", margin, f" points {'more' if higher else 'less'} accurate", values,
                        "; the difference is significant (", evidence, ").")
    return sentence(f"{subject} scores ", margin, f" points {'higher' if higher else 'lower'}", values,
                    ", a difference that is not significant (", evidence, "), so neither is shown to be more "
                    "accurate.")


def speed_summary(reference: Compared, other: Compared, model: str) -> Sentence:
    """How much faster or slower `model` trains per epoch in `other` than in the reference."""
    ref_time, time = reference.stat(model, "epoch_time"), other.stat(model, "epoch_time")
    values = [" (", *time.parts(" s"), " against ", *ref_time.parts(" s"), ")"]
    devices = [_device(c.environment) for c in (reference, other)]
    caveat = "" if devices[0] == devices[1] else (f"; the timings come from different devices ({devices[0]}; "
                                                  f"{devices[1]}), so they compare the hardware as well")
    if time.mean.text == ref_time.mean.text:
        return sentence("It trains equally fast per epoch", values, caveat, ".")
    faster = time.mean.value < ref_time.mean.value
    slow, fast = (ref_time, time) if faster else (time, ref_time)
    factor = Metric(f"{other.prefix}.{model}.epoch_time_factor", slow.mean.value / fast.mean.value, "factor")
    return sentence("It trains ", factor, f"× {'faster' if faster else 'slower'} per epoch", values, caveat, ".")


def _run_checksums(c: Compared, model: str) -> list[tuple[str | None, ...]]:
    """Per seed, the manifest's sha256 of the run's weights and predictions."""
    files = c.bundle.manifest()["files"]
    return [tuple(files.get((run.path.relative_to(c.bundle.root) / name).as_posix())
                  for name in ("weights.pt", "predictions.csv")) for run in c.runs[model]]


def shared_runs_summary(reference: Compared, other: Compared, model: str) -> list[Sentence]:
    """A note when both bundles hold identical runs of `model`: the same seeds, weights and predictions."""
    same_seeds = [r.seed for r in reference.runs[model]] == [r.seed for r in other.runs[model]]
    checksums = _run_checksums(reference, model)
    if not same_seeds or checksums != _run_checksums(other, model):
        return []
    return [sentence(f"{other.label} and {reference.label} hold identical {other.facts[model].name} runs (the same "
                     "seeds, and weights and predictions with equal checksums), so its results are the same by "
                     "construction.")]


def model_summary(compared: Sequence[Compared], model: str) -> list[Sentence]:
    """Accuracy and speed of `model` in each bundle against its reference."""
    reference, *others = _holding(compared, model)
    return [s for other in others for s in (*shared_runs_summary(reference, other, model),
                                            accuracy_summary(reference, other, model),
                                            speed_summary(reference, other, model))]


def data_sentence(compared: Sequence[Compared]) -> Sentence:
    """Whether all bundles used the same data, by the dataset fingerprint."""
    fingerprints = {c.dataset.get("fingerprint") for c in compared}
    if len(fingerprints) == 1 and None not in fingerprints:
        return sentence("All bundles used the same data: their dataset fingerprints (sha256 of the decoded images "
                        "and labels) are equal.")
    return sentence("The bundles did not all use the same data (their dataset fingerprints differ): accuracy "
                    "differences between bundles with different data mix the change of data with the change of "
                    "setup, and are not tested for significance.")


# ---------------------------------------------------------------- tables


def _device(env: Mapping[str, Any]) -> str:
    return f"{env.get('device', 'not recorded')} ({env.get('device_name', 'not recorded')})"


def bundles_table(compared: Sequence[Compared]) -> Table:
    """Label, build time, versions that built it, device, models and seeds of each bundle."""
    rows: list[list[Cell]] = [
        [c.label, c.bundle.built(), str(c.environment.get("reportgen", "not recorded")),
         str(c.environment.get("torch", "not recorded")), _device(c.environment),
         ", ".join(f.name for f in c.facts.values()),
         sentence(listing(f"{c.prefix}.seeds", c.bundle.config().train.seeds, "count"))]
        for c in compared
    ]
    return Table(["bundle", "built", "reportgen", "PyTorch", "device", "models", "seeds"], rows,
                 caption="The compared bundles.")


def dataset_table(compared: Sequence[Compared]) -> Table:
    """Source, sizes and fingerprint of each bundle's data."""
    rows: list[list[Cell]] = [
        [c.label, str(c.dataset.get("source", "not recorded")),
         Metric(f"{c.prefix}.dataset.train_size", int(c.dataset["train_size"]), "count"),
         Metric(f"{c.prefix}.dataset.test_size", int(c.dataset["test_size"]), "count"),
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
    reference = _holding(compared, model)[0]
    rows: list[list[Cell]] = []
    for label, field, suffix, _unit in QUANTITIES:
        row: list[Cell] = [label]
        for c in compared:
            if model in c.facts:
                row += _cells(c, reference, stat_cell(c.stat(model, field), suffix),
                              stat_delta(reference, c, model, field))
            else:
                row += _cells(c, reference, MISSING, None)
        rows.append(row)
    for label, count in COUNTS.items():
        row = [label]
        for c in compared:
            facts = c.facts.get(model)
            cell = MISSING if facts is None else Metric(f"{c.prefix}.{model}.{label}", count(facts), "count")
            row += _cells(c, reference, cell, None)
        rows.append(row)
    return Table(["", *_columns(compared, reference)], rows,
                 caption=f"{reference.facts[model].name}: mean ± std over seeds; Δ is the bundle's mean minus that "
                         f"of {reference.label}.")


def per_class_table(compared: Sequence[Compared], model: str, field: str, attribute: str, title: str) -> Table:
    """Per-class `field` (mean over seeds) of `model` in each bundle, with deltas; rows are the reference's classes."""
    reference = _holding(compared, model)[0]
    ref_facts = reference.facts[model]
    rows: list[list[Cell]] = []
    for i, name in enumerate(ref_facts.class_names):
        ref_value = float(getattr(ref_facts, attribute)[i])
        row: list[Cell] = [name]
        for c in compared:
            facts = c.facts.get(model)
            if facts is None or name not in facts.class_names:
                row += _cells(c, reference, MISSING, None)
                continue
            j = facts.class_names.index(name)  # the bundle's own label id of the class
            value = float(getattr(facts, attribute)[j])
            row += _cells(c, reference, Metric(f"{c.prefix}.{model}.class{j}.{field}", value, "fraction"),
                          delta_metric(f"{c.prefix}.delta.{model}.class{j}.{field}", value, ref_value, "fraction"))
        rows.append(row)
    return Table(["class", *_columns(compared, reference)], rows,
                 caption=f"{ref_facts.name}: per-class {title} on the test set, mean over seeds; Δ against "
                         f"{reference.label}.")


# ---------------------------------------------------------------- context


def _curves(compared: Sequence[Compared]) -> dict[str, tuple[str, dict[str, list[Mapping[str, np.ndarray]]]]]:
    """Model -> (display name, {bundle label: its runs' histories}), for the overlaid curves."""
    return {
        model: (_holding(compared, model)[0].facts[model].name,
                {c.label: [run.history for run in c.runs[model]] for c in _holding(compared, model)})
        for model in models_in(compared)
    }


def _model_section(compared: Sequence[Compared], model: str, figures: dict[str, str]) -> dict[str, Any]:
    name = _holding(compared, model)[0].facts[model].name
    return {
        "name": name,
        "summary": model_summary(compared, model),
        "metrics": metrics_table(compared, model),
        "curves": figure_entry(figures, f"curves_{model}", f"{name}: validation accuracy and loss per epoch "
                               "(validation on the test split), one line per bundle: the mean over its seeds, with "
                               "the min–max band when it has several."),
        "class_tables": [per_class_table(compared, model, field, attribute, title)
                         for field, attribute, title in CLASS_FIELDS],
    }


def build_compare_context(compared: Sequence[Compared], figures: dict[str, str]) -> dict[str, Any]:
    """Everything compare.html.j2 shows, computed from the bundles."""
    labels: list[Part] = []
    for i, c in enumerate(compared):
        labels += [", " if i else "", c.label]
    return {
        "title": f"Comparison of {len(compared)} reportgen results bundles",
        "labels": sentence(labels),
        "reportgen_version": __version__,
        "bundles": bundles_table(compared),
        "data_sentence": data_sentence(compared),
        "dataset": dataset_table(compared),
        "config": config_table(compared),
        "significance_rule": significance_rule("bundle"),
        "models": [_model_section(compared, model, figures) for model in models_in(compared)],
    }
