"""A results bundle's contents, read once into one typed object that every report section receives.

`read_contents` opens the bundle (reportgen.bundle, torch-free), reads the config, environment,
dataset, architectures, samples and every run, and computes the per-model facts that several
sections and `reportgen compare` share (`ModelFacts`: accuracy, F1, confusion, and, for runs that
were trained here, `TrainingFacts`: time, throughput, the final train-validation gaps of the history and,
where run.json records it, the clean gap, `CleanGap`: training accuracy measured in eval mode on un-augmented
training images once training ended, minus the validation accuracy of the same weights). Visual
probes (visuals.npz) are read on first use. Across several seeds a headline quantity is a `Stat`
(mean and sample standard deviation); confusion matrices of several seeds are summed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from reportgen.bundle import Bundle, RunData
from reportgen.config import Config, ReportConfig
from reportgen.errors import BundleError
from reportgen.report.analysis_files import Spec, check_fields, parse_analysis
from reportgen.report.kernel import Metric, Stat, model_key, stat, variant_key
from reportgen.report.rules import is_overfitting


@dataclass(frozen=True)
class Gap:
    """Train-validation gap at the final epoch of one history: its train accuracy is the running average over the
    epoch's augmented batches with dropout on, so it is no clean measure of the gap (CleanGap is)."""

    acc_gap_pts: float  # train accuracy minus validation accuracy, percentage points
    loss_gap: float  # validation loss minus train loss
    val_loss_rise_pct: float  # final validation loss above the run's minimum, percent
    final_train_acc_pct: float
    final_val_acc_pct: float


def generalisation_gap(history: dict[str, np.ndarray]) -> Gap:
    """Final-epoch gaps of a history (columns as in history.csv)."""
    val_loss = history["val_loss"]
    lowest = float(val_loss.min())
    rise = (float(val_loss[-1]) / lowest - 1) * 100 if lowest > 0 else 0.0
    return Gap(
        acc_gap_pts=float(history["train_acc"][-1] - history["val_acc"][-1]) * 100,
        loss_gap=float(val_loss[-1] - history["train_loss"][-1]),
        val_loss_rise_pct=rise,
        final_train_acc_pct=float(history["train_acc"][-1]) * 100,
        final_val_acc_pct=float(history["val_acc"][-1]) * 100,
    )


def stack_curves(histories: Sequence[dict[str, np.ndarray]], column: str) -> np.ndarray:
    """(seeds, epochs) array of one history column, cut to the shortest history."""
    length = min(len(h[column]) for h in histories)
    return np.stack([h[column][:length] for h in histories])


def summed_confusion(runs: Sequence[RunData]) -> np.ndarray:
    """The confusion matrices of all seeds' runs, summed (rows true, columns predicted)."""
    return np.sum([np.asarray(run.metrics["confusion"], dtype=np.int64) for run in runs], axis=0)


def recorded_correctness(run: RunData, name: str) -> np.ndarray | None:
    """(N,) 1.0 / 0.0 per image of a correctness record of run.json ("clean_train", "validation": one character per
    image, "1" right), checked as untrusted input; None when the run has no such record (older bundles)."""
    record = run.info.get(name)
    if record is None:
        return None
    correct = record.get("correct") if isinstance(record, dict) else None
    if not (isinstance(correct, str) and correct and set(correct) <= {"0", "1"}
            and record.get("images") == len(correct)):
        raise BundleError(f"{run.path / 'run.json'}: '{name}' must hold 'images' and a 'correct' text of one 0 or 1 "
                          "per image")
    return np.frombuffer(correct.encode("ascii"), dtype=np.uint8) - ord("0")


def validation_correctness(run: RunData) -> np.ndarray:
    """(N,) 1 / 0 per validation image: the held-out validation split's record, else the test predictions (where
    validation is the test split, as in the original study)."""
    held_out = recorded_correctness(run, "validation")
    return held_out if held_out is not None else (run.labels == run.preds).astype(np.uint8)


@dataclass(frozen=True)
class CleanGap:
    """The clean generalisation gap of one model over its seeds: training accuracy measured after training in eval
    mode (no dropout) on un-augmented training images, minus the validation accuracy of the same weights."""

    train_acc: Stat  # percent
    val_acc: Stat  # percent, on the held-out validation split (or the test split where none was held out)
    gap: Stat  # points, train_acc - val_acc per seed
    train_images: Metric  # how many training images the clean accuracy is measured on (per run)
    of_images: Metric  # how many the training split holds
    train_correct: np.ndarray = field(repr=False)  # (seeds, N_train) 1 / 0, the same images for every seed
    val_correct: np.ndarray = field(repr=False)  # (seeds, N_val)


def clean_gap(model: str, runs: Sequence[RunData]) -> CleanGap | None:
    """The clean gap of `model` (its key prefix) over `runs`; None when a run's run.json has no clean_train record
    (bundles before it was measured: their only gap is the history's running one)."""
    train = [recorded_correctness(run, "clean_train") for run in runs]
    if any(t is None for t in train):
        return None
    val = [validation_correctness(run) for run in runs]
    if len({len(t) for t in train}) != 1 or len({len(v) for v in val}) != 1:
        raise BundleError(f"the runs of {model} were not measured on the same training and validation images")
    train_pct, val_pct = [100 * t.mean() for t in train], [100 * v.mean() for v in val]
    measured_of = int(runs[0].info["clean_train"].get("of", len(train[0])))
    return CleanGap(
        train_acc=stat(model_key(model, "clean_train_acc"), "percent", train_pct),
        val_acc=stat(model_key(model, "clean_val_acc"), "percent", val_pct),
        gap=stat(model_key(model, "clean_gap_pts"), "points", (t - v for t, v in zip(train_pct, val_pct))),
        train_images=Metric(model_key(model, "clean_train_images"), len(train[0]), "count"),
        of_images=Metric(model_key(model, "clean_train_of"), measured_of, "count"),
        train_correct=np.stack(train),
        val_correct=np.stack(val),
    )


def has_history(run: RunData) -> bool:
    """Whether the run was trained by reportgen (it has a per-epoch history), not evaluated from given weights."""
    return getattr(run, "history", None) is not None


@dataclass(frozen=True)
class TrainingFacts:
    """What one model's training histories say, over all its seeds (absent for evaluated weights)."""

    epochs: Metric
    train_time: Stat  # seconds: the epochs' times summed (training and validation passes)
    epoch_time: Stat  # seconds per epoch: training time / epochs, one-off warm-up of each fit included
    images_per_s: Stat  # training images per second
    final_train_acc: Stat  # percent, the history's running average (augmented batches, dropout on)
    final_val_acc: Stat
    acc_gap: Stat  # points, final_train_acc - final_val_acc: the running gap, no clean measure
    loss_gap: Stat
    val_loss_rise: Stat  # percent
    overfits: bool  # by the report's overfitting rule (reportgen.report.rules), on the clean gap where measured
    histories: tuple[dict[str, np.ndarray], ...] = field(repr=False)
    steady_epoch_time: Stat | None = None  # seconds per epoch without the first epoch of each fit (run.json)
    warmup_time: Stat | None = None  # per run, what the first epochs of its fits took beyond the steady state, s
    clean: CleanGap | None = None  # the clean gap; None in bundles that do not record it
    # seconds of each whole fit (set-up and checkpoint writing too, which train_time leaves out); None in bundles
    # whose run.json does not record it (before reportgen 0.6.0)
    fit_wall_time: Stat | None = None


@dataclass(frozen=True)
class ModelFacts:
    """Everything several sections say about one model, over all its seeds."""

    key: str
    name: str
    seeds: tuple[int, ...]
    class_names: tuple[str, ...]
    parameters: Metric
    accuracy: Stat  # percent
    macro_f1: Stat
    class_f1: np.ndarray = field(repr=False)  # mean over seeds, per class
    class_accuracy: np.ndarray = field(repr=False)
    confusion: np.ndarray = field(repr=False)  # summed over seeds
    training: TrainingFacts | None = None  # None when any run has no history (evaluated weights)
    scope: str = ""  # the prefix of its metric keys: "" for the base runs, "variant.<name>." for a variant's

    @property
    def the(self) -> str:
        """How the prose names the model: "the CNN"."""
        return f"the {self.name}"

    @property
    def errors(self) -> Metric:
        return Metric(self.metric_key("errors"), int(self.confusion.sum() - np.trace(self.confusion)), "count")

    @property
    def seed_count(self) -> Metric:
        return Metric(self.metric_key("seeds"), len(self.seeds), "count")

    def metric_key(self, name: str) -> str:
        """The data-metric key of one of this model's numbers: "cnn.<name>", "variant.no-augment.cnn.<name>"."""
        return model_key(self.scope + self.key, name)


def training_facts(model: str, runs: Sequence[RunData], train_size: int, rules: ReportConfig) -> TrainingFacts:
    """Training time, throughput and final-epoch gaps of `model` over its runs (all with a history).

    `model` is the key prefix of its metrics ("cnn", or "variant.no-augment.cnn"); `train_size` the training
    images of runs whose run.json does not record them (bundles before 0.4.0). The overfitting rule judges the
    clean gap where the runs record it, else (older bundles) the history's running gap.
    """
    epochs = [len(run.history["epoch"]) for run in runs]
    sizes = [int(run.info.get("train_images", train_size)) for run in runs]
    times = [float(run.info["train_time_s"]) for run in runs]
    gaps = [generalisation_gap(run.history) for run in runs]
    acc_gap = stat(model_key(model, "acc_gap_pts"), "points", (g.acc_gap_pts for g in gaps))
    val_loss_rise = stat(model_key(model, "val_loss_rise_pct"), "percent", (g.val_loss_rise_pct for g in gaps))
    clean = clean_gap(model, runs)
    judged = acc_gap if clean is None else clean.gap
    return TrainingFacts(
        epochs=Metric(model_key(model, "epochs"), max(epochs), "count"),
        train_time=stat(model_key(model, "train_time_s"), "seconds", times),
        epoch_time=stat(model_key(model, "epoch_time_s"), "seconds", (t / e for t, e in zip(times, epochs))),
        images_per_s=stat(model_key(model, "images_per_s"), "rate",
                          (n * e / t for n, t, e in zip(sizes, times, epochs))),
        final_train_acc=stat(model_key(model, "final_train_acc"), "percent", (g.final_train_acc_pct for g in gaps)),
        final_val_acc=stat(model_key(model, "final_val_acc"), "percent", (g.final_val_acc_pct for g in gaps)),
        acc_gap=acc_gap,
        loss_gap=stat(model_key(model, "loss_gap"), "loss", (g.loss_gap for g in gaps)),
        val_loss_rise=val_loss_rise,
        overfits=is_overfitting(rules, judged.mean.value, val_loss_rise.mean.value),
        histories=tuple(run.history for run in runs),
        steady_epoch_time=_recorded(model, "steady_epoch_time_s", runs),
        warmup_time=_recorded(model, "warmup_time_s", runs),
        clean=clean,
        fit_wall_time=_recorded(model, "fit_wall_time_s", runs),
    )


def _recorded(model: str, field_name: str, runs: Sequence[RunData]) -> Stat | None:
    """A run.json timing over the runs, or None when any run lacks it (older bundles, one-epoch fits)."""
    values = [run.info.get(field_name) for run in runs]
    if any(v is None for v in values):
        return None
    return stat(model_key(model, field_name), "seconds", values)


def model_facts(model: str, runs: Sequence[RunData], dataset: dict[str, Any], parameters: int,
                rules: ReportConfig, scope: str = "") -> ModelFacts:
    """Facts about `model` from all its runs; `scope` prefixes their metric keys (a variant's runs)."""
    def per_class(name: str) -> np.ndarray:
        return np.mean([[c[name] for c in run.metrics["per_class"]] for run in runs], axis=0)

    trained = all(has_history(run) for run in runs)
    keyed = scope + model
    return ModelFacts(
        key=model,
        name=runs[0].display_name,
        seeds=tuple(run.seed for run in runs),
        class_names=tuple(dataset["classes"]),
        parameters=Metric(model_key(keyed, "parameters"), parameters, "count"),
        accuracy=stat(model_key(keyed, "accuracy"), "percent", (100 * float(r.metrics["accuracy"]) for r in runs)),
        macro_f1=stat(model_key(keyed, "macro_f1"), "fraction", (r.metrics["macro"]["f1"] for r in runs)),
        class_f1=per_class("f1"),
        class_accuracy=per_class("accuracy"),
        confusion=summed_confusion(runs),
        training=training_facts(keyed, runs, int(dataset["train_size"]), rules) if trained else None,
        scope=scope,
    )


@dataclass(frozen=True)
class VariantFacts:
    """One config variant of the bundle: what it changes from the base config, and its runs' facts per model."""

    name: str
    changes: dict[str, Any]  # dotted config key -> the variant's value (config.variant_changes)
    config: Config  # the config its runs trained with
    runs: dict[str, list[RunData]] = field(repr=False)
    facts: dict[str, ModelFacts] = field(repr=False)  # metric keys "variant.<name>.<model>.<quantity>"

    def changes_only(self, keys: set[str] | frozenset[str]) -> bool:
        """Whether every key the variant changes is one of `keys` (how a section recognises its experiment)."""
        return bool(self.changes) and set(self.changes) <= set(keys)


class ReportContents:
    """The bundle's contents, each file read once, and the per-model facts computed from them.

    With `metrics_from_predictions`, each run's metrics are recomputed from its predictions.csv instead of
    read from metrics.json: the report `reportgen verify` rebuilds to compare report.html against.
    """

    def __init__(self, bundle: Bundle, metrics_from_predictions: bool = False):
        self.bundle = bundle
        self.metrics_from_predictions = metrics_from_predictions
        self.config: Config = bundle.config()
        self.environment: dict[str, Any] = bundle.environment()
        self.dataset: dict[str, Any] = bundle.dataset()
        self.architectures: dict[str, Any] = bundle.architectures()
        self.samples: dict[str, np.ndarray] = bundle.samples()
        self.runs: dict[str, list[RunData]] = {m: self._read_runs(m) for m in bundle.models()}
        self.facts: dict[str, ModelFacts] = {
            m: model_facts(m, runs, self.dataset, int(self.architectures[m]["parameters"]), self.rules)
            for m, runs in self.runs.items()}
        self.variants: dict[str, VariantFacts] = {v: self._variant(v) for v in bundle.variants()}
        self._visuals: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self._analyses: dict[tuple[str, str], list[dict[str, Any]] | None] = {}
        self._analysis_files: dict[str, dict[str, Any]] = {}  # by name in the bundle, as parsed (analysis_file)
        self.verdicts: dict[Any, Any] = {}  # each section's verdict, once drawn (reportgen.report.section.verdict_of)

    def _read_runs(self, model: str, variant: str | None = None) -> list[RunData]:
        runs = self.bundle.runs(model, variant)
        if not self.metrics_from_predictions:
            return runs
        from reportgen.metrics import compute_metrics

        return [replace(run, metrics=compute_metrics(run.labels, run.preds, self.dataset["classes"])) for run in runs]

    def _variant(self, name: str) -> VariantFacts:
        runs = {m: self._read_runs(m, name) for m in self.runs}
        scope = variant_key(name, "")
        return VariantFacts(name, self.config.variant_changes(name), self.config.variant(name), runs, {
            # A variant's own parameter count (run.json): a variant of cnn.* or vit.* changes it.
            m: model_facts(m, r, self.dataset, int(r[0].info.get("parameters", self.architectures[m]["parameters"])),
                           self.rules, scope)
            for m, r in runs.items()})

    def variants_changing(self, keys: set[str] | frozenset[str]) -> list[VariantFacts]:
        """The variants that change only some of `keys`, in config order."""
        return [v for v in self.variants.values() if v.changes_only(keys)]

    @property
    def root(self) -> Path:
        return self.bundle.root

    @property
    def rules(self) -> ReportConfig:
        """The report's thresholds and significance level (report.* of the config)."""
        return self.config.report

    @property
    def validation_held_out(self) -> bool:
        """Whether the runs validated on a split held out of the training images (data.val_fraction), not on the
        test split as the original study did."""
        return self.config.data.val_fraction > 0

    @property
    def val_size(self) -> Metric:
        """The images held out of the training split for validation (0: validation on the test split)."""
        return Metric("dataset.val_size", int(self.dataset.get("val_size", 0)), "count")

    @property
    def validation_split(self) -> str:
        """The split the runs validated on, in words: "the held-out validation split" or "the test split"."""
        return "the held-out validation split" if self.validation_held_out else "the test split"

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset["classes"])

    @property
    def models(self) -> list[ModelFacts]:
        """Facts of every model in the bundle, in config order."""
        return list(self.facts.values())

    @property
    def comparative(self) -> bool:
        """Whether the bundle holds exactly two models, so that the report compares them."""
        return len(self.facts) == 2

    @property
    def trained(self) -> list[ModelFacts]:
        """The models whose runs were trained by reportgen (they have histories)."""
        return [f for f in self.facts.values() if f.training is not None]

    @cached_property
    def epochs(self) -> Metric | None:
        """The most epochs of any trained run, or None when no model was trained here."""
        counts = [int(f.training.epochs.value) for f in self.trained]
        return Metric("run.epochs", max(counts), "count") if counts else None

    @property
    def several_seeds(self) -> bool:
        return any(len(f.seeds) > 1 for f in self.facts.values())

    def visuals(self, model: str) -> dict[str, np.ndarray]:
        """The visual probes of `model`'s first seed (feature maps, attention), read once."""
        seed = self.runs[model][0].seed
        if (model, seed) not in self._visuals:
            self._visuals[(model, seed)] = self.bundle.visuals(model, seed)
        return self._visuals[(model, seed)]

    def analysis(self, model: str, filename: str, spec: Spec) -> list[dict[str, Any]] | None:
        """A build-time analysis file of every seed's run of `model` (efficiency.json, robustness.npz, ...; see
        docs/bundle.md), read once: one dict per seed, in seed order; None when a run lacks it (the analysis was
        switched off, or does not apply to the model). A file whose fields are not as `spec` says
        (reportgen.report.analysis_files) is a BundleError."""
        if (model, filename) not in self._analyses:
            paths = [run.path / filename for run in self.runs[model]]
            self._analyses[(model, filename)] = ([self.analysis_file(p, spec) for p in paths]
                                                 if all(p.is_file() for p in paths) else None)
        return self._analyses[(model, filename)]

    def analysis_file(self, path: Path, spec: Spec) -> dict[str, Any]:
        """The analysis file at `path` in the bundle, read (and hashed) once by the bundle, as `spec` says."""
        name = path.relative_to(self.root).as_posix()
        if name not in self._analysis_files:  # parsed once: sections ask for the same file (timings.json) again
            self._analysis_files[name] = parse_analysis(self.bundle.read_bytes(name), path)
        return check_fields(self._analysis_files[name], path, spec)

    @property
    def focus_text(self) -> str:
        """The focus image of the visual probes, e.g. "test image 1234 (automobile)"."""
        index, label = int(self.samples["focus_index"]), int(self.samples["focus_label"])
        return f"test image {index} ({self.class_names[label]})"


def read_contents(root: Path | str, require_complete: bool = True) -> ReportContents:
    """Read the bundle at `root` once (a staged bundle without manifest when `require_complete` is False)."""
    return ReportContents(Bundle(root, require_complete=require_complete))


@dataclass(frozen=True)
class Lead:
    """`winner` beats `loser` on one quantity, by `margin` (None where no single margin is reported)."""

    winner: ModelFacts
    loser: ModelFacts
    margin: Metric | None


def lead(a: ModelFacts, b: ModelFacts, value: Callable[[ModelFacts], Stat | Metric], higher_wins: bool,
         margin: Callable[[float, float], Metric] | None = None) -> Lead | None:
    """The better of a and b by `value` (its mean, for a Stat); None when both show the same text, a tie."""
    def shown(m: ModelFacts) -> Metric:
        v = value(m)
        return v.mean if isinstance(v, Stat) else v

    va, vb = shown(a), shown(b)
    if va.text == vb.text:
        return None
    winner, loser = (a, b) if (va.value > vb.value) == higher_wins else (b, a)
    return Lead(winner, loser, None if margin is None else margin(shown(winner).value, shown(loser).value))


def over_seeds(m: ModelFacts) -> list:
    """" (mean ± standard deviation over 3 seeds)" with several seeds, else nothing."""
    return [" (mean ± standard deviation over ", m.seed_count, " seeds)"] if len(m.seeds) > 1 else []
