"""The models of a build timed together, interleaved in blocks, with the machine's other load recorded per block.

Timing one model and then the other confounds the models with whatever the machine did meanwhile (another
process starting, a thermal limit, a cache left warm): the review of reportgen 0.4.0 saw one model measured
7x apart in two builds. So the build times every base model of one seed together, after all runs are
trained (reportgen.build): `analysis.timing_blocks` blocks, each timing every model once, in an order that
alternates between blocks (A B, B A, A B, ...), so that a drift in the machine's speed favours neither
model. In each block each model gets three measurements:

* inference: the median of `analysis.timing_repeats` forward passes at the run's batch size (eval, no grad);
* latency: the median of as many passes at batch 1;
* training step: one step (forward, backward, AdamW) at the run's batch size on a fixed batch.

Before the first block each model runs `analysis.timing_warmup` untimed passes of each kind, and at least
one untimed training step (which creates the optimizer state every later step has), then the models run one
whole block untimed (a settling block: the machine settles after the build's previous stage, whose worker
processes may still be exiting, and every model has just run after the others, as in the timed blocks): the
timings exclude them all. A block's other load is the CPU cores other processes used during it (reportgen.machine_load);
the report draws no speed verdict from blocks timed on a busy machine. The result is timings.json of the
bundle (docs/bundle.md); the report tests each measure over the blocks, paired by block.

Shapes: B blocks (over all seeds), M models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

from reportgen.analysis.efficiency import TrainingStep, inference_times, prepared, synchronize
from reportgen.config import Config
from reportgen.machine_load import timed_with_load
from reportgen.runtime import device_name

MEASURES = ("inference_s", "latency_s", "step_s")  # the fields of timings.json, one (B, M) array each


def block_orders(models: int, blocks: int) -> list[list[int]]:
    """The order of the models in each block: 0..M-1 in even blocks, reversed in odd ones (ABBA...)."""
    forward = list(range(models))
    return [forward if b % 2 == 0 else forward[::-1] for b in range(blocks)]


def timing_threads(config: Config) -> int:
    """The torch threads the timings run with: train.num_threads where set, so that a build that reuses every run
    (and so never set them in training) times with the same threads as one that trained."""
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    return torch.get_num_threads()


@dataclass
class ModelTimer:
    """One model prepared for timing: a copy on the device (the run's weights untouched) and its training step."""

    model: nn.Module
    step: TrainingStep
    config: Config
    device: str
    precision: str

    def passes(self, batch: int, repeats: int, warmup: int = 0) -> list[float]:
        """Seconds of each of `repeats` timed forward passes at `batch`."""
        return inference_times(self.model, batch, self.device, self.precision, self.config.train.channels_last,
                               warmup, repeats)

    def timed_step(self) -> float:
        """Seconds of one training step (the model back in training mode for it)."""
        self.model.train()
        synchronize(self.device)
        start = time.perf_counter()
        self.step()
        synchronize(self.device)
        return time.perf_counter() - start

    def warm_up(self) -> None:
        """The untimed passes and steps that the timings exclude (allocation, kernel selection, optimizer state)."""
        a, batch = self.config.analysis, self.config.train.batch_size
        for size in (batch, 1):
            self.passes(size, 0, a.timing_warmup)
        for _ in range(max(1, a.timing_warmup)):
            self.timed_step()

    def measure(self) -> tuple[float, float, float]:
        """One block's (inference, latency, training step) seconds: medians of the timed passes, one step."""
        repeats, batch = self.config.analysis.timing_repeats, self.config.train.batch_size
        return (float(np.median(self.passes(batch, repeats))), float(np.median(self.passes(1, repeats))),
                self.timed_step())


def model_timer(model: nn.Module, config: Config, device: str, precision: str) -> ModelTimer:
    """A timer of a copy of `model` (in NHWC where training used it)."""
    work = prepared(model, device, config.train.channels_last)
    work.train()
    return ModelTimer(work, TrainingStep(work, config, device, precision), config, device, precision)


def time_block(timers: Sequence[ModelTimer], order: Sequence[int]) -> np.ndarray:
    """(3, M) seconds of one block: every model measured once, in `order`; columns in model order."""
    out = np.zeros((len(MEASURES), len(timers)))
    for m in order:
        out[:, m] = timers[m].measure()
    return out


def time_seed(models: Sequence[nn.Module], orders: Sequence[Sequence[int]], config: Config, device: str,
              precision: str, log: Callable[[str], None]) -> tuple[list[np.ndarray], list[float | None]]:
    """Each block's (3, M) seconds and other load, for the models of one seed, a block per order."""
    timers = [model_timer(m, config, device, precision) for m in models]
    for timer in timers:
        timer.warm_up()
    time_block(timers, orders[0])  # the settling block, untimed (see the module's docstring)
    blocks, loads = [], []
    for order in orders:
        seconds, load = timed_with_load(lambda o=order: time_block(timers, o))
        blocks.append(seconds)
        loads.append(load)
    log(f"timed {len(blocks)} interleaved blocks; other load up to "
        f"{max((v for v in loads if v is not None), default=0.0):.2f} CPU cores")
    return blocks, loads


def compute(models_by_seed: Mapping[int, Mapping[str, nn.Module]], config: Config, device: str, precision: str,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """timings.json: the base models of every seed timed interleaved, seed after seed (docs/bundle.md)."""
    threads = timing_threads(config)
    names = list(next(iter(models_by_seed.values())))
    orders = block_orders(len(names), config.analysis.timing_blocks)
    seconds, loads, seeds = [], [], []
    for seed, models in models_by_seed.items():
        blocks, block_loads = time_seed([models[n] for n in names], orders, config, device, precision, log)
        seconds += blocks
        loads += block_loads
        seeds += [seed] * len(blocks)
    stacked = np.stack(seconds)  # (B, 3, M)
    return {
        "device": torch.device(device).type, "device_name": device_name(device), "threads": threads,
        "precision": precision, "batch_size": config.train.batch_size, "warmup": config.analysis.timing_warmup,
        "repeats": config.analysis.timing_repeats, "models": names, "block_seeds": seeds,
        "order": [o for _ in models_by_seed for o in orders],
        **{name: stacked[:, i, :].tolist() for i, name in enumerate(MEASURES)},
        # One unknown load (no /proc/stat) makes them all unknown: the machine is the same for every block.
        "other_load_cores": None if any(v is None for v in loads) else loads,
    }


def settings(config: Config, device: str) -> dict[str, Any]:
    """What the timings depend on beyond the runs: the timing settings, the machine and the threads."""
    a = config.analysis
    return {"timing_blocks": a.timing_blocks, "timing_repeats": a.timing_repeats, "timing_warmup": a.timing_warmup,
            "device_name": device_name(device), "threads": config.train.num_threads or torch.get_num_threads()}
