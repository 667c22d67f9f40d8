"""Test-set evaluation: metrics from predictions (torch-free), and predictions from a model.

`compute_metrics` is the one definition of every reported metric; `reportgen verify` and the
tests recompute with it from a bundle's predictions.csv. `predict` (torch) is imported lazily by
the training side only.
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


def predict(model, images, mean, std, batch_size: int, precision: str) -> np.ndarray:
    """Class probabilities (N, K) of a uint8 image tensor (N, 3, H, W), normalisation only.

    Runs on the model's device, under the autocast of the training `precision`, so the numbers are the
    ones the trained model actually produces there.
    """
    import torch

    from reportgen.data import normalize
    from reportgen.runtime import autocast

    device = next(model.parameters()).device
    model.eval()
    chunks = []
    with torch.no_grad(), autocast(device.type, precision):
        for start in range(0, len(images), batch_size):
            x = normalize(images[start:start + batch_size].to(device), mean, std)
            chunks.append(torch.softmax(model(x).float(), dim=1))
    return torch.cat(chunks).cpu().numpy()  # one copy back (and one wait) for the whole test set


def probe_visuals(model, image, mean, std, precision: str) -> dict[str, np.ndarray]:
    """What the figures need from inside a model, for one uint8 image (3, H, W), under `precision`'s autocast.

    CNN: feature maps after each ResBlock, stage_1..stage_S (C_s, H_s, W_s).
    ViT: cls_attention (heads, G, G), the last layer's CLS-to-patch attention on the patch grid.
    """
    from reportgen.data import normalize
    from reportgen.runtime import autocast

    device = next(model.parameters()).device
    model.eval()
    x = normalize(image.unsqueeze(0).to(device), mean, std)
    out: dict[str, np.ndarray] = {}
    with autocast(device.type, precision):
        if hasattr(model, "stage_outputs"):
            for i, fmap in enumerate(model.stage_outputs(x), start=1):
                out[f"stage_{i}"] = fmap[0].float().cpu().numpy()
        if hasattr(model, "last_layer_attention"):
            weights = model.last_layer_attention(x)[0].float()  # (heads, N+1, N+1)
            cls_to_patches = weights[:, 0, 1:]  # (heads, N)
            grid = int(round(cls_to_patches.shape[1] ** 0.5))
            out["cls_attention"] = cls_to_patches.reshape(-1, grid, grid).cpu().numpy()
    return out
