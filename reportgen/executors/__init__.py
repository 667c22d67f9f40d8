"""Schedulers of a build's runs: where the runs that the driver decided to train are trained.

The driver (rank 0, with the run store's locks held) decides what to reuse, resume or train
(reportgen.build), then hands every run to train, as a `RunSpec` (reportgen.executors.task), to an
executor and waits for them (reportgen.executors.driver: progress, failures, cancelling on Ctrl-C):

* `local` (reportgen.executors.local): in this process, one run after another, with progress bars; or,
  with several visible GPUs and more than one run to train, one worker process per GPU side by side;
* `ray` (reportgen.executors.ray): each run a Ray task, retried where its worker is lost;
* `slurm` (reportgen.executors.slurm): each run a job of a submitit job array, requeued on timeout or preemption.

Ray and submitit are optional extras, imported only when chosen. The run store records what finished.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from reportgen.errors import ConfigError
from reportgen.executor_config import ExecutorConfig

if TYPE_CHECKING:
    from reportgen.executors.task import RunResult, RunSpec

EXTRAS = {"ray": ("ray", "reportgen[ray]"), "slurm": ("submitit", "reportgen[slurm]")}  # kind: (module, extra)


def require_extra(kind: str) -> None:
    """Refuse, in one line naming the pip command, an executor whose library is not installed."""
    if kind not in EXTRAS:
        return
    module, extra = EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"--executor {kind} needs {module}, which is not installed: pip install '{extra}'") from None


def remote_executor(task: Callable[[RunSpec], RunResult], settings: ExecutorConfig, store: Path, use_gpus: bool,
                    slots: int):
    """The executor that runs `task` (train_run) in the build's workers, or None to train in this process, one
    run after another.

    `store`: the run store (SLURM's folder defaults inside it); `use_gpus`: whether the runs train on CUDA;
    `slots`: local worker processes to run side by side (one per visible GPU), 1 for none.
    """
    if settings.kind == "ray":
        from reportgen.executors.ray import RayExecutor

        return RayExecutor(task, settings, use_gpus)
    if settings.kind == "slurm":
        from reportgen.executors.slurm import SlurmExecutor

        return SlurmExecutor(task, settings, store)
    if slots > 1:
        from reportgen.executors.local import LocalPool

        return LocalPool(task, slots)
    return None


def map_on_cluster(settings: ExecutorConfig, function: Callable, arguments: list[tuple], folder: Path,
                   progress: bool, what: str) -> list:
    """`function(*args)` for each of `arguments`, each one task of the Ray cluster or one job of a SLURM job array
    (`folder`: submitit's); the results in order, a progress bar of `what` counting the finished ones. `function`
    must be importable on the workers (a module-level function of reportgen) and handle its own errors."""
    if settings.kind == "ray":
        from reportgen.executors.ray import ray_map

        return ray_map(function, arguments, settings, progress, what)
    from reportgen.executors.slurm import slurm_map

    return slurm_map(function, arguments, settings, folder, progress, what)
