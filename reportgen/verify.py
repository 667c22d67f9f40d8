"""`reportgen verify`: check that a bundle is intact and that its numbers follow from its predictions,
and with `--deep`, that its predictions follow from its weights.

For reviewers and graders who receive bundles from others. `verify_bundle` checks the schema
version; the manifest's checksums over every file (a swapped figure or an edited CSV fails); every
metric recomputed from predictions.csv against metrics.json; predictions against their
probabilities; history against run.json (runs evaluated from weights have no history: those checks
are skipped, and say so); the test labels across runs; every config variant's runs as the base runs
(their labels, seeds and run.json); and every per-run number shown in report.html against the
recomputed value, the experiment sections' numbers (drops, gaps, slopes and their tests) with them.
Nothing in the bundle is executed: no pickle, no weights loaded, no torch.

The checksums prove integrity, not authorship: someone who rewrites predictions, metrics, report
and manifest consistently passes `verify_bundle`. `verify_deep` catches that: it loads each run's
weights (torch.load(weights_only=True), never pickle), rebuilds the model from config.yaml, checks
that the data it is given is the bundle's (dataset fingerprint) and that the stored labels are the
data's, re-predicts the test set on the CPU in fp32 and compares predictions and probabilities
with the stored ones within the tolerances below, which depend on how the run was computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from reportgen.bundle import Bundle, RunData, read_bytes
from reportgen.config import DataConfig
from reportgen.errors import BundleError, DataError, WeightsError
from reportgen.evaluation import compute_metrics
from reportgen.report.kernel import Metric

if TYPE_CHECKING:  # the deep checks only; verify_bundle stays torch-free
    from reportgen.data import ImageData

TOLERANCE = 1e-9  # metrics.json stores floats; recomputation must agree to rounding error
# What a check verifies (Check.kind): the bundle's files, its numbers against its predictions, its predictions
# against its weights (verify_deep).
INTEGRITY, NUMBERS, DEEP = "integrity", "numbers", "deep"


@dataclass
class Check:
    """One verified property of the bundle, of one `kind` (INTEGRITY, NUMBERS or DEEP)."""

    name: str
    ok: bool
    detail: str = ""
    kind: str = INTEGRITY


def verify_bundle(root: Path | Bundle) -> list[Check]:
    """Every check of the bundle at `root` (a path, or a bundle already opened); a bundle passes when all are ok."""
    bundle = root if isinstance(root, Bundle) else Bundle(root)  # refuses an incomplete or foreign bundle
    checks = [Check("schema version", True, f"version {bundle.manifest()['schema_version']}")]
    checks += _check_manifest(bundle)
    classes = bundle.dataset()["classes"]
    expected_metrics: dict[str, Metric] = {}
    all_runs = {model: bundle.runs(model) for model in bundle.models()}
    if not all_runs:
        return checks + [Check("the bundle holds runs", False, "no runs/<model>/seed-<seed>/ of the config's models")]
    _read_the_rest(bundle, all_runs)
    checks.append(_check_same_labels(all_runs, bundle.dataset()["test_size"], len(classes)))
    for model, runs in all_runs.items():
        recomputed = [compute_metrics(run.labels, run.preds, classes) for run in runs]
        for run, metrics in zip(runs, recomputed):
            checks += _check_run(bundle, run, metrics, bundle.config().train.epochs)
            expected_metrics.update(_expected_run_metrics(run, metrics))
        expected_metrics.update(_expected_model_metrics(model, recomputed))
    absent = [name for name in bundle.config().variants if name not in bundle.variants()]
    if absent:
        checks.append(Check("every variant of config.yaml has its runs", False, f"no variants/{absent[0]}/ runs"
                            + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else "")))
    for variant in bundle.variants():
        checks_of_variant, metrics_of_variant = _check_variant(bundle, variant, classes)
        checks += checks_of_variant
        expected_metrics.update(metrics_of_variant)
    for model, runs in all_runs.items():
        if bundle.config().analysis.calibration:
            expected_metrics.update(_expected_calibration_metrics(model, runs, bundle.config().report.calibration_bins))
    expected_metrics.update(_expected_robustness_metrics(bundle))
    # Where an experiment shows a number recomputed above from the predictions (a variant's accuracy), that one counts.
    expected_metrics = {**_expected_experiment_metrics(bundle), **expected_metrics}
    checks += _check_report_numbers(bundle, expected_metrics)
    return checks


def _check_variant(bundle: Bundle, variant: str, classes: list[str]) -> tuple[list[Check], dict[str, Metric]]:
    """A variant's runs checked as the base runs are, and the numbers the report shows of them
    (keys "variant.<name>.<model>...."); its test labels must be the base runs'."""
    from reportgen.report.kernel import variant_key

    checks: list[Check] = []
    expected: dict[str, Metric] = {}
    epochs = bundle.config().variant(variant).train.epochs
    variant_runs = {model: bundle.runs(model, variant) for model in bundle.models()}
    base_labels = bundle.runs(bundle.models()[0])[0].labels
    same = all(np.array_equal(run.labels, base_labels) for runs in variant_runs.values() for run in runs)
    checks.append(Check(f"variant {variant}: test labels identical to the base runs'", same,
                        "" if same else "the variant's runs were tested on other images"))
    seeds = {model: [run.seed for run in runs] for model, runs in variant_runs.items()}
    base_seeds = {model: bundle.seeds(model) for model in variant_runs}
    checks.append(Check(f"variant {variant}: every model at the base runs' seeds", seeds == base_seeds,
                        f"variant {seeds}, base {base_seeds}"))
    named = all(run.info.get("variant") == variant for runs in variant_runs.values() for run in runs)
    checks.append(Check(f"variant {variant}: run.json names the variant of its folder", named,
                        "" if named else "a run.json names another variant (or none)"))
    for model, runs in variant_runs.items():
        recomputed = [compute_metrics(run.labels, run.preds, classes) for run in runs]
        for run, metrics in zip(runs, recomputed):
            checks += _check_run(bundle, run, metrics, epochs)
            expected.update(_expected_run_metrics(run, metrics, variant_key(variant, "")))
        expected.update(_expected_model_metrics(variant_key(variant, model), recomputed))
    return checks, expected


def _read_the_rest(bundle: Bundle, all_runs: dict[str, list[RunData]]) -> None:
    """Read the files no check needs, so that a broken one is refused here (BundleError) as render would.

    A missing one is left to the manifest checks, which name it.
    """
    readers = {"environment.json": bundle.environment, "architectures.json": bundle.architectures,
               "samples.npz": bundle.samples}
    for model, runs in all_runs.items():
        for run in runs:
            readers[f"runs/{model}/seed-{run.seed}/visuals.npz"] = lambda m=model, s=run.seed: bundle.visuals(m, s)
    for name, read in readers.items():
        if (bundle.root / name).is_file():
            read()


def _check_manifest(bundle: Bundle) -> list[Check]:
    missing, added, changed = bundle.manifest_differences()
    return [
        Check("manifest: no file missing", not missing, ", ".join(missing)),
        Check("manifest: no file added", not added, ", ".join(added)),
        Check("manifest: checksums match", not changed,
              ", ".join(changed) or f"{len(bundle.manifest()['files'])} files"),
    ]


def _check_same_labels(all_runs: dict[str, list[RunData]], test_size: int, num_classes: int) -> Check:
    labels = [run.labels for runs in all_runs.values() for run in runs]
    same = all(np.array_equal(labels[0], other) for other in labels[1:])
    sizes_ok = all(len(run_labels) == test_size for run_labels in labels)
    range_ok = all(run_labels.min() >= 0 and run_labels.max() < num_classes for run_labels in labels)
    return Check("test labels identical across runs and consistent with dataset.json", same and sizes_ok and range_ok,
                 "" if same and sizes_ok and range_ok else "the runs disagree on the test set")


def _name(run: RunData) -> str:
    return run.label


def _check_run(bundle: Bundle, run: RunData, recomputed: dict, epochs: int) -> list[Check]:
    """The checks of one run; `recomputed` is compute_metrics of its predictions."""
    mismatches = _differences(recomputed, run.metrics)
    argmax_ok = bool(np.all(run.probs[np.arange(len(run.preds)), run.preds] >= run.probs.max(axis=1) - 1e-6))
    checks = [
        Check(f"{_name(run)}: metrics.json recomputed from predictions.csv", not mismatches, "; ".join(mismatches[:5]),
              NUMBERS),
        Check(f"{_name(run)}: each prediction is its most probable class", argmax_ok),
    ]
    if run.history is None:
        digest = bundle.sha256(f"runs/{run.model}/seed-{run.seed}/weights.pt")
        return checks + [
            Check(f"{_name(run)}: training history", True,
                  "none: the run was evaluated from weights trained elsewhere, so the history checks are skipped"),
            Check(f"{_name(run)}: weights.pt is the file that was evaluated", digest == run.info["weights_sha256"],
                  f"sha256 {digest[:16]}…, run.json states {run.info['weights_sha256'][:16]}…"),
        ]
    history_time = float(run.history["epoch_time_s"].sum())
    return checks + [
        Check(f"{_name(run)}: history has every epoch", len(run.history["epoch"]) == epochs == run.info["epochs"],
              f"{len(run.history['epoch'])} rows, config says {epochs}"),
        Check(f"{_name(run)}: training time is the sum of epoch times",
              abs(history_time - run.info["train_time_s"]) < 1e-6,
              f"{history_time:.3f} s vs run.json {run.info['train_time_s']:.3f} s"),
    ]


def _differences(expected, actual, path: str = "") -> list[str]:
    """Where two JSON-like structures differ (floats within TOLERANCE)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        keys = set(expected) | set(actual)
        return [d for k in sorted(keys)
                for d in _differences(expected.get(k), actual.get(k), f"{path}.{k}".lstrip("."))]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in _differences(e, a, f"{path}[{i}]")]
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return [] if abs(expected - actual) <= TOLERANCE else [f"{path}: stored {actual}, recomputed {expected}"]
    return [] if expected == actual else [f"{path}: stored {actual!r}, recomputed {expected!r}"]


def _expected_run_metrics(run: RunData, m: dict, scope: str = "") -> dict[str, Metric]:
    """The per-run numbers the report shows, from its recomputed metrics `m` and its history; `scope` prefixes
    the keys of a variant's run ("variant.<name>.")."""
    prefix = f"{scope}{run.model}.seed{run.seed}"
    out = [Metric(f"{prefix}.accuracy", 100 * m["accuracy"], "percent")]
    out += [Metric(f"{prefix}.macro.{k}", v, "fraction") for k, v in m["macro"].items()]
    for i, row in enumerate(m["per_class"]):
        out += [Metric(f"{prefix}.class{i}.{k}", row[k], "fraction") for k in ("precision", "recall", "f1", "accuracy")]
        out.append(Metric(f"{prefix}.class{i}.support", row["support"], "count"))
    if run.history is not None:
        out.append(Metric(f"{prefix}.train_time_s", float(run.history["epoch_time_s"].sum()), "seconds"))
        out.append(Metric(f"{prefix}.final_train_acc", 100 * float(run.history["train_acc"][-1]), "percent"))
        out.append(Metric(f"{prefix}.final_val_acc", 100 * float(run.history["val_acc"][-1]), "percent"))
    return {metric.key: metric for metric in out}


def _expected_model_metrics(model: str, recomputed: list[dict]) -> dict[str, Metric]:
    """Mean (and std) over seeds of `model`'s test accuracy, from its runs' recomputed metrics."""
    accuracies = [100 * m["accuracy"] for m in recomputed]
    out = {f"{model}.accuracy.mean": Metric(f"{model}.accuracy.mean", float(np.mean(accuracies)), "percent")}
    if len(recomputed) > 1:
        out[f"{model}.accuracy.std"] = Metric(f"{model}.accuracy.std", float(np.std(accuracies, ddof=1)), "percent")
    return out


def _expected_calibration_metrics(model: str, runs: list[RunData], bins: int) -> dict[str, Metric]:
    """The calibration numbers the report shows (ECE per run; ECE, MCE, NLL, Brier over seeds), recomputed
    from the stored probabilities."""
    from reportgen.report.kernel import stat
    from reportgen.report.sections.calibration import MEASURES, run_measures

    measures = [run_measures(run, bins) for run in runs]
    out = [Metric(f"{model}.seed{run.seed}.calibration.ece", m["ece"], "percent") for run, m in zip(runs, measures)]
    for key, _, unit in MEASURES:
        over_seeds = stat(f"{model}.calibration.{key}", unit, (m[key] for m in measures))
        out += [over_seeds.mean] + ([over_seeds.std] if over_seeds.std is not None else [])
    return {metric.key: metric for metric in out}


def _expected_experiment_metrics(bundle: Bundle) -> dict[str, Metric]:
    """The numbers the experiment sections show (drops, gaps and their tests, slopes, recipe shares), recomputed
    from the bundle's runs by the sections' own calculations, without drawing a figure; empty when none applies."""
    from reportgen.report.contents import ReportContents
    from reportgen.report.kernel import item_metrics
    from reportgen.report.section import UndrawnFigures
    from reportgen.report.sections import EXPERIMENTS

    try:
        contents = ReportContents(bundle)
        items = EXPERIMENTS.build(contents, UndrawnFigures()) if EXPERIMENTS.applies(contents) else []
    except BundleError:  # a file is missing or broken, or runs disagree on the test images: other checks say which
        return {}
    return {m.key: m for m in item_metrics(items)}


def _expected_robustness_metrics(bundle: Bundle) -> dict[str, Metric]:
    """The robustness numbers the report shows (accuracy per corruption family and corruption, mean corruption
    accuracy, relative drop; with two models the McNemar counts and p-values), recomputed from the
    corrupted-image predictions stored in each run's robustness.npz; empty when no run holds one."""
    from reportgen.report.contents import ReportContents
    from reportgen.report.corruption_results import comparable, paired_metrics, suite_metrics
    from reportgen.report.sections.robustness import suites

    if not any(path.endswith("/robustness.npz") for path in bundle.manifest()["files"]):
        return {}
    try:
        contents = ReportContents(bundle)
    except BundleError:  # a file the report needs is missing or broken: the manifest checks say which
        return {}
    found = suites(contents)
    out = [m for s in found for m in suite_metrics(s)]
    if len(found) == 2 and comparable(*found):
        out += paired_metrics(*found, contents.rules.alpha)
    return {metric.key: metric for metric in out}


class _MetricSpans(HTMLParser):
    """Collects (data-metric key, displayed text) from report.html."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._key: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        key = dict(attrs).get("data-metric")
        if key is not None:
            self._key, self._text = key, []

    def handle_data(self, data):
        if self._key is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._key is not None:
            self.found.append((self._key, "".join(self._text).strip()))
            self._key = None


def report_metrics(html: str) -> list[tuple[str, str]]:
    """Every (data-metric key, displayed text) pair in the HTML of a report."""
    parser = _MetricSpans()
    parser.feed(html)
    return parser.found


def read_report_metrics(path: Path) -> list[tuple[str, str]]:
    """Every (data-metric key, displayed text) pair in a report.html."""
    return report_metrics(path.read_text(encoding="utf-8"))


def _check_report_numbers(bundle: Bundle, expected: dict[str, Metric]) -> list[Check]:
    if not (bundle.root / "report.html").is_file():
        return [Check("report.html present", False, "rebuild or re-render the bundle")]
    shown = report_metrics(bundle.read_text("report.html"))
    wrong = [f"{key}: shows {text}, recomputed {expected[key].text}"
             for key, text in shown if key in expected and text != expected[key].text]
    shown_keys = {key for key, _ in shown}
    # Every base run's accuracy, and every variant's mean accuracy per model (the experiments overview's table).
    headline = [key for key in expected if key.endswith(".accuracy.mean")
                or (key.endswith(".accuracy") and not key.startswith("variant."))]
    absent = [key for key in headline if key not in shown_keys]
    compared = sum(1 for key, _ in shown if key in expected)
    return [
        Check("report.html: numbers equal those recomputed from the predictions and probabilities", not wrong,
              "; ".join(wrong[:5]) or f"{compared} numbers compared", NUMBERS),
        Check("report.html: shows every model's test accuracy", not absent, ", ".join(absent)),
    ]


# ---------------------------------------------------------------- deep: predictions from the weights


@dataclass(frozen=True)
class Tolerance:
    """How far the fresh fp32 CPU predictions of a run's weights may be from its stored ones."""

    label: str
    tie_margin: float  # a prediction may differ only where the fresh top-2 probabilities are this close
    max_differing: float  # and at most this share of the predictions
    probabilities: float  # largest absolute difference allowed between a stored and a fresh probability

    def describe(self) -> str:
        return (f"{self.label}: predictions may differ only where the top-2 probabilities are within "
                f"{self.tie_margin:g}, at most {self.max_differing:.1%} of them; probabilities within "
                f"{self.probabilities:g}")


# fp32 on a CPU computes what the build computed up to summation order (about 1e-6 relative): every
# prediction must be equal but an exact tie, and probabilities (stored with 6 decimals) agree to 1e-4.
FP32_CPU = Tolerance("fp32 on a CPU", tie_margin=1e-5, max_differing=0.001, probabilities=1e-4)
# Reduced precision: bf16 autocast builds, and fp32 builds on CUDA (cuDNN convolutions use TF32 there by
# default). Measured against fp32 (bf16 on an AMD EPYC CPU, reportgen 0.2.0), over 8 runs: 0.2 % to 0.4 %
# of the predictions differed on the quick preset (1,000 test images, 15 epochs), 0.4 % to 0.7 % on the
# 10,000 CIFAR-10 test images for weak models (one epoch, or 30 steps: more near-ties); all where the fp32
# top-2 probabilities were within 0.012, and no probability differed by more than 0.014. The tolerance
# leaves about 2.8x, 4x and 3.5x of room. A forger can hide within it only flips among near-ties, of at
# most 2 % of the images.
REDUCED_PRECISION = Tolerance("bf16 autocast, or fp32 with TF32 on CUDA", tie_margin=0.05, max_differing=0.02,
                              probabilities=0.05)
# Of an array's largest magnitude. The build probes on the training device under the training precision;
# verify recomputes in fp32 on the CPU, so reduced-precision builds get the looser bound.
VISUALS_TOLERANCE = {"fp32": 0.01, "reduced": 0.05}


def tolerance_for(run: RunData) -> Tolerance:
    """The tolerance of a run, by the device and precision its run.json records (unknown ones: reduced)."""
    exact = run.info.get("precision") == "32" and run.info.get("device") == "cpu"
    return FP32_CPU if exact else REDUCED_PRECISION


def deep_data_config(bundle: Bundle, data_dir: Path | None) -> DataConfig:
    """Where `verify --deep` reads the images: `data_dir`, else the bundle's own source when this machine has it.

    That is the sample shipped with reportgen or torchvision's CIFAR-10, in this machine's reportgen
    cache: never a folder, nor a cache folder, that a stranger's config.yaml names.
    """
    cache = DataConfig().cache_dir
    if data_dir is not None:
        return DataConfig(dataset="folder", dir=str(data_dir), cache_dir=cache)
    source = bundle.config().data
    if source.dataset == "folder":
        raise DataError(f"{bundle.root} was built on an image folder ({str(source.dir)[:120]!r}): pass --data-dir "
                        "with a copy of those images")
    return DataConfig(dataset=source.dataset, cache_dir=cache)


def verify_deep(root: Path | Bundle, data: "ImageData") -> list[Check]:
    """The deep checks of the bundle at `root` (a path or an opened bundle) on `data`, the images it was built on.

    Raises DataError when `data` does not have the bundle's dataset fingerprint: then nothing can be
    compared, whether the wrong data was given or dataset.json was edited.
    """
    from reportgen.data import training_subset

    bundle = root if isinstance(root, Bundle) else Bundle(root)
    recorded = bundle.dataset()["fingerprint"]
    config = bundle.config()
    # dataset.json describes the base config's training images: a class-balanced share under data.train_fraction.
    data = training_subset(data, config.data.train_fraction, config.data.fraction_seed)
    if data.fingerprint != recorded:
        raise DataError(f"the data given ({data.source}) has dataset fingerprint {data.fingerprint[:16]}…, but "
                        f"{bundle.root}/dataset.json records {recorded[:16]}…: pass --data-dir with the images "
                        "the bundle was built on")
    runs = [run for model in bundle.models() for run in bundle.runs(model)]
    labels_ok = all(np.array_equal(run.labels, data.test_y.numpy()) for run in runs)
    checks = [Check("deep: the data given is the bundle's", True, f"dataset fingerprint {recorded[:16]}…"),
              Check("deep: the stored test labels are the data's", labels_ok,
                    "" if labels_ok else "predictions.csv holds labels the test images do not have")]
    for run in runs:
        checks += _deep_run_checks(bundle, run, data)
    if bundle.variants():
        checks.append(Check("deep: the variants' runs", True, "checked from their predictions only: a bundle keeps "
                            "no weights of variant runs (the run store does)"))
    for check in checks:
        check.kind = DEEP
    return checks


def _deep_run_checks(bundle: Bundle, run: RunData, data: "ImageData") -> list[Check]:
    from reportgen.evaluate import fit_state_dict, state_dict_from_bytes
    from reportgen.evaluation import predict
    from reportgen.models import create_model

    name = f"deep: {_name(run)}"
    config = bundle.config()
    model = create_model(run.model, config, len(data.classes))
    source = f"{run.path}/weights.pt"
    try:
        fit_state_dict(model, state_dict_from_bytes(read_bytes(run.path / "weights.pt"), source), source,
                       f"the {run.display_name} of config.yaml")
    except (WeightsError, BundleError) as exc:
        return [Check(f"{name}: weights.pt loads into the model config.yaml describes", False, str(exc))]
    fresh = predict(model, data.test_x, config.data.mean, config.data.std, 500, "32")
    return [
        Check(f"{name}: weights.pt loads into the model config.yaml describes", True,
              "torch.load(weights_only=True), strict"),
        _architecture_check(name, model, bundle.architectures()[run.model]),
        *_prediction_checks(name, run, fresh, tolerance_for(run)),
        _visuals_check(name, model, bundle.visuals(run.model, run.seed), config, data, tolerance_for(run)),
    ]


def _prediction_checks(name: str, run: RunData, fresh: np.ndarray, tolerance: Tolerance) -> list[Check]:
    """Stored predictions and probabilities against those the weights give now, within `tolerance`."""
    fresh_preds = fresh.argmax(axis=1)
    top2 = np.sort(fresh, axis=1)[:, -2:]
    differ = run.preds != fresh_preds
    beyond = np.flatnonzero(differ & (top2[:, 1] - top2[:, 0] > tolerance.tie_margin))
    share = float(differ.mean())
    preds_ok = not len(beyond) and share <= tolerance.max_differing
    detail = f"{int(differ.sum())} of {len(differ)} differ ({tolerance.describe()})"
    if len(beyond):
        i = int(beyond[0])
        detail = (f"image {i} is predicted class {int(run.preds[i])} in predictions.csv but class "
                  f"{int(fresh_preds[i])} by the weights, with a clear margin ({len(beyond)} such images); " + detail)
    worst = float(np.abs(fresh - run.probs).max())
    return [
        Check(f"{name}: stored predictions follow from the weights", preds_ok, detail),
        Check(f"{name}: stored probabilities follow from the weights", worst <= tolerance.probabilities,
              f"largest difference {worst:.2g} (tolerance {tolerance.probabilities:g}, {tolerance.label})"),
    ]


def _architecture_check(name: str, model, stored: dict) -> Check:
    from reportgen.models import count_parameters, describe_architecture

    same = describe_architecture(model) == stored["layers"] and count_parameters(model) == stored["parameters"]
    return Check(f"{name}: architectures.json describes the model of config.yaml", same,
                 "" if same else "its layers or parameter count differ from the rebuilt model's")


def _visuals_check(name: str, model, stored: dict[str, np.ndarray], config, data: "ImageData",
                   tolerance: Tolerance) -> Check:
    from reportgen.evaluation import probe_visuals

    index = config.report.sample_index
    if index >= len(data.test_x):
        return Check(f"{name}: visuals.npz follows from the weights", False,
                     f"config.yaml's report.sample_index {index} is not one of the {len(data.test_x)} test images")
    fresh = probe_visuals(model, data.test_x[index], config.data.mean, config.data.std, "32")
    bound = VISUALS_TOLERANCE["reduced" if tolerance is REDUCED_PRECISION else "fp32"]
    same = set(fresh) == set(stored) and all(
        fresh[k].shape == stored[k].shape
        and np.abs(fresh[k] - stored[k]).max() <= bound * max(float(np.abs(fresh[k]).max()), 1e-12)
        for k in fresh)
    return Check(f"{name}: visuals.npz follows from the weights", same,
                 f"within {bound:.0%} of each map's largest value" if same
                 else "the feature maps or attention stored differ from those the weights give")
