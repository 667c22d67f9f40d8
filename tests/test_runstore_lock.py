"""The run store under concurrency: a second build waits for the run the first is training, then
reuses it and says so; two drivers started together never train a run twice; the lease of a killed
driver expires."""

import signal
import subprocess
import sys

import pytest

import reportgen.build as build_module
import reportgen.report
import reportgen.runstore as runstore
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


def hold_lease(lock, lease_s: float) -> subprocess.Popen:
    """Another driver's process holding the run's lease at `lock` (renewed by its heartbeat while it runs)."""
    lock.parent.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import filelock, sys, time; lease = filelock.SoftFileLease(sys.argv[1], "
                               f"lease_duration={lease_s}); lease.acquire(); print('held', flush=True); "
                               "time.sleep(600)", str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def cnn_lock(tmp_path, config):
    key = run_key(config, "cnn", 42, tiny_data().fingerprint, resolve_runtime(config))
    return tmp_path / "runs" / f".cnn-{key[:20]}.lock"


@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_the_stale_lock_of_a_dead_driver_expires(tmp_path, fast_build, monkeypatch, how):
    """A killed driver's lease (a dead process on this host) is taken over at once; one whose heartbeat stopped
    (frozen here; on another node a dead driver looks the same) after LEASE_S unrenewed."""
    monkeypatch.setattr(runstore, "LEASE_S", 1.0)
    config = tiny_config(epochs=1)
    config.models = ["cnn"]
    lock = cnn_lock(tmp_path, config)
    holder = hold_lease(lock, 1.0)
    holder.send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
    try:
        if how == "killed":
            holder.wait(timeout=30)
        assert lock.exists()  # the dead driver's lease stays behind
        lines = []
        outcomes = build_module.build(config, resolve_runtime(config),
            tmp_path / "bundle", tmp_path / "runs", progress=False, log=lines.append)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert [o.status for o in outcomes] == ["trained"]
    waited = [line for line in lines if "waiting for another reportgen build" in line]
    assert (len(waited), how) in ((0, "killed"), (1, "frozen")), lines
    assert not lock.exists()  # released once the run was stored


@pytest.mark.e2e  # two real drivers on one run store, started together
def test_two_drivers_on_one_store_never_train_a_run_twice(tmp_path):
    drivers = [start_build(tmp_path, name, "--epochs", "2", "--no-progress", "--set", "models=[cnn,vit]",
                           "--set", "vit.embed_dim=16", "--set", "vit.depth=1", "--set", "vit.num_heads=2",
                           "--set", "vit.mlp_dim=32", "--set", "vit.patch_size=8") for name in ("a", "b")]
    outputs = [driver.communicate(timeout=300) for driver in drivers]
    assert [driver.returncode for driver in drivers] == [0, 0], [err[-1000:] for _, err in outputs]
    for model in ("CNN", "ViT"):
        trained = sum(f"{model} seed 42: training on" in out for out, _ in outputs)
        reused = sum(f"{model} seed 42: reused (another build trained it while this one waited)" in out
                     for out, _ in outputs)
        assert (trained, reused) == (1, 1), model
    for model in ("cnn", "vit"):
        history = {(tmp_path / out / f"runs/{model}/seed-42/history.csv").read_text() for out in ("a", "b")}
        assert len(history) == 1
