"""A check shared by the report tests: the report shows what the bundle's predictions say."""

from __future__ import annotations

from pathlib import Path

from reportgen.bundle import Bundle
from reportgen.metrics import compute_metrics
from reportgen.verification import read_report_metrics


def assert_shown(shown: dict[str, str], key: str, fraction: float) -> int:
    """Assert that the report shows `fraction` under `key` (the per-seed appendix: 4 decimals) or `key`_pct (the
    Results table of one run: percent, one decimal); 1 if it shows it, 0 if neither (recall is shown once, as the
    per-class accuracy is the same number)."""
    if key in shown:
        assert shown[key] == f"{fraction:.4f}", key
        return 1
    if f"{key}_pct" in shown:
        assert shown[f"{key}_pct"] == f"{100 * fraction:.1f}", key
        return 1
    assert key.endswith(".accuracy"), f"{key} is not shown"
    return 0


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
                assert_shown(shown, f"{prefix}.macro.{name}", expected["macro"][name])
            for i, row in enumerate(expected["per_class"]):
                for name in ("precision", "recall", "f1", "accuracy"):
                    checked += assert_shown(shown, f"{prefix}.class{i}.{name}", row[name])
    return checked
