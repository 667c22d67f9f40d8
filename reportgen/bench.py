"""`reportgen bench`: the seed notebook's training pipeline against reportgen's, on this machine.

Every measurement is taken both ways in one run, so that their ratio (reportgen / seed) compares
like with like on the same hardware and under the same load:

- augmentation: augmented, normalised training images per second. The seed's way is the notebook's
  torchvision PIL transforms through a DataLoader (num_workers=0), one image at a time; reportgen's
  way gathers a whole uint8 batch at once (TensorBatches) and augments and normalises it on the device.
- training steps (per model): images per second through forward, cross-entropy, backward and an
  AdamW step, including the loading and augmentation of every batch. The seed's way is fp32, eager,
  NCHW, fed by its PIL loader; reportgen's way is its default for the device (bf16 autocast where
  the hardware has it, channels_last for the CNN, torch.compile only when configured).
- one epoch end to end (per model): `reportgen.training.fit` for one epoch, validation included,
  with `train.pipeline: seed`, fp32 and NCHW for the seed's way and the config's settings for ours.

Both ways run the same model classes and reportgen's own LightningModule (`Classifier`), so the
ratios measure the data pipeline and execution settings, nothing else.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from reportgen.build import describe_environment
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
from reportgen.errors import DataError
from reportgen.models import MODEL_REGISTRY, create_model
from reportgen.training import (
    Classifier,
    fit,
    quiet_lightning,
    resolve_device,
    resolve_precision,
)

WAYS = ("seed", "reportgen")
DEFAULT_STEPS = 5  # timed training steps per model and way; the seed's CNN takes ~7 s per step of 1024 on 2 cores
WARMUP_STEPS = 2  # untimed first steps: oneDNN picks and caches its kernels, autocast caches bf16 weights
AUGMENT_MIN_SECONDS = 2.0  # augmentation is timed for at least this long (and at least 3 batches) per way

# `quick` is for tests and smoke checks: tiny batches and data, so that the whole run takes seconds.
QUICK = {"batch_size": 16, "steps": 2, "warmup": 1, "train_images": 128, "test_images": 32, "augment_seconds": 0.1}

# The project's speed goals on a 2-core CPU (issue 3), as minimum ratios reportgen / seed.
GOALS = {"augmentation": 20.0, "train_step_cnn": 3.0, "train_step_vit": 2.0, "epoch_cnn": 3.0, "epoch_vit": 2.0}

Batch = tuple[torch.Tensor, torch.Tensor]
Log = Callable[[str], None]


@dataclasses.dataclass
class Rate:
    """`images` processed in `seconds` of wall-clock time."""

    images: int
    seconds: float

    def as_dict(self) -> dict:
        return {"images": self.images, "seconds": self.seconds, "images_per_s": self.images / self.seconds}


def run_benchmark(config: Config, *, data_dir: Path | None = None, steps: int = DEFAULT_STEPS,
                  quick: bool = False, log: Log = print) -> dict:
    """Measure augmentation, training steps and one epoch per model, the seed's way and reportgen's.

    Data: the CIFAR-10 sample bundled with reportgen (4,000 training images), or the ImageFolder tree
    at `data_dir`. Batch size, device, threads, channels_last and compile come from `config.train`.
    Returns plain data (see `format_table`): the machine, the settings, and per measurement the raw
    images and seconds of both ways, images/s, the ratio reportgen / seed and the goal.
    """
    t = config.train
    batch_size = min(t.batch_size, QUICK["batch_size"]) if quick else t.batch_size
    steps = min(steps, QUICK["steps"]) if quick else steps
    warmup = QUICK["warmup"] if quick else WARMUP_STEPS
    if t.num_threads:
        torch.set_num_threads(t.num_threads)  # the same threads for both ways, as fit() would set
    quiet_lightning()
    device = resolve_device(t.device)
    configs = {"seed": _seed_way(config, batch_size), "reportgen": _reportgen_way(config, batch_size)}
    precision = resolve_precision(configs["reportgen"].train.precision, device)
    data = _benchmark_data(config, data_dir, quick)
    _require_full_batch(data, batch_size)
    log(f"reportgen bench: {len(data.train_y):,} training images from {data.source}, batch {batch_size}, "
        f"device {device}, reportgen's precision {precision}")

    augment_seconds = QUICK["augment_seconds"] if quick else AUGMENT_MIN_SECONDS
    measurements = {"augmentation": _compare(
        "augmentation", "augmentation",
        lambda way: _augmentation_rate(configs[way], data, device, augment_seconds), log)}
    for name in config.models:
        measurements[f"train_step_{name}"] = _compare(
            f"train_step_{name}", f"{MODEL_REGISTRY[name][0]} training steps",
            lambda way: _train_step_rate(name, configs[way], data, device, warmup, steps), log)
    for name in config.models:
        measurements[f"epoch_{name}"] = _compare(
            f"epoch_{name}", f"{MODEL_REGISTRY[name][0]} epoch end to end",
            lambda way: _epoch_rate(name, configs[way], data), log)
    return {
        "machine": describe_environment(device, precision),
        "settings": {
            "dataset": data.source, "train_images": len(data.train_y), "test_images": len(data.test_y),
            "batch_size": batch_size, "timed_steps": steps, "warmup_steps": warmup, "models": list(config.models),
            "reportgen": _execution_settings(configs["reportgen"], device),
            "seed": _execution_settings(configs["seed"], device),
        },
        "measurements": measurements,
    }


def format_table(result: dict) -> str:
    """The benchmark result as a plain-text table: one row per measurement, both ways, ratio and goal."""
    m, s = result["machine"], result["settings"]
    lines = [
        f"machine: {m['device_name']}, {m['num_threads']} threads, torch {m['torch']}, device {m['device']}, "
        f"reportgen's precision {m['precision']}",
        f"data: {s['train_images']:,} training and {s['test_images']:,} test images ({s['dataset']}); "
        f"batch {s['batch_size']}; {s['timed_steps']} timed training steps after {s['warmup_steps']} warm-up steps",
        f"seed way: {_describe_settings(s['seed'])}",
        f"reportgen way: {_describe_settings(s['reportgen'])}",
        "",
    ]
    rows = [("measurement", "seed", "reportgen", "ratio", "goal")]
    for key, row in result["measurements"].items():
        seed, ours = row["seed"], row["reportgen"]
        verdict = "met" if row["goal_met"] else "MISSED"
        rows.append((f"{row['title']}, images/s", f"{seed['images_per_s']:,.0f}", f"{ours['images_per_s']:,.0f}",
                     f"{row['ratio']:.1f}x", f">= {row['goal']:g}x {verdict}"))
        if key.startswith("epoch_"):
            rows.append((f"  seconds for {seed['images']:,} images", f"{seed['seconds']:.1f}", f"{ours['seconds']:.1f}",
                         "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append("  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:4], widths[1:4])] + [r[4]])
                     .rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The two ways and the data
# ---------------------------------------------------------------------------------------------

def _seed_way(config: Config, batch_size: int) -> Config:
    """The notebook's execution: PIL transforms through a DataLoader, fp32, eager, NCHW."""
    return _with_train(config, batch_size, pipeline="seed", precision="32", channels_last=False, compile=False)


def _reportgen_way(config: Config, batch_size: int) -> Config:
    """reportgen's execution as configured: uint8 tensors and batched augmentation on the device."""
    return _with_train(config, batch_size, pipeline="fast")


def _with_train(config: Config, batch_size: int, **changes) -> Config:
    # One process, one device, one epoch: a benchmark never shards or resumes.
    train = dataclasses.replace(config.train, batch_size=batch_size, epochs=1, devices=1, num_nodes=1,
                                strategy="auto", **changes)
    return dataclasses.replace(config, train=train)


def _execution_settings(config: Config, device: str) -> dict:
    t = config.train
    return {"pipeline": t.pipeline, "precision": resolve_precision(t.precision, device),
            "channels_last": t.channels_last, "compile": t.compile}


def _describe_settings(settings: dict) -> str:
    layout = "channels_last for the CNN" if settings["channels_last"] else "NCHW"
    return (f"{settings['pipeline']} pipeline, precision {settings['precision']}, {layout}, "
            f"{'torch.compile' if settings['compile'] else 'eager'}")


def _benchmark_data(config: Config, data_dir: Path | None, quick: bool) -> ImageData:
    """The bundled sample (offline), or the ImageFolder tree at data_dir; a spread-out subset when quick."""
    if data_dir is None:
        source = DataConfig(dataset="sample", cache_dir=config.data.cache_dir)
    else:
        source = DataConfig(dataset="folder", dir=str(data_dir), cache_dir=config.data.cache_dir)
    data = load_data(source)
    if not quick:
        return data
    # Every k-th image: the folders are sorted by class, so a prefix would hold one class only.
    train = slice(None, None, max(1, len(data.train_y) // QUICK["train_images"]))
    test = slice(None, None, max(1, len(data.test_y) // QUICK["test_images"]))
    return dataclasses.replace(data, train_x=data.train_x[train][:QUICK["train_images"]],
                               train_y=data.train_y[train][:QUICK["train_images"]],
                               test_x=data.test_x[test][:QUICK["test_images"]],
                               test_y=data.test_y[test][:QUICK["test_images"]])


def _require_full_batch(data: ImageData, batch_size: int) -> None:
    if len(data.train_y) < batch_size:
        raise DataError(f"the benchmark's training set holds {len(data.train_y):,} images, fewer than one batch of "
                        f"{batch_size}; pass a smaller --batch-size or a larger --data-dir")


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
        loader = DataLoader(TensorBatches(data.train_x.to(device), data.train_y.to(device)), batch_size=t.batch_size,
                            shuffle=True, num_workers=0, drop_last=True, collate_fn=keep_batch)
    while True:  # a new epoch (and shuffle) whenever the loader runs out
        for x, y in loader:
            yield x.to(device), y.to(device)


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that the clock measures it."""
    if device == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def _compare(key: str, title: str, measure: Callable[[str], Rate], log: Log) -> dict:
    """Run one measurement both ways, logging each, and put the ratio reportgen / seed next to them."""
    rates = {}
    for way in WAYS:
        log(f"{title}, {way} way ...")
        rates[way] = measure(way).as_dict()
        log(f"    {rates[way]['images_per_s']:,.0f} images/s ({rates[way]['images']:,} images in "
            f"{rates[way]['seconds']:.1f} s)")
    ratio = rates["reportgen"]["images_per_s"] / rates["seed"]["images_per_s"]
    return {"title": title, "seed": rates["seed"], "reportgen": rates["reportgen"], "ratio": ratio,
            "goal": GOALS[key], "goal_met": ratio >= GOALS[key]}


def _augmentation_rate(config: Config, data: ImageData, device: str, min_seconds: float) -> Rate:
    """Augmented, normalised training images per second, for at least min_seconds and 3 batches."""
    batches = _augmented_batches(config, data, device)
    next(batches)  # the first batch pays one-off costs (imports, allocations)
    images, start = 0, time.perf_counter()
    while images < 3 * config.train.batch_size or time.perf_counter() - start < min_seconds:
        images += len(next(batches)[1])
    _synchronize(device)
    return Rate(images, time.perf_counter() - start)


def _augmented_batches(config: Config, data: ImageData, device: str) -> Iterator[Batch]:
    """Training batches ready for a model: the seed's loader augments and normalises; reportgen's is raw."""
    for x, y in _training_batches(config, data, device):
        if config.train.pipeline == "fast":
            x = normalize(augment(x, config.augment), config.data.mean, config.data.std)
        yield x, y


def _train_step_rate(name: str, config: Config, data: ImageData, device: str,
                     warmup: int, steps: int) -> Rate:
    """Training images per second: load, prepare, forward, cross-entropy, backward, AdamW step.

    Runs reportgen's own Classifier outside Lightning, so that both ways share one training step and
    differ only in what the config selects: pipeline, precision, memory format and compilation.
    """
    torch.manual_seed(config.train.seeds[0])
    module = Classifier(create_model(name, config, len(data.classes)), config, config.train.seeds[0]).to(device)
    if config.train.compile:
        module.model = torch.compile(module.model)  # as fit() does
    module.train()
    optimizer = module.configure_optimizers()["optimizer"]
    autocast = resolve_precision(config.train.precision, device) == "bf16-mixed"
    batches = _training_batches(config, data, device)
    images, start = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            _synchronize(device)
            images, start = 0, time.perf_counter()
        x, y = next(batches)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):  # as Lightning's bf16-mixed
            loss = module.training_step((x, y), step)  # augments and normalises reportgen's uint8 batches
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        images += len(y)
    _synchronize(device)
    return Rate(images, time.perf_counter() - start)


def _epoch_rate(name: str, config: Config, data: ImageData) -> Rate:
    """One epoch through reportgen.training.fit, validation and checkpoint included, in a fresh folder."""
    seed = config.train.seeds[0]
    torch.manual_seed(seed)
    model = create_model(name, config, len(data.classes))
    with tempfile.TemporaryDirectory(prefix="reportgen-bench-") as tmp:  # fresh: fit would resume from last.ckpt
        start = time.perf_counter()
        fit(model, data, config, seed, Path(tmp) / "checkpoints", label=name, progress=False)
        seconds = time.perf_counter() - start
    return Rate(len(data.train_y), seconds)
