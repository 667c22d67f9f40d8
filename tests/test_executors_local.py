"""The scheduler of runs on one machine: one run per visible GPU side by side (a fake device count on the CPU)
gives the bundle a serial build gives; the driver's loop names a failed run and its log, and cancels on Ctrl-C;
a missing extra is one line; the executor's config keys are validated."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

import reportgen.build as build_module
import reportgen.report
from reportgen.config_loading import config_from_dict
from reportgen.errors import ConfigError
from reportgen.executors import require_extra
from reportgen.executors.driver import RunFailed, wait_for
from reportgen.executors.records import run_log
from reportgen.executors.task import RunResult, RunSpec
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config

MODELS = ("cnn", "vit")


def sample_config(**train):
    """A tiny build on a twentieth of the bundled sample (200 training images), one thread, so that a run in a
    worker process loads its data from the cache as the driver did and gives the same numbers."""
    config = tiny_config(num_threads=1, **train)
    config.data.train_fraction = 0.05
    return config


@pytest.fixture
def stand_in_report(monkeypatch):
    """The driver renders a stand-in: these tests are about where the runs train."""
    def render(root, pdf=True):
        (root / "report.html").write_text("<html>stand-in</html>")
        return [root / "report.html"]

    monkeypatch.setattr(reportgen.report, "render_report", render)


def build(config, root: Path, name: str, lines: list | None = None):
    """A build of `config` into root/name with the run store root/runs-name; its outcomes by (model, seed)."""
    log = lines.append if lines is not None else (lambda line: None)
    outcomes = build_module.build(config, resolve_runtime(config), root / name, root / f"runs-{name}",
                                  progress=False, log=log)
    return {(o.model, o.seed): o for o in outcomes}


def results_of(bundle: Path) -> dict:
    """Every run's predictions and its history without the timings: what must not depend on where it trained."""
    results = {}
    for folder in sorted(bundle.glob("runs/*/seed-*")):
        with open(folder / "history.csv", newline="") as f:
            history = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in csv.DictReader(f)]
        results[str(folder.relative_to(bundle))] = ((folder / "predictions.csv").read_text(), history)
    return results


@pytest.mark.e2e  # spawns worker processes
def test_one_run_per_gpu_side_by_side_gives_the_serial_builds_bundle(tmp_path, stand_in_report, monkeypatch):
    config = sample_config(seeds=[1, 2])
    serial = build(config, tmp_path, "serial")
    monkeypatch.setattr(build_module, "visible_gpus", lambda runtime: 2)  # a machine with two GPUs, faked
    lines = []
    side_by_side = build(config, tmp_path, "gpus", lines)
    assert "training 4 runs as 2 GPUs side by side (0 reused)" in lines
    assert any(line.startswith("0 queued, 0 running, 4 done, 0 failed") for line in lines)
    assert {key: o.status for key, o in side_by_side.items()} == {key: "trained" for key in serial}
    assert results_of(tmp_path / "gpus") == results_of(tmp_path / "serial")
    assert len(results_of(tmp_path / "gpus")) == 4


class FakeTask:
    """A task that finishes after `polls` polls, with a result or an error."""

    def __init__(self, run_dir: Path, polls: int, error: Exception | None = None):
        self.spec = RunSpec({}, "cnn", 1, str(run_dir), f"CNN {run_dir.name}", None, "")
        self.submitted, self.polls, self.error, self.cancelled = 0.0, polls, error, False

    def finished(self) -> bool:
        self.polls -= 1
        return self.polls < 0

    def outcome(self) -> RunResult:
        if self.error:
            raise self.error
        return RunResult(self.spec.run_dir, 0.5, 1.0, 2)

    def cancel(self) -> None:
        self.cancelled = True

    def log_path(self) -> Path:
        return run_log(self.spec.run_dir)


@pytest.fixture
def no_waiting(monkeypatch):
    monkeypatch.setattr("reportgen.executors.driver.POLL_S", 0.0)


def test_the_driver_reports_progress_and_returns_the_results_in_order(tmp_path, no_waiting):
    tasks = [FakeTask(tmp_path / "a", 3), FakeTask(tmp_path / "b", 1)]
    lines = []
    results = wait_for(tasks, lines.append, lambda done: "1 min" if done else None)
    assert [r.run_dir for r in results] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert lines == ["2 queued, 0 running, 0 done, 0 failed", "1 queued, 0 running, 1 done, 0 failed; about 1 min left",
                     "0 queued, 0 running, 2 done, 0 failed"]


def test_a_failed_run_fails_the_build_naming_the_run_and_its_log_once_the_rest_finished(tmp_path, no_waiting):
    failing = FakeTask(tmp_path / "bad", 0, RuntimeError("CUDA out of memory"))
    going = FakeTask(tmp_path / "slow", 5)
    with pytest.raises(RunFailed) as error:
        wait_for([going, failing], lambda line: None, lambda done: None)
    message = str(error.value)
    assert message.startswith("CNN bad failed (RuntimeError: CUDA out of memory); its log: ")
    assert str(tmp_path / "bad" / "train.log") in message and "the same command trains what is left" in message
    assert going.polls < 0 and not going.cancelled  # finished, so stored


def test_ctrl_c_cancels_every_task_still_going(tmp_path, monkeypatch):
    tasks = [FakeTask(tmp_path / "a", 100), FakeTask(tmp_path / "b", 100)]

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("reportgen.executors.driver.time.sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        wait_for(tasks, lambda line: None, lambda done: None)
    assert all(task.cancelled for task in tasks)


@pytest.mark.parametrize("kind, module, extra", [("ray", "ray", "reportgen[ray]"), ("slurm", "submitit",
                                                                                    "reportgen[slurm]")])
def test_a_missing_extra_is_one_line_naming_the_pip_command(monkeypatch, kind, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as where it is not installed
    with pytest.raises(ConfigError) as error:
        require_extra(kind)
    assert str(error.value) == (f"--executor {kind} needs {module}, which is not installed: pip install '{extra}'")
    assert error.value.exit_code == 2


def test_the_cli_refuses_a_missing_extra_before_loading_data(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from reportgen.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--preset", "quick", "--executor", "ray"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --executor ray needs ray, which is not installed: "
                                     "pip install 'reportgen[ray]'")


@pytest.mark.parametrize("key, value", [("executor.max_retries", -1), ("executor.cpus_per_run", 0),
                                        ("executor.slurm.time_min", 0), ("executor.slurm.mem_gb", 0),
                                        ("executor.kind", "kubernetes")])
def test_the_executor_keys_are_validated(key, value):
    section, *rest = key.split(".")
    raw: dict = {}
    node = raw
    for part in [section, *rest[:-1]]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(raw)
