"""`reportgen build`: train (or reuse) every model and seed, then assemble and render the bundle.

Each training run lives in a run store under a key computed from everything that affects it (its
model's settings, data, augmentation, training settings, seed, dataset fingerprint, reportgen and
torch versions). A run whose key matches a completed one is reused; an interrupted one resumes from
its last completed epoch. The bundle is assembled in a staging folder and renamed into place only
when complete, so a crash never leaves a half-written bundle that looks complete.
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

from reportgen import __version__
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
from reportgen.data import ImageData, augment, load_data
from reportgen.errors import ConfigError
from reportgen.evaluation import compute_metrics, predict, probe_visuals
from reportgen.models import MODEL_REGISTRY, count_parameters, create_model, describe_architecture
from reportgen.training import fit, resolve_device, resolve_precision

RUN_FILES = ("run.json", "history.csv", "metrics.json", "predictions.csv", "weights.pt")


@dataclass
class RunOutcome:
    """What happened to one model at one seed during a build."""

    model: str
    seed: int
    status: str  # "trained" or "reused"
    reason: str
    accuracy: float
    train_time_s: float


def run_key(config: Config, model: str, seed: int, fingerprint: str, device: str, precision: str) -> str:
    """A hash of everything that changes the result of training `model` at `seed`.

    device and precision are the resolved ones ("cuda", "bf16-mixed"), not "auto": an "auto" run
    on a GPU and one on a CPU are different runs, and sharing a runs folder must not mix them.
    """
    train = {k: v for k, v in config.to_dict()["train"].items() if k not in ("seeds", "num_threads")}
    train.update(device=device, precision=precision)
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

    Under DDP, Lightning starts the other ranks by re-running this command: they join every
    training run but evaluate, write and publish nothing, and return no outcomes.
    """
    primary = is_primary_process()
    if not primary:
        log = _silent
    device = resolve_device(config.train.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device' is cuda but no CUDA GPU is visible; use --device cpu or auto")
    log(f"loading data ({config.data.dataset})")
    data = load_data(config.data)
    _check_against_data(config, data)
    staged = staging_dir(out)
    try:
        outcomes = _assemble(config, data, device, staged, runs_dir, force, progress, log, primary)
        if not primary:
            shutil.rmtree(staged, ignore_errors=True)
            return []
        render_and_publish(staged, out, config.report.pdf, log)
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


def _silent(message: str) -> None:
    """The log of non-primary processes: they would repeat every line of rank 0."""


def _check_against_data(config: Config, data: ImageData) -> None:
    n_test = len(data.test_y)
    if config.report.sample_index >= n_test:
        raise ConfigError(f"config key 'report.sample_index' is {config.report.sample_index} but the test split "
                          f"has {n_test} images; choose an index from 0 to {n_test - 1}")


def _assemble(config: Config, data: ImageData, device: str, staged: Path, runs_dir: Path, force: bool,
              progress: bool, log: Callable[[str], None], primary: bool) -> list[RunOutcome]:
    precision = resolve_precision(config.train.precision, device)
    write_shared_files(staged, config, data, device, precision)
    architectures = {}
    outcomes = []
    for name in config.models:
        architectures[name] = architecture_entry(name, create_model(name, config, len(data.classes)))
        for seed in config.train.seeds:
            run_dir = runs_dir / f"{name}-{run_key(config, name, seed, data.fingerprint, device, precision)[:20]}"
            outcome = _train_or_reuse(config, data, name, seed, run_dir, device, precision, force, progress, log,
                                      primary)
            if primary:
                outcomes.append(outcome)
                _copy_run(run_dir, staged / "runs" / name / f"seed-{seed}", outcome, config, data)
    write_json(staged / "architectures.json", architectures)
    return outcomes


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


def _train_or_reuse(config: Config, data: ImageData, name: str, seed: int, run_dir: Path, device: str,
                    precision: str, force: bool, progress: bool, log: Callable[[str], None],
                    primary: bool) -> RunOutcome | None:
    label = f"{MODEL_REGISTRY[name][0]} seed {seed}"
    complete = (run_dir / "run.json").is_file()
    if complete and not force:
        info = read_json(run_dir / "run.json")
        reason = "a stored run has the same model, data, training settings, seed and versions"
        log(f"{label}: reused ({reason})")
        return RunOutcome(name, seed, "reused", reason, read_json(run_dir / "metrics.json")["accuracy"],
                          info["train_time_s"])
    if force and run_dir.exists() and primary:
        shutil.rmtree(run_dir)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    if checkpoint.is_file():
        reason = "resumed an interrupted run from its last completed epoch"
    else:
        reason = "retraining forced (--force)" if force and complete else "no stored run matches this config"
    log(f"{label}: training on {device} ({reason})")
    trained = _train_run(config, data, name, seed, run_dir, device, precision, progress, label)
    if trained is None:  # a non-primary DDP process: rank 0 evaluates and writes
        return None
    info, accuracy = trained
    return RunOutcome(name, seed, "trained", reason, accuracy, info["train_time_s"])


def _train_run(config: Config, data: ImageData, name: str, seed: int, run_dir: Path, device: str,
               precision: str, progress: bool, label: str) -> tuple[dict, float] | None:
    import pytorch_lightning as pl

    pl.seed_everything(seed, workers=True, verbose=False)
    model = create_model(name, config, len(data.classes))
    result = fit(model, data, config, seed, run_dir / "checkpoints", label, progress)
    if not result.is_global_zero:  # under DDP only rank 0 evaluates and writes
        return None
    model = result.model.to(device)
    probs = predict(model, data.test_x, config.data.mean, config.data.std, config.train.batch_size, precision)
    preds = probs.argmax(axis=1)
    labels = data.test_y.numpy()
    metrics = compute_metrics(labels, preds, data.classes)
    write_history(run_dir / "history.csv", result.history)
    write_json(run_dir / "metrics.json", metrics)
    write_predictions(run_dir / "predictions.csv", labels, preds, probs)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, run_dir / "weights.pt")
    info = {
        "model": name,
        "display_name": MODEL_REGISTRY[name][0],
        "seed": seed,
        "parameters": count_parameters(model),
        "key": run_key(config, name, seed, data.fingerprint, device, precision),
        "device": device,
        "precision": precision,
        "epochs": len(result.history),
        "train_time_s": float(sum(h["epoch_time_s"] for h in result.history)),
    }
    write_json(run_dir / "run.json", info)  # written last: its presence marks the run complete
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return info, metrics["accuracy"]


def _copy_run(run_dir: Path, target: Path, outcome: RunOutcome, config: Config, data: ImageData) -> None:
    """Copy a completed run into the bundle, and probe its model for the figures."""
    target.mkdir(parents=True)
    for filename in RUN_FILES:
        shutil.copyfile(run_dir / filename, target / filename)
    info = read_json(target / "run.json")
    info.update(status=outcome.status, status_reason=outcome.reason)
    write_json(target / "run.json", info)
    # Visual probes depend on report settings (which test image), so they are redrawn every build
    # from the stored weights rather than stored with the run.
    model = create_model(outcome.model, config, len(data.classes))
    model.load_state_dict(torch.load(target / "weights.pt", weights_only=True, map_location="cpu"))
    visuals = probe_visuals(model, data.test_x[config.report.sample_index], config.data.mean, config.data.std)
    np.savez(target / "visuals.npz", **visuals)


def _write_samples(path: Path, data: ImageData, config: Config) -> None:
    """One training image per class (augmented as in training) and one test image per class."""
    first_train = [int((data.train_y == c).nonzero()[0]) for c in range(len(data.classes))]
    first_test = [int((data.test_y == c).nonzero()[0]) if (data.test_y == c).any() else 0
                  for c in range(len(data.classes))]
    generator = torch.Generator().manual_seed(config.train.seeds[0])
    augmented = augment(data.train_x[first_train], config.augment, generator=generator)
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

