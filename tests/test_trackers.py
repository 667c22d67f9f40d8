"""Experiment trackers with the real libraries: a tiny build logs every run and the report, read back with each tool's
own reader (CSV files, TensorBoard's event reader, MLflow's client over a local store). W&B is not tested here: its
package (with its own service binary) is not in the dev extra."""

import csv
import sys

import pytest
import yaml
from click.testing import CliRunner

from reportgen import build as build_module
from reportgen.cli import main
from reportgen.config import Config
from reportgen.config_loading import config_from_dict
from reportgen.errors import ConfigError
from reportgen.runstore import run_key
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config

EPOCH_METRICS = {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s"}


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Every test in its own working directory: the trackers' default folder is ./tracking."""
    monkeypatch.chdir(tmp_path)


def tracked_config(*loggers, models=("cnn", "vit"), **trackers):
    c = tiny_config(epochs=2)
    c.models = list(models)
    c.trackers.loggers = list(loggers)
    for key, value in trackers.items():
        setattr(c.trackers, key, value)
    return c


def run_build(config, tmp_path, messages=None):
    log = messages.append if messages is not None else (lambda m: None)
    return build_module.build(config, resolve_runtime(config), tmp_path / "bundle", tmp_path / "runs", progress=False,
                              log=log)


def mlflow_runs(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"file:{tmp_path / 'tracking' / 'mlruns'}")
    experiment = client.get_experiment_by_name("reportgen")
    return client, client.search_runs([experiment.experiment_id])


def test_a_build_logs_every_run_and_the_report_to_csv_tensorboard_and_mlflow(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tracked_config("csv", "tensorboard", "mlflow")
    outcomes = run_build(config, tmp_path)
    assert (tmp_path / "bundle" / "report.html").is_file()
    root = tmp_path / "tracking"

    (group,) = [p.name for p in (root / "csv").iterdir()]
    for model in ("cnn", "vit"):
        folder = root / "csv" / group / f"base-{model}-seed-42"
        rows = list(csv.DictReader((folder / "metrics.csv").open()))
        curves = [r for r in rows if r["train_loss"]]
        assert [int(r["step"]) for r in curves] == [1, 2]
        assert any(r["test_accuracy"] for r in rows)
        params = yaml.safe_load((folder / "hparams.yaml").read_text())
        assert params["model"] == model and params["seed"] == 42 and params["status"] == "trained"
        assert len(params["run_key"]) == 64 and params["config.train.epochs"] == 2

        events = EventAccumulator(str(root / "tensorboard" / group / f"base-{model}-seed-42"))
        events.Reload()
        scalars = set(events.Tags()["scalars"])
        assert EPOCH_METRICS | {"test_accuracy"} <= scalars
        assert [e.step for e in events.Scalars("val_acc")] == [1, 2]

    client, runs = mlflow_runs(tmp_path)
    (parent,) = [r for r in runs if r.data.tags.get("kind") == "build"]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "report.html" in artifacts
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["model"] for r in children) == ["cnn", "vit"]
    for child in children:
        assert child.data.params["run_key"] == child.data.tags["run_key"]
        assert child.data.tags["status"] == "trained" and child.data.params["variant"] == "base"
        assert EPOCH_METRICS | {"test_accuracy"} <= set(child.data.metrics)
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == [1, 2]
        accuracy = [o.accuracy for o in outcomes if o.model == child.data.tags["model"]][0]
        assert child.data.metrics["test_accuracy"] == pytest.approx(accuracy)


def test_a_reused_run_is_marked_reused_without_training_curves(tmp_path):
    config = tracked_config("mlflow", models=("cnn",))
    run_build(config, tmp_path)
    outcomes = run_build(config, tmp_path)
    assert [o.status for o in outcomes] == ["reused"]
    client, runs = mlflow_runs(tmp_path)
    runs = [r for r in runs if r.data.tags.get("kind") != "build"]
    assert sorted(r.data.tags["status"] for r in runs) == ["reused", "trained"]
    (reused,) = [r for r in runs if r.data.tags["status"] == "reused"]
    assert "test_accuracy" in reused.data.metrics and "train_loss" not in reused.data.metrics


def test_an_unreachable_tracker_warns_once_and_the_bundle_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    config = tracked_config("mlflow", "csv", models=("cnn",), mlflow_uri="http://127.0.0.1:9")  # port 9: closed
    messages = []
    run_build(config, tmp_path, messages)
    assert (tmp_path / "bundle" / "report.html").is_file()
    warnings = [m for m in messages if m.startswith("warning: mlflow")]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert list((tmp_path / "tracking" / "csv").rglob("metrics.csv"))  # the other tracker still logged


def test_a_logger_whose_calls_raise_is_switched_off_after_one_warning(tmp_path, monkeypatch):
    from pytorch_lightning.loggers import CSVLogger

    def broken(self, metrics, step=None):
        raise OSError("disk full")

    monkeypatch.setattr(CSVLogger, "log_metrics", broken)
    messages = []
    run_build(tracked_config("csv"), tmp_path, messages)
    assert (tmp_path / "bundle" / "report.html").is_file()
    assert len([m for m in messages if m.startswith("warning: csv")]) == 1


def test_a_missing_extra_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now fails
    result = CliRunner().invoke(main, ["build", "--preset", "quick", "--logger", "csv", "--logger", "mlflow",
                                       "--out", str(tmp_path / "b"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].endswith("pip install 'reportgen[mlflow]'")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_the_trackers_section_changes_no_run_key_and_no_variant_may_set_it():
    plain, tracked = Config(), tracked_config("csv", "mlflow", mlflow_uri="http://x")
    plain_tiny = tiny_config(epochs=2)
    runtime = resolve_runtime(plain_tiny)
    assert run_key(plain_tiny, "cnn", 42, "f", runtime) == run_key(tracked, "cnn", 42, "f", runtime)
    assert plain.trackers.loggers == [] and plain.trackers.offline
    with pytest.raises(ConfigError, match="variants.x.trackers.loggers"):
        config_from_dict({"variants": {"x": {"trackers.loggers": ["csv"]}}})
    with pytest.raises(ConfigError, match="trackers.loggers"):
        config_from_dict({"trackers": {"loggers": ["csv", "csv"]}})
    with pytest.raises(ConfigError, match="trackers.loggers"):
        config_from_dict({"trackers": {"loggers": ["neptune"]}})


def test_mlflow_under_the_default_artifacts_folder_logs_every_run(tmp_path):
    # MLflow's file store finds no run under a folder named "artifacts": the default bundle folder must not be one.
    result = CliRunner().invoke(main, ["build", "--preset", "quick", "--device", "cpu", "--epochs", "1", "--set",
                                       "models=[cnn]", "--set", "cnn.channels=[4]", "--set", "cnn.hidden_dim=8",
                                       "--set", "report.pdf=false", "--set", "analysis.efficiency=false",
                                       "--set", "analysis.robustness=false", "--set", "analysis.explanations=false",
                                       "--logger", "mlflow", "--no-progress", "--out", "artifacts/b"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    client, runs = mlflow_runs(tmp_path)
    names = {run.data.tags.get("mlflow.runName") for run in runs}
    assert "base/cnn/seed-42" in names and len(runs) == 2  # the build's run and the CNN's


def test_an_mlflow_store_inside_a_folder_named_artifacts_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["build", "--preset", "quick", "--logger", "mlflow",
                                       "--set", "trackers.dir=artifacts/tracking"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: config key 'trackers.dir': MLflow's file store")
    assert not (tmp_path / "artifacts").exists()

