"""The SLURM executor: each run a job of one submitit job array (`AutoExecutor.map_array`).

The jobs' sbatch parameters come from executor.slurm.* (`slurm_parameters`); submitit's folder of job
scripts, logs and results defaults to `slurm/` inside the run store, which the nodes share. A job is
checkpointable: at its time limit or on preemption SLURM signals it, submitit requeues it (at most
executor.max_retries times) and the run resumes from its last completed epoch's Lightning checkpoint.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from reportgen.errors import ConfigError
from reportgen.executor_config import ExecutorConfig
from reportgen.executors.driver import POLL_S

if TYPE_CHECKING:
    from reportgen.executors.task import RunResult, RunSpec

try:
    from submitit.helpers import Checkpointable
except ImportError:  # the extra is not installed: reportgen.executors.require_extra says so before this is used
    Checkpointable = object


def slurm_parameters(settings: ExecutorConfig) -> dict:
    """submitit's AutoExecutor parameters (one task per job, so one run per GPU) from executor.slurm.*."""
    s = settings.slurm
    parameters = {"timeout_min": s.time_min, "gpus_per_node": s.gpus_per_task, "cpus_per_task": s.cpus_per_task,
                  "mem_gb": s.mem_gb, "tasks_per_node": 1, "nodes": 1}
    if s.partition:
        parameters["slurm_partition"] = s.partition
    return parameters


def job_folder(settings: ExecutorConfig, store: Path) -> Path:
    """submitit's folder: executor.slurm.folder, else slurm/ inside the run store."""
    return Path(settings.slurm.folder).expanduser() if settings.slurm.folder else store / "slurm"


class CheckpointableRun(Checkpointable):
    """A run's job: train it; when submitit requeues it (timeout, preemption), the new job resumes from the
    checkpoint (submitit's Checkpointable resubmits the same spec, and the task resumes where a checkpoint is)."""

    def __init__(self, task: Callable[[RunSpec], RunResult]):
        self.task = task  # a module-level function: pickled by reference into the job

    def __call__(self, spec: RunSpec):
        try:
            return self.task(spec)
        except KeyboardInterrupt as exc:  # training turned submitit's requeue exit into an interruption: keep it
            if isinstance(exc.__cause__, SystemExit):
                raise exc.__cause__ from None
            raise


class SlurmTask:
    """A submitted run: its spec and its job."""

    def __init__(self, spec: RunSpec, job):
        self.spec, self.job, self.submitted = spec, job, time.time()

    def finished(self) -> bool:
        return self.job.done()

    def outcome(self):
        return self.job.result()

    def cancel(self) -> None:
        self.job.cancel(check=False)

    def log_path(self) -> Path:
        return Path(self.job.paths.stderr)


def submitit_executor(settings: ExecutorConfig, folder: Path, cluster: str = "slurm"):
    """submitit's AutoExecutor on `cluster` ("local": jobs on this machine), with executor.slurm.*'s parameters."""
    import submitit

    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm submits with SLURM's sbatch, which is not on this machine's PATH: "
                          "run the driver on a node of the cluster (a login node, or inside an sbatch job)")
    # A job that reaches its time limit or is preempted is requeued at most max_retries times.
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster,
                                     **{f"{cluster}_max_num_timeout": settings.max_retries})
    executor.update_parameters(**slurm_parameters(settings))
    return executor


def slurm_map(function: Callable, arguments: list[tuple], settings: ExecutorConfig, folder: Path, progress: bool,
              what: str, cluster: str = "slurm") -> list:
    """`function(*args)` as one job of a job array per argument tuple; the jobs are cancelled on Ctrl-C."""
    from tqdm import tqdm

    jobs = submitit_executor(settings, folder, cluster).map_array(function, *zip(*arguments))
    try:
        with tqdm(total=len(jobs), desc=what, unit="job", disable=not progress) as bar:
            while bar.n < len(jobs):
                bar.update(sum(job.done() for job in jobs) - bar.n)
                time.sleep(POLL_S)
        return [job.result() for job in jobs]
    except BaseException:
        for job in jobs:
            job.cancel(check=False)
        raise


class SlurmExecutor:
    """Submits `task` on runs as a job array; `cluster="local"`: the same path on this machine (submitit's local
    jobs)."""

    def __init__(self, task: Callable[[RunSpec], RunResult], settings: ExecutorConfig, store: Path,
                 cluster: str = "slurm"):
        self.task = task
        self.executor = submitit_executor(settings, job_folder(settings, store), cluster)

    def submit(self, specs: list[RunSpec]) -> list[SlurmTask]:
        jobs = self.executor.map_array(CheckpointableRun(self.task), specs)
        return [SlurmTask(spec, job) for spec, job in zip(specs, jobs)]

    def close(self, cancelled: bool = False) -> None:
        """Nothing to hold: the jobs were cancelled by the driver's loop, and their files stay in the folder."""
