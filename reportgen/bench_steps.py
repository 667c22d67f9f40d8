"""Inside one way's benchmark process: its data, its training batches and the measurements it takes.

`reportgen.bench` starts one fresh process per way (the seed's, reportgen's) with `start_way`, then asks
each for the same measurements with `measure`; every measurement records the CPU cores other processes
used meanwhile (reportgen.machine_load), so that a busy machine is told, never mistaken for a slow model.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from reportgen.analysis.efficiency import activation_bytes_per_image, prepared
from reportgen.config import Config, DataConfig
from reportgen.data import (
    ImageData,
    PILImages,
    TensorBatches,
    augment,
    keep_batch,
    load_data,
    normalize,
    seed_transforms,
)
from reportgen.loaders import DeviceBatches
from reportgen.machine_limits import (
    TRAINING_FLOPS_PER_FORWARD,
    compute_dtype,
    measure_limits,
    probe_sizes,
    step_bytes,
    synchronize,
)
from reportgen.machine_load import timed_with_load
from reportgen.models import create_model, model_cost
from reportgen.runtime import Runtime, configure_backends
from reportgen.training import Classifier, fit, prepare_process

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much to measure: the same for both ways."""

    batch_size: int
    steps: int  # timed training steps, at least
    warmup: int  # untimed training steps before them
    min_seconds: float  # and timed for at least this long (GPUs), in whole steps
    augment_seconds: float
    train_images: int | None = None  # a spread-out subset of the training set; None: all of it
    test_images: int | None = None


def benchmark_data(config: Config, data_dir: Path | None, plan: Plan) -> ImageData:
    """The bundled sample (offline), or the ImageFolder tree at data_dir; cut to the plan's subset size."""
    if data_dir is None:
        source = DataConfig(dataset="sample", cache_dir=config.data.cache_dir)
    else:
        source = DataConfig(dataset="folder", dir=str(data_dir), cache_dir=config.data.cache_dir)
    data = load_data(source)
    return dataclasses.replace(data, **_spread_subset(data.train_x, data.train_y, plan.train_images, "train"),
                               **_spread_subset(data.test_x, data.test_y, plan.test_images, "test"))


def _spread_subset(x: torch.Tensor, y: torch.Tensor, size: int | None, split: str) -> dict:
    # Every k-th image: the folders are sorted by class, so a prefix would hold one class only.
    if size is None or size >= len(y):
        return {f"{split}_x": x, f"{split}_y": y}
    step = len(y) // size
    return {f"{split}_x": x[::step][:size], f"{split}_y": y[::step][:size]}


_way: dict = {}  # this worker process's config, data, runtime and plan, set once by start_way


def start_way(config: Config, runtime: Runtime, data_dir: Path | None, plan: Plan) -> None:
    """Set up this worker process the way its way's training process is set up, and load the data."""
    prepare_process(config)  # as fit() does
    _way.update(config=config, data=benchmark_data(config, data_dir, plan), runtime=runtime, plan=plan)


def measure(kind: str, model: str | None) -> dict:
    """One measurement in this way's process: images, seconds, images/s and other processes' CPU load."""
    rate, other_load = timed_with_load(
        lambda: MEASUREMENTS[kind](model, _way["config"], _way["data"], _way["runtime"], _way["plan"]))
    return {**rate, "other_load": other_load}


def machine_limits(quick: bool) -> dict:
    """In this way's process (its threads, its device, its TF32 setting): the machine's limits
    (reportgen.machine_limits) and each model's training-step cost at this way's precision and batch."""
    config, runtime, plan, data = _way["config"], _way["runtime"], _way["plan"], _way["data"]
    configure_backends(config, runtime)  # fp32 matmuls in TF32 exactly where training runs them so
    dtype = compute_dtype(runtime.precision)
    limits, other_load = timed_with_load(lambda: measure_limits(runtime.device, probe_sizes(runtime.device, quick),
                                                                dtype))
    costs = {model: step_cost(model, config, len(data.classes), runtime.device, runtime.precision, plan.batch_size)
             for model in config.models}
    return {"dtype": dtype, "probes": limits, "costs": costs, "other_load": other_load}


def step_cost(model: str, config: Config, classes: int, device: str, precision: str, batch_size: int) -> dict:
    """A training step's work per image: FLOPs (3 forwards, model_cost) and estimated bytes moved
    (reportgen.machine_limits.step_bytes, from the bytes autograd saves at this device and precision)."""
    parameters, forward_flops = model_cost(model, config, classes)
    network = prepared(create_model(model, config, classes), device, config.train.channels_last)
    saved = activation_bytes_per_image(network, device, precision)
    return {"flops_per_image": float(TRAINING_FLOPS_PER_FORWARD * forward_flops),
            "bytes_per_image": float(step_bytes(saved, parameters, batch_size)),
            "saved_bytes_per_image": int(saved), "parameters": int(parameters), "batch_size": batch_size}


def _rate(images: int, seconds: float) -> dict:
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds}


def _training_batches(config: Config, data: ImageData, device: str) -> Iterator[Batch]:
    """Endless shuffled full training batches as each way's loader yields them, on `device`.

    seed: augmented, normalised float batches from the notebook's DataLoader over PIL images.
    reportgen: raw uint8 batches gathered from tensors already on the device (augmented later).
    """
    t = config.train
    if t.pipeline == "seed":
        train_transform, _ = seed_transforms(config.augment, config.data.mean, config.data.std)
        loader = DataLoader(PILImages(data.train_x, data.train_y, train_transform), batch_size=t.batch_size,
                            shuffle=True, num_workers=0, drop_last=True)
    else:
        dataset = TensorBatches(data.train_x.to(device), data.train_y.to(device))
        n = len(dataset) // t.batch_size * t.batch_size  # whole batches only, as the seed's drop_last
        loader = DataLoader(dataset, batch_size=None, collate_fn=keep_batch,
                            sampler=DeviceBatches(lambda: torch.randperm(len(dataset))[:n], n, t.batch_size,
                                                  dataset.device))
    while True:  # a new epoch (and shuffle) whenever the loader runs out
        for x, y in loader:
            yield x.to(device), y.to(device)


def _augmented_batches(config: Config, data: ImageData, device: str) -> Iterator[Batch]:
    """Training batches ready for a model: the seed's loader augments and normalises; reportgen's is raw."""
    for x, y in _training_batches(config, data, device):
        if config.train.pipeline == "fast":
            x = normalize(augment(x, config.augment), config.data.mean, config.data.std)
        yield x, y


def _augmentation_rate(model: str | None, config: Config, data: ImageData, runtime: Runtime, plan: Plan) -> dict:
    """Augmented, normalised training images per second, for at least plan.augment_seconds and 3 batches."""
    device = runtime.device
    batches = _augmented_batches(config, data, device)
    next(batches)  # the first batch pays one-off costs (imports, allocations)
    images, start = 0, time.perf_counter()
    while images < 3 * plan.batch_size or time.perf_counter() - start < plan.augment_seconds:
        images += len(next(batches)[1])
    synchronize(device)
    return _rate(images, time.perf_counter() - start)


def _train_step_rate(model: str, config: Config, data: ImageData, runtime: Runtime, plan: Plan) -> dict:
    """Training images per second: load, prepare, forward, cross-entropy, backward, AdamW step.

    Runs reportgen's own Classifier outside Lightning, so that both ways share one training step and
    differ only in what the config selects: pipeline, precision, memory format and compilation.
    """
    seed, device = config.train.seeds[0], runtime.device
    torch.manual_seed(seed)
    classes = len(data.classes)
    module = Classifier(create_model(model, config, classes), config, seed, classes).to(device)  # compiles as fit()
    module.train()
    optimizer = module.configure_optimizers()["optimizer"]
    configure_backends(config, runtime)
    scaler = torch.amp.GradScaler(device, enabled=runtime.precision == "16-mixed")  # as Lightning's 16-mixed
    batches = _training_batches(config, data, device)
    images, steps, start = 0, 0, 0.0
    for step in itertools.count():
        if step == plan.warmup:
            synchronize(device)
            start = time.perf_counter()
        if step >= plan.warmup + plan.steps:
            synchronize(device)  # the clock reads when the queued steps are done, not when they are queued
            if time.perf_counter() - start >= plan.min_seconds:
                break
        x, y = next(batches)
        with runtime.autocast():  # as Lightning's precision plugin
            loss = module.training_step((x, y), step)  # augments and normalises reportgen's uint8 batches
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if step >= plan.warmup:
            images, steps = images + len(y), steps + 1
    return {**_rate(images, time.perf_counter() - start), "steps": steps}


def _epoch_rate(model: str, config: Config, data: ImageData, runtime: Runtime, plan: Plan) -> dict:
    """One epoch through reportgen.training.fit, validation and checkpoint included, in a fresh folder."""
    seed = config.train.seeds[0]
    torch.manual_seed(seed)
    network = create_model(model, config, len(data.classes))
    with tempfile.TemporaryDirectory(prefix="reportgen-bench-") as tmp:  # fresh: fit would resume from last.ckpt
        start = time.perf_counter()
        fit(network, data, config, runtime, seed, Path(tmp) / "checkpoints", label=model, progress=False)
        seconds = time.perf_counter() - start
    return _rate(len(data.train_y), seconds)


# kind -> measurement; every one takes (model, config, data, runtime, plan) and returns a _rate dict.
MEASUREMENTS = {"augmentation": _augmentation_rate, "train_step": _train_step_rate, "epoch": _epoch_rate}
