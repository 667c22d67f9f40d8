"""The local executor's side-by-side mode: one worker process per visible GPU, each pinned to its GPU.

With one visible GPU or none, a build trains in its own process, one run after another (reportgen.build);
with several and more than one run to train, independent runs train side by side, one per GPU (a scheduler
of runs, not DDP: at these models' sizes DDP's per-step synchronisation gains little). Each worker is a fresh
interpreter (spawned) that sets CUDA_VISIBLE_DEVICES to its GPU before torch starts, so it sees only that one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from reportgen.executors.records import run_log
from reportgen.runtime import Runtime

if TYPE_CHECKING:
    from reportgen.executors.task import RunResult, RunSpec


def visible_gpus(runtime: Runtime) -> int:
    """How many GPUs this build's runs may spread over: CUDA's device count on a CUDA build, else none."""
    if runtime.device != "cuda":
        return 0
    import torch

    return torch.cuda.device_count()


def gpu_ids(slots: int) -> list[str]:
    """The GPU ids the workers take, one each: those CUDA_VISIBLE_DEVICES names, else 0 .. slots - 1."""
    named = [gpu for gpu in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if gpu.strip()]
    return (named or [str(i) for i in range(slots)])[:slots]


def pin_to_gpu(free: multiprocessing.Queue) -> None:
    """A worker's initialiser: take one GPU id and make it the only one this process sees (before torch loads)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = free.get()


class PoolTask:
    """A run submitted to the pool, as the driver's loop tracks it."""

    def __init__(self, spec: RunSpec, future: Future):
        self.spec, self.future, self.submitted = spec, future, time.time()

    def finished(self) -> bool:
        return self.future.done()

    def outcome(self) -> RunResult:
        return self.future.result()

    def cancel(self) -> None:
        self.future.cancel()

    def log_path(self) -> Path:
        return run_log(self.spec.run_dir)


class LocalPool:
    """`slots` worker processes, one per GPU, each running `task` (a run's training) on one run at a time."""

    def __init__(self, task: Callable[[RunSpec], RunResult], slots: int):
        self.task = task
        context = multiprocessing.get_context("spawn")  # fresh interpreters: CUDA set up per process, per GPU
        free = context.Queue()
        for gpu in gpu_ids(slots):
            free.put(gpu)
        self.pool = ProcessPoolExecutor(slots, mp_context=context, initializer=pin_to_gpu, initargs=(free,))

    def submit(self, specs: list[RunSpec]) -> list[PoolTask]:
        return [PoolTask(spec, self.pool.submit(self.task, spec)) for spec in specs]

    def close(self, cancelled: bool = False) -> None:
        """Wait for the workers to end; `cancelled`: stop the queued runs and end the running ones now."""
        if cancelled:
            for worker in multiprocessing.active_children():  # the pool's workers: this process's children
                worker.terminate()
        self.pool.shutdown(wait=True, cancel_futures=cancelled)
