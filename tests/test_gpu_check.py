"""scripts/gpu-check on the CPU: its no-GPU path, its steps' logs and limits, the goal runs it reads from a bundle,
its verdicts and summary, and the configs its builds ask for. Nothing here needs a GPU."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu-check"


def load_script():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gpu_check = load_script()


def run_script(tmp_path, *args):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--work", str(tmp_path / "work"), *args],
                          capture_output=True, text=True, timeout=120)
    summary = json.loads((out / "summary.json").read_text())
    return done, summary


@pytest.fixture
def python_without_torch(tmp_path):
    """A 'python' that fails as one without torch does."""
    fake = tmp_path / "python-without-torch"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    return str(fake)


def test_without_torch_it_exits_non_zero_and_writes_why(tmp_path, python_without_torch):
    done, summary = run_script(tmp_path, "--python", python_without_torch)
    assert done.returncode == 2, done.stdout + done.stderr
    assert summary["result"] == "no gpu" and summary["ok"] is False and summary["allow_no_gpu"] is False
    assert "cannot import torch" in summary["reason"] and summary["steps"] == {}
    assert summary["captum"] == "captum: absent (explanations skipped)"
    assert not (tmp_path / "work").exists()  # nothing installed or unpacked


def test_allow_no_gpu_exits_zero_with_the_summary_saying_so(tmp_path, python_without_torch):
    done, summary = run_script(tmp_path, "--python", python_without_torch, "--allow-no-gpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["result"] == "no gpu" and summary["allow_no_gpu"] is True and summary["reason"]
    assert "nothing checked (allowed by --allow-no-gpu)" in done.stdout


def test_with_torch_but_no_visible_gpu_the_reason_is_the_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible here")
    done, summary = run_script(tmp_path)
    assert done.returncode == 2
    assert summary["reason"].startswith("no CUDA GPU visible here")
    assert summary["versions"]["torch"] and summary["gpu"] is None and summary["steps"] == {}


def test_a_step_merges_stdout_and_stderr_into_one_log(tmp_path):
    code = "import sys; print('to stdout', flush=True); print('to stderr', file=sys.stderr, flush=True); sys.exit(3)"
    step = gpu_check.run_step("demo", [sys.executable, "-c", code], tmp_path / "demo.log", timeout=30)
    assert step["exit_code"] == 3 and step["ok"] is False and step["seconds"] >= 0
    assert (tmp_path / "demo.log").read_text().splitlines() == ["to stdout", "to stderr"]
    assert step["tail"] == ["to stdout", "to stderr"]


def test_a_step_with_a_result_file_keeps_stdout_apart(tmp_path):
    code = "import sys; print('{\"a\": 1}'); print('progress', file=sys.stderr)"
    step = gpu_check.run_step("demo", [sys.executable, "-c", code], tmp_path / "demo.log", timeout=30,
                              stdout_to=tmp_path / "result.json")
    assert step["ok"] and json.loads((tmp_path / "result.json").read_text()) == {"a": 1}
    assert (tmp_path / "demo.log").read_text().strip() == "progress"


def test_a_step_past_its_limit_is_stopped_with_its_children(tmp_path):
    marker = tmp_path / "child-survived"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').close()\n")
    parent = tmp_path / "parent.py"
    parent.write_text(f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, {str(child)!r}])\n"
                      "time.sleep(60)\n")
    step = gpu_check.run_step("slow", [sys.executable, str(parent)], tmp_path / "slow.log", timeout=1)
    assert step["exit_code"] == "timeout" and not step["ok"] and step["seconds"] < 20
    assert "stopped at its limit of 1 s" in step["tail"][-1]
    time.sleep(4)
    assert not marker.exists()  # the whole process group ended, the step's children too


def test_the_budget_caps_each_step_and_starts_none_without_time():
    now = [0.0]
    budget = gpu_check.Budget(100.0, clock=lambda: now[0])
    assert budget.timeout("seed build") == 100.0  # its cap is 200 s, but only 100 s are left
    assert budget.timeout("install") == gpu_check.STEP_CAPS_S["install"]
    now[0] = 100.0 - gpu_check.MIN_STEP_S / 2
    assert budget.timeout("bench") is None
    step = gpu_check.run_step("bench", ["true"], Path("/nonexistent/log"), timeout=None)
    assert step["ok"] is False and step["exit_code"] is None and "budget" in step["skipped"]


def test_the_step_caps_fit_the_six_minute_budget():
    assert gpu_check.BUDGET_S < 360
    assert set(gpu_check.STEP_CAPS_S) >= {"install", "extract data", "seed build", "seed verify", "cuda tests",
                                          "quick study", "study verify", "bench"}
    assert gpu_check.STEP_CAPS_S["seed build"] >= gpu_check.BUILD_WALL_LIMIT_S  # a build that meets its goal ends


def write_run(folder: Path, model: str, accuracy: float, **info) -> None:
    folder.mkdir(parents=True)
    record = {"model": model, "seed": 42, "device": "cuda", "precision": "bf16-mixed", "epochs": 80,
              "train_time_s": 20.0, "steady_epoch_time_s": 0.24, "warmup_time_s": 0.8, **info}
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))


def test_goal_runs_come_from_the_bundle_with_their_times_and_accuracy(tmp_path):
    bundle = tmp_path / "seed"
    write_run(bundle / "runs" / "cnn" / "seed-42", "cnn", 0.87, fit_wall_time_s=26.5)
    write_run(bundle / "runs" / "vit" / "seed-42", "vit", 0.76, train_time_s=41.0)
    runs = gpu_check.goal_runs(bundle, tmp_path / "runs-seed")
    assert set(runs) == {"cnn", "vit"}
    assert {key: runs["cnn"][key] for key in gpu_check.RUN_TIMES} == {
        "train_time_s": 20.0, "fit_wall_time_s": 26.5, "steady_epoch_time_s": 0.24}
    assert runs["vit"]["fit_wall_time_s"] is None  # a run.json without it (reportgen before 0.6.0)
    assert runs["vit"]["train_time_s"] == 41.0 and runs["vit"]["steady_epoch_time_s"] == 0.24
    assert runs["cnn"]["accuracy"] == 0.87 and runs["cnn"]["timings"]["train_time_s"] == 20.0


def test_the_run_store_of_a_real_fit_records_every_time_the_summary_reads(tmp_path):
    # The keys gpu-check reads are those reportgen.executors.task writes: a 2-epoch tiny run, trained for real.
    from reportgen.executors.task import evaluate_and_store
    from reportgen.runtime import Runtime
    from tests.conftest import tiny_config, tiny_data
    from tests.test_cuda import fit

    config, data = tiny_config(epochs=2), tiny_data()
    result = fit("cnn", config, tmp_path / "ckpt")
    spec = types.SimpleNamespace(run_dir=str(tmp_path / "run"), model="cnn", seed=42,
                                 runtime=Runtime("cpu", "32", False))
    evaluate_and_store(spec, config, data, result)
    run = gpu_check.describe_run(json.loads((tmp_path / "run" / "run.json").read_text()), {"accuracy": 0.5}, tmp_path)
    assert all(isinstance(run[key], float) and run[key] > 0 for key in gpu_check.RUN_TIMES), run
    assert run["fit_wall_time_s"] > run["train_time_s"]


def test_goal_runs_fall_back_to_the_run_store_when_the_bundle_is_missing(tmp_path):
    store = tmp_path / "runs-seed"
    write_run(store / "cnn-0123456789abcdef0123", "cnn", 0.86)
    (store / "vit-0123456789abcdef0123").mkdir(parents=True)  # an unfinished run: no run.json
    assert set(gpu_check.goal_runs(tmp_path / "seed", store)) == {"cnn"}


def passing_runs() -> dict:
    base = {"device": "cuda", "epochs": 80, "seed": 42}
    return {"cnn": {**base, "train_time_s": 24.0, "accuracy": 0.871},
            "vit": {**base, "train_time_s": 50.0, "accuracy": 0.758}}


def passing_steps() -> dict:
    return {name: {"ok": True, "exit_code": 0, "seconds": 10.0, "tail": []} for name in gpu_check.STEP_CAPS_S
            if name != "captum import"} | {"seed build": {"ok": True, "exit_code": 0, "seconds": 150.0, "tail": []}}


def test_every_goal_is_met_by_a_fast_accurate_build():
    goals = gpu_check.judge_goals(passing_steps(), passing_runs())
    assert set(goals) == {"cnn training time", "cnn accuracy", "vit training time", "vit accuracy",
                          "seed build wall clock"}
    assert all(goal["ok"] for goal in goals.values()), goals
    assert goals["seed build wall clock"] == {"measured": 150.0, "limit": 180.0, "relation": "at most", "unit": "s",
                                              "ok": True}


@pytest.mark.parametrize("change, missed, note", [
    (lambda r, s: r["cnn"].update(train_time_s=30.5), ["cnn training time"], None),
    (lambda r, s: r["vit"].update(train_time_s=61.0), ["vit training time"], None),
    (lambda r, s: r["cnn"].update(accuracy=0.80), ["cnn accuracy"], None),  # fast but wrong
    (lambda r, s: r["vit"].update(accuracy=0.70), ["vit accuracy"], None),
    (lambda r, s: r["vit"].update(epochs=40), ["vit training time", "vit accuracy"], "trained 40 epochs"),
    (lambda r, s: r["cnn"].update(device="cpu"), ["cnn training time", "cnn accuracy"], "not cuda"),
    (lambda r, s: r.pop("vit"), ["vit training time", "vit accuracy"], "no completed run"),
    (lambda r, s: s["seed build"].update(seconds=181.0), ["seed build wall clock"], None),
    (lambda r, s: s["seed build"].update(ok=False, exit_code="timeout"), ["seed build wall clock"], "exit timeout"),
])
def test_a_goal_fails_on_its_own_measure(change, missed, note):
    runs, steps = passing_runs(), passing_steps()
    change(runs, steps)
    goals = gpu_check.judge_goals(steps, runs)
    assert [name for name, goal in goals.items() if not goal["ok"]] == missed
    assert all(note in goals[name]["note"] for name in missed) if note else all("note" not in goals[n] for n in missed)
    assert all(goals[name]["measured"] is not None for name in missed if note != "no completed run")  # kept


def test_a_seed_build_that_never_ran_measures_nothing():
    steps = {**passing_steps(), "seed build": gpu_check.skipped("seed build", "no data (see extract data)")}
    goal = gpu_check.judge_goals(steps, passing_runs())["seed build wall clock"]
    assert goal["ok"] is False and goal["measured"] is None and goal["note"] == "the seed build did not run"


def test_the_summary_and_the_exit_code_follow_the_steps_and_goals(tmp_path, capsys):
    runs = passing_runs()
    runs["cnn"].update(fit_wall_time_s=27.25, steady_epoch_time_s=0.29)
    summary = {"steps": passing_steps(), "runs": runs, "goals": gpu_check.judge_goals(passing_steps(), runs)}
    assert gpu_check.finish(summary, tmp_path) == 0
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["result"] == "passed" and written["ok"] is True
    assert written["runs"]["cnn"]["fit_wall_time_s"] == 27.25
    printed = capsys.readouterr().out
    assert "goal cnn training time: met (24.0 s, at most 30.0 s)" in printed
    assert ("run cnn: 80 epochs on cuda, accuracy 0.8710, training 24.00 s, fit wall clock 27.25 s, steady epoch "
            "0.29 s") in printed
    assert "run vit: 80 epochs on cuda, accuracy 0.7580, training 50.00 s, fit wall clock not recorded" in printed

    failing = {"steps": {**passing_steps(), "bench": {"ok": False, "exit_code": 1, "seconds": 3.0, "tail": []}},
               "goals": summary["goals"]}
    assert gpu_check.finish(failing, tmp_path) == 1
    assert json.loads((tmp_path / "summary.json").read_text())["result"] == "failed"
    missed = {"steps": passing_steps(), "goals": gpu_check.judge_goals(passing_steps(), {})}
    assert gpu_check.finish(missed, tmp_path) == 1
    assert "goal cnn accuracy: MISSED (not measured, at least 0.84): no completed run" in capsys.readouterr().out


def test_the_combined_log_holds_every_step(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("line one\nline two\n")
    steps = {"install": {"ok": True, "exit_code": 0, "seconds": 1.0, "log": str(log), "tail": []},
             "bench": gpu_check.skipped("bench", "the install step failed")}
    (tmp_path / "out").mkdir()
    gpu_check.copy_results(tmp_path / "work", tmp_path / "out", steps)
    text = (tmp_path / "out" / "gpu-check.log").read_text()
    assert "===== install: exit 0, 1.0 s =====\nline one\nline two" in text
    assert "===== bench: exit None, 0.0 s =====\nskipped: the install step failed" in text


def requirements(tmp_path, *dependencies: str):
    """The requirements step's probe, run here on a pyproject.toml that lists `dependencies`."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[project]\ndependencies = [" + ", ".join(f'"{d}"' for d in dependencies) + "]\n")
    return subprocess.run([sys.executable, "-c", gpu_check.REQUIREMENTS_PROBE, str(pyproject),
                           ",".join(gpu_check.OPTIONAL)], capture_output=True, text=True, timeout=60)


def test_the_requirements_step_names_each_unmet_dependency_and_what_to_carry(tmp_path):
    done = requirements(tmp_path, "numpy>=1.0", "numpy>=999", "no-such-package-here>=1", "captum>=999",
                        "weasyprint>=9999")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("numpy: ") and lines[0].endswith(", needs >=999: carry a wheel in data/wheels/")
    assert lines[1] == "no-such-package-here: absent, needs >=1: carry a wheel in data/wheels/"
    assert "optional: what needs it is skipped" in lines[2] and "optional" in lines[3]  # captum, weasyprint
    assert lines[-1] == "requirements: 2 unmet"
    assert requirements(tmp_path, "numpy>=1.0", "captum>=999").returncode == 0  # only an optional one unmet


def test_this_environment_meets_the_projects_requirements(tmp_path):
    done = subprocess.run([sys.executable, "-c", gpu_check.REQUIREMENTS_PROBE, str(ROOT / "pyproject.toml"),
                           ",".join(gpu_check.OPTIONAL)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "requirements: 0 unmet", done.stdout


def build_config(command: list[str]):
    """The config a `reportgen build` command line of the script resolves to (no training)."""
    from reportgen.commands.options import collect_overrides
    from reportgen.config_loading import load_config

    def value(flag):
        return command[command.index(flag) + 1] if flag in command else None

    sets = tuple(command[i + 1] for i, arg in enumerate(command) if arg == "--set")
    epochs = value("--epochs")
    data_dir = value("--data-dir")
    return load_config(value("--preset") or "seed", None,
                       collect_overrides(Path(data_dir) if data_dir else None, int(epochs) if epochs else None,
                                         value("--device"), None, None, sets))


def test_the_seed_build_is_the_seed_protocol_with_every_analysis(tmp_path):
    command = gpu_check.build_command("python3", tmp_path, "seed", False, "--data-dir", str(tmp_path / "data"))
    config = build_config(command)
    assert config.train.epochs == gpu_check.SEED_EPOCHS == 80 and config.train.batch_size == 1024
    assert config.models == ["cnn", "vit"] and config.train.seeds == [42] and config.variants == {}
    assert config.data.dataset == "folder" and config.train.device == "cuda" and config.report.pdf is False
    assert all(getattr(config.analysis, a) for a in ("efficiency", "calibration", "robustness", "explanations"))
    assert command[command.index("--runs-dir") + 1] == str(tmp_path / "runs-seed") and "--force" in command
    assert build_config(gpu_check.build_command("python3", tmp_path, "seed", True)).report.pdf is True


def test_the_quick_study_runs_every_variant_for_three_epochs(tmp_path):
    config = build_config(gpu_check.build_command("python3", tmp_path, "quick-study", False,
                                                  "--preset", "quick-study", "--epochs", "3"))
    assert config.train.epochs == 3 and config.data.dataset == "sample" and len(config.variants) >= 5


def test_the_install_takes_the_tree_and_the_carried_wheels_from_disk(tmp_path):
    wheels_dir = tmp_path / "data" / "wheels"
    wheels_dir.mkdir(parents=True)
    (wheels_dir / "captum-0.9.0-py3-none-any.whl").write_bytes(b"")
    wheels = gpu_check.find_wheels(tmp_path)
    assert [w.name for w in wheels] == ["captum-0.9.0-py3-none-any.whl"]
    command = gpu_check.install_command("python3", tmp_path / "site", wheels)
    assert {"--no-index", "--no-deps", "--target"} <= set(command) and str(wheels[0]) in command
    assert gpu_check.captum_state({"captum": "0.9.0"}, wheels, {"ok": True}) == "captum: 0.9.0, from a carried wheel"
    assert "import failed" in gpu_check.captum_state({"captum": "0.9.0"}, wheels, {"ok": False})
    assert gpu_check.captum_state({"captum": None}, [], None) == "captum: absent (explanations skipped)"


def test_the_device_recorder_of_the_cuda_fit_test_sees_the_training_device(tmp_path):
    from tests.conftest import tiny_config
    from tests.test_cuda import DeviceRecorder, fit

    recorder = DeviceRecorder()
    fit("cnn", tiny_config(epochs=1), tmp_path, callbacks=(recorder,))
    assert recorder.parameters == {"cpu"} and recorder.batches == {"cpu"}
