"""`reportgen bench`: the seed notebook's training pipeline against reportgen's, on this machine.

Every measurement is taken both ways in one run, back to back, so that their ratio (reportgen / seed)
compares like with like on the same hardware:

- augmentation: augmented, normalised training images per second. The seed's way is the notebook's
  torchvision PIL transforms through a DataLoader (num_workers=0), one image at a time; reportgen's
  way gathers a whole uint8 batch at once (TensorBatches) and augments and normalises it on the device.
- training steps (per model): images per second through loading, forward, cross-entropy, backward
  and an AdamW step. The seed's way is fp32, eager, NCHW, fed by its PIL loader; reportgen's way is
  its default for the device (bf16 autocast where the hardware has it, channels_last for the CNN,
  torch.compile only when configured), fed by its uint8 batches.
- one epoch end to end (per model): `reportgen.training.fit` for one epoch, validation and checkpoint
  included, with `train.pipeline: seed`, fp32 and NCHW for the seed's way and the config's settings
  for reportgen's.

Both ways run the same model classes and reportgen's own LightningModule (`Classifier`), so the
ratios measure the data pipeline and execution settings, nothing else. Each way runs in its own
fresh Python process, as the notebook and a reportgen build each would: what one way leaves behind
(allocator state, caches, settings) can never speed up or slow down the other. (Scripts that call
`run_benchmark` need the usual `if __name__ == "__main__":` guard of multiprocessing's spawn.)

The numbers are only as good as the machine is idle: every measurement also records how much CPU
other processes used meanwhile, and `format_table` warns when that was more than a fifth of a core.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
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
from reportgen.errors import ConfigError, DataError
from reportgen.models import MODEL_REGISTRY, create_model
from reportgen.training import (
    Classifier,
    DeviceBatches,
    autocast,
    check_device,
    configure_backends,
    fit,
    prepare_process,
    resolve_device,
    resolve_precision,
)

WAYS = ("seed", "reportgen")
DEFAULT_STEPS = 5  # timed training steps per model and way; the seed's CNN takes ~3 s per step of 1024 on 2 cores
WARMUP_STEPS = 2  # untimed first steps: oneDNN picks and caches its kernels, autocast its bf16 weights
MIN_TIMED_SECONDS_GPU = 1.0  # on a GPU a step takes milliseconds: time at least this long for a stable figure
AUGMENT_SECONDS = 2.0  # augmentation is timed for at least this long (and at least 3 batches) per way
BUSY_WARNING_CORES = 0.2  # other processes using more CPU than this during a measurement make it unreliable

# The project's speed goals on a 2-core CPU (issue 3), as minimum ratios reportgen / seed. They are
# judged on a CPU only: what a GPU gains over the seed's PIL loader is another question.
GOALS = {"augmentation": 20.0, "train_step_cnn": 3.0, "train_step_vit": 2.0, "epoch_cnn": 3.0, "epoch_vit": 2.0}

Batch = tuple[torch.Tensor, torch.Tensor]
Log = Callable[[str], None]


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


def _make_plan(config: Config, steps: int, quick: bool) -> Plan:
    """The default plan, or a tiny one for tests and smoke checks (seconds, not minutes)."""
    if steps < 1:
        raise ConfigError(f"the benchmark needs at least 1 timed training step, got {steps}")
    if quick:
        return Plan(batch_size=min(config.train.batch_size, 16), steps=min(steps, 2), warmup=1, min_seconds=0.0,
                    augment_seconds=0.1,
                    train_images=128, test_images=32)
    on_gpu = resolve_device(config.train.device) != "cpu"
    return Plan(batch_size=config.train.batch_size, steps=steps, warmup=WARMUP_STEPS,
                min_seconds=MIN_TIMED_SECONDS_GPU if on_gpu else 0.0, augment_seconds=AUGMENT_SECONDS)


def run_benchmark(config: Config, *, data_dir: Path | None = None, steps: int = DEFAULT_STEPS,
                  quick: bool = False, log: Log = print) -> dict:
    """Measure augmentation, training steps and one epoch per model, the seed's way and reportgen's.

    Data: the CIFAR-10 sample bundled with reportgen (4,000 training images), or the ImageFolder tree
    at `data_dir`. Batch size, device, threads, channels_last and compile come from `config.train`.
    Returns plain data (see `format_table`): the machine, the settings, and per measurement the raw
    images and seconds of both ways, images/s, the ratio reportgen / seed and the goal.
    """
    plan = _make_plan(config, steps, quick)
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)  # as both ways' processes do (see _start_way)
    device = resolve_device(config.train.device)
    check_device(device)
    configs = {"seed": _seed_way(config, plan), "reportgen": _reportgen_way(config, plan)}
    precision = resolve_precision(configs["reportgen"].train.precision, device)
    data = _benchmark_data(config, data_dir, plan)
    if len(data.train_y) < plan.batch_size:
        raise DataError(f"the benchmark's training set holds {len(data.train_y):,} images, fewer than one batch of "
                        f"{plan.batch_size}; pass a smaller --batch-size or a larger --data-dir")
    log(f"reportgen bench: {len(data.train_y):,} training images from {data.source}, batch {plan.batch_size}, "
        f"device {device}, reportgen's precision {precision}; starting one process per way")

    # (kind of measurement, model, title): the augmentation first, then steps and epochs per model.
    jobs = [("augmentation", None, "augmentation")]
    jobs += [("train_step", name, f"{MODEL_REGISTRY[name][0]} training steps") for name in config.models]
    jobs += [("epoch", name, f"{MODEL_REGISTRY[name][0]} epoch end to end") for name in config.models]
    with _way_processes(configs, data_dir, plan) as processes:
        measurements = {_key(kind, model): _compare(kind, model, title, processes, log) for kind, model, title in jobs}
    if quick or device != "cpu":  # a smoke run's tiny batches say nothing; the goals are a 2-core CPU's
        for row in measurements.values():
            row["goal_met"] = None
    return {
        "machine": describe_environment(device, precision),
        "settings": {
            "dataset": data.source, "train_images": len(data.train_y), "test_images": len(data.test_y),
            "batch_size": plan.batch_size, "timed_steps": plan.steps, "warmup_steps": plan.warmup,
            "models": list(config.models), "quick": quick, "min_timed_seconds": plan.min_seconds,
            **{way: _execution_settings(configs[way], device) for way in WAYS},
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
        f"batch {s['batch_size']}; {_count(s['timed_steps'], 'timed training step')} after "
        f"{_count(s['warmup_steps'], 'warm-up step')}"
        + ("; a --quick smoke run: the goals are not judged" if s.get("quick") else "")
        + ("; the goals were set for a 2-core CPU and are not judged here" if m["device"] != "cpu" else ""),
        f"seed way: {_describe_settings(s['seed'])}",
        f"reportgen way: {_describe_settings(s['reportgen'])}",
        "",
    ]
    rows = [("measurement", "seed", "reportgen", "ratio", "goal")]
    for key, row in result["measurements"].items():
        seed, ours = row["seed"], row["reportgen"]
        rows.append((f"{row['title']}, images/s", f"{seed['images_per_s']:,.0f}", f"{ours['images_per_s']:,.0f}",
                     f"{row['ratio']:.1f}x", f">= {row['goal']:g}x {_verdict(row['goal_met'])}"))
        if key.startswith("epoch_"):
            rows.append((f"  seconds for {seed['images']:,} images", f"{seed['seconds']:.1f}", f"{ours['seconds']:.1f}",
                         "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:4], widths[1:4])] + [r[4]]
        lines.append("  ".join(cells).rstrip())
    warning = busy_warning(result)
    if warning:
        lines += ["", warning]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _verdict(goal_met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not judged"}[goal_met]


def busy_warning(result: dict) -> str | None:
    """A one-line warning when other processes took CPU time during a measurement, else None."""
    busy = _busiest_other_load(result)
    if busy is None or busy <= BUSY_WARNING_CORES:
        return None
    return (f"warning: other processes used up to {busy:.1f} CPU cores during a measurement; "
            "the numbers are unreliable, run again on an idle machine")


def _benchmark_data(config: Config, data_dir: Path | None, plan: Plan) -> ImageData:
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


# ---------------------------------------------------------------------------------------------
# The two ways
# ---------------------------------------------------------------------------------------------

def _seed_way(config: Config, plan: Plan) -> Config:
    """The notebook's execution: PIL transforms through a DataLoader, fp32, eager, NCHW."""
    return _with_train(config, plan, pipeline="seed", precision="32", channels_last=False, compile=False)


def _reportgen_way(config: Config, plan: Plan) -> Config:
    """reportgen's execution as configured: uint8 tensors and batched augmentation on the device."""
    return _with_train(config, plan, pipeline="fast")


def _with_train(config: Config, plan: Plan, **changes) -> Config:
    # One process, one device, one epoch: a benchmark never shards or resumes.
    train = dataclasses.replace(config.train, batch_size=plan.batch_size, epochs=1, devices=1, num_nodes=1,
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


@contextlib.contextmanager
def _way_processes(configs: dict[str, Config], data_dir: Path | None, plan: Plan):
    """One fresh worker process per way, each with its config and data loaded once."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing inherited from this one
    with contextlib.ExitStack() as stack:
        processes = {way: stack.enter_context(context.Pool(1, _start_way, (configs[way], data_dir, plan)))
                     for way in WAYS}
        for process in processes.values():  # both started up: a starting process would slow the other's measurement
            process.apply(time.perf_counter)
        yield processes


def _key(kind: str, model: str | None) -> str:
    return f"{kind}_{model}" if model else kind


def _compare(kind: str, model: str | None, title: str, processes: dict, log: Log) -> dict:
    """Run one measurement in both ways' processes, logging each, and put the ratio reportgen / seed next to them."""
    key, rates = _key(kind, model), {}
    for way in WAYS:
        log(f"{title}, {way} way ...")
        rates[way] = processes[way].apply(_measure, (kind, model))
        log(f"    {rates[way]['images_per_s']:,.0f} images/s ({rates[way]['images']:,} images in "
            f"{rates[way]['seconds']:.1f} s)")
    ratio = rates["reportgen"]["images_per_s"] / rates["seed"]["images_per_s"]
    return {"title": title, "seed": rates["seed"], "reportgen": rates["reportgen"], "ratio": ratio,
            "goal": GOALS[key], "goal_met": ratio >= GOALS[key]}


def _busiest_other_load(result: dict) -> float | None:
    loads = [row[way]["other_load"] for row in result["measurements"].values() for way in WAYS]
    known = [load for load in loads if load is not None]
    return max(known) if known else None


# ---------------------------------------------------------------------------------------------
# Inside a way's process
# ---------------------------------------------------------------------------------------------

_way: dict = {}  # this worker process's config, data, device and plan, set once by _start_way


def _start_way(config: Config, data_dir: Path | None, plan: Plan) -> None:
    """Set up this worker process the way its way's training process is set up, and load the data."""
    prepare_process(config)  # as fit() does
    _way.update(config=config, data=_benchmark_data(config, data_dir, plan),
                device=resolve_device(config.train.device), plan=plan)


def _measure(kind: str, model: str | None) -> dict:
    """One measurement in this way's process: images, seconds, images/s and other processes' CPU load."""
    busy_before, own_before, start = _busy_cpu_seconds(), time.process_time(), time.perf_counter()
    rate = MEASUREMENTS[kind](model, _way["config"], _way["data"], _way["device"], _way["plan"])
    busy_after, own_after, elapsed = _busy_cpu_seconds(), time.process_time(), time.perf_counter() - start
    other_load = None
    if busy_before is not None and busy_after is not None:
        other_load = max(0.0, (busy_after - busy_before) - (own_after - own_before)) / elapsed
    return {**rate, "other_load": other_load}


def _busy_cpu_seconds() -> float | None:
    """CPU seconds spent by all processes of the machine so far (Linux), None where unknown."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system = (int(v) for v in stat.readline().split()[1:4])
    except (OSError, ValueError):
        return None
    return (user + nice + system) / 100  # USER_HZ, 100 on every Linux


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


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that the clock measures it."""
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def _augmentation_rate(model: str | None, config: Config, data: ImageData, device: str, plan: Plan) -> dict:
    """Augmented, normalised training images per second, for at least plan.augment_seconds and 3 batches."""
    batches = _augmented_batches(config, data, device)
    next(batches)  # the first batch pays one-off costs (imports, allocations)
    images, start = 0, time.perf_counter()
    while images < 3 * plan.batch_size or time.perf_counter() - start < plan.augment_seconds:
        images += len(next(batches)[1])
    _synchronize(device)
    return _rate(images, time.perf_counter() - start)


def _train_step_rate(model: str, config: Config, data: ImageData, device: str, plan: Plan) -> dict:
    """Training images per second: load, prepare, forward, cross-entropy, backward, AdamW step.

    Runs reportgen's own Classifier outside Lightning, so that both ways share one training step and
    differ only in what the config selects: pipeline, precision, memory format and compilation.
    """
    seed = config.train.seeds[0]
    torch.manual_seed(seed)
    classes = len(data.classes)
    module = Classifier(create_model(model, config, classes), config, seed, classes).to(device)  # compiles as fit()
    module.train()
    optimizer = module.configure_optimizers()["optimizer"]
    precision = resolve_precision(config.train.precision, device)
    configure_backends(config, device, precision)
    scaler = torch.amp.GradScaler(device, enabled=precision == "16-mixed")  # as Lightning's 16-mixed
    batches = _training_batches(config, data, device)
    images, steps, start = 0, 0, 0.0
    for step in itertools.count():
        if step == plan.warmup:
            _synchronize(device)
            start = time.perf_counter()
        if step >= plan.warmup + plan.steps:
            _synchronize(device)  # the clock reads when the queued steps are done, not when they are queued
            if time.perf_counter() - start >= plan.min_seconds:
                break
        x, y = next(batches)
        with autocast(device, precision):  # as Lightning's precision plugin
            loss = module.training_step((x, y), step)  # augments and normalises reportgen's uint8 batches
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if step >= plan.warmup:
            images, steps = images + len(y), steps + 1
    return {**_rate(images, time.perf_counter() - start), "steps": steps}


def _epoch_rate(model: str, config: Config, data: ImageData, device: str, plan: Plan) -> dict:
    """One epoch through reportgen.training.fit, validation and checkpoint included, in a fresh folder."""
    seed = config.train.seeds[0]
    torch.manual_seed(seed)
    network = create_model(model, config, len(data.classes))
    with tempfile.TemporaryDirectory(prefix="reportgen-bench-") as tmp:  # fresh: fit would resume from last.ckpt
        start = time.perf_counter()
        fit(network, data, config, seed, Path(tmp) / "checkpoints", label=model, progress=False)
        seconds = time.perf_counter() - start
    return _rate(len(data.train_y), seconds)


# kind -> measurement; every one takes (model, config, data, device, plan) and returns a _rate dict.
MEASUREMENTS = {"augmentation": _augmentation_rate, "train_step": _train_step_rate, "epoch": _epoch_rate}
