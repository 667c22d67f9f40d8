"""A build's experiment tracking: one logger per run and tracker, and a build-level parent run for the report.

Every call to a tracker goes through `GuardedLogger`: the first one that raises (a server that cannot be reached,
a full disk) prints one warning line and switches that tracker off for the rest of the build, which goes on and
writes its bundle. Per run: its identity and resolved config as hyperparameters (and MLflow tags), the per-epoch
rows of `Classifier.history` (Python numbers the module already has: no host-device sync), and the test metrics.
A reused run is logged once more only as what it is: status `reused`, its test metrics, no training curves.
Per build: the report and summary.json as artifacts of the MLflow parent run / the W&B group's build run.
The trackers, their settings and extras: reportgen/trackers.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from pytorch_lightning.loggers.logger import Logger

from reportgen.config import Config
from reportgen.mappings import flatten
from reportgen.trackers import TRACKERS, RunIdentity, TrackersConfig, mlflow_uri, tracking_root

BUILD_FILES = ("report.html", "report.pdf", "summary.json")  # logged when the published bundle has them


class GuardedLogger(Logger):
    """A Lightning logger whose calls never raise: a failure warns once (through `tracking`) and disables it."""

    def __init__(self, inner: Logger, tracker: str, tracking: BuildTracking):
        super().__init__()
        self.inner, self.tracker, self.tracking = inner, tracker, tracking

    def call(self, method: str, *args, **kwargs) -> Any:
        if self.tracking.is_off(self.tracker):
            return None
        try:
            return getattr(self.inner, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a tracker never fails a build
            self.tracking.switch_off(self.tracker, exc)
            return None

    @property
    def name(self):
        return self.call("__getattribute__", "name")

    @property
    def version(self):
        return self.call("__getattribute__", "version")

    @property
    def save_dir(self):
        return self.call("__getattribute__", "save_dir")

    @property
    def log_dir(self):
        return self.call("__getattribute__", "log_dir") if hasattr(self.inner, "log_dir") else self.save_dir

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        self.call("log_hyperparams", params, *args, **kwargs)

    def log_metrics(self, metrics, step=None) -> None:
        self.call("log_metrics", metrics, step)

    def log_graph(self, model, input_array=None) -> None:
        self.call("log_graph", model, input_array)

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        self.call("after_save_checkpoint", checkpoint_callback)

    def save(self) -> None:
        self.call("save")

    def finalize(self, status: str) -> None:
        self.call("finalize", status)


def run_params(config: Config, key: str, model: str, seed: int, variant: str | None, status: str) -> dict[str, Any]:
    """A run's hyperparameters: its identity, then its resolved config as dotted keys (lists as text)."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("variants", "trackers")}
    resolved = {f"config.{k}": v if isinstance(v, (bool, int, float, str)) else json.dumps(v)
                for k, v in flatten(settings).items()}
    return {"run_key": key, "model": model, "seed": seed, "variant": variant or "base", "status": status, **resolved}


def scalar_metrics(metrics_path: Path) -> dict[str, float]:
    """The numbers of a run's metrics.json, flattened, as test_<name>."""
    metrics = json.loads(metrics_path.read_text())
    return {f"test_{k}": float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class BuildTracking:
    """The trackers of one build: its group name, the parent runs, which trackers are switched off."""

    def __init__(self, settings: TrackersConfig, out: Path, log: Callable[[str], None]):
        self.settings, self.log = settings, log
        self.root = tracking_root(settings)
        self.group = f"{out.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.off: set[str] = set()
        self.parents: dict[str, Any] = {}
        for name in settings.loggers:
            if TRACKERS[name].has_parent:
                self.guarded(name, lambda n=name: self.parents.__setitem__(n, _PARENTS[n][0](self)))

    def is_off(self, tracker: str) -> bool:
        return tracker in self.off

    def switch_off(self, tracker: str, exc: BaseException) -> None:
        if tracker in self.off:
            return
        self.off.add(tracker)
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        self.log(f"warning: {tracker} tracking failed and is off for this build ({type(exc).__name__}: {reason}); "
                 "the build goes on")

    def guarded(self, tracker: str, action: Callable[[], Any]) -> Any:
        if tracker in self.off:
            return None
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - a tracker never fails a build
            self.switch_off(tracker, exc)
            return None

    def loggers(self, config: Config, key: str, model: str, seed: int, variant: str | None,
                status: str) -> list[GuardedLogger]:
        """One logger per tracker still on for this run, its hyperparameters logged."""
        name = f"{variant or 'base'}/{model}/seed-{seed}"
        params = run_params(config, key, model, seed, variant, status)
        loggers = []
        for tracker in self.settings.loggers:
            if tracker in self.off or (TRACKERS[tracker].has_parent and tracker not in self.parents):
                continue
            tags = {"run_key": key, "model": model, "seed": str(seed), "variant": variant or "base",
                    "status": status, "build": self.group}
            identity = RunIdentity(name, self.group, tags, self.parents.get(tracker))
            inner = self.guarded(tracker, lambda t=tracker: TRACKERS[t].factory(self.settings, self.root, identity))
            if inner is None:
                continue
            logger = GuardedLogger(inner, tracker, self)
            logger.log_hyperparams(params)
            loggers.append(logger)
        return loggers

    def finish_run(self, loggers: list[GuardedLogger], metrics_path: Path, epochs: int) -> None:
        """The test metrics at the run's last epoch, then each logger saved and closed."""
        scalars = scalar_metrics(metrics_path)
        for logger in loggers:
            logger.log_metrics(scalars, step=epochs)
            logger.save()
            logger.finalize("success")

    def publish(self, out: Path) -> None:
        """The published bundle's report and summary as artifacts of each tracker's build-level run."""
        files = [out / name for name in BUILD_FILES if (out / name).is_file()]
        for tracker, parent in self.parents.items():
            self.guarded(tracker, lambda t=tracker, p=parent: _PARENTS[t][1](self, p, files))


def _mlflow_parent(tracking: BuildTracking) -> str:
    from mlflow.tracking import MlflowClient

    settings = tracking.settings
    client = MlflowClient(mlflow_uri(settings, tracking.root))
    experiment = client.get_experiment_by_name(settings.mlflow_experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(settings.mlflow_experiment)
    run = client.create_run(experiment_id, run_name=tracking.group, tags={"kind": "build", "build": tracking.group})
    return run.info.run_id


def _mlflow_publish(tracking: BuildTracking, run_id: str, files: list[Path]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri(tracking.settings, tracking.root))
    for path in files:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)


def _wandb_parent(tracking: BuildTracking) -> str:
    return tracking.group  # W&B groups runs by name: the build's own run is made when it has files to log


def _wandb_publish(tracking: BuildTracking, group: str, files: list[Path]) -> None:
    import wandb

    settings = tracking.settings
    (tracking.root / "wandb").mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=settings.wandb_project, group=group, name=f"{group}/build", job_type="build",
                     dir=str(tracking.root / "wandb"), mode="offline" if settings.offline else "online", reinit=True)
    artifact = wandb.Artifact(f"{group}-report", type="report")
    for path in files:
        artifact.add_file(str(path))
    run.log_artifact(artifact)
    run.finish()


# Each tracker with a build-level run: how it is started and how the build's files are logged to it.
_PARENTS = {"mlflow": (_mlflow_parent, _mlflow_publish), "wandb": (_wandb_parent, _wandb_publish)}
