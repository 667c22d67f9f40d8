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
- the machine's own limits, in reportgen's process on its device: fp32 and bf16 matrix products, a
  convolution and a memory copy (reportgen.machine_limits), and each model's reportgen training step as a
  share of the roofline limit those allow for its FLOPs and estimated bytes moved per image.

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
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import torch

from reportgen.architectures import display_name
from reportgen.assembly import describe_environment
from reportgen.bench_steps import Plan, benchmark_data, machine_limits, measure, start_way
from reportgen.config import Config
from reportgen.errors import ConfigError, DataError
from reportgen.machine_limits import step_share
from reportgen.machine_load import BUSY_CORES
from reportgen.runtime import Runtime

WAYS = ("seed", "reportgen")
DEFAULT_STEPS = 5  # timed training steps per model and way; the seed's CNN takes ~3 s per step of 1024 on 2 cores
WARMUP_STEPS = 2  # untimed first steps: oneDNN picks and caches its kernels, autocast its bf16 weights
MIN_TIMED_SECONDS_GPU = 1.0  # on a GPU a step takes milliseconds: time at least this long for a stable figure
AUGMENT_SECONDS = 2.0  # augmentation is timed for at least this long (and at least 3 batches) per way

# The project's speed goals on a 2-core CPU (issue 3), as minimum ratios reportgen / seed. They are
# judged on a CPU only: what a GPU gains over the seed's PIL loader is another question.
GOALS = {"augmentation": 20.0, "train_step_cnn": 3.0, "train_step_vit": 2.0, "epoch_cnn": 3.0, "epoch_vit": 2.0}

Log = Callable[[str], None]


def _make_plan(config: Config, runtime: Runtime, steps: int, quick: bool) -> Plan:
    """The default plan, or a tiny one for tests and smoke checks (seconds, not minutes)."""
    if steps < 1:
        raise ConfigError(f"the benchmark needs at least 1 timed training step, got {steps}")
    if quick:
        return Plan(batch_size=min(config.train.batch_size, 16), steps=min(steps, 2), warmup=1, min_seconds=0.0,
                    augment_seconds=0.1,
                    train_images=128, test_images=32)
    on_gpu = runtime.device != "cpu"
    return Plan(batch_size=config.train.batch_size, steps=steps, warmup=WARMUP_STEPS,
                min_seconds=MIN_TIMED_SECONDS_GPU if on_gpu else 0.0, augment_seconds=AUGMENT_SECONDS)


def run_benchmark(config: Config, runtime: Runtime, *, data_dir: Path | None = None, steps: int = DEFAULT_STEPS,
                  quick: bool = False, log: Log = print) -> dict:
    """Measure augmentation, training steps and one epoch per model, the seed's way and reportgen's.

    Data: the CIFAR-10 sample bundled with reportgen (4,000 training images), or the ImageFolder tree
    at `data_dir`. Batch size, threads, channels_last and compile come from `config.train`, the device from
    `runtime` (each way's precision from its config on that device).
    Returns plain data (see `format_table`): the machine, the settings, and per measurement the raw
    images and seconds of both ways, images/s, the ratio reportgen / seed and the goal.
    """
    plan = _make_plan(config, runtime, steps, quick)
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)  # as both ways' processes do (see start_way)
    configs = {"seed": _seed_way(config, plan), "reportgen": _reportgen_way(config, plan)}
    runtimes = {way: runtime.for_config(c) for way, c in configs.items()}
    device, precision = runtime.device, runtimes["reportgen"].precision
    data = benchmark_data(config, data_dir, plan)
    if len(data.train_y) < plan.batch_size:
        raise DataError(f"the benchmark's training set holds {len(data.train_y):,} images, fewer than one batch of "
                        f"{plan.batch_size}; pass a smaller --batch-size or a larger --data-dir")
    log(f"reportgen bench: {len(data.train_y):,} training images from {data.source}, batch {plan.batch_size}, "
        f"device {device}, reportgen's precision {precision}; starting one process per way")

    # (kind of measurement, model, title): the augmentation first, then steps and epochs per model.
    jobs = [("augmentation", None, "augmentation")]
    jobs += [("train_step", name, f"{display_name(name)} training steps") for name in config.models]
    jobs += [("epoch", name, f"{display_name(name)} epoch end to end") for name in config.models]
    with _way_processes(configs, runtimes, data_dir, plan) as processes:
        measurements = {_key(kind, model): _compare(kind, model, title, processes, log) for kind, model, title in jobs}
        log(f"the machine's limits on {device}: matrix products, a convolution, a memory copy ...")
        limits = processes["reportgen"].apply(machine_limits, (quick,))
    busy = judge_goals(measurements, quick, device)
    return {
        "machine": describe_environment(runtimes["reportgen"]),
        "settings": {
            "dataset": data.source, "train_images": len(data.train_y), "test_images": len(data.test_y),
            "batch_size": plan.batch_size, "timed_steps": plan.steps, "warmup_steps": plan.warmup,
            "models": list(config.models), "quick": quick, "min_timed_seconds": plan.min_seconds, "busy": busy,
            **{way: _execution_settings(configs[way], runtimes[way]) for way in WAYS},
        },
        "measurements": measurements,
        "limits": {"dtype": limits["dtype"], "probes": limits["probes"], "other_load": limits["other_load"]},
        "shares": limit_shares(limits, measurements),
    }


def limit_shares(limits: dict, measurements: dict) -> dict:
    """Per model: reportgen's measured training steps against the roofline limit of the machine's probes."""
    return {model: step_share(cost, limits["probes"], limits["dtype"],
                              measurements[_key("train_step", model)]["reportgen"]["images_per_s"])
            for model, cost in limits["costs"].items()}


def judge_goals(measurements: dict, quick: bool, device: str) -> bool:
    """Set each row's goal_met to None where no goal can be judged; returns whether the machine was busy.

    A smoke run's tiny batches say nothing, the goals are a 2-core CPU's, and on a machine that other
    processes used during a measurement the ratios measure their load: a MISSED there would blame the code.
    """
    load = _busiest_other_load(measurements)
    busy = load is not None and load > BUSY_CORES
    if quick or device != "cpu" or busy:
        for row in measurements.values():
            row["goal_met"] = None
    return busy


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
        + ("; the goals were set for a 2-core CPU and are not judged here" if m["device"] != "cpu" else "")
        + ("; other processes used the machine: the goals are not judged" if s.get("busy") else ""),
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
    lines += ["", *format_limits(result)]
    warning = busy_warning(result)
    if warning:
        lines += ["", warning]
    return "\n".join(lines)


def format_limits(result: dict) -> list[str]:
    """The machine's probes, and each model's training step as a share of the limit they allow (text lines)."""
    lines = [f"the machine's limits on {result['machine']['device']} (reportgen.machine_limits):"]
    for probe in result["limits"]["probes"].values():
        rate = f"{probe['per_s'] / 1e9:,.1f} {'GFLOP/s' if probe['unit'] == 'FLOP' else 'GB/s'}"
        lines.append(f"  {rate:>14}  {probe['what']}")
    lines += ["", f"reportgen's training step against that limit ({result['limits']['dtype']} compute; bytes "
                  "estimated: 4 passes over the saved activations, 11 over the parameters):"]
    rows = [("model", "GFLOP/image", "MB/image", "bound", "limit images/s", "measured", "share")]
    for model, share in result["shares"].items():
        rows.append((display_name(model), f"{share['flops_per_image'] / 1e9:.3f}",
                     f"{share['bytes_per_image'] / 1e6:.2f}", share["bound"], f"{share['limit_images_per_s']:,.0f}",
                     f"{share['images_per_s']:,.0f}", f"{100 * share['share']:.1f} %"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])])
              for r in rows]
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _verdict(goal_met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not judged"}[goal_met]


def busy_warning(result: dict) -> str | None:
    """A one-line warning when other processes took CPU time during a measurement, else None."""
    busy = _busiest_other_load(result["measurements"], result.get("limits"))
    if busy is None or busy <= BUSY_CORES:
        return None
    return (f"warning: other processes used up to {busy:.1f} CPU cores during a measurement; "
            "the numbers are unreliable, run again on an idle machine")


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


def _execution_settings(config: Config, runtime: Runtime) -> dict:
    t = config.train
    return {"pipeline": t.pipeline, "precision": runtime.precision,
            "channels_last": t.channels_last, "compile": t.compile}


def _describe_settings(settings: dict) -> str:
    layout = "channels_last for the CNN" if settings["channels_last"] else "NCHW"
    return (f"{settings['pipeline']} pipeline, precision {settings['precision']}, {layout}, "
            f"{'torch.compile' if settings['compile'] else 'eager'}")


@contextlib.contextmanager
def _way_processes(configs: dict[str, Config], runtimes: dict[str, Runtime], data_dir: Path | None, plan: Plan):
    """One fresh worker process per way, each with its config and data loaded once."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing inherited from this one
    with contextlib.ExitStack() as stack:
        processes = {way: stack.enter_context(context.Pool(1, start_way, (configs[way], runtimes[way], data_dir,
                                                                          plan)))
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
        rates[way] = processes[way].apply(measure, (kind, model))
        log(f"    {rates[way]['images_per_s']:,.0f} images/s ({rates[way]['images']:,} images in "
            f"{rates[way]['seconds']:.1f} s)")
    ratio = rates["reportgen"]["images_per_s"] / rates["seed"]["images_per_s"]
    return {"title": title, "seed": rates["seed"], "reportgen": rates["reportgen"], "ratio": ratio,
            "goal": GOALS[key], "goal_met": ratio >= GOALS[key]}


def _busiest_other_load(measurements: dict, limits: dict | None = None) -> float | None:
    loads = [row[way]["other_load"] for row in measurements.values() for way in WAYS]
    loads += [limits["other_load"]] if limits else []
    known = [load for load in loads if load is not None]
    return max(known) if known else None
