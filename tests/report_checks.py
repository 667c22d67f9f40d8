"""A check shared by the report tests: the report shows what the bundle's predictions say."""

from __future__ import annotations

from pathlib import Path

from reportgen.bundle import Bundle
from reportgen.metrics import compute_metrics
from reportgen.verification import read_report_metrics


def check_report_against_predictions(root: Path) -> int:
    """Assert that every per-run metric in root/report.html equals the one recomputed from predictions.csv.

    Returns how many per-class numbers were checked, so that a test can tell none were skipped.
    """
    shown = dict(read_report_metrics(root / "report.html"))
    bundle = Bundle(root)
    classes = bundle.dataset()["classes"]
    checked = 0
    for model in ("cnn", "vit"):
        for run in bundle.runs(model):
            expected = compute_metrics(run.labels, run.preds, classes)
            prefix = f"{model}.seed{run.seed}"
            assert shown[f"{prefix}.accuracy"] == f"{100 * expected['accuracy']:.2f}"
            for name in ("precision", "recall", "f1"):
                assert shown[f"{prefix}.macro.{name}"] == f"{expected['macro'][name]:.4f}"
            for i, row in enumerate(expected["per_class"]):
                for name in ("precision", "recall", "f1", "accuracy"):
                    assert shown[f"{prefix}.class{i}.{name}"] == f"{row[name]:.4f}"
                    checked += 1
    return checked
