"""The run store under concurrency: a second build waits for the run the first is training, then
reuses it and says so; a lock left by a killed process blocks nothing."""

import signal
import subprocess
import sys

import pytest

import reportgen.build as build_module
import reportgen.report
from reportgen.runstore import run_key
from reportgen.runtime import resolve_runtime
from tests.cli_process import read_until, start_build
from tests.conftest import tiny_config, tiny_data


@pytest.mark.e2e  # two real build processes contend for one run
def test_a_second_build_waits_for_the_run_the_first_trains_then_reuses_it(tmp_path):
    first = start_build(tmp_path, "first", "--epochs", "2", "--no-progress")
    read_until(first, "CNN seed 42: training on cpu")
    first.send_signal(signal.SIGSTOP)  # holds the run's lock, paused, until the second build is waiting for it
    try:
        second = start_build(tmp_path, "second", "--epochs", "2", "--no-progress")
        waited = read_until(second, "CNN seed 42: waiting for another reportgen build that is training it")
    finally:
        first.send_signal(signal.SIGCONT)
    second_out, second_err = second.communicate(timeout=300)
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, first_err[-1000:] + second_err[-1000:]
    assert "CNN seed 42: reused (another build trained it while this one waited)" in second_out
    assert "training on" not in "".join(waited) + second_out
    assert "cnn seed 42: trained" in first_out
    history = [(tmp_path / out / "runs/cnn/seed-42/history.csv").read_text() for out in ("first", "second")]
    assert history[0] == history[1]


@pytest.fixture
def fast_build(monkeypatch):
    monkeypatch.setattr(build_module, "load_data", lambda cfg: tiny_data())
    monkeypatch.setattr(reportgen.report, "render_report", lambda root, pdf=True: [])


def test_a_lock_left_by_a_killed_process_blocks_nothing(tmp_path, fast_build):
    config = tiny_config(epochs=1)
    config.models = ["cnn"]
    key = run_key(config, "cnn", 42, tiny_data().fingerprint, resolve_runtime(config))
    lock = tmp_path / "runs" / f".cnn-{key[:20]}.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import filelock, sys, time; filelock.FileLock(sys.argv[1]).acquire(); "
                               "print('held', flush=True); time.sleep(600)", str(lock)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    lines = []
    outcomes = build_module.build(config, resolve_runtime(config),
        tmp_path / "bundle", tmp_path / "runs", progress=False, log=lines.append)
    assert [o.status for o in outcomes] == ["trained"]
    assert not any("waiting" in line for line in lines)
