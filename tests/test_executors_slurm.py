"""The SLURM executor without a cluster: the sbatch parameters it would use, from executor.slurm.*; and the
same path on submitit's local executor: a run's job submitted, interrupted as at its time limit, requeued, and
resumed from its checkpoint to the result of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import reportgen.build as build_module
from reportgen.executors.records import attempts
from reportgen.executors.slurm import SlurmExecutor, job_folder, slurm_parameters
from reportgen.executors.task import train_run
from reportgen.runstore import CHECKPOINT
from reportgen.runtime import resolve_runtime
from tests.test_executors_local import build, results_of, sample_config, stand_in_report  # noqa: F401

submitit = pytest.importorskip("submitit")


def test_the_sbatch_parameters_come_from_the_config(tmp_path, monkeypatch):
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # as if on a cluster
    config = sample_config()
    slurm = config.executor.slurm
    slurm.partition, slurm.time_min, slurm.gpus_per_task, slurm.cpus_per_task, slurm.mem_gb = "gpu", 90, 1, 8, 32
    assert job_folder(config.executor, tmp_path / "runs") == tmp_path / "runs" / "slurm"
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="slurm")
    executor.update_parameters(**slurm_parameters(config.executor), slurm_use_srun=False)  # no srun here either
    sbatch = executor._executor._make_submission_file_text("python -m train", "uid")  # what sbatch would get
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=32GB", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --nodes=1", "#SBATCH --signal=USR2@"):
        assert line in sbatch, line


def test_without_sbatch_the_slurm_executor_says_where_to_run_the_driver(tmp_path, monkeypatch):
    from reportgen.errors import ConfigError

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(ConfigError, match="sbatch, which is not on this machine's PATH"):
        SlurmExecutor(train_run, sample_config().executor, tmp_path)


@pytest.mark.e2e  # submitit's local jobs: real processes
@pytest.mark.usefixtures("stand_in_report")
def test_a_job_requeued_at_its_time_limit_resumes_from_its_checkpoint(tmp_path):
    config = sample_config(epochs=8)
    config.models = ["cnn"]
    build(config, tmp_path, "local")  # the uninterrupted run, for comparison
    runs = build_module.plan_runs(config, build_module.load_data(config.data), tmp_path / "runs",
                                  resolve_runtime(config))
    (run,) = runs
    executor = SlurmExecutor(train_run, config.executor, tmp_path / "runs", cluster="local")
    (task,) = executor.submit([build_module.run_spec(run)])
    deadline = time.monotonic() + 120
    while not (run.run_dir / CHECKPOINT).is_file():  # the first epoch is done
        assert time.monotonic() < deadline and not task.finished(), Path(task.log_path()).read_text()[-2000:]
        time.sleep(0.05)
    # As SLURM does ahead of the time limit: USR2 to the job's process; submitit checkpoints and requeues the job.
    os.kill(attempts(run.run_dir)[0]["pid"], signal.SIGUSR2)
    result = task.outcome()  # waits for the requeued job
    assert result.epochs == 8
    assert [a["resumed"] for a in attempts(run.run_dir)] == [False, True]
    local = next(p for p in (tmp_path / "runs-local").iterdir() if p.is_dir())
    for name in ("predictions.csv", "metrics.json"):
        assert (run.run_dir / name).read_text() == (local / name).read_text(), name
    assert results_of(tmp_path / "local")  # the comparison run was stored
