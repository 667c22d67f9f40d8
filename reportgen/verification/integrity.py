"""The integrity checks of a bundle: schema, manifest, the files render reads, the test labels, and each run's
own consistency (metrics.json recomputed from predictions.csv, predictions against probabilities, history against
run.json, the evaluated weights' digest), for the base runs and every config variant's runs."""

from __future__ import annotations

import numpy as np

from reportgen.bundle import Bundle, RunData, name_list, run_folder
from reportgen.metrics import compute_metrics
from reportgen.verification.checks import INTEGRITY, NUMBERS, Check

TOLERANCE = 1e-9  # metrics.json stores floats; recomputation must agree to rounding error


def integrity_checks(bundle: Bundle) -> list[Check]:
    """Every check of `bundle` but those of the manifest (`manifest_checks`) and of report.html's numbers, in the
    order `reportgen verify` prints them."""
    checks: list[Check] = []
    classes = bundle.dataset()["classes"]
    all_runs = {model: bundle.runs(model) for model in bundle.models()}
    if not all_runs:
        return checks + [Check("the bundle holds runs", False, "no runs/<model>/seed-<seed>/ of the config's models",
                               kind=INTEGRITY)]
    read_the_rest(bundle, all_runs)
    checks.append(same_labels_check(all_runs, bundle.dataset()["test_size"], len(classes)))
    for runs in all_runs.values():
        for run in runs:
            checks += run_checks(bundle, run, compute_metrics(run.labels, run.preds, classes),
                                 bundle.config().train.epochs)
    absent = [name for name in bundle.config().variants if name not in bundle.variants()]
    if absent:
        checks.append(Check("every variant of config.yaml has its runs", False, f"no variants/{absent[0]}/ runs"
                            + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""), kind=INTEGRITY))
    for variant in bundle.variants():
        checks += variant_checks(bundle, variant, classes)
    return checks


def variant_checks(bundle: Bundle, variant: str, classes: list[str]) -> list[Check]:
    """A variant's runs checked as the base runs are; its test labels must be the base runs'."""
    epochs = bundle.config().variant(variant).train.epochs
    variant_runs = {model: bundle.runs(model, variant) for model in bundle.models()}
    base_labels = bundle.runs(bundle.models()[0])[0].labels
    same = all(np.array_equal(run.labels, base_labels) for runs in variant_runs.values() for run in runs)
    seeds = {model: [run.seed for run in runs] for model, runs in variant_runs.items()}
    base_seeds = {model: bundle.seeds(model) for model in variant_runs}
    named = all(run.info.get("variant") == variant for runs in variant_runs.values() for run in runs)
    checks = [
        Check(f"variant {variant}: test labels identical to the base runs'", same,
              "" if same else "the variant's runs were tested on other images", kind=INTEGRITY),
        Check(f"variant {variant}: every model at the base runs' seeds", seeds == base_seeds,
              f"variant {seeds}, base {base_seeds}", kind=INTEGRITY),
        Check(f"variant {variant}: run.json names the variant of its folder", named,
              "" if named else "a run.json names another variant (or none)", kind=INTEGRITY),
    ]
    for runs in variant_runs.values():
        for run in runs:
            checks += run_checks(bundle, run, compute_metrics(run.labels, run.preds, classes), epochs)
    return checks


def read_the_rest(bundle: Bundle, all_runs: dict[str, list[RunData]]) -> None:
    """Read the files no check needs, so that a broken one is refused here (BundleError) as render would.

    A missing one is left to the manifest checks, which name it.
    """
    readers = {"environment.json": bundle.environment, "architectures.json": bundle.architectures,
               "samples.npz": bundle.samples}
    for model, runs in all_runs.items():
        for run in runs:
            readers[f"{run_folder(model, run.seed)}/visuals.npz"] = lambda m=model, s=run.seed: bundle.visuals(m, s)
    for name, read in readers.items():
        if (bundle.root / name).is_file():
            read()


def manifest_checks(bundle: Bundle) -> list[Check]:
    """The schema version and the manifest's checksums. Made last (and printed first): each file the other checks
    read is then hashed from the very bytes they checked (reportgen.bundle.Bundle.read_bytes), not read again."""
    missing, added, changed = bundle.manifest_differences()
    return [
        Check("schema version", True, f"version {bundle.manifest()['schema_version']}", kind=INTEGRITY),
        Check("manifest: no file missing", not missing, name_list(missing), kind=INTEGRITY),
        Check("manifest: no file added", not added, name_list(added), kind=INTEGRITY),
        Check("manifest: checksums match", not changed,
              name_list(changed) or f"{len(bundle.manifest()['files'])} files", kind=INTEGRITY),
    ]


def same_labels_check(all_runs: dict[str, list[RunData]], test_size: int, num_classes: int) -> Check:
    labels = [run.labels for runs in all_runs.values() for run in runs]
    same = all(np.array_equal(labels[0], other) for other in labels[1:])
    sizes_ok = all(len(run_labels) == test_size for run_labels in labels)
    range_ok = all(run_labels.min() >= 0 and run_labels.max() < num_classes for run_labels in labels)
    return Check("test labels identical across runs and consistent with dataset.json", same and sizes_ok and range_ok,
                 "" if same and sizes_ok and range_ok else "the runs disagree on the test set", kind=INTEGRITY)


def run_checks(bundle: Bundle, run: RunData, recomputed: dict, epochs: int) -> list[Check]:
    """The checks of one run; `recomputed` is compute_metrics of its predictions."""
    mismatches = differences(recomputed, run.metrics)
    argmax_ok = bool(np.all(run.probs[np.arange(len(run.preds)), run.preds] >= run.probs.max(axis=1) - 1e-6))
    checks = [
        # A number the bundle states (metrics.json) against its predictions: of the numbers kind.
        Check(f"{run.label}: metrics.json recomputed from predictions.csv", not mismatches, "; ".join(mismatches[:5]),
              kind=NUMBERS),
        Check(f"{run.label}: each prediction is its most probable class", argmax_ok, kind=INTEGRITY),
    ]
    if run.history is None:
        digest = bundle.sha256(f"{run_folder(run.model, run.seed, run.variant)}/weights.pt")
        return checks + [
            Check(f"{run.label}: training history", True,
                  "none: the run was evaluated from weights trained elsewhere, so the history checks are skipped",
                  kind=INTEGRITY),
            Check(f"{run.label}: weights.pt is the file that was evaluated", digest == run.info["weights_sha256"],
                  f"sha256 {digest[:16]}…, run.json states {run.info['weights_sha256'][:16]}…", kind=INTEGRITY),
        ]
    history_time = float(run.history["epoch_time_s"].sum())
    return checks + [
        Check(f"{run.label}: history has every epoch", len(run.history["epoch"]) == epochs == run.info["epochs"],
              f"{len(run.history['epoch'])} rows, config says {epochs}", kind=INTEGRITY),
        Check(f"{run.label}: training time is the sum of epoch times",
              abs(history_time - run.info["train_time_s"]) < 1e-6,
              f"{history_time:.3f} s vs run.json {run.info['train_time_s']:.3f} s", kind=INTEGRITY),
    ]


def differences(expected, actual, path: str = "") -> list[str]:
    """Where two JSON-like structures differ (floats within TOLERANCE)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        keys = set(expected) | set(actual)
        return [d for k in sorted(keys)
                for d in differences(expected.get(k), actual.get(k), f"{path}.{k}".lstrip("."))]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]")]
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return [] if abs(expected - actual) <= TOLERANCE else [f"{path}: stored {actual}, recomputed {expected}"]
    return [] if expected == actual else [f"{path}: stored {actual!r}, recomputed {expected!r}"]
