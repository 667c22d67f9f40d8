"""Render a results bundle into report.html and report.pdf, reading only the bundle (no torch).

`render_report` draws the figures (reportgen.figures), computes the narrative
(reportgen.narrative), renders ``templates/report.html.j2`` with Jinja2 (autoescaped: class names
and config strings from a stranger's bundle are text, never markup) and prints the PDF with
WeasyPrint through `BundleURLFetcher`, which serves files inside one folder (the bundle) and
nothing else. Both outputs are rendered in memory first and then each is replaced atomically
(`write_documents`), so a failure leaves the previous report untouched. reportgen.compare renders
its comparison of several bundles through the same environment, fetcher and writer.

Machine-checkable numbers
-------------------------
Every number the report computes or reads from the bundle is an element
``<span class="metric" data-metric="KEY" data-unit="UNIT">TEXT</span>``. TEXT is exactly the
displayed value; a key may occur several times, always with the same TEXT. Keys are dot-separated;
``<model>`` is a model key (cnn, vit), ``<seed>`` a seed number, ``<i>`` a class index (the label
id in predictions.csv, 0-based), ``<j>`` a layer's position in architectures.json (0-based); stage,
head and pair numbers are 1-based, as printed.

Per run (one model, one seed), from metrics.json, history.csv and run.json:
  <model>.seed<seed>.accuracy                          percent   overall test accuracy
  <model>.seed<seed>.macro.{precision,recall,f1}       fraction  macro averages
  <model>.seed<seed>.class<i>.{precision,recall,f1,accuracy}  fraction
  <model>.seed<seed>.class<i>.support                  count
  <model>.seed<seed>.{train_time_s,epoch_time_s}       seconds
  <model>.seed<seed>.final_{train,val}_acc             percent   last epoch of history.csv
Per model, over its seeds (std only when there are two seeds or more; std is ddof=1):
  <model>.<quantity>.mean / .std, quantity one of accuracy (percent), macro_f1 (fraction),
    train_time_s, epoch_time_s (seconds), images_per_s (rate),
    final_train_acc, final_val_acc (percent), acc_gap_pts (points), loss_gap (loss),
    val_loss_rise_pct (percent)
  <model>.mean.class<i>.{precision,recall,f1,accuracy} and <model>.mean.macro.{precision,recall,f1}
    (fraction; only with several seeds: means over seeds of the per-run values)
  <model>.parameters, <model>.epochs, <model>.seeds, <model>.errors (count; errors summed over seeds)
  <model>.arch.layer<j>.parameters (count)
  <model>.first_epoch.val_loss_below, <model>.first_epoch.val_acc_reached (epoch)
  <model>.confusion.pair<r>.{count,share_pct}, <model>.confusion.{within_group_pct,cross_group_pct}
  <model>.confusion.within_group_chance_pct (percent: the within-group share expected if each
    misclassified image's wrong label were uniform over the other classes)
Comparisons (two models; "first" is the first model in config order, normally the CNN):
  compare.accuracy_diff_pts (points, the more accurate minus the less accurate mean);
  compare.speed_factor, compare.parameter_ratio (factor);
  compare.{f1,accuracy}_wins.<model>, compare.{f1,accuracy}_ties (count)
Significance of the accuracy difference (reportgen.narrative's rule):
  compare.mcnemar.seed<seed>.{b,c} (count), .p (pvalue), .diff_pts (points, first minus second
    model at that seed, = 100 (b - c) / test images), per seed both models ran with
  compare.mcnemar.{significant_seeds,seeds} (count)
  compare.ttest.t (statistic), compare.ttest.p (pvalue), with two or more seeds per model
  compare.seed_diff_pts.mean / .std (points, first minus second model, over the paired seeds)
  compare.gap_ttest.t (statistic), compare.gap_ttest.p (pvalue): the same t-test on the final
    train-validation accuracy gaps, with two or more seeds per model
Visuals (first seed): cnn.visual.stage<s>.{mean_activation (activation), zero_pct (percent)};
  vit.visual.head<h>.{entropy (fraction), top_share_pct (percent)}, vit.visual.mean.{...},
  vit.visual.patches (count)
Setup: run.epochs (most epochs of any run), run.seeds (seeds in the config),
  dataset.{train_size,test_size,num_classes} (count);
  config.<section>.<field>[.<index>] (number or count) for every numeric config value shown, and
  config.cnn.stages (the number of entries of cnn.channels);
  env.num_threads (count)

Units fix the format (reportgen.narrative.UNIT_FORMATS): percent and points 2 decimals (percent
values are in %, e.g. 87.14), fraction/loss/activation 4 decimals, seconds, factor and
statistic 2 decimals, rate 1 decimal, count and epoch integers (count with "," thousands
separators), number with Python's "{:g}", pvalue 4 significant digits or "< 0.0001".
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence, Union
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
import numpy as np
import weasyprint
from weasyprint.urls import URLFetcherResponse

from reportgen import __version__
from reportgen.bundle import Bundle, RunData, atomic_output
from reportgen.config import Config
from reportgen.errors import BundleError
from reportgen.figures import draw_figures
from reportgen.narrative import (
    ALPHA,
    SEED_PROTOCOL_EPOCHS,
    Metric,
    ModelFacts,
    Narrative,
    Part,
    Sentence,
    Significance,
    Stat,
    build_narrative,
    overfitting_rule,
    sentence,
    significance_rule,
)

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
TEMPLATE = "report.html.j2"
PER_CLASS_FIELDS = ("precision", "recall", "f1", "accuracy")
MACRO_FIELDS = ("precision", "recall", "f1")

Cell = Union[str, Metric, Sentence]


@dataclass
class Table:
    """A table for the template: plain-text header, cells of text, metrics or sentences."""

    header: list[str]
    rows: list[list[Cell]]
    footer: list[list[Cell]] = field(default_factory=list)
    caption: str = ""


def render_report(bundle_root: Path, pdf: bool = True) -> list[Path]:
    """Draw the figures and write report.html (and report.pdf) into the bundle; return the report files.

    The bundle need not have its manifest yet: `reportgen build` renders its staged bundle first and
    writes the manifest last, so that it covers the report; `reportgen render` checks completeness itself.
    """
    bundle = Bundle(bundle_root, require_complete=False)
    root = bundle.root.resolve()
    figures = draw_figures(bundle, figures_folder(root))
    html = render_html(build_context(bundle, figures))
    return write_documents(html, root / REPORT_HTML, root / REPORT_PDF if pdf else None)


def figures_folder(root: Path) -> Path:
    """``<root>/figures``, refusing a symbolic link: a stranger's folder must not make us write outside it."""
    folder = root / "figures"
    if folder.is_symlink():
        raise BundleError(f"{folder} is a symbolic link: refusing to draw figures through it")
    return folder


def write_documents(html: str, html_path: Path, pdf_path: Path | None) -> list[Path]:
    """Write `html`, and its PDF print when `pdf_path` is given, each atomically; return the paths written.

    The PDF is printed before anything is written (all or nothing), with links resolved against the
    HTML file's folder, the only folder it may read from.
    """
    outputs = [(html_path, html.encode("utf-8"))]
    if pdf_path is not None:
        outputs.append((pdf_path, html_to_pdf(html, html_path.parent)))
    for path, data in outputs:
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
    return [path for path, _ in outputs]


class BundleURLFetcher(weasyprint.URLFetcher):
    """A WeasyPrint URL fetcher that serves regular files inside one folder and refuses all else.

    The folder is the bundle (report) or the comparison's output folder (compare). Bundles can come
    from strangers: the PDF renderer must not read /etc/passwd through an <img>, follow a symlink out
    of the folder, or reach the network.
    """

    def __init__(self, root: Path):
        super().__init__()
        self.root = Path(root).resolve()

    def resolve(self, url: str) -> Path:
        """The file inside the bundle that `url` names, or BundleError."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise BundleError(f"refusing to fetch {url}: only files inside the bundle may be used")
        path = Path(url2pathname(parts.path)).resolve()  # resolve() follows symlinks before the check
        if not path.is_relative_to(self.root) or not path.is_file():
            raise BundleError(f"refusing to fetch {url}: it is not a file inside the bundle {self.root}")
        return path

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """The bundle file `url` names, as WeasyPrint expects it; BundleError for anything else."""
        path = self.resolve(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def html_to_pdf(html: str, root: Path) -> bytes:
    """Print `html` to PDF, resolving relative links against the folder `root`, the only one it may read."""
    document = weasyprint.HTML(string=html, base_url=str(root) + "/", url_fetcher=BundleURLFetcher(root))
    return document.write_pdf()


def _template_source(name: str) -> str:
    return (files("reportgen.templates") / name).read_text(encoding="utf-8")


def template_environment() -> jinja2.Environment:
    """Jinja2 environment over the packaged templates, autoescaping, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["metric"] = lambda value: isinstance(value, Metric)
    env.tests["sentence"] = lambda value: isinstance(value, Sentence)
    env.tests["numeric"] = _is_numeric
    return env


def _is_numeric(cell: Any) -> bool:
    """Cells that read as a number (a metric, or a sentence starting with one, maybe after "+") are right-aligned."""
    if not isinstance(cell, Sentence):
        return isinstance(cell, Metric)
    parts = cell.parts[1:] if cell.parts[:1] == ("+",) else cell.parts
    return bool(parts) and isinstance(parts[0], Metric)


def render_html(context: dict[str, Any], template: str = TEMPLATE) -> str:
    """HTML of `template` (the report's by default, from a context made by `build_context`)."""
    return template_environment().get_template(template).render(**context)


# ---------------------------------------------------------------- tables


def run_accuracy(run: RunData) -> Metric:
    """One run's overall test accuracy, in percent."""
    return Metric(f"{run.model}.seed{run.seed}.accuracy", 100 * run.metrics["accuracy"], "percent")


def per_class_table(run: RunData, class_names: Sequence[str]) -> Table:
    """One run's per-class precision/recall/F1/accuracy/support, macro averages and overall accuracy."""
    prefix = f"{run.model}.seed{run.seed}"
    rows: list[list[Cell]] = [
        [name, *(Metric(f"{prefix}.class{i}.{f}", c[f], "fraction") for f in PER_CLASS_FIELDS),
         Metric(f"{prefix}.class{i}.support", c["support"], "count")]
        for i, (name, c) in enumerate(zip(class_names, run.metrics["per_class"]))
    ]
    macro = run.metrics["macro"]
    footer: list[list[Cell]] = [
        ["macro average", *(Metric(f"{prefix}.macro.{f}", macro[f], "fraction") for f in MACRO_FIELDS), "", ""],
        ["overall accuracy", "", "", "", sentence(run_accuracy(run), "%"), ""],
    ]
    return Table(["class", "precision", "recall", "F1", "accuracy", "support"], rows, footer,
                 caption=f"{run.display_name}, seed {run.seed}: per-class metrics on the test set.")


def mean_per_class_table(runs: Sequence[RunData], class_names: Sequence[str]) -> Table:
    """Per-class metrics averaged over seeds (used when there are several)."""
    model = runs[0].model

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    rows: list[list[Cell]] = [
        [name, *(Metric(f"{model}.mean.class{i}.{f}", mean([r.metrics["per_class"][i][f] for r in runs]), "fraction")
                 for f in PER_CLASS_FIELDS)]
        for i, name in enumerate(class_names)
    ]
    footer: list[list[Cell]] = [[
        "macro average",
        *(Metric(f"{model}.mean.macro.{f}", mean([r.metrics["macro"][f] for r in runs]), "fraction")
          for f in MACRO_FIELDS), ""]]
    return Table(["class", "precision", "recall", "F1", "accuracy"], rows, footer,
                 caption=f"{runs[0].display_name}: per-class metrics, mean over {len(runs)} seeds.")


def architecture_table(model: str, spec: dict[str, Any]) -> Table:
    """architectures.json's layer list of one model, with the total parameter count."""
    rows: list[list[Cell]] = [
        [layer["name"], layer["type"], _shape_text(layer["output_shape"]),
         Metric(f"{model}.arch.layer{j}.parameters", int(layer["parameters"]), "count")]
        for j, layer in enumerate(spec["layers"])
    ]
    footer: list[list[Cell]] = [["total", "", "", Metric(f"{model}.parameters", int(spec["parameters"]), "count")]]
    return Table(["layer", "type", "output shape", "parameters"], rows, footer,
                 caption=f"{spec['display_name']}: layers, output shapes (per image) and trainable parameters.")


def listing(key: str, values: Sequence[float], unit: str = "number") -> list[Part]:
    """Values separated by commas, each its own metric `key.<index>`."""
    parts: list[Any] = []
    for i, v in enumerate(values):
        parts += [", " if i else "", _number(f"{key}.{i}", v, unit)]
    return parts


def architecture_sentence(model: str, config: Config, num_classes: int) -> Sentence:
    """How the model is built, with its sizes from the config."""
    k = _number("dataset.num_classes", num_classes, "count")
    if model == "cnn":
        c = config.cnn
        return sentence(
            "Input batch normalisation, then ", _number("config.cnn.stages", len(c.channels), "count"),
            " stages of ResBlock (two 3×3 convolutions with batch normalisation and ReLU, plus a residual "
            "shortcut) → 2×2 max-pooling → dropout ", _number("config.cnn.dropout", c.dropout), ", with widths ",
            listing("config.cnn.channels", c.channels, "count"), "; the flattened features feed an MLP head with ",
            _number("config.cnn.hidden_dim", c.hidden_dim, "count"), " hidden units and ", k, " outputs.")
    v = config.vit
    return sentence(
        "Non-overlapping ", _number("config.vit.patch_size", v.patch_size, "count"), "-pixel patches embedded into ",
        _number("config.vit.embed_dim", v.embed_dim, "count"), " dimensions by a strided convolution, a learnable "
        "CLS token and positional embedding, ", _number("config.vit.depth", v.depth, "count"),
        " pre-norm encoder layers with ", _number("config.vit.num_heads", v.num_heads, "count"),
        " attention heads and a GELU MLP of width ", _number("config.vit.mlp_dim", v.mlp_dim, "count"),
        ", dropout ", _number("config.vit.dropout", v.dropout), ", then layer normalisation of the CLS token and a "
        "linear head with ", k, " outputs.")


def _shape_text(shape: Any) -> str:
    return " × ".join(str(d) for d in shape) if isinstance(shape, (list, tuple)) else str(shape)


def stat_cell(stat: Stat, suffix: str = "") -> Sentence:
    """``mean`` or ``mean ± std`` of a quantity over seeds, as a table cell."""
    return sentence(stat.parts(suffix))


def efficiency_table(facts: Sequence[ModelFacts]) -> Table:
    """Parameters, test accuracy, training time and throughput, one row per model."""
    rows: list[list[Cell]] = [
        [f.name, f.parameters, stat_cell(f.accuracy, "%"), stat_cell(f.train_time), stat_cell(f.epoch_time),
         stat_cell(f.images_per_s)]
        for f in facts
    ]
    return Table(["model", "parameters", "test accuracy", "training time (s)", "time per epoch (s)",
                  "images / s"], rows,
                 caption="Accuracy and cost. Images per second = training images × epochs / training time.")


def generalisation_table(facts: Sequence[ModelFacts]) -> Table:
    """Final-epoch train and validation accuracy, their gaps and the overfitting verdict."""
    rows: list[list[Cell]] = [
        [f.name, stat_cell(f.final_train_acc, "%"), stat_cell(f.final_val_acc, "%"), stat_cell(f.acc_gap),
         stat_cell(f.loss_gap), stat_cell(f.val_loss_rise, "%"), "yes" if f.overfits else "no"]
        for f in facts
    ]
    return Table(["model", "train acc.", "val. acc.", "acc. gap (points)", "val. − train loss",
                  "val. loss above min.", "overfits"], rows,
                 caption="Generalisation at the final epoch (validation is the test split).")


def significance_table(sig: Significance, first: ModelFacts, second: ModelFacts,
                       runs: dict[str, list[RunData]]) -> Table:
    """Per seed both models ran with: their accuracies, the difference and McNemar's b, c and p; then the
    mean difference over seeds, the t-test and the verdict."""
    accuracy = {key: {run.seed: run_accuracy(run) for run in runs[key]} for key in (first.key, second.key)}
    rows: list[list[Cell]] = [
        [str(m.seed), sentence(accuracy[first.key][m.seed], "%"), sentence(accuracy[second.key][m.seed], "%"),
         *(m.metric(name) for name in ("diff_pts", "b", "c", "p"))]
        for m in sig.mcnemar
    ]
    footer: list[list[Cell]] = []
    if max(len(first.seeds), len(second.seeds)) > 1:
        footer.append(["mean ± std over seeds", stat_cell(first.accuracy, "%"), stat_cell(second.accuracy, "%"),
                       stat_cell(sig.difference), "", "", ""])
    if sig.ttest is not None:
        footer.append([sentence(f"{sig.ttest.name}, t = ", sig.ttest.metric("t")), "", "", "", "", "",
                       sig.ttest.metric("p")])
    footer.append([f"verdict at α = {ALPHA:g}: {sig.verdict}", "", "", "", "", "", ""])
    return Table(["seed", f"{first.name} accuracy", f"{second.name} accuracy", "difference (points)",
                  f"b ({first.name} only)", f"c ({second.name} only)", "p"], rows, footer,
                 caption=f"Significance of the accuracy difference ({first.name} minus {second.name}): McNemar's "
                         f"exact test per seed (b: test images only the {first.name} classifies correctly, c: only "
                         f"the {second.name}), then the t-test over seeds.")


def feature_table(narrative: Narrative) -> Table:
    """Shape, mean activation and sparsity of each CNN stage on the focus image."""
    rows: list[list[Cell]] = [
        [f"stage {s.stage}", f"{s.channels} × {s.height} × {s.width}", s.mean_metric, sentence(s.zero_metric, "%")]
        for s in narrative.feature_stages
    ]
    return Table(["stage", "channels × height × width", "mean activation", "zero activations"], rows,
                 caption="CNN feature maps of the focus image after each ResBlock (first seed).")


def attention_table(narrative: Narrative) -> Table:
    """Normalised entropy and top-patch share of each head's CLS attention, and of their mean."""
    rows: list[list[Cell]] = [
        ["mean of heads" if s.label == "mean" else f"head {s.label}", s.entropy_metric,
         sentence(s.top_share_metric, "%")]
        for s in narrative.attention
    ]
    return Table(["attention map", "normalised entropy", narrative.top_share_label], rows,
                 caption="Concentration of the ViT's last-layer CLS attention on the focus image (first seed).")


def runs_table(runs: dict[str, list[RunData]]) -> Table:
    """One row per run (model and seed): status, accuracy, training time and final-epoch accuracies."""
    rows: list[list[Cell]] = []
    for model_runs in runs.values():
        for run in model_runs:
            prefix = f"{run.model}.seed{run.seed}"
            epochs = len(run.history["epoch"])
            time = float(run.info["train_time_s"])
            rows.append([
                run.display_name, str(run.seed), str(run.info.get("status", "not recorded")),
                sentence(run_accuracy(run), "%"),
                Metric(f"{prefix}.train_time_s", time, "seconds"),
                Metric(f"{prefix}.epoch_time_s", time / epochs, "seconds"),
                sentence(Metric(f"{prefix}.final_train_acc", 100 * run.history["train_acc"][-1], "percent"), "%"),
                sentence(Metric(f"{prefix}.final_val_acc", 100 * run.history["val_acc"][-1], "percent"), "%"),
            ])
    return Table(["model", "seed", "status", "test accuracy", "training time (s)", "time per epoch (s)",
                  "final train acc.", "final val. acc."], rows,
                 caption="Runs in this bundle (status \"reused\": not retrained by the build that wrote this bundle).")


def key_value_table(pairs: Sequence[tuple[str, Cell]], caption: str = "") -> Table:
    """A two-column table of labels and values, without header."""
    return Table([], [[label, value] for label, value in pairs], caption=caption)


def _number(key: str, value: float, unit: str = "number") -> Metric:
    return Metric(key, value, unit)


def environment_table(env: dict[str, Any], dataset: dict[str, Any], runs: dict[str, list[RunData]]) -> Table:
    """Software versions, device, precision and data fingerprint of the build."""
    missing = "not recorded"
    devices = sorted({f"{r.info.get('device', missing)} / {r.info.get('precision', missing)}"
                      for model_runs in runs.values() for r in model_runs})
    return key_value_table([
        ("Python", str(env.get("python", missing))),
        ("PyTorch", str(env.get("torch", missing))),
        ("torchvision", str(env.get("torchvision", missing))),
        ("PyTorch Lightning", str(env.get("lightning", missing))),
        ("platform", str(env.get("platform", missing))),
        ("device", f"{env.get('device', missing)} ({env.get('device_name', missing)})"),
        ("CPU threads", _number("env.num_threads", int(env["num_threads"]), "count")
         if "num_threads" in env else missing),
        ("precision", str(env.get("precision", missing))),
        ("device / precision of the runs", ", ".join(devices)),
        ("dataset fingerprint (sha256)", str(dataset.get("fingerprint", missing))),
    ])


def dataset_table(dataset: dict[str, Any], config: Config) -> Table:
    """Sizes, classes, fingerprint, augmentation and normalisation."""
    aug, data = config.augment, config.data
    return key_value_table([
        ("source", str(dataset.get("source", "not recorded"))),
        ("training images", _number("dataset.train_size", int(dataset["train_size"]), "count")),
        ("test images (also the validation set)", _number("dataset.test_size", int(dataset["test_size"]), "count")),
        ("classes", sentence(_number("dataset.num_classes", len(dataset["classes"]), "count"), ": ",
                             ", ".join(dataset["classes"]))),
        ("horizontal flip probability", _number("config.augment.hflip_p", aug.hflip_p)),
        ("random rotation", sentence("±", _number("config.augment.rotation_deg", aug.rotation_deg), "°")),
        ("random translation", sentence("up to ", _number("config.augment.translate_frac", aug.translate_frac),
                                        " of width and height")),
        ("normalisation mean (R, G, B)", sentence(listing("config.data.mean", data.mean))),
        ("normalisation std (R, G, B)", sentence(listing("config.data.std", data.std))),
    ])


def training_table(config: Config, env: dict[str, Any], epochs: Metric) -> Table:
    """The training hyperparameters, as run."""
    t = config.train
    return key_value_table([
        ("optimiser", sentence("AdamW, learning rate ", _number("config.train.lr", t.lr), ", weight decay ",
                               _number("config.train.weight_decay", t.weight_decay))),
        ("learning-rate schedule", sentence("cosine annealing to 0 over ", _number("config.train.epochs", t.epochs,
                                                                                   "count"), " epochs")),
        ("epochs run", epochs),
        ("batch size", _number("config.train.batch_size", t.batch_size, "count")),
        ("loss", "cross-entropy"),
        ("seeds", sentence(listing("config.train.seeds", t.seeds, "count"))),
        ("data pipeline", f"{t.pipeline} (fast: batched augmentation on the training device; seed: the "
                          "notebook's per-image torchvision transforms)"),
        ("precision (configured / used)", f"{t.precision} / {env.get('precision', 'not recorded')}"),
        ("device (configured / used)", f"{t.device} / {env.get('device', 'not recorded')}"),
        ("channels-last, torch.compile", f"{'yes' if t.channels_last else 'no'}, {'yes' if t.compile else 'no'}"),
    ])


# ---------------------------------------------------------------- context


def figure_entry(figures: dict[str, str], key: str, caption: Cell, width: str = "100%") -> dict[str, Any] | None:
    """What the template's `figure` macro shows for figure `key`, or None when it was not drawn."""
    if key not in figures:
        return None
    return {"src": figures[key], "caption": caption, "width": width}


def _confusion_caption(f: ModelFacts) -> Sentence:
    if len(f.seeds) == 1:
        scope = f"seed {f.seeds[0]}"
    else:
        scope = f"summed over the {len(f.seeds)} seeds ({', '.join(map(str, f.seeds))})"
    return sentence(f"{f.name} confusion matrix on the test set, {scope}: rows are true classes, columns "
                    "predicted classes, cells count images.")


def _curves_caption(f: ModelFacts) -> str:
    band = f" Lines are the mean over {len(f.seeds)} seeds, the shaded band their min–max range." \
        if len(f.seeds) > 1 else ""
    return f"{f.name} training and validation loss and accuracy per epoch (validation on the test split).{band}"


def _model_section(f: ModelFacts, narrative: Narrative, figures: dict[str, str],
                   class_names: Sequence[str], runs: list[RunData]) -> dict[str, Any]:
    several = len(runs) > 1
    return {
        "name": f.name,
        "headline": narrative.headlines[f.key],
        "table": mean_per_class_table(runs, class_names) if several else per_class_table(runs[0], class_names),
        "seed_tables": [per_class_table(run, class_names) for run in runs] if several else [],
        "confusion": figure_entry(figures, f"confusion_{f.key}", _confusion_caption(f), "56%"),
        "curves": figure_entry(figures, f"curves_{f.key}", _curves_caption(f)),
        "confusion_text": narrative.confusions[f.key],
        "milestones": narrative.milestones[f.key],
    }


def build_context(bundle: Bundle, figures: dict[str, str]) -> dict[str, Any]:
    """Everything the template shows: narrative, tables and figure links, all computed from `bundle`."""
    config = bundle.config()
    env = bundle.environment()
    dataset = bundle.dataset()
    architectures = bundle.architectures()
    class_names = list(dataset["classes"])
    narrative = build_narrative(bundle)
    runs = {f.key: bundle.runs(f.key) for f in narrative.facts}
    epochs = Metric("run.epochs", max(int(f.epochs.value) for f in narrative.facts), "count")
    focus = bundle.samples()
    focus_text = f"test image {int(focus['focus_index'])} ({class_names[int(focus['focus_label'])]})"
    models = [_model_section(f, narrative, figures, class_names, runs[f.key]) for f in narrative.facts]
    return {
        "title": config.report.title,
        "created": bundle.built(),
        "reportgen_version": __version__,
        "model_names": " and ".join(f.name for f in narrative.facts),
        "narrative": narrative,
        "epochs": epochs,
        "seed_protocol_epochs": SEED_PROTOCOL_EPOCHS,
        "seed_count": Metric("run.seeds", len(config.train.seeds), "count"),
        "runs_table": runs_table(runs),
        "train_size": Metric("dataset.train_size", int(dataset["train_size"]), "count"),
        "test_size": Metric("dataset.test_size", int(dataset["test_size"]), "count"),
        "num_classes": Metric("dataset.num_classes", len(class_names), "count"),
        "environment": environment_table(env, dataset, runs),
        "dataset": dataset_table(dataset, config),
        "training": training_table(config, env, epochs),
        "samples": figure_entry(figures, "samples", "One augmented training image (top) and one test image (bottom) "
                                "per class, as the models see them before normalisation."),
        "architectures": [{"name": f.name, "text": architecture_sentence(f.key, config, len(class_names)),
                           "table": architecture_table(f.key, architectures[f.key])} for f in narrative.facts],
        "models": models,
        "efficiency": efficiency_table(narrative.facts),
        "generalisation_table": generalisation_table(narrative.facts),
        "overfitting_rule": overfitting_rule(),
        "significance_rule": significance_rule(),
        "significance_table": significance_table(narrative.significance, *narrative.facts, runs)
        if narrative.significance is not None else None,
        "focus_text": focus_text,
        "feature_maps": figure_entry(figures, "feature_maps", sentence(
            f"CNN feature maps of {focus_text} after each ResBlock: the image, then the first ",
            _number("config.report.feature_channels", config.report.feature_channels, "count"),
            " channels of each stage (first seed)."), "66%"),
        "feature_table": feature_table(narrative) if narrative.feature_stages else None,
        "attention": figure_entry(figures, "attention", f"ViT last-layer CLS attention on {focus_text}: each head, "
                                  "then the mean over heads, overlaid on the image (first seed)."),
        "attention_table": attention_table(narrative) if narrative.attention else None,
    }
