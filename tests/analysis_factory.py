"""Synthetic analysis files of a run (efficiency.json, robustness.npz, explanations.npz), and the bundle's
interleaved timings (timings.json), for bundle_factory.

Each file has the layout docs/bundle.md gives and numbers a test controls: a model's costs and
timings, its accuracy on each corruption (exact: that share of the corrupted images is right), and
how fast its deletion curves fall. Swapping two models' options swaps every comparison of the
analysis sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from reportgen import analyses as registry
from reportgen.analysis.corruptions import BY_NAME, SEVERITIES, image_subset
from reportgen.bundle import write_json
from reportgen.config import CORRUPTIONS

ANALYSES = tuple(registry.ANALYSES)  # every analysis's name: all of them switched on
DEFAULT_COSTS = {  # close to the seed models on a CPU: the CNN costs less on every measure
    "cnn": {"mflops": 81.7, "attention_mflops": 0.0, "activation_mb": 1.41, "peak_mb": 204.0, "batch_s": 0.05,
            "latency_s": 0.002, "step_s": 0.2},
    "vit": {"mflops": 167.1, "attention_mflops": 13.0, "activation_mb": 3.65, "peak_mb": 499.3, "batch_s": 0.12,
            "latency_s": 0.004, "step_s": 0.5},
}
STEP_S = 0.3  # a training step's seconds for a cost entry without "step_s"
DEFAULT_CORRUPTED = {"cnn": 0.60, "vit": 0.45}  # accuracy on every corrupted copy, at the middle severity
DEFAULT_DELETION_RATES = {"cnn": 4.0, "vit": 2.0}  # how fast the salient-first curve falls: higher is more faithful
TIMED_PASSES = 7
ROBUSTNESS_IMAGES = 200
EXPLAINED_PER_CLASS = 2
DELETION_STEPS = 16


@dataclass(frozen=True)
class AnalysisOptions:
    """Which analysis files to write, and the numbers in them (per model key)."""

    analyses: tuple[str, ...] = ()
    costs: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_COSTS)
    corrupted: Mapping[str, float] = field(default_factory=lambda: DEFAULT_CORRUPTED)
    per_corruption: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (model, corruption) -> accuracy
    # model -> share of the images it classifies correctly when clean whose every corrupted copy stays right (the
    # rest, and every image wrong when clean, wrong under corruption): sets its relative robustness exactly
    kept: Mapping[str, float] = field(default_factory=dict)
    deletion_rates: Mapping[str, float] = field(default_factory=lambda: DEFAULT_DELETION_RATES)
    peak_measured: bool = True
    other_load: float = 0.0  # CPU cores other processes used while the passes were timed (in every block)
    block_loads: Sequence[float] | None = None  # per block instead, one per timing block of each seed
    load_known: bool = True  # False: timings.json records no load (a machine without /proc/stat)
    timings: bool = True  # with efficiency: write the bundle's timings.json (interleaved timings)
    timing_blocks: int = 8  # blocks per seed


Predict = Callable[[np.random.Generator, np.ndarray, float, int], np.ndarray]  # bundle_factory._predictions


def write_analyses(folder: Path, rng: np.random.Generator, model: str, labels: np.ndarray, preds: np.ndarray,
                   k: int, options: AnalysisOptions, predict: Predict, batch_size: int) -> None:
    """Write the requested analysis files of one run into its bundle folder."""
    if "efficiency" in options.analyses:
        write_json(folder / registry.EFFICIENCY.filename, efficiency(rng, options, model, batch_size))
    if "robustness" in options.analyses:
        np.savez(folder / registry.ROBUSTNESS.filename, **robustness(rng, options, model, labels, preds, k, predict))
    if "explanations" in options.analyses:
        np.savez(folder / registry.EXPLANATIONS.filename, **explanations(rng, options, model, labels, k))


def efficiency(rng: np.random.Generator, options: AnalysisOptions, model: str, batch_size: int) -> dict:
    c = options.costs[model]
    flops = {"aten.convolution": int(c["mflops"] * 1e6 * 0.5), "total": int(c["mflops"] * 1e6)}
    if c["attention_mflops"]:
        flops["aten.bmm"] = int(c["attention_mflops"] * 1e6)
    timed = lambda seconds: [float(seconds * (1 + rng.uniform(-0.02, 0.02))) for _ in range(TIMED_PASSES)]  # noqa
    return {
        "device": "cpu", "device_name": "Synthetic CPU", "threads": 2, "precision": "32", "batch_size": batch_size,
        "parameters": 0, "flops_per_image": flops, "activation_bytes_per_image": int(c["activation_mb"] * 1e6),
        "activation_batch_sizes": [2, 4],
        "peak_step_bytes": int(c["peak_mb"] * 1e6) if options.peak_measured else None,
        "peak_method": "peak bytes of live tensors (synthetic)" if options.peak_measured else "not measured",
        "warmup": 2, "batch_s": timed(c["batch_s"]), "latency_s": timed(c["latency_s"]),
        "other_load_cores": options.other_load,
    }


def write_timings(root: Path, options: AnalysisOptions, models: Sequence[str], seeds: Sequence[int],
                  batch_size: int) -> None:
    """The bundle's timings.json when efficiency is on: each block's times are the model's (costs) times a speed
    the machine had in that block, common to both models, times ±2% per model."""
    if "efficiency" not in options.analyses or not options.timings:
        return
    rng = np.random.default_rng(7)
    blocks = options.timing_blocks * len(seeds)
    machine = rng.uniform(0.7, 1.4, (blocks, 1))  # (B, 1): the drift of the machine's speed, shared in a block
    noise = lambda: rng.uniform(0.98, 1.02, (blocks, len(models)))  # noqa: E731
    times = {field: np.array([[options.costs[m].get(field, STEP_S) for m in models]]) * machine * noise()
             for field in ("batch_s", "latency_s", "step_s")}
    loads = list(options.block_loads) if options.block_loads is not None else [options.other_load] * blocks
    order = [list(range(len(models)))[:: 1 if b % 2 == 0 else -1] for b in range(options.timing_blocks)]
    write_json(root / registry.TIMINGS.filename, {
        "device": "cpu", "device_name": "Synthetic CPU", "threads": 1, "precision": "32", "batch_size": batch_size,
        "warmup": 2, "repeats": 7, "models": list(models), "block_seeds": [s for s in seeds
                                                                           for _ in range(options.timing_blocks)],
        "order": order * len(seeds), "inference_s": times["batch_s"].tolist(), "latency_s": times["latency_s"].tolist(),
        "step_s": times["step_s"].tolist(), "other_load_cores": loads if options.load_known else None,
    })


def robustness(rng: np.random.Generator, options: AnalysisOptions, model: str, labels: np.ndarray,
               preds: np.ndarray, k: int, predict: Predict) -> dict:
    """Exactly accuracy(c, s) × N right predictions per corruption and severity, falling 4 points a severity."""
    indices = image_subset(len(labels), ROBUSTNESS_IMAGES, 0)
    subset = labels[indices]
    if model in options.kept:
        cells = _kept_predictions(rng, subset, preds[indices], options.kept[model], k)
    else:
        cells = np.stack([
            np.stack([predict(rng, subset, float(np.clip(_level(options, model, name) - 0.04 * (s - 3), 0, 1)), k)
                      for s in SEVERITIES])
            for name in CORRUPTIONS])
    return {"indices": indices, "labels": subset, "corruptions": np.array(CORRUPTIONS),
            "families": np.array([BY_NAME[name].family for name in CORRUPTIONS]),
            "severities": np.array(SEVERITIES, dtype=np.int64), "clean_preds": preds[indices], "preds": cells,
            "seed": np.int64(0)}


def _kept_predictions(rng: np.random.Generator, labels: np.ndarray, clean_preds: np.ndarray, share: float,
                      k: int) -> np.ndarray:
    """(C, S, N) predictions right, in every corruption and severity, on exactly round(share × right-when-clean) of
    the images right when clean (drawn afresh for each), and wrong everywhere else."""
    right_clean = np.flatnonzero(clean_preds == labels)
    preds = np.broadcast_to((labels + 1) % k, (len(CORRUPTIONS), len(SEVERITIES), len(labels))).copy()
    for cell in np.ndindex(preds.shape[:2]):
        stays = rng.permutation(right_clean)[:round(share * len(right_clean))]
        preds[cell][stays] = labels[stays]
    return preds


def _level(options: AnalysisOptions, model: str, corruption: str) -> float:
    return options.per_corruption.get((model, corruption), options.corrupted[model])


def explanations(rng: np.random.Generator, options: AnalysisOptions, model: str, labels: np.ndarray, k: int) -> dict:
    """Deletion curves p0 exp(-rate x) (salient first) against a straight fall to 0.4 p0 (random orders)."""
    indices = np.concatenate([np.flatnonzero(labels == c)[:EXPLAINED_PER_CLASS] for c in range(k)])
    m = len(indices)
    fractions = np.linspace(0, 1, DELETION_STEPS + 1)
    start = rng.uniform(0.5, 0.9, (m, 1))
    noise = lambda: rng.normal(0, 0.01, (m, len(fractions)))  # noqa: E731
    deletion = start * np.exp(-options.deletion_rates[model] * fractions) + noise()
    random = start * (1 - 0.6 * fractions) + noise()
    side = 8 if model == "cnn" else 4
    return {
        "method": np.array("Grad-CAM" if model == "cnn" else "attention rollout"), "indices": indices,
        "labels": labels[indices], "predictions": labels[indices],
        "images": rng.integers(0, 256, (m, 3, 32, 32), dtype=np.uint8),
        "saliency": rng.random((m, side, side)).astype(np.float32),
        "grid_saliency": rng.random((m, 8, 8)).astype(np.float32), "fractions": fractions,
        "deletion": np.clip(deletion, 0, 1).astype(np.float32), "random_deletion": np.clip(random, 0, 1).astype(
            np.float32), "random_orders": np.int64(3),
        # the shared occlusion method: falls as fast as the model's own method
        "occlusion_saliency": rng.random((m, 8, 8)).astype(np.float32),
        "occlusion_deletion": np.clip(start * np.exp(-options.deletion_rates[model] * fractions) + noise(), 0,
                                      1).astype(np.float32),
    }
