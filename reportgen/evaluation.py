"""Predictions from a model: the test set's class probabilities, and what the figures need from inside it.

Both run on the model's device under the autocast of the run's precision, so the numbers are the ones
the trained model computes there (the metrics computed from them: reportgen.metrics).
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.data import normalize
from reportgen.runtime import autocast


def predict(model, images, mean, std, batch_size: int, precision: str) -> np.ndarray:
    """Class probabilities (N, K) of a uint8 image tensor (N, 3, H, W), normalisation only.

    Runs on the model's device, under the autocast of the training `precision`, so the numbers are the
    ones the trained model actually produces there.
    """
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
