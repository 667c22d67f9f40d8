"""Predictions of a trained model on the corruption suite (reportgen.analysis.corruptions), for robustness.npz.

The suite corrupts the same seeded subset of test images for every model (analysis.corruption_images,
analysis.seed), with every corruption of analysis.corruptions at severities 1 to 5. The model
predicts each corrupted copy, and the clean images, as `reportgen.evaluation.predict` predicts the
test set (normalisation only, the run's precision and device). Predictions are stored, not
accuracies, so that the report and `reportgen verify` compute every accuracy from them.

The corrupted images are the same for every model, so the build generates them once: `compute` takes the
run store's `SharedArrays` (reportgen.analysis.store), which makes each (corruption, severity) of the
suite once, on every core, keeps it under a key of the images' bytes and the suite's settings, and hands
the same arrays to every later model and build. Without it (`shared=None`) they are generated here, one
after another; the predictions are the same either way (tests/test_analysis_robustness.py).

Shapes: C corruptions, S severities, N images; preds (C, S, N).
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
import torch.nn as nn

from reportgen.analysis import INFERENCE_BATCH
from reportgen.analysis.corruptions import BY_NAME, SEVERITIES, corrupt, image_subset
from reportgen.config import Config
from reportgen.data import ImageData
from reportgen.evaluation import predict

if TYPE_CHECKING:
    from reportgen.analysis.store import SharedArrays

SHARED_NAME = "corrupted"  # the stem of the suite's arrays in the run store's shared folder


def predicted_classes(model: nn.Module, images: np.ndarray, config: Config, precision: str) -> np.ndarray:
    """Predicted class of each uint8 image (N, 3, H, W): (N,) int64."""
    probs = predict(model, torch.from_numpy(images), config.data.mean, config.data.std, INFERENCE_BATCH, precision)
    return probs.argmax(axis=1).astype(np.int64)


def corrupted_suite(images: np.ndarray, config: Config, shared: "SharedArrays | None" = None) -> Iterator[np.ndarray]:
    """Every corruption of analysis.corruptions at every severity of uint8 `images` (N, 3, H, W), one corruption at a
    time in config order: uint8 (S * N, 3, H, W), severities 1..5 one after another. From `shared` when given (made
    once, in parallel, kept in the run store), else generated here."""
    seed, names = config.analysis.seed, config.analysis.corruptions
    if shared is None:
        def corrupted(name: str, severity: int) -> np.ndarray:
            return corrupt(images, name, severity, seed)
    else:
        tasks = [(name, s) for name in names for s in SEVERITIES]
        digest = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()  # the images themselves
        identities = [{"images": digest, "shape": list(images.shape), "corruption": name, "severity": s, "seed": seed}
                      for name, s in tasks]
        makers = [functools.partial(corrupt, images, name, s, seed) for name, s in tasks]
        made = dict(zip(tasks, shared.get(SHARED_NAME, identities, makers)))  # memory-mapped: read when predicted

        def corrupted(name: str, severity: int) -> np.ndarray:
            return made[name, severity]
    for name in names:
        yield np.concatenate([corrupted(name, s) for s in SEVERITIES])


def corrupted_predictions(model: nn.Module, images: np.ndarray, config: Config, precision: str,
                          shared: "SharedArrays | None" = None) -> np.ndarray:
    """Predictions on every corruption and severity of `images`: (C, S, N), in config order and severities 1..5."""
    preds = np.empty((len(config.analysis.corruptions), len(SEVERITIES), len(images)), dtype=np.int64)
    for c, suite in enumerate(corrupted_suite(images, config, shared)):
        # All severities of a corruption in one call: fewer, fuller batches.
        preds[c] = predicted_classes(model, suite, config, precision).reshape(len(SEVERITIES), len(images))
    return preds


def compute(model: nn.Module, config: Config, data: ImageData, run: dict[str, Any],
            shared: "SharedArrays | None" = None) -> dict[str, np.ndarray]:
    """The suite's predictions and what they refer to, as stored in robustness.npz (plain arrays only); the corrupted
    images from the run store's `shared` arrays when given (the build), else generated here."""
    a, precision = config.analysis, run["precision"]
    if config.train.channels_last and getattr(model, "prefers_channels_last", False):
        model.to(memory_format=torch.channels_last)  # as it trained: NHWC convolutions run faster on CPUs and GPUs
    indices = image_subset(len(data.test_y), a.corruption_images, a.seed)
    images = data.test_x[indices].numpy()
    return {
        "indices": indices,
        "labels": data.test_y[indices].numpy().astype(np.int64),
        "corruptions": np.array(a.corruptions),
        "families": np.array([BY_NAME[name].family for name in a.corruptions]),
        "severities": np.array(SEVERITIES, dtype=np.int64),
        "clean_preds": predicted_classes(model, images, config, precision),
        "preds": corrupted_predictions(model, images, config, precision, shared),
        "seed": np.int64(a.seed),
    }


def settings(config: Config, device: str) -> dict[str, Any]:
    """What the suite's predictions depend on beyond the run."""
    a = config.analysis
    return {"images": a.corruption_images, "seed": a.seed, "corruptions": list(a.corruptions),
            "severities": list(SEVERITIES)}
