"""The one definition of every reported metric, computed from labels and predictions (torch-free).

`reportgen build` and `reportgen evaluate` write metrics.json with it; `reportgen verify`, the report's
oracle and grading recompute it from a bundle's predictions.csv.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def compute_metrics(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Overall accuracy, per-class precision/recall/F1/accuracy, macro averages and the confusion matrix.

    Per-class accuracy is the seed's definition: correct predictions of a class over its true count
    (equal to recall). Classes that never occur score 0 rather than raising.
    """
    k = len(class_names)
    labels, preds = np.asarray(labels), np.asarray(preds)
    cm = confusion_matrix(labels, preds, labels=list(range(k)))  # rows: true, columns: predicted
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, preds, labels=list(range(k)), zero_division=0
    )
    row_totals = cm.sum(axis=1)
    class_accuracy = np.divide(np.diag(cm), row_totals, out=np.zeros(k), where=row_totals > 0)
    per_class = [
        {
            "class": name,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "accuracy": float(class_accuracy[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]
    return {
        "accuracy": float((labels == preds).mean()) if len(labels) else 0.0,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "per_class": per_class,
        "confusion": cm.astype(int).tolist(),
    }
