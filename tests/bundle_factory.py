"""Synthetic, schema-valid results bundles for the render-side tests (numpy only, no torch).

`make_bundle` writes every file docs/bundle.md lists. Predictions come from a controllable
per-model accuracy (exactly that share of the test images is right, so a test can set the accuracy
difference between two models exactly), and metrics.json is computed from them with the project's own
`compute_metrics`, so a report rendered from the bundle can be checked against predictions.csv.
The histories end at the measured test accuracy, as in a real bundle (validation is the test split).
`origin="evaluated"` writes runs as `reportgen evaluate` does (no history, the weights' sha256), and
`submission` makes bundles of the same settings differ in predictions and weights, as two students' do.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reportgen.bundle import write_history, write_json, write_manifest, write_predictions
from reportgen.config import Config, TrainConfig
from reportgen.config_loading import config_from_dict, save_config
from reportgen.metrics import compute_metrics
from tests.analysis_factory import AnalysisOptions, write_analyses, write_timings

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DISPLAY_NAMES = {"cnn": "CNN", "vit": "ViT"}
DEFAULT_ACCURACIES = {"cnn": 0.85, "vit": 0.72}
DEFAULT_EPOCH_TIMES = {"cnn": 2.0, "vit": 3.0}  # seconds per epoch
DEFAULT_TRAIN_GAPS = {"cnn": 0.02, "vit": 0.12}  # final train accuracy minus final val accuracy
SEED_JITTER = 0.01  # per-seed spread of the accuracy, so several seeds give a non-zero std


def make_bundle(
    root: Path,
    *,
    models: Sequence[str] = ("cnn", "vit"),
    seeds: Sequence[int] = (42,),
    accuracies: Mapping[str, float] = DEFAULT_ACCURACIES,
    epoch_times: Mapping[str, float] = DEFAULT_EPOCH_TIMES,
    train_gaps: Mapping[str, float] = DEFAULT_TRAIN_GAPS,
    seed_jitter: float = SEED_JITTER,
    class_names: Sequence[str] | None = None,
    num_classes: int = 10,
    epochs: int = 5,
    train_size: int = 2000,
    test_size: int = 600,
    config_overrides: Mapping[str, Any] | None = None,
    origin: str = "trained",
    submission: int | None = None,
    analyses: AnalysisOptions = AnalysisOptions(),
    curves: Mapping[str, str] | None = None,
    variants: Mapping[str, "VariantSpec"] | None = None,
    clean_gaps: Mapping[str, float] | None = None,
    val_size: int = 0,
    seed_accuracies: Mapping[str, Sequence[float]] | None = None,
) -> Path:
    """Write a complete synthetic bundle into `root` (created) and return `root`.

    `accuracies`, `epoch_times` and `train_gaps` are per model key; swapping two models' values
    swaps every comparative result of the report. Each seed's accuracy is drawn uniformly within
    ±`seed_jitter` of the model's. `class_names` defaults to the CIFAR-10 names when `num_classes`
    is 10, else to class_0..class_{K-1}. `config_overrides` sets dotted config keys (e.g.
    {"train.lr": 5e-4}), as `--set` does. `origin` is "trained" or "evaluated"; a `submission` number
    draws other predictions and writes other weights bytes (None: those of every other bundle).
    `analyses` adds the build-time analysis files it names (tests/analysis_factory.py; none by default).
    `curves` shapes a model's validation curves (see `_history`); `variants` adds config variants with their
    runs under variants/<name>/ (`VariantSpec`: the keys it changes and each model's accuracy).
    `clean_gaps` (per model: clean training accuracy minus validation accuracy, a fraction) writes run.json's
    clean_train record, as a build since the clean gap was measured does (None: none, as older bundles); `val_size`
    adds a held-out validation record of that many images at the run's test accuracy, and sets data.val_fraction
    to 0.1 unless `config_overrides` sets it.
    `seed_accuracies` sets a model's accuracy seed by seed (one per seed, in `seeds` order) instead of the jittered
    draw, so that a test can make the seeds disagree exactly.
    """
    names = list(class_names) if class_names is not None else _default_class_names(num_classes)
    root.mkdir(parents=True, exist_ok=True)
    variants = dict(variants or {})
    overrides = {**({"data.val_fraction": 0.1} if val_size else {}), **(config_overrides or {})}
    config = _config(models, seeds, epochs, overrides, {n: dict(v.changes) for n, v in variants.items()})
    save_config(config, root / "config.yaml")
    _write_static_files(root, config, names, train_size, test_size, val_size)
    architectures = _architectures(config, len(names))
    write_json(root / "architectures.json", architectures)
    for model in models:
        for seed in seeds:
            entropy = [seed, list(DISPLAY_NAMES).index(model)] + ([submission] if submission is not None else [])
            rng = np.random.default_rng(entropy)
            accuracy = float(np.clip(accuracies[model] + rng.uniform(-seed_jitter, seed_jitter), 0.0, 1.0))
            if seed_accuracies is not None and model in seed_accuracies:
                accuracy = seed_accuracies[model][list(seeds).index(seed)]  # the draw above keeps the rng's stream
            _write_run(root / "runs" / model / f"seed-{seed}", rng, model=model, seed=seed, names=names,
                       accuracy=accuracy, epoch_time=epoch_times[model], train_gap=train_gaps[model],
                       epochs=epochs, test_size=test_size, config=config,
                       parameters=architectures[model]["parameters"], origin=origin,
                       weights=b"not a real state dict" + (b" %d" % submission if submission is not None else b""),
                       analyses=analyses, curve=(curves or {}).get(model, "saturating"), train_images=train_size,
                       clean=CleanSpec((clean_gaps or {}).get(model), val_size))
    write_timings(root, analyses, models, seeds, config.train.batch_size)
    for name, spec in variants.items():
        _write_variant(root, name, spec, config, names, architectures, test_size, train_size, epoch_times)
    write_manifest(root)
    return root


@dataclass(frozen=True)
class VariantSpec:
    """A config variant of a synthetic bundle: the dotted keys it changes, and each model's accuracy under it."""

    changes: Mapping[str, Any]
    accuracies: Mapping[str, float]
    train_gaps: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TRAIN_GAPS))
    seed_jitter: float = SEED_JITTER
    curves: Mapping[str, str] = field(default_factory=dict)
    clean_gaps: Mapping[str, float] | None = None  # as make_bundle's: the variant's runs' clean gaps


@dataclass(frozen=True)
class CleanSpec:
    """A run's clean-gap records: its clean gap (None: no record) and the held-out validation images (0: none)."""

    gap: float | None = None
    val_size: int = 0


def _write_variant(root: Path, name: str, spec: VariantSpec, config: Config, names: list[str], architectures: dict,
                   test_size: int, train_size: int, epoch_times: Mapping[str, float]) -> None:
    """The variant's runs, as a build copies them into the bundle: results and history, no weights or probes."""
    variant = config.variant(name)
    images = max(1, round(variant.data.train_fraction * train_size / config.data.train_fraction))
    for model in variant.models:
        for seed in variant.train.seeds:
            rng = np.random.default_rng([seed, list(DISPLAY_NAMES).index(model), zlib.crc32(name.encode())])
            accuracy = float(np.clip(spec.accuracies[model] + rng.uniform(-spec.seed_jitter, spec.seed_jitter), 0, 1))
            folder = root / "variants" / name / model / f"seed-{seed}"
            _write_run(folder, rng, model=model, seed=seed, names=names, accuracy=accuracy,
                       epoch_time=epoch_times[model] * images / train_size, train_gap=spec.train_gaps[model],
                       epochs=variant.train.epochs, test_size=test_size, config=variant,
                       parameters=architectures[model]["parameters"], origin="trained", weights=None,
                       analyses=AnalysisOptions(), curve=spec.curves.get(model, "saturating"), train_images=images,
                       variant=name, clean=CleanSpec((spec.clean_gaps or {}).get(model)))


def _config(models: Sequence[str], seeds: Sequence[int], epochs: int, overrides: Mapping[str, Any],
            variants: dict[str, dict[str, Any]]) -> Config:
    raw = Config(models=list(models), train=TrainConfig(epochs=epochs, seeds=list(seeds))).to_dict()
    raw["variants"] = variants
    for dotted, value in overrides.items():
        *sections, name = dotted.split(".")
        target = raw
        for section in sections:
            target = target[section]
        target[name] = value
    return config_from_dict(raw)  # validates the overrides as a user's config would be


def _default_class_names(k: int) -> list[str]:
    return list(CIFAR10_CLASSES) if k == len(CIFAR10_CLASSES) else [f"class_{i}" for i in range(k)]


BUILT = "2026-01-02T03:04:05+00:00"  # the synthetic build time in environment.json


def _write_static_files(root: Path, config: Config, names: list[str], train_size: int, test_size: int,
                        val_size: int = 0) -> None:
    write_json(root / "environment.json", {
        "python": "3.11.7", "torch": "2.5.1", "torchvision": "0.20.1", "lightning": "2.4.0",
        "platform": "Linux-x86_64", "device": "cpu", "device_name": "Synthetic CPU", "num_threads": 2,
        "precision": "32", "reportgen": "0.0.0", "created": BUILT,
    })
    write_json(root / "dataset.json", {
        "source": "synthetic", "classes": names, "train_size": train_size, "test_size": test_size,
        **({"val_size": val_size} if val_size else {}), "fingerprint": "0" * 64,
    })
    _write_samples(root / "samples.npz", len(names), config.report.sample_index)


def _class_image(rng: np.random.Generator, label: int, k: int) -> np.ndarray:
    """A 3x32x32 uint8 image: a colour gradient whose hue depends on the class, plus noise."""
    ramp = np.linspace(0.0, 1.0, 32)
    hue = 2 * math.pi * label / k
    channels = [128 + 100 * math.cos(hue + shift) * np.outer(ramp, ramp[::-1]) for shift in (0, 2.1, 4.2)]
    image = np.stack(channels) + rng.normal(0, 12, (3, 32, 32))
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_samples(path: Path, k: int, focus_index: int) -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(k, dtype=np.int64)
    test = np.stack([_class_image(rng, i, k) for i in labels])
    augmented = np.flip(np.stack([_class_image(rng, i, k) for i in labels]), axis=3).copy()
    np.savez(path, train_augmented=augmented, train_labels=labels, test=test, test_labels=labels,
             focus_image=test[min(1, k - 1)], focus_label=np.int64(min(1, k - 1)), focus_index=np.int64(focus_index))


def _layer(name: str, kind: str, shape: list[int], parameters: int) -> dict:
    return {"name": name, "type": kind, "output_shape": shape, "parameters": parameters}


def _architectures(config: Config, k: int) -> dict:
    """Plausible layer tables; totals are the sum of their layers."""
    widths = [3, *config.cnn.channels]
    cnn_layers = [_layer("whiten", "BatchNorm2d", [3, 32, 32], 6)]
    side = 32
    for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
        block = 9 * cin * cout + 9 * cout * cout + 6 * cout + (cin * cout + 3 * cout if cin != cout else 0)
        cnn_layers.append(_layer(f"features.{3 * i}", "ResBlock", [cout, side, side], block))
        side //= 2
        cnn_layers.append(_layer(f"features.{3 * i + 1}", "MaxPool2d", [cout, side, side], 0))
        cnn_layers.append(_layer(f"features.{3 * i + 2}", "Dropout", [cout, side, side], 0))
    flat = widths[-1] * side * side
    cnn_layers.append(_layer("classifier", "Sequential", [k], flat * config.cnn.hidden_dim
                             + config.cnn.hidden_dim * (k + 1) + k))
    v = config.vit
    tokens = (32 // v.patch_size) ** 2 + 1
    encoder = 4 * v.embed_dim * v.embed_dim + 2 * v.embed_dim * v.mlp_dim + 9 * v.embed_dim + v.mlp_dim
    vit_layers = [_layer("patch_embed", "PatchEmbedding", [tokens, v.embed_dim],
                         3 * v.patch_size ** 2 * v.embed_dim + (tokens + 2) * v.embed_dim)]
    vit_layers += [_layer(f"encoder.{i}", "EncoderLayer", [tokens, v.embed_dim], encoder) for i in range(v.depth)]
    vit_layers += [_layer("norm", "LayerNorm", [v.embed_dim], 2 * v.embed_dim),
                   _layer("head", "Linear", [k], v.embed_dim * k + k)]
    return {
        key: {"display_name": DISPLAY_NAMES[key], "parameters": sum(layer["parameters"] for layer in layers),
              "layers": layers}
        for key, layers in (("cnn", cnn_layers), ("vit", vit_layers))
    }


def _predictions(rng: np.random.Generator, labels: np.ndarray, accuracy: float, k: int) -> np.ndarray:
    """Exactly round(accuracy × N) right predictions, on random images; wrong ones favour the next class."""
    right = np.zeros(len(labels), dtype=bool)
    right[rng.permutation(len(labels))[:round(accuracy * len(labels))]] = True
    neighbour = rng.random(len(labels)) < 0.5
    other = (labels + rng.integers(1, k, len(labels))) % k
    wrong = np.where(neighbour, (labels + 1) % k, other)
    return np.where(right, labels, wrong).astype(np.int64)


def _probabilities(rng: np.random.Generator, preds: np.ndarray, k: int) -> np.ndarray:
    logits = rng.normal(0, 1, (len(preds), k))
    logits[np.arange(len(preds)), preds] = logits.max(axis=1) + 1.0  # the prediction is the clear argmax
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


CURVES = ("saturating", "rising", "flat", "falling")


def _val_acc(final: float, progress: float, curve: str, epoch: int, seed: int = 0) -> float:
    """Validation accuracy at `progress` (epoch / epochs) of a curve ending at `final`.

    saturating: rises ever more slowly (the default); rising: rises at a constant rate to the end; flat: reaches
    `final` by a third of training, then stays within ±0.02 points, a wiggle whose sign alternates with the seed's
    parity (so that several seeds' final slopes scatter around 0, as real runs' do); falling: peaks mid-training,
    then declines.
    """
    if curve == "saturating":
        return final * (0.45 + 0.55 * (1 - math.exp(-3 * progress)) / (1 - math.exp(-3)))
    if curve == "rising":
        return final * (0.45 + 0.55 * progress)
    if curve == "flat":
        wiggle = 0.0002 * math.sin(7 * epoch) * (-1) ** seed if progress < 1 else 0.0
        return final * min(1.0, 0.45 + 0.55 * 3 * progress) + wiggle
    if curve == "falling":
        return final * (1 + 0.1 * (1 - 2 * abs(progress - 0.5)))
    raise ValueError(f"unknown curve {curve!r}: one of {', '.join(CURVES)}")


def _history(final_val_acc: float, train_gap: float, epoch_time: float, epochs: int, lr: float,
             curve: str = "saturating", seed: int = 0) -> list[dict]:
    """Curves of the shape `curve` (`_val_acc`) ending at `final_val_acc`, train accuracy ending `train_gap` above."""
    rows = []
    for epoch in range(1, epochs + 1):
        progress = epoch / epochs
        val_acc = _val_acc(final_val_acc, progress, curve, epoch, seed)
        train_acc = min(0.999, val_acc + train_gap * progress)
        rows.append({
            "epoch": epoch, "train_loss": 2.3 * (1 - train_acc) + 0.05, "train_acc": train_acc,
            "val_loss": 2.3 * (1 - val_acc) + 0.1, "val_acc": val_acc,
            "lr": lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs)),
            "epoch_time_s": epoch_time * (1 + 0.02 * math.sin(epoch)),
        })
    return rows


CLEAN_TRAIN_IMAGES = 1000  # the synthetic clean_train record's images (at most), to keep run.json small


def _correct_text(rng: np.random.Generator, n: int, accuracy: float) -> str:
    """One character per image, "1" for exactly round(accuracy × n) of them at random positions, "0" else."""
    right = np.zeros(n, dtype=bool)
    right[rng.permutation(n)[:int(np.clip(round(accuracy * n), 0, n))]] = True
    return "".join("1" if r else "0" for r in right)


def _record(rng: np.random.Generator, n: int, accuracy: float) -> dict:
    text = _correct_text(rng, n, accuracy)
    return {"images": n, "accuracy": text.count("1") / n, "correct": text}


def _clean_records(rng: np.random.Generator, clean: CleanSpec, val_accuracy: float, train_images: int) -> dict:
    """run.json's clean_train (and validation) records, as evaluation.generalisation_records writes them."""
    if clean.gap is None:
        return {}
    records = {}
    if clean.val_size:
        records["validation"] = _record(rng, clean.val_size, val_accuracy)
        val_accuracy = records["validation"]["accuracy"]
    n = min(train_images, CLEAN_TRAIN_IMAGES)
    records["clean_train"] = {**_record(rng, n, val_accuracy + clean.gap), "of": train_images, "seed": 0}
    return records


def _visuals(rng: np.random.Generator, model: str, config: Config) -> dict[str, np.ndarray]:
    if model == "cnn":
        return {f"stage_{s}": np.maximum(rng.normal(0, 1, (ch, 32 >> (s - 1), 32 >> (s - 1))), 0).astype(np.float32)
                for s, ch in enumerate(config.cnn.channels, start=1)}
    grid = 32 // config.vit.patch_size
    logits = rng.normal(0, 1.5, (config.vit.num_heads, grid * grid + 1))
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # softmax over CLS + patches
    return {"cls_attention": weights[:, 1:].reshape(config.vit.num_heads, grid, grid).astype(np.float32)}


def _write_run(folder: Path, rng: np.random.Generator, *, model: str, seed: int, names: list[str],
               accuracy: float, epoch_time: float, train_gap: float, epochs: int, test_size: int,
               config: Config, parameters: int, origin: str, weights: bytes | None,
               analyses: AnalysisOptions, curve: str, train_images: int, variant: str | None = None,
               clean: CleanSpec = CleanSpec()) -> None:
    """One run's files; a variant's run (`weights` None) has no weights, probes or analyses, as a build writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    k = len(names)
    labels = np.arange(test_size, dtype=np.int64) % k
    preds = _predictions(rng, labels, accuracy, k)
    metrics = compute_metrics(labels, preds, names)
    history = _history(metrics["accuracy"], train_gap, epoch_time, epochs, config.train.lr, curve, seed)
    write_predictions(folder / "predictions.csv", labels, preds, _probabilities(rng, preds, k))
    write_json(folder / "metrics.json", metrics)
    info = {"model": model, "display_name": DISPLAY_NAMES[model], "seed": seed, "parameters": parameters,
            "key": f"synthetic-{model}-{seed}", "status": "trained", "device": "cpu", "precision": "32"}
    if origin == "evaluated":
        info.update(origin="evaluated", status="evaluated", weights_sha256=hashlib.sha256(weights).hexdigest(),
                    weights_source=f"{model}.pt")
    else:
        write_history(folder / "history.csv", history)
        info.update(train_time_s=sum(row["epoch_time_s"] for row in history), epochs=epochs,
                    train_images=train_images, **_clean_records(rng, clean, metrics["accuracy"], train_images))
    if variant is not None:
        info["variant"] = variant
    write_json(folder / "run.json", info)
    if weights is None:
        return
    (folder / "weights.pt").write_bytes(weights)
    np.savez(folder / "visuals.npz", **_visuals(rng, model, config))
    write_analyses(folder, rng, model, labels, preds, k, analyses, _predictions, config.train.batch_size)
