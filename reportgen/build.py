"""`reportgen build`: train (or reuse) every model and seed, then assemble and render the bundle.

Each training run lives in a run store under a key computed from everything that affects it (its
model's settings, data, augmentation, training settings, seed, dataset fingerprint, reportgen and
torch versions). A run whose key matches a completed one is reused; an interrupted one resumes from
its last completed epoch. A run is locked while a build decides about it and trains it, so two
builds sharing a run store never train the same run at once: the second waits, then reuses it.
The bundle is assembled in a staging folder and renamed into place only when complete, so a crash
or an interruption never leaves a half-written bundle that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from filelock import FileLock, Timeout

from reportgen import __version__
from reportgen.analysis.store import analyse_run
from reportgen.bundle import (
    publish,
    read_json,
    staging_dir,
    write_history,
    write_json,
    write_manifest,
    write_predictions,
)
from reportgen.config import Config, save_config
from reportgen.data import ImageData, augment, load_data, training_subset
from reportgen.errors import ConfigError, DataError
from reportgen.evaluation import compute_metrics, predict, probe_visuals
from reportgen.models import MODEL_REGISTRY, count_parameters, create_model, describe_architecture
from reportgen.training import (
    TrainingInterrupted,
    check_device,
    fit,
    resolve_device,
    resolve_precision,
    uses_tf32,
)

RUN_FILES = ("run.json", "history.csv", "metrics.json", "predictions.csv", "weights.pt")


@dataclass
class RunOutcome:
    """What happened to one model at one seed (of the base config or a variant) during a build."""

    model: str
    seed: int
    status: str  # "trained" or "reused"
    reason: str
    accuracy: float
    train_time_s: float
    variant: str | None = None


@dataclass
class PlannedRun:
    """One (variant, model, seed) of a build, the config and data it trains with, and what rank 0 decided."""

    model: str
    seed: int
    run_dir: Path
    label: str  # "CNN seed 42", "no-augment: CNN seed 42"
    config: Config  # the base config, or the variant's
    data: ImageData  # its training images (a class-balanced subset under data.train_fraction)
    precision: str  # its config's train.precision, resolved on the build's device
    variant: str | None = None  # None: the base config
    action: str = ""  # "reuse", "resume" or "train" (from scratch)
    reason: str = ""
    started: bool = False  # whether this build started training it

    @property
    def bundle_folder(self) -> str:
        """Where the bundle keeps this run: runs/<model>/seed-<s>, or variants/<name>/<model>/seed-<s>."""
        scope = "runs" if self.variant is None else f"variants/{self.variant}"
        return f"{scope}/{self.model}/seed-{self.seed}"


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a build; the message says what the run store kept."""


def run_key(config: Config, model: str, seed: int, fingerprint: str, device: str, precision: str) -> str:
    """A hash of everything that changes the result of training `model` at `seed`.

    device and precision are the resolved ones ("cuda", "bf16-mixed"), not "auto": an "auto" run
    on a GPU and one on a CPU are different runs, and sharing a runs folder must not mix them. So is
    TF32: whether it was in effect, which only a CUDA run at precision 32 can tell apart.
    """
    train = {k: v for k, v in config.to_dict()["train"].items() if k not in ("seeds", "num_threads", "tf32")}
    train.update(device=device, precision=precision, tf32=uses_tf32(config, device, precision))
    identity = {
        "model": model,
        "architecture": getattr(config, model).__dict__,
        "normalisation": {"mean": config.data.mean, "std": config.data.std},
        "augment": config.augment.__dict__,
        "train": train,
        "seed": seed,
        "dataset": fingerprint,
        "reportgen": __version__,
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def build(config: Config, out: Path, runs_dir: Path, force: bool = False, progress: bool = True,
          log: Callable[[str], None] = print) -> list[RunOutcome]:
    """Train or reuse every (model, seed), write the bundle to `out` and render its report.

    Every decision to reuse, resume, retrain or delete a run is made once, by rank 0, with the run
    store's locks held; the other DDP processes (which Lightning starts by re-running this command,
    or which torchrun or another node starts) follow it, train with rank 0 and write nothing.
    Ctrl-C or SIGTERM raise BuildInterrupted, saying what the run store kept.
    """
    device = resolve_device(config.train.device)
    check_device(device)
    if not is_primary_process():
        _follow_rank_zero(config, runs_dir, device)
        return []
    log(f"loading data ({config.data.dataset})")
    full = load_data(config.data)
    _check_against_data(config, full)
    runs = _plan_runs(config, full, runs_dir, device)
    staged = staging_dir(out)
    try:
        with RunLocks(runs, log) as locks:
            _decide(runs, force, locks, log)
            share_plan(runs, config)
            outcomes = _assemble(config, device, staged, runs, locks, progress, log)
        render_and_publish(staged, out, config.report.pdf, log)
    except KeyboardInterrupt as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise BuildInterrupted(_what_was_kept(runs, runs_dir, config, exc)) from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return outcomes


def render_and_publish(staged: Path, out: Path, pdf: bool, log: Callable[[str], None]) -> None:
    """Render the report of the complete bundle in `staged`, write its manifest last and publish it at `out`."""
    log("rendering report")
    from reportgen.report import render_report  # the render side, shared with `reportgen render`

    render_report(staged, pdf=pdf)
    write_manifest(staged)
    publish(staged, out)


def is_primary_process() -> bool:
    """False in the extra processes of a multi-process (DDP) run, which Lightning, torchrun or
    SLURM mark with a non-zero rank in the environment."""
    return all(os.environ.get(name, "0") == "0" for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def _check_against_data(config: Config, data: ImageData) -> None:
    n_test = len(data.test_y)
    if config.report.sample_index >= n_test:
        raise ConfigError(f"config key 'report.sample_index' is {config.report.sample_index} but the test split "
                          f"has {n_test} images; choose an index from 0 to {n_test - 1}")


def _plan_runs(config: Config, full: ImageData, runs_dir: Path, device: str) -> list[PlannedRun]:
    """Every (model, seed) of the base config, then of each variant, with its folder in the run store, named by
    its run key: a variant's run that trains exactly as a base run (or another variant's) shares its folder.
    The base runs come first."""
    subsets: dict[tuple[float, int], ImageData] = {}

    def training_data(c: Config) -> ImageData:
        key = (c.data.train_fraction, c.data.fraction_seed)
        if key not in subsets:
            subsets[key] = training_subset(full, *key)
        return subsets[key]

    runs = []
    for variant, c in [(None, config), *((name, config.variant(name)) for name in config.variants)]:
        data, precision = training_data(c), resolve_precision(c.train.precision, device)
        for name in c.models:
            for seed in c.train.seeds:
                folder = runs_dir / f"{name}-{run_key(c, name, seed, data.fingerprint, device, precision)[:20]}"
                label = f"{MODEL_REGISTRY[name][0]} seed {seed}"
                runs.append(PlannedRun(name, seed, folder, label if variant is None else f"{variant}: {label}",
                                       c, data, precision, variant))
    return runs


# ---------------------------------------------------------------------------------------------
# The run store: locks, and rank 0's decisions
# ---------------------------------------------------------------------------------------------

class RunLocks:
    """A file lock per run of the build, beside its folder in the run store (filelock, an OS lock).

    Taken in sorted order, so two builds never wait for each other in a circle; a build that needs a
    run another build holds waits for it, and says so. The OS drops the lock of a process that dies,
    however it dies, so a lock left by a killed build never blocks anyone. Each run's lock is released
    as soon as that run is complete in the store.
    """

    def __init__(self, runs: list[PlannedRun], log: Callable[[str], None]):
        self.runs, self.log = runs, log
        self.locks: dict[Path, FileLock] = {}
        self.waited: set[Path] = set()

    def __enter__(self) -> RunLocks:
        for run in sorted({r.run_dir: r for r in reversed(self.runs)}.values(), key=lambda r: r.run_dir):
            run.run_dir.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(run.run_dir.parent / f".{run.run_dir.name}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                self.log(f"{run.label}: waiting for another reportgen build that is training it "
                         f"(it holds {lock.lock_file})")
                lock.acquire()
                self.waited.add(run.run_dir)
            self.locks[run.run_dir] = lock
        return self

    def release(self, run_dir: Path) -> None:
        lock = self.locks.pop(run_dir, None)
        if lock is not None:
            lock.release()

    def __exit__(self, *exc) -> None:
        for run_dir in list(self.locks):
            self.release(run_dir)


def _decide(runs: list[PlannedRun], force: bool, locks: RunLocks, log: Callable[[str], None]) -> None:
    """Rank 0, with every lock held: reuse, resume or train each run; --force deletes before deciding.

    A run that shares its folder with an earlier run of the build (a variant that trains a model exactly as
    the base config does) reuses what that one trains.
    """
    first: dict[Path, PlannedRun] = {}
    for run in runs:
        if run.run_dir in first:
            run.action, run.reason = "reuse", f"it trains exactly as {first[run.run_dir].label}"
            continue
        first[run.run_dir] = run
        complete = (run.run_dir / "run.json").is_file()
        if complete and not force:
            run.action = "reuse"
            run.reason = ("another build trained it while this one waited" if run.run_dir in locks.waited
                          else "a stored run has the same model, data, training settings, seed and versions")
            continue
        forced = force and run.run_dir.exists()
        if forced:
            shutil.rmtree(run.run_dir)
        if (run.run_dir / "checkpoints" / "last.ckpt").is_file():
            run.action, run.reason = "resume", "resumed an interrupted run from its last completed epoch"
        else:
            run.action = "train"
            run.reason = "retraining forced (--force)" if forced else "no stored run matches this config"


PLAN_ENV = "REPORTGEN_RUN_PLAN"  # rank 0's decisions, inherited by the processes Lightning starts from it
_plan_server = []  # rank 0's TCP store of the plan, kept open for the build (processes that start on their own)


def share_plan(runs: list[PlannedRun], config: Config) -> None:
    """Hand rank 0's decisions to the other processes of a DDP build, before the first fit starts them.

    Lightning starts a node's other processes from its rank 0 with its environment; processes that
    start on their own (other nodes, torchrun, srun) read the plan from a TCP store that rank 0 opens at
    MASTER_ADDR, port MASTER_PORT + 1, for as long as the build runs.
    """
    if config.train.devices * config.train.num_nodes == 1:
        return
    actions: dict[str, str] = {}
    for run in runs:  # a folder's first run decides: the later ones that share it reuse what it trains
        actions.setdefault(run.run_dir.name, run.action)
    plan = json.dumps(actions)
    os.environ[PLAN_ENV] = plan
    if _processes_start_on_their_own(config):
        store = _plan_store(is_server=True)
        store.set("plan", plan)
        _plan_server.append(store)


def receive_plan(config: Config) -> dict[str, str]:
    """Rank 0's decisions, in a process other than rank 0; waits for them (rank 0 has its data by then)."""
    if PLAN_ENV in os.environ:
        return json.loads(os.environ[PLAN_ENV])
    plan = _plan_store(is_server=False).get("plan").decode()
    os.environ[PLAN_ENV] = plan  # for the processes that Lightning starts from this one (its node's)
    return json.loads(plan)


def _processes_start_on_their_own(config: Config) -> bool:
    return (config.train.num_nodes > 1 or "TORCHELASTIC_RUN_ID" in os.environ
            or int(os.environ.get("SLURM_NTASKS", "1")) > 1)


def _plan_store(is_server: bool):
    from datetime import timedelta

    address, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not address or not port:
        raise ConfigError("config key 'train.num_nodes': processes started on several nodes (or by torchrun, srun) "
                          "need MASTER_ADDR and MASTER_PORT set to node 0's address and a free port")
    return torch.distributed.TCPStore(address, int(port) + 1, is_master=is_server, wait_for_workers=False,
                                      timeout=timedelta(hours=2))  # rank 0 may load and decode data for long


def _follow_rank_zero(config: Config, runs_dir: Path, device: str) -> None:
    """A DDP process other than rank 0: train what rank 0 trains, as it decided; evaluate and write nothing."""
    plan = receive_plan(config)
    full = load_data(config.data)  # from the cache that rank 0 filled (on a shared or the same file system)
    done: set[Path] = set()
    for run in _plan_runs(config, full, runs_dir, device):
        action = plan.get(run.run_dir.name)
        if action is None:
            raise DataError(f"{run.label}: this process's run key differs from rank 0's; every process needs the "
                            "same data, config and versions")
        if action != "reuse" and run.run_dir not in done:
            _fit_run(run, resume=action == "resume", progress=False)
        done.add(run.run_dir)


def _what_was_kept(runs: list[PlannedRun], runs_dir: Path, config: Config, exc: KeyboardInterrupt) -> str:
    """What an interrupted build left in the run store, for its one-line message."""
    complete = [run for run in runs if (run.run_dir / "run.json").is_file()]
    kept = [f"{len(complete)} completed run{'' if len(complete) == 1 else 's'}"]
    for run in runs:
        if run in complete or not (run.started or (run.run_dir / "checkpoints" / "last.ckpt").is_file()):
            continue
        if isinstance(exc, TrainingInterrupted) and run.started:
            kept.append(f"{run.label} after epoch {exc.epochs_kept} of {run.config.train.epochs}" if exc.epochs_kept
                        else f"{run.label} before its first epoch ended (nothing of it)")
        else:
            kept.append(f"{run.label} at its last completed epoch")
    return f"kept in {runs_dir}: " + ", ".join(kept)


# ---------------------------------------------------------------------------------------------
# Rank 0: train, evaluate and assemble the bundle
# ---------------------------------------------------------------------------------------------

def _assemble(config: Config, device: str, staged: Path, runs: list[PlannedRun],
              locks: RunLocks, progress: bool, log: Callable[[str], None]) -> list[RunOutcome]:
    base = runs[0]  # the base config's first run: _plan_runs plans the base runs first
    write_shared_files(staged, config, base.data, device, base.precision)
    architectures = {name: architecture_entry(name, create_model(name, config, len(base.data.classes)))
                     for name in config.models}
    outcomes = []
    clock = BuildClock(runs)
    for n, run in enumerate(runs, start=1):
        log(clock.status(n, run))
        outcome = _train_or_reuse(run, device, progress, log)
        clock.finished(run, outcome)
        outcomes.append(outcome)
        target = staged / run.bundle_folder
        if run.variant is None:
            _copy_run(run, target, outcome, device, log)
        else:
            _copy_variant_run(run, target, outcome)
        locks.release(run.run_dir)
    write_json(staged / "architectures.json", architectures)
    return outcomes


class BuildClock:
    """Which run of the build comes next, how many are left, and the time left overall.

    The time left is estimated per model from the runs this build has trained: seconds per epoch and
    training image (a smaller training set trains proportionally faster), times what the runs still to
    train will do. Until a model has trained once here, its runs count as unknown.
    """

    def __init__(self, runs: list[PlannedRun]):
        self.runs = runs
        self.seconds_per_image_epoch: dict[str, list[float]] = {}

    @staticmethod
    def work(run: PlannedRun) -> float:
        return run.config.train.epochs * len(run.data.train_y)

    def finished(self, run: PlannedRun, outcome: RunOutcome) -> None:
        if outcome.status == "trained" and run.action == "train":  # a resumed run trained only its last epochs
            self.seconds_per_image_epoch.setdefault(run.model, []).append(outcome.train_time_s / self.work(run))

    def status(self, n: int, run: PlannedRun) -> str:
        """e.g. "[3/12] variant no-augment, CNN seed 42: 10 runs left to train, about 14 min"."""
        what = "base config" if run.variant is None else f"variant {run.variant}"
        to_train = [r for r in self.runs[n - 1:] if r.action != "reuse"]
        estimate = self._estimate(to_train)
        runs = "run" if len(to_train) == 1 else "runs"
        left = f"{len(to_train)} {runs} left to train" if to_train else "nothing left to train"
        return (f"[{n}/{len(self.runs)}] {what}, {run.label.split(': ')[-1]}: {left}"
                + (f", about {estimate}" if estimate else ""))

    def _estimate(self, runs: list[PlannedRun]) -> str | None:
        if not runs:
            return None
        rates = {m: sum(v) / len(v) for m, v in self.seconds_per_image_epoch.items()}
        if any(r.model not in rates for r in runs):
            return None
        return _duration(sum(rates[r.model] * self.work(r) for r in runs))


def _duration(seconds: float) -> str:
    """A rough duration: "40 s", "14 min", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def write_shared_files(staged: Path, config: Config, data: ImageData, device: str, precision: str) -> None:
    """The files of a bundle that do not belong to one run: config, environment, dataset and samples."""
    save_config(config, staged / "config.yaml")
    write_json(staged / "environment.json", describe_environment(device, precision))
    write_json(staged / "dataset.json", data.describe())
    _write_samples(staged / "samples.npz", data, config)


def architecture_entry(name: str, model: torch.nn.Module) -> dict:
    """architectures.json's entry for the registered model `name`, read off the built `model`."""
    return {"display_name": MODEL_REGISTRY[name][0], "parameters": count_parameters(model),
            "layers": describe_architecture(model)}


def _train_or_reuse(run: PlannedRun, device: str, progress: bool, log: Callable[[str], None]) -> RunOutcome:
    if run.action == "reuse":
        info = read_json(run.run_dir / "run.json")
        log(f"{run.label}: reused ({run.reason})")
        return RunOutcome(run.model, run.seed, "reused", run.reason,
                          read_json(run.run_dir / "metrics.json")["accuracy"], info["train_time_s"], run.variant)
    log(f"{run.label}: training on {device} ({run.reason})")
    run.started = True
    result = _fit_run(run, resume=run.action == "resume", progress=progress)
    info, accuracy = _evaluate_and_store(run, result, device)
    return RunOutcome(run.model, run.seed, "trained", run.reason, accuracy, info["train_time_s"], run.variant)


def _fit_run(run: PlannedRun, resume: bool, progress: bool):
    import pytorch_lightning as pl

    pl.seed_everything(run.seed, workers=True, verbose=False)
    model = create_model(run.model, run.config, len(run.data.classes))
    return fit(model, run.data, run.config, run.seed, run.run_dir / "checkpoints", run.label, progress,
               resume=resume)


def epoch_timings(history: list[dict], first_epochs: list[int]) -> dict:
    """Steady-state time per epoch, and the one-off cost that the first epoch of each fit paid on top.

    steady_epoch_time_s: the mean time of the epochs that were not the first of a fit (a fresh or a
    resumed process); warmup_time_s: what those first epochs took beyond it (at least 0 each). Both
    None when every epoch was a first one (a 1-epoch run). train_time_s stays the sum of all epochs.
    """
    first = set(first_epochs)
    steady = [h["epoch_time_s"] for h in history if h["epoch"] not in first]
    if not steady:
        return {"steady_epoch_time_s": None, "warmup_time_s": None, "warmup_epochs": sorted(first)}
    mean = sum(steady) / len(steady)
    extra = sum(max(0.0, h["epoch_time_s"] - mean) for h in history if h["epoch"] in first)
    return {"steady_epoch_time_s": mean, "warmup_time_s": extra, "warmup_epochs": sorted(first)}


def _evaluate_and_store(run: PlannedRun, result, device: str) -> tuple[dict, float]:
    """Predict the test set, write the run's files into the store (run.json last) and drop its checkpoint."""
    config, data, precision = run.config, run.data, run.precision
    model = result.model.to(device)
    probs = predict(model, data.test_x, config.data.mean, config.data.std, config.train.batch_size, precision)
    preds = probs.argmax(axis=1)
    labels = data.test_y.numpy()
    metrics = compute_metrics(labels, preds, data.classes)
    write_history(run.run_dir / "history.csv", result.history)
    write_json(run.run_dir / "metrics.json", metrics)
    write_predictions(run.run_dir / "predictions.csv", labels, preds, probs)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, run.run_dir / "weights.pt")
    info = {
        "model": run.model,
        "display_name": MODEL_REGISTRY[run.model][0],
        "seed": run.seed,
        "parameters": count_parameters(model),
        "key": run_key(config, run.model, run.seed, data.fingerprint, device, precision),
        "device": device,
        "precision": precision,
        "epochs": len(result.history),
        "train_images": len(data.train_y),
        "train_time_s": float(sum(h["epoch_time_s"] for h in result.history)),
        **epoch_timings(result.history, result.first_epochs),
    }
    write_json(run.run_dir / "run.json", info)  # written last: its presence marks the run complete
    shutil.rmtree(run.run_dir / "checkpoints", ignore_errors=True)
    return info, metrics["accuracy"]


def _copy_run_files(run: PlannedRun, target: Path, outcome: RunOutcome, filenames: tuple[str, ...]) -> None:
    """Copy `filenames` of a completed run from the store into the bundle, with what this build did to it."""
    target.mkdir(parents=True)
    for filename in filenames:
        shutil.copyfile(run.run_dir / filename, target / filename)
    info = read_json(target / "run.json")
    info.update(status=outcome.status, status_reason=outcome.reason)
    if run.variant is not None:
        info["variant"] = run.variant
    write_json(target / "run.json", info)


def _copy_variant_run(run: PlannedRun, target: Path, outcome: RunOutcome) -> None:
    """A variant's run in the bundle: its results, without weights (its experiment reads only its predictions
    and history; the run store keeps the weights)."""
    _copy_run_files(run, target, outcome, tuple(f for f in RUN_FILES if f != "weights.pt"))


def _copy_run(run: PlannedRun, target: Path, outcome: RunOutcome, device: str, log: Callable[[str], None]) -> None:
    """Copy a completed base run into the bundle, probe its model for the figures, and add its analyses."""
    config, data, run_dir = run.config, run.data, run.run_dir
    _copy_run_files(run, target, outcome, RUN_FILES)
    # Visual probes depend on report settings (which test image), so they are redrawn every build
    # from the stored weights rather than stored with the run.
    # On the training device, under its precision: what the trained model computes there.
    model = create_model(outcome.model, config, len(data.classes))
    model.load_state_dict(torch.load(target / "weights.pt", weights_only=True, map_location="cpu"))
    visuals = probe_visuals(model.to(device), data.test_x[config.report.sample_index], config.data.mean,
                            config.data.std, run.precision)
    np.savez(target / "visuals.npz", **visuals)
    analyse_run(model, config, data, run_dir, target, log)  # each stored in the run store under its own key


def _write_samples(path: Path, data: ImageData, config: Config) -> None:
    """One training image per class (augmented as in training) and one test image per class."""
    first_train = [int((data.train_y == c).nonzero()[0]) for c in range(len(data.classes))]
    first_test = [int((data.test_y == c).nonzero()[0]) if (data.test_y == c).any() else 0
                  for c in range(len(data.classes))]
    generator = torch.Generator().manual_seed(config.train.seeds[0])
    shown = data.train_x[first_train]
    augmented = augment(shown, config.augment, generator=generator) if config.augment.enabled else shown.float()
    i = config.report.sample_index
    np.savez(
        path,
        train_augmented=augmented.round().clamp(0, 255).to(torch.uint8).numpy(),
        train_labels=data.train_y[first_train].numpy(),
        test=data.test_x[first_test].numpy(),
        test_labels=data.test_y[first_test].numpy(),
        focus_image=data.test_x[i].numpy(),
        focus_label=np.int64(data.test_y[i]),
        focus_index=np.int64(i),
    )


def describe_environment(device: str, precision: str) -> dict:
    """Versions and hardware, as written to environment.json."""
    import pytorch_lightning as pl
    import torchvision

    if device == "cuda":
        device_name = torch.cuda.get_device_name(0)
    else:
        device_name = _cpu_name()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": pl.__version__,
        "reportgen": __version__,
        "platform": platform.platform(),
        "device": device,
        "device_name": device_name,
        "num_threads": torch.get_num_threads(),
        "precision": precision,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"

