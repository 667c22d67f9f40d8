"""The task a worker runs: train one planned run into the run store, from a small picklable spec.

A worker (a process of this machine, a Ray task, a SLURM job) gets a `RunSpec`, not tensors: it loads the
data from the data cache (which the driver filled, on a shared or the same filesystem), draws the run's
training images as the driver did, checks their fingerprint against the driver's, and trains. Started
again after a lost worker or a requeued job, it resumes from the run's last completed epoch; a run that is
already complete is not trained twice, and two workers never train one run at once (a worker left training
by a driver that died, and the next driver's): each holds the run's worker lease while it trains. Its files
land in the run store with run.json last, atomically. Each attempt is recorded in the run's worker.json and
its output in train.log (reportgen.executors.records).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from reportgen.executors.records import WORKER_LOG, record_attempt
from reportgen.runstore import CHECKPOINT, COMPLETION_RECORD, run_lease, take_lease
from reportgen.runtime import Runtime
from reportgen.training import fit


@dataclass(frozen=True)
class RunSpec:
    """One run to train, as plain data: what a worker needs to train it and nothing it can load itself."""

    config: dict  # the run's config (the base config's or its variant's), as Config.to_dict()
    model: str
    seed: int
    run_dir: str
    label: str  # "CNN seed 42", "no-augment: CNN seed 42"
    runtime: Runtime
    fingerprint: str  # of the run's training data, as the driver planned it


@dataclass(frozen=True)
class RunResult:
    """What a worker hands back: the few numbers the driver prints; everything else is in the run store."""

    run_dir: str
    accuracy: float
    train_time_s: float
    epochs: int


def train_run(spec: RunSpec) -> RunResult:
    """Train `spec`'s run into the run store in a worker, its output into the run's train.log."""
    run_dir = Path(spec.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / WORKER_LOG, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            return train_in_process(spec)
        except BaseException:
            traceback.print_exc()
            raise


def train_in_process(spec: RunSpec, data=None, progress: bool = False, loggers: tuple = ()) -> RunResult:
    """Train `spec`'s run (resuming from its checkpoint where one is left), unless it is already complete.

    `data`: the run's training data when the caller holds it (the driver's own process); else loaded from the
    data cache. `progress` and `loggers` (Lightning's) only make sense in the driver's process.
    """
    from reportgen.config_loading import config_from_dict

    run_dir = Path(spec.run_dir)
    with training_lease(run_dir, spec.label):
        if (run_dir / COMPLETION_RECORD).is_file():  # a retry, or an orphaned worker, stored it: nothing left to do
            return stored_result(run_dir)
        config = config_from_dict(spec.config)
        data = data if data is not None else load_run_data(config, spec)
        resume = (run_dir / CHECKPOINT).is_file()
        record_attempt(run_dir, resume)
        result = fit_run(spec, config, data, resume, progress, loggers)
        info, accuracy = evaluate_and_store(spec, config, data, result)
        return RunResult(spec.run_dir, accuracy, info["train_time_s"], info["epochs"])


@contextlib.contextmanager
def training_lease(run_dir: Path, label: str):
    """Hold the run's worker lease while training it; wait (saying so) while another live worker holds it.

    A driver killed with SIGKILL cannot cancel what it submitted: its Ray task or SLURM job may go on training.
    The next driver takes the dead driver's build lease at once, but its worker waits here until the orphan has
    stored the run (then reuses it) or died (its lease is taken over: at once on this host, after LEASE_S unrenewed
    from another node).
    """
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    lease = run_lease(run_dir, "worker")
    take_lease(lease, label, "another worker that is still training it", lambda line: print(line, flush=True))
    try:
        yield
    finally:
        lease.release()


def load_run_data(config, spec: RunSpec):
    """The run's training data from the data cache, drawn as the driver drew it, checked by its fingerprint."""
    from reportgen.data import load_data, training_data
    from reportgen.errors import DataError

    data = training_data(load_data(config.data), config.data)
    if data.fingerprint != spec.fingerprint:
        raise DataError(f"{spec.label}: this worker's images differ from the driver's (fingerprint "
                        f"{data.fingerprint[:12]}, not {spec.fingerprint[:12]}); every worker needs the same data, "
                        "config and versions")
    return data


def fit_run(spec: RunSpec, config, data, resume: bool, progress: bool, loggers: tuple = ()):
    """Seed everything from the run's seed and fit its model (reportgen.training.fit)."""
    import pytorch_lightning as pl

    from reportgen.models import create_model

    pl.seed_everything(spec.seed, workers=True, verbose=False)
    model = create_model(spec.model, config, len(data.classes))
    return fit(model, data, config, spec.runtime, spec.seed, Path(spec.run_dir) / "checkpoints", spec.label,
               progress, resume=resume, loggers=loggers)


def stored_result(run_dir: Path) -> RunResult:
    """A complete run's numbers, from its run.json and metrics.json."""
    info = json.loads((run_dir / COMPLETION_RECORD).read_text())
    accuracy = json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    return RunResult(str(run_dir), accuracy, info["train_time_s"], info["epochs"])


def evaluate_and_store(spec: RunSpec, config, data, result) -> tuple[dict, float]:
    """Predict the test set, measure the clean training (and held-out validation) accuracy, write the run's files
    into the store (run.json last) and drop its checkpoint."""
    import torch

    from reportgen.architectures import display_name
    from reportgen.assembly import write_test_results
    from reportgen.bundle_files import atomic_output, write_history, write_json
    from reportgen.evaluation import generalisation_records
    from reportgen.models import count_parameters
    from reportgen.runstore import run_key
    from reportgen.training import epoch_loads, epoch_timings

    run_dir, model, runtime = Path(spec.run_dir), result.model, spec.runtime
    metrics = write_test_results(run_dir, model, config, data, runtime)
    write_history(run_dir / "history.csv", result.history)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, run_dir / "weights.pt")
    info = {
        "model": spec.model,
        "display_name": display_name(spec.model),
        "seed": spec.seed,
        "parameters": count_parameters(model),
        "key": run_key(config, spec.model, spec.seed, data.fingerprint, runtime),
        "device": runtime.device,
        "precision": runtime.precision,
        "epochs": len(result.history),
        "train_images": len(data.train_y),
        "train_time_s": float(sum(h["epoch_time_s"] for h in result.history)),
        "fit_wall_time_s": result.fit_wall_time_s,
        **epoch_timings(result.history, result.first_epochs),
        **epoch_loads(result.history),
        **generalisation_records(model, data, config, runtime),
    }
    with atomic_output(run_dir / COMPLETION_RECORD) as tmp:  # last, and whole: it marks the run complete
        write_json(tmp, info)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return info, metrics["accuracy"]
