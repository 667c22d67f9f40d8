"""The run store: one folder per training run, named by a key of everything that changes its result.

A run whose key matches a completed one is reused; an interrupted one resumes from its last completed
epoch. A run is complete only once its completion record, run.json, is in place: it is written last,
atomically, so a half-written folder is resumed or retrained, never reused. A run is locked while a
build decides about it and trains it, so two builds sharing a run store never train the same run at
once: the second waits, then reuses it. The locks are leases that hold on a shared filesystem (NFS), so
drivers on several nodes may share one run store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from filelock import SoftFileLease, Timeout

from reportgen import __version__
from reportgen.architectures import display_name, model_settings
from reportgen.bundle_files import run_folder
from reportgen.config import Config
from reportgen.data import ImageData, training_data
from reportgen.runtime import Runtime

COMPLETION_RECORD = "run.json"  # written last: its presence marks a run complete
RUN_FILES = (COMPLETION_RECORD, "history.csv", "metrics.json", "predictions.csv", "weights.pt")
CHECKPOINT = Path("checkpoints") / "last.ckpt"  # the rolling checkpoint of an unfinished run
# A run's lock is taken over when its holder has not renewed it for this long (a killed build, a lost node): far
# above any pause of a live build's heartbeat (every LEASE_S / 3), short enough that a dead build's runs are taken
# over within minutes.
LEASE_S = 120.0


def run_lease(run_dir: Path, holder: str) -> SoftFileLease:
    """The lease beside a run's folder that `holder` takes: "build" (a driver deciding about the run and waiting
    for it) or "worker" (the process that trains it). Two leases, because a driver that died can leave its worker
    training: the next driver takes the dead driver's lease at once, but its worker waits for the orphan's."""
    name = f".{run_dir.name}.lock" if holder == "build" else f".{run_dir.name}.{holder}.lock"
    return SoftFileLease(run_dir.parent / name, lease_duration=LEASE_S)


def take_lease(lease: SoftFileLease, label: str, holder: str, log: Callable[[str], None]) -> bool:
    """Acquire the lease of the run `label`, first without waiting; if `holder` (who has it, in words) has it,
    say so, then wait.

    Returns whether it waited: a run another process held may be complete by the time the lease is ours.
    """
    try:
        lease.acquire(timeout=0)
        return False
    except Timeout:
        log(f"{label}: waiting for {holder} (it holds {lease.lock_file}; a lease not renewed for {LEASE_S:.0f} s is "
            "taken over)")
        lease.acquire()
        return True


@dataclass
class PlannedRun:
    """One (variant, model, seed) of a build, the config, data and runtime it trains with, and what was decided."""

    model: str
    seed: int
    run_dir: Path
    label: str  # "CNN seed 42", "no-augment: CNN seed 42"
    config: Config  # the base config, or the variant's
    data: ImageData  # its training images (a class-balanced subset under data.train_fraction) and validation split
    runtime: Runtime  # the build's device, with its config's precision
    variant: str | None = None  # None: the base config
    action: str = ""  # "reuse", "resume" or "train" (from scratch)
    reason: str = ""
    started: bool = False  # whether this build started training it

    @property
    def bundle_folder(self) -> str:
        """Where the bundle keeps this run: runs/<model>/seed-<s>, or variants/<name>/<model>/seed-<s>."""
        return run_folder(self.model, self.seed, self.variant)

    @property
    def key(self) -> str:
        return run_key(self.config, self.model, self.seed, self.data.fingerprint, self.runtime)

    def is_complete(self) -> bool:
        return (self.run_dir / COMPLETION_RECORD).is_file()

    def has_checkpoint(self) -> bool:
        return (self.run_dir / CHECKPOINT).is_file()


def run_key(config: Config, model: str, seed: int, fingerprint: str, runtime: Runtime) -> str:
    """A hash of everything that changes the result of training `model` at `seed`.

    The runtime is the resolved one ("cuda", "bf16-mixed"), not "auto": an "auto" run on a GPU and one
    on a CPU are different runs, and sharing a run store must not mix them. So is TF32: whether it was
    in effect, which only a CUDA run at precision 32 can tell apart.
    """
    train = {k: v for k, v in config.to_dict()["train"].items() if k not in ("seeds", "num_threads", "tf32")}
    train.update(device=runtime.device, precision=runtime.precision, tf32=runtime.tf32)
    identity = {
        "model": model,
        "architecture": model_settings(config, model),
        "normalisation": {"mean": config.data.mean, "std": config.data.std},
        "augment": config.augment.__dict__,
        "train": train,
        "seed": seed,
        "dataset": fingerprint,
        "reportgen": __version__,
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def plan_runs(config: Config, full: ImageData, runs_dir: Path, runtime: Runtime) -> list[PlannedRun]:
    """Every (model, seed) of the base config, then of each variant, with its folder in the run store, named by
    its run key: a variant's run that trains exactly as a base run (or another variant's) shares its folder.
    The base runs come first."""
    subsets: dict[tuple[float, int, float], ImageData] = {}

    def run_data(c: Config) -> ImageData:
        # The validation split and the training share change the images, hence the fingerprint and the run key.
        key = (c.data.train_fraction, c.data.fraction_seed, c.data.val_fraction)
        if key not in subsets:
            subsets[key] = training_data(full, c.data)
        return subsets[key]

    runs = []
    for variant, c in [(None, config), *((name, config.variant(name)) for name in config.variants)]:
        data, run_runtime = run_data(c), runtime.for_config(c)
        for name in c.models:
            for seed in c.train.seeds:
                folder = runs_dir / f"{name}-{run_key(c, name, seed, data.fingerprint, run_runtime)[:20]}"
                label = f"{display_name(name)} seed {seed}"
                runs.append(PlannedRun(name, seed, folder, label if variant is None else f"{variant}: {label}",
                                       c, data, run_runtime, variant))
    return runs


class RunLocks:
    """A lease lock per run of the build, beside its folder in the run store, that holds on a shared filesystem.

    filelock's SoftFileLease: a marker file created exclusively (O_CREAT | O_EXCL, which NFS v3 and later,
    Lustre, GPFS and CephFS honour across nodes, unlike flock on common NFS mounts) and renewed by a heartbeat
    thread while the build holds it. A claim that a waiting build sees unchanged for LEASE_S (measured on its own
    clock) belongs to a build that died, or froze: the waiter takes it over. Locks are taken in sorted order, so
    two builds never wait for each other in a circle; a build that needs a run another build holds waits for it,
    and says so. Each run's lock is released as soon as that run is complete in the store.
    """

    def __init__(self, runs: list[PlannedRun], log: Callable[[str], None]):
        self.runs, self.log = runs, log
        self.locks: dict[Path, SoftFileLease] = {}
        self.waited: set[Path] = set()

    def __enter__(self) -> RunLocks:
        try:
            for run in sorted({r.run_dir: r for r in reversed(self.runs)}.values(), key=lambda r: r.run_dir):
                run.run_dir.parent.mkdir(parents=True, exist_ok=True)
                lock = run_lease(run.run_dir, "build")
                if take_lease(lock, run.label, "another reportgen build that is training it", self.log):
                    self.waited.add(run.run_dir)
                self.locks[run.run_dir] = lock
        except BaseException:
            self.__exit__()
            raise
        return self

    def release(self, run_dir: Path) -> None:
        lock = self.locks.pop(run_dir, None)
        if lock is not None:
            lock.release()

    def __exit__(self, *exc) -> None:
        for run_dir in list(self.locks):
            self.release(run_dir)


def decide(runs: list[PlannedRun], force: bool, locks: RunLocks) -> None:
    """With every lock held: reuse, resume or train each run; --force deletes before deciding.

    A run that shares its folder with an earlier run of the build (a variant that trains a model exactly as
    the base config does) reuses what that one trains.
    """
    first: dict[Path, PlannedRun] = {}
    for run in runs:
        if run.run_dir in first:
            run.action, run.reason = "reuse", f"it trains exactly as {first[run.run_dir].label}"
            continue
        first[run.run_dir] = run
        if run.is_complete() and not force:
            run.action = "reuse"
            run.reason = ("another build trained it while this one waited" if run.run_dir in locks.waited
                          else "a stored run has the same model, data, training settings, seed and versions")
            continue
        forced = force and run.run_dir.exists()
        if forced:
            shutil.rmtree(run.run_dir)
        if run.has_checkpoint():
            run.action, run.reason = "resume", "resumed an interrupted run from its last completed epoch"
        else:
            run.action = "train"
            run.reason = "retraining forced (--force)" if forced else "no stored run matches this config"


def what_was_kept(runs: list[PlannedRun], runs_dir: Path, epochs_kept: int | None) -> str:
    """What an interrupted build left in the run store, for its one-line message.

    `epochs_kept`: the completed epochs of the run that was training when the interruption came (None when
    it came outside training). A run interrupted before its first epoch ended left nothing to resume.
    """
    complete = [run for run in runs if run.is_complete()]
    kept = [f"{len(complete)} completed run{'' if len(complete) == 1 else 's'}"]
    for run in runs:
        if run in complete or not (run.started or run.has_checkpoint()):
            continue
        if epochs_kept is not None and run.started:
            kept.append(f"{run.label} after epoch {epochs_kept} of {run.config.train.epochs}" if epochs_kept
                        else f"{run.label} before its first epoch ended (nothing of it)")
        else:
            kept.append(f"{run.label} at its last completed epoch")
    return f"kept in {runs_dir}: " + ", ".join(kept)
