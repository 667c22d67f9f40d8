"""A worker's task (reportgen.executors.task): two workers never train one run at once. A worker left training by
a driver that died holds the run's worker lease; the next driver's worker waits for it, then reuses what the
orphan stored, or trains once the orphan is gone."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest

import reportgen.executors.task as task
import reportgen.runstore as runstore
from reportgen.executors.task import RunResult, RunSpec, train_in_process
from reportgen.runstore import COMPLETION_RECORD, run_lease
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config, tiny_data
from tests.test_runstore_lock import hold_lease


@pytest.fixture
def spec(tmp_path, monkeypatch) -> RunSpec:
    monkeypatch.setattr(runstore, "LEASE_S", 1.0)  # every contender for a lease must agree on its duration
    config = tiny_config(epochs=1)
    return RunSpec(config.to_dict(), "cnn", 42, str(tmp_path / "runs" / "cnn-0123"), "CNN seed 42",
                   resolve_runtime(config), tiny_data().fingerprint)


@pytest.fixture
def fits(monkeypatch) -> list:
    """The runs this process trained (fit and store stand-ins: the lease, not training, is under test)."""
    trained = []
    monkeypatch.setattr(task, "fit_run", lambda spec, *args: trained.append(spec.label))
    monkeypatch.setattr(task, "evaluate_and_store", lambda spec, *a: ({"train_time_s": 1.0, "epochs": 1}, 0.5))
    return trained


def store_as_the_orphan_would(run_dir) -> None:
    (run_dir / "metrics.json").write_text(json.dumps({"accuracy": 0.25}))
    (run_dir / COMPLETION_RECORD).write_text(json.dumps({"train_time_s": 3.0, "epochs": 1}))


def in_a_thread(spec: RunSpec) -> tuple[threading.Thread, list]:
    results = []
    worker = threading.Thread(target=lambda: results.append(train_in_process(spec, data=tiny_data())), daemon=True)
    worker.start()
    return worker, results


def test_a_worker_waits_for_an_orphan_still_training_the_run_then_reuses_what_it_stored(spec, fits, capsys):
    run_dir = Path(spec.run_dir)
    run_dir.mkdir(parents=True)
    orphan = hold_lease(Path(run_lease(run_dir, "worker").lock_file), 1.0)  # alive, renewing its lease
    try:
        worker, results = in_a_thread(spec)
        worker.join(timeout=3.0)  # three lease periods: a renewed lease is never taken over
        assert worker.is_alive() and fits == []
        store_as_the_orphan_would(run_dir)
    finally:
        orphan.send_signal(signal.SIGKILL)
        orphan.wait(timeout=30)
    worker.join(timeout=30)
    assert results == [RunResult(spec.run_dir, 0.25, 3.0, 1)] and fits == []  # reused, never trained twice
    assert "CNN seed 42: waiting for another worker that is still training it" in capsys.readouterr().out


def test_the_lease_of_a_worker_that_died_is_taken_at_once_and_the_run_trains(spec, fits, capsys):
    run_dir = Path(spec.run_dir)
    run_dir.mkdir(parents=True)
    dead = hold_lease(Path(run_lease(run_dir, "worker").lock_file), 1.0)
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    worker, results = in_a_thread(spec)
    worker.join(timeout=30)
    assert fits == ["CNN seed 42"] and results[0].accuracy == 0.5
    assert not run_lease(run_dir, "worker").is_locked  # released after training
