"""The Ray executor: each run a Ray task (`ray.remote`), on a Ray cluster or a Ray started on this machine.

A task reserves one GPU where the build trains on CUDA (executor.gpus_per_run), else CPU cores
(executor.cpus_per_run). A task whose worker is lost (its process killed, its node gone) is started again up
to executor.max_retries times and resumes from the run's last completed epoch; an error the run raised is
not retried. No Ray Tune or Ray Train: the run store, not Ray's state, records what finished. Every node
needs reportgen installed and the run store and data cache at the same paths (docs/gpus-and-clusters.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from reportgen.executor_config import ExecutorConfig
from reportgen.executors.records import run_log

if TYPE_CHECKING:
    from reportgen.executors.task import RunResult, RunSpec


def start_ray(address: str) -> None:
    """Connect to the Ray cluster at `address` (empty: RAY_ADDRESS, else a Ray started here), once a process."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or None, log_to_driver=False)  # each run's output goes to its train.log


class RayTask:
    """A submitted run: its spec and its task's object reference."""

    def __init__(self, spec: RunSpec, ref):
        self.spec, self.ref, self.submitted = spec, ref, time.time()

    def finished(self) -> bool:
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        return bool(ready)

    def outcome(self):
        import ray

        return ray.get(self.ref)

    def cancel(self) -> None:
        import ray

        ray.cancel(self.ref, force=True)

    def log_path(self) -> Path:
        return run_log(self.spec.run_dir)


class RayExecutor:
    """Runs `task` (a run's training, reportgen.executors.task.train_run) as Ray tasks."""

    def __init__(self, task: Callable[[RunSpec], RunResult], settings: ExecutorConfig, use_gpus: bool):
        import ray

        start_ray(settings.ray_address)
        resources = ({"num_gpus": settings.gpus_per_run, "num_cpus": settings.cpus_per_run} if use_gpus
                     else {"num_cpus": settings.cpus_per_run})
        self.remote = ray.remote(max_retries=settings.max_retries, retry_exceptions=False, **resources)(task)

    def submit(self, specs: list[RunSpec]) -> list[RayTask]:
        return [RayTask(spec, self.remote.remote(spec)) for spec in specs]

    def close(self, cancelled: bool = False) -> None:
        """Nothing to hold: the tasks were cancelled by the driver's loop; a Ray started here ends with the process."""


def ray_map(function: Callable, arguments: list[tuple], settings: ExecutorConfig, progress: bool, what: str) -> list:
    """`function(*args)` as one Ray task per argument tuple (executor.cpus_per_run each); cancelled on Ctrl-C."""
    import ray
    from tqdm import tqdm

    start_ray(settings.ray_address)
    remote = ray.remote(num_cpus=settings.cpus_per_run, max_retries=settings.max_retries,
                        retry_exceptions=False)(function)
    refs = [remote.remote(*args) for args in arguments]
    try:
        pending = list(refs)
        with tqdm(total=len(refs), desc=what, unit="task", disable=not progress) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                bar.update(len(ready))
        return ray.get(refs)
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
