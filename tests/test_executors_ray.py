"""The Ray executor on a local Ray (started once per session, 2 CPUs): a tiny build through `--executor ray` gives
the predictions of a local build; a task whose process exits is retried and resumes from its checkpoint; a failed
run fails the build in one line, and the restarted driver trains only what had not finished, also after the
driver was killed with SIGKILL; `grade --deep` on Ray writes the sheet a local grade writes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import reportgen.build as build_module
from reportgen.executors.driver import RunFailed
from reportgen.executors.records import attempts
from reportgen.executors.task import train_run
from reportgen.grading import grade_bundles
from reportgen.runstore import CHECKPOINT, COMPLETION_RECORD
from tests.cli_process import start_build
from tests.test_executors_local import build, results_of, sample_config, stand_in_report  # noqa: F401

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("stand_in_report")]  # a Ray cluster and its workers


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for these tests; this module's tasks travel by value (the workers cannot import tests/)."""
    ray.init(num_cpus=2, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def on_ray(config):
    config.executor.kind = "ray"
    return config


def exit_after_first_checkpoint(spec):
    """A worker lost mid-run: on the first attempt its process exits as soon as the first epoch's checkpoint is
    written; the retry trains normally (resuming from that checkpoint)."""
    run_dir = Path(spec.run_dir)
    marker = run_dir.with_name(run_dir.name + ".lost-once")
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("")

        def exit_at_checkpoint():
            while not (run_dir / CHECKPOINT).is_file():
                time.sleep(0.01)
            os._exit(1)

        threading.Thread(target=exit_at_checkpoint, daemon=True).start()
    return train_run(spec)


def fail_the_vit(spec):
    """The ViT's run raises in its worker (an error, not a lost worker: not retried): its config is made invalid."""
    if spec.model == "vit":
        spec = dataclasses.replace(spec, config={**spec.config, "train": {**spec.config["train"], "epochs": 0}})
    return train_run(spec)


def test_a_build_on_ray_gives_the_predictions_of_a_local_build(tmp_path, local_ray):
    config = sample_config()
    build(config, tmp_path, "local")
    lines = []
    outcomes = build(on_ray(sample_config()), tmp_path, "ray", lines)
    assert "training 2 runs as Ray tasks (0 reused)" in lines
    assert [o.status for o in outcomes.values()] == ["trained", "trained"]
    assert results_of(tmp_path / "ray") == results_of(tmp_path / "local")


def test_a_lost_worker_is_retried_and_resumes_from_its_checkpoint(tmp_path, local_ray, monkeypatch):
    config = sample_config(epochs=4)
    config.models = ["cnn"]
    build(config, tmp_path, "local")
    monkeypatch.setattr(build_module, "train_run", exit_after_first_checkpoint)
    build(on_ray(config), tmp_path, "ray")
    (run_dir,) = [p for p in (tmp_path / "runs-ray").iterdir() if p.is_dir()]
    assert [a["resumed"] for a in attempts(run_dir)] == [False, True]  # lost once, then resumed
    assert results_of(tmp_path / "ray") == results_of(tmp_path / "local")  # bit-exact on the CPU


def test_a_failed_run_fails_the_build_and_the_restarted_driver_trains_only_what_is_left(tmp_path, local_ray,
                                                                                          monkeypatch):
    config = on_ray(sample_config())
    monkeypatch.setattr(build_module, "train_run", fail_the_vit)
    with pytest.raises(RunFailed) as error:
        build(config, tmp_path, "b")
    assert str(error.value).startswith("ViT seed 42 failed (ConfigError: config key 'train.epochs' must be a "
                                       "positive number of epochs, got 0); its log: ")
    vit_dir = next(p for p in (tmp_path / "runs-b").iterdir() if p.name.startswith("vit-"))
    assert str(vit_dir / "train.log") in str(error.value)
    assert "Traceback" in (vit_dir / "train.log").read_text()  # its traceback is in its log
    assert not (tmp_path / "b").exists()  # nothing published
    monkeypatch.setattr(build_module, "train_run", train_run)
    lines = []
    outcomes = build(config, tmp_path, "b", lines)
    assert {model: o.status for (model, _), o in outcomes.items()} == {"cnn": "reused", "vit": "trained"}
    assert "training 1 run as Ray tasks (1 reused)" in lines


# A ViT several times the tiny CNN's work, so that it is mid-run when the driver is killed.
RAY_BUILD = ("--executor", "ray", "--epochs", "4", "--no-progress", "--set", "models=[cnn,vit]",
             "--set", "data.train_fraction=0.05", "--set", "vit.embed_dim=32", "--set", "vit.depth=2",
             "--set", "vit.num_heads=2", "--set", "vit.mlp_dim=64", "--set", "vit.patch_size=4")


def wait_for_a_checkpoint(runs: Path, driver, model: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not list(runs.glob(f"{model}-*/{CHECKPOINT}")):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.05)


def test_a_driver_killed_with_sigkill_and_restarted_trains_only_what_had_not_finished(tmp_path):
    """No handler runs on SIGKILL: the driver cancels nothing and its locks stay behind. The restarted driver
    (its own local Ray, as the first had) reuses what was stored and resumes the rest from its checkpoint; its
    worker never trains a run while a worker left by the killed driver still does (reportgen.executors.task)."""
    driver = start_build(tmp_path, "b", *RAY_BUILD)
    wait_for_a_checkpoint(tmp_path / "runs", driver, "vit")  # the ViT has finished its first epoch of 4
    stored = {p.parent.name.split("-")[0] for p in (tmp_path / "runs").glob(f"*/{COMPLETION_RECORD}")}
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    assert "vit" not in stored
    restarted = start_build(tmp_path, "b", *RAY_BUILD)
    out, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err[-2000:]
    # The killed driver's Ray worker may outlive it for a while and store the ViT itself: then it is reused.
    # Either way the ViT started from scratch once: any later attempt resumed from a checkpoint.
    assert ("ViT seed 42: trained on a worker (resumed an interrupted run from its last completed epoch)" in out
            or "ViT seed 42: reused" in out), out
    assert "cnn" not in stored or "CNN seed 42: reused" in out, out
    for run_dir in (tmp_path / "runs").glob("*-*"):
        resumed = [a["resumed"] for a in attempts(run_dir)]
        assert resumed[0] is False and all(resumed[1:]), (run_dir.name, resumed)
    assert (tmp_path / "b" / "runs" / "vit" / "seed-42" / "predictions.csv").is_file()


def test_grade_deep_on_ray_writes_the_sheet_of_a_local_grade(tmp_path, local_ray):
    from reportgen.executor_config import ExecutorConfig

    config = sample_config(epochs=1)
    config.models = ["cnn"]
    bundles = []
    for seed in (1, 2):
        config.train.seeds = [seed]
        build(config, tmp_path, f"s{seed}")
        bundles.append(tmp_path / f"s{seed}")
    sheets = {}
    for kind in ("local", "ray"):
        grade_bundles(bundles, tmp_path / f"grades-{kind}", deep=True, jobs=2, progress=False, log=lambda m: None,
                      executor=ExecutorConfig(kind=kind))
        sheet = json.loads((tmp_path / f"grades-{kind}" / "grades.json").read_text())
        sheet.pop("created")
        sheets[kind] = sheet
    assert sheets["ray"] == sheets["local"]
    assert [row["deep_verified"] for row in sheets["ray"]["rows"]] == [True, True]
