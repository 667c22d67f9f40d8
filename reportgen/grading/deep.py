"""The deep checks of grading (`verify --deep` per bundle), in parallel worker processes.

With `--executor ray|slurm`, each bundle is one Ray task or SLURM job instead (reportgen.executors.map_on_cluster);
the sheet is the same. Each local worker is a fresh interpreter (spawned: no threads or torch state inherited)
that loads each data set once and runs `verify_deep` on the bundles it is given; a progress bar counts the
finished ones.
A failed check of kind DEEP flags the row ("results its weights do not give"); a bundle that could not
be checked (missing data, an unreadable file) fails deep verification with the reason, unflagged.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Sequence

from reportgen.bundle import Bundle
from reportgen.executor_config import ExecutorConfig
from reportgen.grading.rows import (
    DEEP,
    Check,
    Submission,
    add_flag,
    check_flag,
    deep_data_config,
    failure_text,
    first_failed,
    first_failure,
    named,
    verify_deep,
)

_worker_data: dict[tuple, Any] = {}  # per worker process: the data sets loaded so far, by source


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def deep_result(path: Path, data_dir: Path | None) -> tuple[str, Check | None]:
    """(first failure, or "" when every check passed; the failed check, None when none failed or the bundle
    could not be checked) of `verify --deep` for one bundle; runs in a worker process."""
    from reportgen.data import load_data

    try:
        bundle = Bundle(path)
        config = deep_data_config(bundle, data_dir)
        key = (config.dataset, config.dir)
        if key not in _worker_data:
            _worker_data[key] = load_data(config)
        checks = verify_deep(bundle, _worker_data[key])
        return first_failure(checks), first_failed(checks)
    except Exception as exc:  # one hostile bundle must not stop the sheet: its row names the error
        return failure_text(exc), None


def record_deep(submission: Submission, failure: str, failed: Check | None) -> None:
    """Fill deep_verified and deep_failure of a submission's row; flag it when a check of kind DEEP failed."""
    submission.row["deep_verified"], submission.row["deep_failure"] = not failure, named(failure, submission)
    if failed is not None and failed.kind == DEEP:
        add_flag(submission, check_flag(failed))


def run_deep(submissions: Sequence[Submission], data_dir: Path | None, jobs: int, progress: bool,
             executor: ExecutorConfig | None = None, folder: Path | None = None) -> None:
    """Fill deep_verified and deep_failure of every row, `jobs` bundles at a time in worker processes; with a Ray
    or SLURM `executor`, each bundle one task or job instead (`folder`: submitit's; the bundles and the images
    must be at the same paths on the workers)."""
    if executor is not None and executor.kind != "local":
        from reportgen.executors import map_on_cluster

        arguments = [(s.path, data_dir) for s in submissions]
        for submission, result in zip(submissions, map_on_cluster(executor, deep_result, arguments, folder, progress,
                                                                  "verify --deep")):
            record_deep(submission, *result)
        return
    import multiprocessing

    from tqdm import tqdm

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no threads or torch state inherited
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(deep_result, s.path, data_dir): s for s in submissions}
        for future in tqdm(as_completed(futures), total=len(futures), desc="verify --deep", unit="bundle",
                           disable=not progress):
            record_deep(futures[future], *future.result())
