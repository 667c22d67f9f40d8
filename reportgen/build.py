"""A build: train (or reuse) every model and seed of the config and its variants, then assemble and render the bundle.

The steps read top to bottom in `build`: load the data, plan every run in the run store
(reportgen.runstore), lock and decide what to reuse, resume or train, hand the decisions to any other
DDP process (reportgen.rank_plan), train and evaluate each run into the store, copy it into a staged
bundle with its figures' probes and analyses (reportgen.assembly), render, and publish the bundle by
renaming it into place, so a crash or an interruption never leaves a half-written bundle that looks complete.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from reportgen.analysis.store import analyse_run, time_base_runs
from reportgen.architectures import display_name
from reportgen.assembly import (
    check_against_data,
    copy_run_files,
    render_and_publish,
    write_shared_files,
    write_test_results,
    write_visuals,
)
from reportgen.bundle_files import atomic_output, check_replaceable, read_json, staging_dir, write_history, write_json
from reportgen.config import Config
from reportgen.data import load_data
from reportgen.errors import DataError
from reportgen.evaluation import generalisation_records
from reportgen.machine_load import other_load, thread_advice
from reportgen.models import count_parameters, create_model
from reportgen.rank_plan import is_primary_process, receive_plan, share_plan
from reportgen.runstore import (
    COMPLETION_RECORD,
    RUN_FILES,
    PlannedRun,
    RunLocks,
    decide,
    plan_runs,
    what_was_kept,
)
from reportgen.runtime import Runtime
from reportgen.tracking import BuildTracking
from reportgen.training import FitResult, TrainingInterrupted, epoch_loads, epoch_timings, fit


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


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a build; the message says what the run store kept and what the next build does."""


def build(config: Config, runtime: Runtime, out: Path, runs_dir: Path, force: bool = False, progress: bool = True,
          log: Callable[[str], None] = print) -> list[RunOutcome]:
    """Train or reuse every (model, seed) on `runtime`, write the bundle to `out` and render its report.

    Every decision to reuse, resume, retrain or delete a run is made once, by rank 0, with the run
    store's locks held; the other DDP processes (which Lightning starts by re-running this command,
    or which torchrun or another node starts) follow it, train with rank 0 and write nothing.
    Ctrl-C or SIGTERM raise BuildInterrupted, saying what the run store kept.
    """
    if not is_primary_process():
        _follow_rank_zero(config, runtime, runs_dir)
        return []
    check_replaceable(out)  # before hours of training, not only when the bundle is published
    log(f"loading data ({config.data.dataset})")
    full = load_data(config.data)
    check_against_data(config, full)
    runs = plan_runs(config, full, runs_dir, runtime)
    staged = staging_dir(out)
    tracking = BuildTracking(config.trackers, out, log) if config.trackers.loggers else None
    try:
        with RunLocks(runs, log) as locks:
            decide(runs, force, locks)
            share_plan(_first_actions(runs), config.train.devices * config.train.num_nodes, config.train.num_nodes)
            outcomes = _assemble(config, runtime, staged, runs, locks, progress, log, tracking)
        render_and_publish(staged, out, config.report.pdf, log)
    except KeyboardInterrupt as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise BuildInterrupted(_interruption_message(runs, runs_dir, exc)) from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if tracking is not None:
        tracking.publish(out)  # the report and summary, to each tracker's build-level run
    return outcomes


def _first_actions(runs: list[PlannedRun]) -> dict[str, str]:
    """{run folder: action}: a folder's first run decides; the later ones that share it reuse what it trains."""
    actions: dict[str, str] = {}
    for run in runs:
        actions.setdefault(run.run_dir.name, run.action)
    return actions


def _interruption_message(runs: list[PlannedRun], runs_dir: Path, exc: KeyboardInterrupt) -> str:
    epochs_kept = exc.epochs_kept if isinstance(exc, TrainingInterrupted) else None
    kept = what_was_kept(runs, runs_dir, epochs_kept)
    if any(run.is_complete() or run.has_checkpoint() for run in runs):
        return f"{kept}; run the same command again to resume from the last completed epoch"
    return f"{kept}; nothing to resume yet: the same command starts again from the first epoch"


def _follow_rank_zero(config: Config, runtime: Runtime, runs_dir: Path) -> None:
    """A DDP process other than rank 0: train what rank 0 trains, as it decided; evaluate and write nothing."""
    plan = receive_plan()
    full = load_data(config.data)  # from the cache that rank 0 filled (on a shared or the same file system)
    done: set[Path] = set()
    for run in plan_runs(config, full, runs_dir, runtime):
        action = plan.get(run.run_dir.name)
        if action is None:
            raise DataError(f"{run.label}: this process's run key differs from rank 0's; every process needs the "
                            "same data, config and versions")
        if action != "reuse" and run.run_dir not in done:
            _fit_run(run, resume=action == "resume", progress=False)
        done.add(run.run_dir)


def _assemble(config: Config, runtime: Runtime, staged: Path, runs: list[PlannedRun],
              locks: RunLocks, progress: bool, log: Callable[[str], None],
              tracking: BuildTracking | None = None) -> list[RunOutcome]:
    base = runs[0]  # the base config's first run: plan_runs plans the base runs first
    models = {name: create_model(name, config, len(base.data.classes)) for name in config.models}
    write_shared_files(staged, config, base.data, runtime, models)
    outcomes = []
    clock = BuildClock(runs)
    for n, run in enumerate(runs, start=1):
        log(clock.status(n, run))
        outcome = _train_or_reuse(run, progress, log, tracking)
        clock.finished(run, outcome)
        outcomes.append(outcome)
        _copy_into_bundle(run, staged / run.bundle_folder, outcome, log)
        locks.release(run.run_dir)
    if config.analysis.efficiency:
        _time_base_models(staged, [run for run in runs if run.variant is None], log)
    return outcomes


def _time_base_models(staged: Path, base: list[PlannedRun], log: Callable[[str], None]) -> None:
    """The build-level cost step, once every run is trained: the base models of each seed timed together,
    interleaved in blocks (reportgen.analysis.timing), from the weights in the staged bundle."""
    weights: dict[int, dict[str, Path]] = {}
    for run in base:  # plan_runs plans model by model in config order, so each seed lists its models in that order
        weights.setdefault(run.seed, {})[run.model] = staged / run.bundle_folder / "weights.pt"
    first = base[0]
    time_base_runs(first.config, first.runtime, weights, len(first.data.classes), [run.key for run in base],
                   first.run_dir.parent, staged, log)


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
        return duration(sum(rates[r.model] * self.work(r) for r in runs))


def duration(seconds: float) -> str:
    """A rough duration: "40 s", "14 min", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _train_or_reuse(run: PlannedRun, progress: bool, log: Callable[[str], None],
                    tracking: BuildTracking | None = None) -> RunOutcome:
    status = {"reuse": "reused", "resume": "resumed"}.get(run.action, "trained")
    loggers = tracking.loggers(run.config, run.key, run.model, run.seed, run.variant, status) if tracking else []
    if run.action == "reuse":
        info = read_json(run.run_dir / COMPLETION_RECORD)
        log(f"{run.label}: reused ({run.reason})")
        if tracking:  # marked reused: its test metrics, not its training curves again
            tracking.finish_run(loggers, run.run_dir / "metrics.json", info["epochs"])
        return RunOutcome(run.model, run.seed, "reused", run.reason,
                          read_json(run.run_dir / "metrics.json")["accuracy"], info["train_time_s"], run.variant)
    log(f"{run.label}: training on {run.runtime.device} ({run.reason})" + _thread_hint(run))
    run.started = True
    result = _fit_run(run, resume=run.action == "resume", progress=progress, loggers=tuple(loggers))
    info, accuracy = _evaluate_and_store(run, result)
    if tracking:
        tracking.finish_run(loggers, run.run_dir / "metrics.json", info["epochs"])
    return RunOutcome(run.model, run.seed, "trained", run.reason, accuracy, info["train_time_s"], run.variant)


def _thread_hint(run: PlannedRun) -> str:
    """Advice on train.num_threads when other processes already use the cores a CPU run's threads need."""
    if run.runtime.device != "cpu":
        return ""
    advice = thread_advice(run.config.train.num_threads or torch.get_num_threads(), other_load())
    return f"; note: {advice}" if advice else ""


def _fit_run(run: PlannedRun, resume: bool, progress: bool, loggers: tuple = ()) -> FitResult:
    import pytorch_lightning as pl

    pl.seed_everything(run.seed, workers=True, verbose=False)
    model = create_model(run.model, run.config, len(run.data.classes))
    return fit(model, run.data, run.config, run.runtime, run.seed, run.run_dir / "checkpoints", run.label, progress,
               resume=resume, loggers=loggers)


def _evaluate_and_store(run: PlannedRun, result: FitResult) -> tuple[dict, float]:
    """Predict the test set, measure the clean training (and held-out validation) accuracy, write the run's files
    into the store (run.json last) and drop its checkpoint."""
    model = result.model
    metrics = write_test_results(run.run_dir, model, run.config, run.data, run.runtime)
    write_history(run.run_dir / "history.csv", result.history)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, run.run_dir / "weights.pt")
    info = {
        "model": run.model,
        "display_name": display_name(run.model),
        "seed": run.seed,
        "parameters": count_parameters(model),
        "key": run.key,
        "device": run.runtime.device,
        "precision": run.runtime.precision,
        "epochs": len(result.history),
        "train_images": len(run.data.train_y),
        "train_time_s": float(sum(h["epoch_time_s"] for h in result.history)),
        "fit_wall_time_s": result.fit_wall_time_s,
        **epoch_timings(result.history, result.first_epochs),
        **epoch_loads(result.history),
        **generalisation_records(model, run.data, run.config, run.runtime),
    }
    with atomic_output(run.run_dir / COMPLETION_RECORD) as tmp:  # last, and whole: it marks the run complete
        write_json(tmp, info)
    shutil.rmtree(run.run_dir / "checkpoints", ignore_errors=True)
    return info, metrics["accuracy"]


def _copy_into_bundle(run: PlannedRun, target: Path, outcome: RunOutcome, log: Callable[[str], None]) -> None:
    """A completed run in the bundle. A base run brings its weights, its model's probes for the figures and its
    analyses; a variant's run only its results (its experiment reads its predictions and history; the run store
    keeps the weights)."""
    what = {"status": outcome.status, "status_reason": outcome.reason}
    if run.variant is not None:
        copy_run_files(run.run_dir, target, tuple(f for f in RUN_FILES if f != "weights.pt"), **what,
                       variant=run.variant)
        return
    copy_run_files(run.run_dir, target, RUN_FILES, **what)
    model = create_model(outcome.model, run.config, len(run.data.classes))
    model.load_state_dict(torch.load(target / "weights.pt", weights_only=True, map_location="cpu"))
    write_visuals(target, model, run.config, run.data, run.runtime)
    analyse_run(model, run.config, run.data, run.run_dir, target, log)  # each stored in the run store under its key
