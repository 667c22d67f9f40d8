"""`reportgen verify`: check that a bundle is intact and that its numbers follow from its predictions,
and with `--deep`, that its predictions follow from its weights.

For reviewers and graders who receive bundles from others. `verify_bundle` makes two kinds of checks
(`Check.kind`):
* integrity (reportgen.verification.integrity): the schema version; the manifest's checksums over every
  file (a swapped figure or an edited CSV fails); predictions against their probabilities; history
  against run.json (runs evaluated from weights have no history: those checks are skipped, and say so);
  the test labels across runs; every config variant's runs as the base runs (their labels, seeds and
  run.json);
* numbers: every metric recomputed from predictions.csv against metrics.json (integrity.py, per run), and
  every number report.html shows against the report rebuilt from the bundle, its per-run metrics
  recomputed from the predictions, by the registry's own sections (reportgen.verification.numbers): the
  report is its own oracle, so a section registered today is verified today.
Nothing in the bundle is executed: no pickle, no weights loaded, no torch.

`verify_deep` (reportgen.verification.deep, the deep kind) catches what the checksums cannot, a bundle
rewritten consistently: it re-predicts the test set from each run's weights. It imports torch only when run.
"""

from __future__ import annotations

from pathlib import Path

from reportgen.bundle import Bundle
from reportgen.verification.checks import DEEP, INTEGRITY, KINDS, NUMBERS, Check
from reportgen.verification.deep import (
    FP32_CPU,
    REDUCED_PRECISION,
    Tolerance,
    deep_data_config,
    tolerance_for,
    verify_deep,
)
from reportgen.verification.integrity import integrity_checks, manifest_checks
from reportgen.verification.numbers import RebuiltReport, read_report_metrics, report_metrics, report_number_checks

__all__ = [
    "Check", "INTEGRITY", "NUMBERS", "DEEP", "KINDS", "verify_bundle", "verify_deep", "deep_data_config",
    "tolerance_for", "Tolerance", "FP32_CPU", "REDUCED_PRECISION", "report_metrics", "read_report_metrics",
    "RebuiltReport",
]


def verify_bundle(root: Path | Bundle) -> list[Check]:
    """Every check of the bundle at `root` (a path, or a bundle already opened); a bundle passes when all are ok."""
    bundle = root if isinstance(root, Bundle) else Bundle(root)  # refuses an incomplete or foreign bundle
    checks = integrity_checks(bundle)
    if bundle.models():  # else no runs (integrity_checks says so): no report to rebuild
        checks += report_number_checks(bundle)
    return manifest_checks(bundle) + checks  # hashed last, from the bytes read above (manifest_checks)
