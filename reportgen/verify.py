"""`reportgen verify`: check that a bundle is intact and that its numbers follow from its predictions.

For reviewers who receive bundles from others. It checks the schema version; the manifest's
checksums over every file (a swapped figure or an edited CSV fails); every metric recomputed from
predictions.csv against metrics.json; predictions against their probabilities; history against
run.json; the test labels across runs; and every per-run number shown in report.html against the
recomputed value. Nothing in the bundle is executed: no pickle, no weights loaded.

The checksums prove integrity, not authorship: someone who edits a bundle and rewrites its
manifest and metrics consistently is caught only where the numbers stop following from the
predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from reportgen.bundle import Bundle, RunData
from reportgen.evaluation import compute_metrics
from reportgen.report.kernel import Metric

TOLERANCE = 1e-9  # metrics.json stores floats; recomputation must agree to rounding error


@dataclass
class Check:
    """One verified property of the bundle."""

    name: str
    ok: bool
    detail: str = ""


def verify_bundle(root: Path) -> list[Check]:
    """Every check of the bundle at `root`; a bundle passes when all are ok."""
    bundle = Bundle(root)  # refuses a folder without manifest or with another schema version
    checks = [Check("schema version", True, f"version {bundle.manifest()['schema_version']}")]
    checks += _check_manifest(bundle)
    classes = bundle.dataset()["classes"]
    expected_metrics: dict[str, Metric] = {}
    all_runs = {model: bundle.runs(model) for model in bundle.models()}
    checks.append(_check_same_labels(all_runs, bundle.dataset()["test_size"], len(classes)))
    for model, runs in all_runs.items():
        for run in runs:
            checks += _check_run(run, classes, bundle.config().train.epochs)
            expected_metrics.update(_expected_run_metrics(run, classes))
        expected_metrics.update(_expected_model_metrics(model, runs, classes))
    checks += _check_report_numbers(root / "report.html", expected_metrics)
    return checks


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


def _check_run(run: RunData, classes: list[str], epochs: int) -> list[Check]:
    name = f"{run.model} seed {run.seed}"
    recomputed = compute_metrics(run.labels, run.preds, classes)
    mismatches = _differences(recomputed, run.metrics)
    argmax_ok = bool(np.all(run.probs[np.arange(len(run.preds)), run.preds] >= run.probs.max(axis=1) - 1e-6))
    history_time = float(run.history["epoch_time_s"].sum())
    checks = [
        Check(f"{name}: metrics.json recomputed from predictions.csv", not mismatches, "; ".join(mismatches[:5])),
        Check(f"{name}: each prediction is its most probable class", argmax_ok),
        Check(f"{name}: history has every epoch", len(run.history["epoch"]) == epochs == run.info["epochs"],
              f"{len(run.history['epoch'])} rows, config says {epochs}"),
        Check(f"{name}: training time is the sum of epoch times",
              abs(history_time - run.info["train_time_s"]) < 1e-6,
              f"{history_time:.3f} s vs run.json {run.info['train_time_s']:.3f} s"),
    ]
    return checks


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


def _expected_run_metrics(run: RunData, classes: list[str]) -> dict[str, Metric]:
    """The per-run numbers the report shows, recomputed from predictions and history."""
    m = compute_metrics(run.labels, run.preds, classes)
    prefix = f"{run.model}.seed{run.seed}"
    out = [Metric(f"{prefix}.accuracy", 100 * m["accuracy"], "percent")]
    out += [Metric(f"{prefix}.macro.{k}", v, "fraction") for k, v in m["macro"].items()]
    for i, row in enumerate(m["per_class"]):
        out += [Metric(f"{prefix}.class{i}.{k}", row[k], "fraction") for k in ("precision", "recall", "f1", "accuracy")]
        out.append(Metric(f"{prefix}.class{i}.support", row["support"], "count"))
    out.append(Metric(f"{prefix}.train_time_s", float(run.history["epoch_time_s"].sum()), "seconds"))
    out.append(Metric(f"{prefix}.final_train_acc", 100 * float(run.history["train_acc"][-1]), "percent"))
    out.append(Metric(f"{prefix}.final_val_acc", 100 * float(run.history["val_acc"][-1]), "percent"))
    return {metric.key: metric for metric in out}


def _expected_model_metrics(model: str, runs: list[RunData], classes: list[str]) -> dict[str, Metric]:
    accuracies = [100 * compute_metrics(r.labels, r.preds, classes)["accuracy"] for r in runs]
    out = {f"{model}.accuracy.mean": Metric(f"{model}.accuracy.mean", float(np.mean(accuracies)), "percent")}
    if len(runs) > 1:
        out[f"{model}.accuracy.std"] = Metric(f"{model}.accuracy.std", float(np.std(accuracies, ddof=1)), "percent")
    return out


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


def read_report_metrics(path: Path) -> list[tuple[str, str]]:
    """Every (data-metric key, displayed text) pair in a report.html."""
    parser = _MetricSpans()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.found


def _check_report_numbers(report: Path, expected: dict[str, Metric]) -> list[Check]:
    if not report.is_file():
        return [Check("report.html present", False, "rebuild or re-render the bundle")]
    shown = read_report_metrics(report)
    wrong = [f"{key}: shows {text}, recomputed {expected[key].text}"
             for key, text in shown if key in expected and text != expected[key].text]
    shown_keys = {key for key, _ in shown}
    headline = [key for key in expected if key.endswith(".accuracy") or key.endswith("accuracy.mean")]
    absent = [key for key in headline if key not in shown_keys]
    compared = sum(1 for key, _ in shown if key in expected)
    return [
        Check("report.html: numbers equal those recomputed from the predictions", not wrong,
              "; ".join(wrong[:5]) or f"{compared} numbers compared"),
        Check("report.html: shows every model's test accuracy", not absent, ", ".join(absent)),
    ]
