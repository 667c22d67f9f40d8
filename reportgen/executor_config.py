"""The `executor` section of the config: where a build's runs train (this machine, Ray, SLURM) and with what.

Declared beside the config's own sections, like reportgen/trackers.py's, and torch-free. How runs are
scheduled changes no run key: a run trained on a Ray worker is the run trained here (docs/gpus-and-clusters.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ExecutorKind = Literal["local", "ray", "slurm"]


@dataclass
class SlurmConfig:
    """The sbatch parameters of each run's job under `executor.kind: slurm` (submitit)."""

    partition: str = ""
    """The SLURM partition the jobs go to; empty: the cluster's default partition."""
    time_min: int = 60
    """Each job's time limit in minutes; a job that reaches it is requeued and resumes from its last epoch."""
    gpus_per_task: int = 1
    """GPUs per job (0: a CPU-only partition)."""
    cpus_per_task: int = 4
    """CPU cores per job (the data loading, the CPU analyses)."""
    mem_gb: int = 16
    """Memory per job in GB."""
    folder: str = ""
    """submitit's folder of job scripts, logs and pickled results; empty: `slurm/` inside the run store (it must be
    on storage the nodes share)."""


@dataclass
class ExecutorConfig:
    """Where a build's runs train and `grade --deep`'s verifications run: one after another here, or as tasks of a
    Ray cluster or jobs of a SLURM partition (`--executor`); the driver decides and assembles as always."""

    kind: ExecutorKind = "local"
    """`local`: on this machine (one run per visible GPU side by side when there are several and more than one run
    to train, else one after another); `ray`: each run a Ray task; `slurm`: each run a SLURM job (submitit)."""
    ray_address: str = ""
    """The Ray cluster to connect to (`--ray-address`); empty: RAY_ADDRESS, else a Ray started on this machine."""
    cpus_per_run: int = 1
    """CPU cores a Ray task reserves (at least 1: data loading and the CPU analyses run there too)."""
    gpus_per_run: int = 1
    """GPUs a Ray task reserves where the build trains on CUDA (0: none)."""
    max_retries: int = 2
    """How often a run whose worker was lost (a killed process, a lost node) is started again; it resumes from its
    last completed epoch. A run that raised an error is not retried."""
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    """The jobs' sbatch parameters."""
