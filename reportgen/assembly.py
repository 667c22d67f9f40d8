"""Bundle assembly: the files a build or an evaluation writes into a staged bundle, and its publication.

`reportgen build` (models trained here) and `reportgen evaluate` (weights trained elsewhere) write
the same bundle (docs/bundle.md) through these functions: the shared files (config, environment,
dataset, samples, architectures), each run's test results (metrics.json, predictions.csv) and
visual probes (visuals.npz), then the report, the manifest last, and an atomic rename into place.
"""

from __future__ import annotations

import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from reportgen import __version__
from reportgen.architectures import display_name
from reportgen.bundle_files import publish, read_json, write_json, write_manifest, write_predictions
from reportgen.config import Config
from reportgen.config_loading import save_config
from reportgen.data import ImageData, augment
from reportgen.errors import ConfigError
from reportgen.evaluation import predict, probe_visuals
from reportgen.metrics import compute_metrics
from reportgen.models import count_parameters, describe_architecture
from reportgen.runtime import Runtime, device_name


def check_against_data(config: Config, data: ImageData) -> None:
    """Refuse, in one line, report settings that the loaded data cannot satisfy (before anything trains)."""
    n_test = len(data.test_y)
    if config.report.sample_index >= n_test:
        raise ConfigError(f"config key 'report.sample_index' is {config.report.sample_index} but the test split "
                          f"has {n_test} images; choose an index from 0 to {n_test - 1}")


def write_shared_files(staged: Path, config: Config, data: ImageData, runtime: Runtime,
                       models: dict[str, torch.nn.Module]) -> None:
    """The files of a bundle that belong to no run: config, environment, dataset, samples and architectures."""
    save_config(config, staged / "config.yaml")
    write_json(staged / "environment.json", describe_environment(runtime))
    write_json(staged / "dataset.json", data.describe())
    write_samples(staged / "samples.npz", data, config)
    write_json(staged / "architectures.json", {name: architecture_entry(name, m) for name, m in models.items()})


def architecture_entry(name: str, model: torch.nn.Module) -> dict:
    """architectures.json's entry for the registered model `name`, read off the built `model`."""
    return {"display_name": display_name(name), "parameters": count_parameters(model),
            "layers": describe_architecture(model)}


def write_test_results(folder: Path, model: torch.nn.Module, config: Config, data: ImageData,
                       runtime: Runtime) -> dict:
    """Predict the test split with `model` on `runtime`; write metrics.json and predictions.csv; the metrics."""
    probs = predict(model.to(runtime.device), data.test_x, config.data.mean, config.data.std,
                    config.train.batch_size, runtime.precision)
    preds = probs.argmax(axis=1)
    labels = data.test_y.numpy()
    metrics = compute_metrics(labels, preds, data.classes)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "metrics.json", metrics)
    write_predictions(folder / "predictions.csv", labels, preds, probs)
    return metrics


def write_visuals(folder: Path, model: torch.nn.Module, config: Config, data: ImageData, runtime: Runtime) -> None:
    """visuals.npz: what the figures need from inside `model` for the report's test image.

    Redrawn every build from the weights rather than stored with the run, as it depends on a report
    setting (which test image); computed on the training device under its precision, as the model runs there.
    """
    visuals = probe_visuals(model.to(runtime.device), data.test_x[config.report.sample_index], config.data.mean,
                            config.data.std, runtime.precision)
    np.savez(folder / "visuals.npz", **visuals)


def copy_run_files(source: Path, target: Path, filenames: tuple[str, ...], **run_info) -> None:
    """Copy `filenames` of a completed run from the run store into its bundle folder, adding `run_info` to
    its run.json (what this build did with the run)."""
    target.mkdir(parents=True)
    for filename in filenames:
        shutil.copyfile(source / filename, target / filename)
    info = read_json(target / "run.json")
    info.update(run_info)
    write_json(target / "run.json", info)


def render_and_publish(staged: Path, out: Path, pdf: bool, log: Callable[[str], None]) -> None:
    """Render the report of the complete bundle in `staged`, write its manifest last and publish it at `out`."""
    log("rendering report")
    from reportgen.report import render_report  # matplotlib and WeasyPrint: only once the bundle is complete

    render_report(staged, pdf=pdf)
    write_manifest(staged)
    publish(staged, out)


def write_samples(path: Path, data: ImageData, config: Config) -> None:
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


def describe_environment(runtime: Runtime) -> dict:
    """Versions and hardware, as written to environment.json."""
    import pytorch_lightning as pl
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": pl.__version__,
        "reportgen": __version__,
        "platform": platform.platform(),
        "device": runtime.device,
        "device_name": device_name(runtime.device),
        "num_threads": torch.get_num_threads(),
        "precision": runtime.precision,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
