"""Predictions from a model: the test set's class probabilities, the clean accuracies of the training and
validation splits, and what the figures need from inside it.

All run on the model's device under the autocast of the run's precision, in eval mode (no dropout; BatchNorm
with its running statistics) and with normalisation only (no augmentation), so the numbers are the ones the
trained model computes there (the test metrics computed from them: reportgen.metrics).
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.config import Config
from reportgen.data import ImageData, clean_training_indices, normalize
from reportgen.runtime import Runtime, autocast

# The clean training accuracy is measured on at most this many training images (all of them on the sample and at
# smaller fractions; a class-proportional draw of 10,000 of CIFAR-10's 45,000), drawn with CLEAN_TRAIN_SEED: an
# image-level 95% interval of about ±0.6 points at 90% accuracy, for under a fifth of an epoch's forward passes.
CLEAN_TRAIN_IMAGES = 10_000
CLEAN_TRAIN_SEED = 0


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


def correctness_record(model, images: torch.Tensor, labels: torch.Tensor, config: Config, runtime: Runtime) -> dict:
    """How `model` classifies uint8 images (N, 3, H, W) with labels (N,), in eval mode without augmentation:
    {"images": N, "accuracy": share right, "correct": one character per image, "1" right, "0" wrong}."""
    probs = predict(model.to(runtime.device), images, config.data.mean, config.data.std, config.train.batch_size,
                    runtime.precision)
    correct = probs.argmax(axis=1) == labels.numpy()
    return {"images": int(len(correct)), "accuracy": float(correct.mean()),
            "correct": "".join("1" if right else "0" for right in correct)}


def generalisation_records(model, data: ImageData, config: Config, runtime: Runtime) -> dict:
    """run.json's records for the generalisation gap, measured once training has ended.

    clean_train: the training images as the model classifies them in eval mode, un-augmented (all of them, or
    CLEAN_TRAIN_IMAGES drawn class by class by CLEAN_TRAIN_SEED; `of`: the training split's size), not the running
    average over augmented batches with dropout on that the history's train_acc is. validation: the held-out
    validation split the same way, where data.val_fraction holds one out (else validation is the test split,
    whose predictions are predictions.csv).
    """
    chosen = torch.from_numpy(clean_training_indices(data.train_y, CLEAN_TRAIN_IMAGES, CLEAN_TRAIN_SEED))
    records = {"clean_train": {**correctness_record(model, data.train_x[chosen], data.train_y[chosen], config,
                                                    runtime),
                               "of": len(data.train_y), "seed": CLEAN_TRAIN_SEED}}
    if data.val_y is not None:
        records["validation"] = correctness_record(model, data.val_x, data.val_y, config, runtime)
    return records


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
