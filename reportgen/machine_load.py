"""How much of the machine other processes use: measured around a timing, and before training on a CPU.

Timings taken while other processes compete for the cores measure the machine, not the model. Every
timing reportgen takes records `other_load`, the CPU cores that processes other than this one used
meanwhile (Linux /proc/stat less this process's own CPU time), and above `BUSY_CORES` the timing is
reported as taken on a busy machine (`is_busy`): no speed verdict is drawn from it. `LoadMeter` measures a
span that is not one callable (a training epoch). Torch-free.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

BUSY_CORES = 0.2  # other processes using more than a fifth of a core on average make a timing unreliable


def machine_cpu_seconds() -> float | None:
    """CPU seconds that all processes of the machine have used so far (Linux /proc/stat), None where unknown."""
    try:
        user, nice, system = (int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4])
    except (OSError, ValueError):
        return None
    return (user + nice + system) / 100  # in USER_HZ, 100 on every Linux


class LoadMeter:
    """The CPU cores that other processes use from its creation to each call of `cores`: for spans that are not
    one callable (a training epoch, between Lightning's hooks)."""

    def __init__(self):
        self.machine, self.own, self.start = machine_cpu_seconds(), time.process_time(), time.perf_counter()

    def cores(self) -> float | None:
        """Other processes' CPU seconds per second since the meter started (None where /proc/stat is unknown).

        This process's own CPU time (every thread of it) is subtracted: torch's threads are not "other load".
        """
        after, own, elapsed = machine_cpu_seconds(), time.process_time(), time.perf_counter() - self.start
        if self.machine is None or after is None or elapsed <= 0:
            return None
        return max(0.0, (after - self.machine) - (own - self.own)) / elapsed


def timed_with_load(measure: Callable[[], T]) -> tuple[T, float | None]:
    """Run `measure`, and say how many CPU cores other processes used meanwhile (None where unknown)."""
    meter = LoadMeter()
    result = measure()
    return result, meter.cores()


def is_busy(loads: Sequence[float | None]) -> bool:
    """Whether other processes used more than BUSY_CORES in any of these spans, or in one whose load is unknown:
    a timing that cannot be shown to come from an idle machine is not evidence about the models."""
    return any(load is None or load > BUSY_CORES for load in loads)


def other_load(seconds: float = 0.5) -> float | None:
    """The CPU cores other processes use right now, averaged over `seconds` of this process sleeping."""
    return timed_with_load(lambda: time.sleep(seconds))[1]


def thread_advice(threads: int, load: float | None, cores: int | None = None) -> str | None:
    """A hint for the progress line when other processes already use cores that `threads` torch threads need.

    torch's threads wait for each other at every operator: with one of them starved by another process, all
    of them wait, and training can slow down tenfold (seen on a shared 2-core machine), while fewer threads
    than cores keep running. None when the machine is idle enough or its load is unknown.
    """
    cores = cores or os.cpu_count() or 1
    if load is None or load <= BUSY_CORES or threads <= 1:
        return None
    free = max(1, int(cores - load + 0.5))
    if free >= threads:
        return None
    return (f"other processes use {load:.1f} of {cores} CPU cores: {threads} torch threads may crawl; "
            f"--set train.num_threads={free} runs faster on this machine now")
