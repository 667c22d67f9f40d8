"""Experiment trackers: the `trackers` config section and the registry of loggers a build can write to.

Each tracker is Lightning's own logger class (CSVLogger, TensorBoardLogger, MLFlowLogger, WandbLogger),
created by its factory here; its library is an optional extra (`pip install 'reportgen[mlflow]'`), imported
only when the tracker is chosen. `check_installed` runs in the command before any work starts: a missing
library is one line and exit 2. Torch-free at import: reportgen.config reads the section from here.

How a build uses them (a run's logger, the build-level parent run): reportgen/tracking.py; docs/tracking.md.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from reportgen.errors import ConfigError

TrackerName = Literal["csv", "tensorboard", "mlflow", "wandb"]


@dataclass
class TrackersConfig:
    """Experiment trackers that a build logs its runs and its report to; none by default (docs/tracking.md)."""

    loggers: list[TrackerName] = field(default_factory=list)
    """The trackers to log to (`--logger`, repeatable): csv, tensorboard, mlflow, wandb. Each run is logged with its
    run key, model, seed, variant and resolved config, its per-epoch curves and its test metrics; the build's report
    and summary go to a build-level parent run (MLflow) or group (W&B). Changes no run key."""
    dir: str = ""
    """Folder of the trackers' local files (CSV, TensorBoard, MLflow's file store, W&B's offline runs); empty:
    `tracking/` in the working directory. Not inside a folder named `artifacts` with mlflow: MLflow's file store
    refuses runs under any folder of that name."""
    mlflow_uri: str = ""
    """MLflow tracking URI, e.g. http://localhost:5000; empty: a local file store, `mlruns/` in trackers.dir."""
    mlflow_experiment: str = "reportgen"
    """The MLflow experiment the runs go to."""
    wandb_project: str = "reportgen"
    """The Weights & Biases project the runs go to."""
    offline: bool = True
    """W&B offline mode: runs are written under trackers.dir and can be uploaded later with `wandb sync`."""


@dataclass(frozen=True)
class RunIdentity:
    """What a tracker's run is called and grouped by: `name` e.g. base/cnn/seed-42, `group` the build's name."""

    name: str
    group: str
    tags: dict[str, str]
    parent: Any = None  # the build-level run's id (MLflow) where the tracker has one


@dataclass(frozen=True)
class Tracker:
    """A registered tracker: the library it needs, its extra, its logger's factory, and its parent-run concept."""

    name: str
    module: str  # imported only when the tracker is chosen
    extra: str  # pip install 'reportgen[<extra>]'
    factory: Callable[[TrackersConfig, Path, RunIdentity], Any]
    has_parent: bool  # a build-level parent run (MLflow) or group (W&B) holding the report's files

    def pip_command(self) -> str:
        return f"pip install 'reportgen[{self.extra}]'"


def _folder(identity: RunIdentity) -> str:
    return identity.name.replace("/", "-")


def _csv(settings: TrackersConfig, root: Path, identity: RunIdentity):
    from pytorch_lightning.loggers import CSVLogger

    return CSVLogger(save_dir=str(root / "csv"), name=identity.group, version=_folder(identity))


def _tensorboard(settings: TrackersConfig, root: Path, identity: RunIdentity):
    from pytorch_lightning.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(root / "tensorboard"), name=identity.group, version=_folder(identity),
                             default_hp_metric=False)


def mlflow_uri(settings: TrackersConfig, root: Path) -> str:
    """The configured URI, or the local file store under `root`; sets MLflow's environment defaults for it."""
    if settings.mlflow_uri:
        # A server that cannot be reached costs seconds, not MLflow's minutes of retries (the user's env wins).
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        return settings.mlflow_uri
    # MLflow 3 keeps the file store in maintenance mode and refuses it unless told; it needs no database.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return f"file:{(root / 'mlruns').resolve()}"


def _mlflow(settings: TrackersConfig, root: Path, identity: RunIdentity):
    from pytorch_lightning.loggers import MLFlowLogger

    tags = dict(identity.tags)
    if identity.parent is not None:
        tags["mlflow.parentRunId"] = identity.parent
    return MLFlowLogger(experiment_name=settings.mlflow_experiment, run_name=identity.name,
                        tracking_uri=mlflow_uri(settings, root), tags=tags)


def _wandb(settings: TrackersConfig, root: Path, identity: RunIdentity):
    from pytorch_lightning.loggers import WandbLogger

    (root / "wandb").mkdir(parents=True, exist_ok=True)
    return WandbLogger(project=settings.wandb_project, name=identity.name, group=identity.group,
                       save_dir=str(root / "wandb"), offline=settings.offline, job_type="train",
                       tags=[f"{k}:{v}" for k, v in identity.tags.items()])


TRACKERS: dict[str, Tracker] = {
    "csv": Tracker("csv", "pytorch_lightning", "", _csv, has_parent=False),
    "tensorboard": Tracker("tensorboard", "tensorboard", "tensorboard", _tensorboard, has_parent=False),
    "mlflow": Tracker("mlflow", "mlflow", "mlflow", _mlflow, has_parent=True),
    "wandb": Tracker("wandb", "wandb", "wandb", _wandb, has_parent=True),
}


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_installed(settings: TrackersConfig) -> None:
    """One line and exit 2 (ConfigError) for the first chosen tracker whose library is missing, or for an MLflow
    file store that MLflow would refuse (under a folder named `artifacts`, its own name for a run's files)."""
    for name in settings.loggers:
        tracker = TRACKERS[name]
        if not is_installed(tracker.module):
            raise ConfigError(f"--logger {name} needs the {tracker.module} package: {tracker.pip_command()}")
    store = tracking_root(settings) / "mlruns"
    if "mlflow" in settings.loggers and not settings.mlflow_uri and "artifacts" in store.resolve().parts:
        raise ConfigError(f"config key 'trackers.dir': MLflow's file store {store} would be inside a folder named "
                          "'artifacts', where MLflow finds no run; choose a folder outside it, e.g. "
                          "--set trackers.dir=tracking")


def tracking_root(settings: TrackersConfig) -> Path:
    """Where the trackers' local files go: trackers.dir, or tracking/ in the working directory."""
    return Path(settings.dir or "tracking").resolve()
