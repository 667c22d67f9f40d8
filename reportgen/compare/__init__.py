"""`reportgen compare`: one HTML/PDF comparison of several results bundles, reading only the bundles (no torch).

For two submissions, or one study before and after a config change. `compare_bundles` opens each
bundle with `Bundle` (complete bundles with intact results only) and writes ``<out_dir>/compare.html`` (and
``compare.pdf``) with ``<out_dir>/figures/curves_<model>.svg``. It shows

* the bundles: label (the folder name unless given), when each was built, the reportgen and torch
  versions that built it, device, and the dataset with its fingerprint and whether all bundles used the same data;
* the config differences: each config flattened to dotted keys, only the keys whose values differ;
* per model present in any bundle, against its *reference*, the first bundle holding that model:
  test accuracy, macro F1, training time, time per epoch and final train-validation accuracy gap
  (mean ± std over seeds) with their deltas (bundle minus reference); per-class F1 and accuracy with
  deltas; the validation curves overlaid (one line per bundle, mean over seeds); and a computed
  summary. Its accuracy statement follows the report's significance rule (reportgen.report.stats), with the
  reference as the first side; the tests need the same test images, so bundles whose data differ
  from the reference's are compared without a test, and the summary says so.

Rendering is the report's: the same Jinja environment (autoescaped), macros and print CSS, the
restricted URL fetcher (reading only inside `out_dir`) and atomic writes (reportgen.report.render).
The bundles are read by reportgen.compare.bundles, the sentences written by reportgen.compare.prose,
the tables and the overlaid curves drawn by reportgen.compare.tables.

Machine-checkable numbers
-------------------------
As in report.html, every number is ``<span class="metric" data-metric="KEY" data-unit="UNIT">TEXT</span>``
and a key always shows the same TEXT. ``b<n>`` is the n-th bundle as given (1-based), ``<model>`` a
model key, ``<i>`` a class index (label id) of that bundle, units as in the report (docs/sections.md):
  b<n>.<model>.{accuracy,macro_f1,train_time_s,epoch_time_s,acc_gap_pts}.mean / .std
  b<n>.<model>.{seeds,epochs} (count)
  b<n>.<model>.class<i>.{f1,accuracy} (fraction, mean over seeds)
  b<n>.delta.<key> for each key above but seeds and epochs (without .mean): bundle n minus the
    model's reference, e.g. b2.delta.vit.accuracy (points), b2.delta.vit.class3.f1 (fraction)
  b<n>.margin.<model>.accuracy (points): the size of b<n>.delta.<model>.accuracy, for the prose
  b<n>.<model>.epoch_time_factor (factor): slower over faster mean time per epoch, bundle n vs reference
  b<n>.<model>.vs_b<r>.<significance key> (reference r first): mcnemar.seed<s>.p, mcnemar.{significant_seeds,
    seeds}, ttest.p, as in the report's scheme
  b<n>.seeds.<j>, b<n>.dataset.{train_size,test_size} (count)
  b<n>.config.<dotted key>[.<index>] (number) for each numeric config value that differs between bundles
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from reportgen import __version__
from reportgen.compare.bundles import (
    CLASS_FIELDS,
    Compared,
    config_differences,
    holding,
    load_compared,
    models_in,
)
from reportgen.compare.prose import data_sentence, model_summary
from reportgen.compare.tables import (
    bundles_table,
    config_table,
    curves_figure,
    dataset_table,
    metrics_table,
    per_class_table,
)
from reportgen.errors import ReportgenError
from reportgen.report.kernel import Part, sentence
from reportgen.report.render import figures_folder, render_html, write_documents
from reportgen.report.rules import significance_rule
from reportgen.report.section import FigureDrawer

__all__ = ["compare_bundles", "config_differences", "load_compared", "model_summary"]

COMPARE_HTML = "compare.html"
COMPARE_PDF = "compare.pdf"
TEMPLATE = "compare.html.j2"


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
    figures = FigureDrawer(figures_folder(out_dir), out_dir)
    html = render_html(build_compare_context(compared, figures), TEMPLATE)
    return write_documents(html, out_dir / COMPARE_HTML, out_dir / COMPARE_PDF if pdf else None)


def model_section(compared: Sequence[Compared], model: str, figures: FigureDrawer) -> dict[str, Any]:
    return {
        "name": holding(compared, model)[0].facts[model].name,
        "summary": model_summary(compared, model),
        "metrics": metrics_table(compared, model),
        "curves": curves_figure(compared, model, figures),
        "class_tables": [per_class_table(compared, model, field, scores, title)
                         for field, scores, title in CLASS_FIELDS],
    }


def build_compare_context(compared: Sequence[Compared], figures: FigureDrawer) -> dict[str, Any]:
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
        "significance_rule": significance_rule(compared[0].contents.rules, "bundle"),
        "models": [model_section(compared, model, figures) for model in models_in(compared)],
        "figure_numbers": {},
    }
