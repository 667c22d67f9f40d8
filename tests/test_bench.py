"""`reportgen bench`: a quick run has every measurement, both ways, consistent ratios and a full table.

Speed itself is not asserted here: the goals are measured by the benchmark on a quiet machine, not
by timed tests.
"""

import copy
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from reportgen import bench
from reportgen.bench import GOALS, WAYS, format_table, run_benchmark
from reportgen.cli import main
from reportgen.config import Config
from reportgen.errors import ConfigError, DataError
from reportgen.machine_limits import QUICK_SIZES, compute_dtype
from reportgen.runtime import Runtime

MEASUREMENTS = ("augmentation", "train_step_cnn", "train_step_vit", "epoch_cnn", "epoch_vit")


CPU = Runtime("cpu", "32", False)  # fp32 on the CPU even on a GPU machine


def cpu_config() -> Config:
    config = Config()
    config.train.device = "cpu"  # the CPU even on a GPU machine (tests/test_cuda.py has the GPU's)
    return config


@pytest.fixture(scope="module")
def logged_run():
    lines: list[str] = []
    result = run_benchmark(cpu_config(), CPU, quick=True, log=lines.append)
    return result, lines


@pytest.fixture(scope="module")
def result(logged_run):
    return logged_run[0]


def test_every_measurement_is_present_with_a_goal(result):
    assert tuple(result["measurements"]) == MEASUREMENTS
    assert set(GOALS) == set(MEASUREMENTS)


@pytest.mark.parametrize("key", MEASUREMENTS)
def test_both_ways_measured_positive_and_consistent(result, key):
    row = result["measurements"][key]
    for way in WAYS:
        rate = row[way]
        assert rate["images"] > 0 and rate["seconds"] > 0
        assert rate["images_per_s"] == pytest.approx(rate["images"] / rate["seconds"])
        assert rate["other_load"] is None or rate["other_load"] >= 0
    assert row["ratio"] == pytest.approx(row["reportgen"]["images_per_s"] / row["seed"]["images_per_s"])
    assert row["goal_met"] is None  # a --quick run judges no goal


def test_training_steps_count_whole_batches(result):
    s = result["settings"]
    for name in ("cnn", "vit"):
        for way in WAYS:
            row = result["measurements"][f"train_step_{name}"][way]
            assert row["steps"] == s["timed_steps"] and row["images"] == s["batch_size"] * row["steps"]


def test_an_epoch_covers_the_whole_training_set(result):
    for name in ("cnn", "vit"):
        for way in WAYS:
            assert result["measurements"][f"epoch_{name}"][way]["images"] == result["settings"]["train_images"]


def test_quick_is_small(result):
    s = result["settings"]
    assert s["batch_size"] <= 32 and s["timed_steps"] <= 2 and s["train_images"] <= 256


def test_the_two_ways_differ_only_in_execution_settings(result):
    s = result["settings"]
    assert s["seed"] == {"pipeline": "seed", "precision": "32", "channels_last": False, "compile": False}
    assert s["reportgen"]["pipeline"] == "fast"
    assert s["reportgen"]["precision"] == result["machine"]["precision"]


def test_machine_is_described(result):
    m = result["machine"]
    assert m["device"] in ("cpu", "cuda") and m["device_name"] and m["num_threads"] > 0 and m["torch"]


def test_result_is_plain_json(result):
    assert json.loads(json.dumps(result)) == result


def test_progress_is_logged_per_measurement_and_way(logged_run):
    _, lines = logged_run
    for title in ("augmentation", "CNN training steps", "ViT training steps", "CNN epoch", "ViT epoch"):
        for way in WAYS:
            assert any(line.startswith(f"{title}") and f"{way} way" in line for line in lines)


def test_table_has_every_row_and_the_machine(result):
    table = format_table(result)
    for key, row in result["measurements"].items():
        line = next(line for line in table.splitlines() if line.startswith(row["title"]))
        assert f"{row['ratio']:.1f}x" in line, key
        assert f"{row['seed']['images_per_s']:,.0f}" in line and f"{row['reportgen']['images_per_s']:,.0f}" in line
    assert table.count("seconds for") == 2  # one seconds row per epoch measurement
    assert result["machine"]["device_name"] in table and result["machine"]["torch"] in table
    assert all(math.isfinite(row["ratio"]) for row in result["measurements"].values())


def with_other_load(result, load):
    """The result as if other processes had used `load` CPU cores during every measurement."""
    changed = copy.deepcopy(result)
    for row in changed["measurements"].values():
        for way in WAYS:
            row[way]["other_load"] = load
    changed["limits"]["other_load"] = load
    return changed


def test_table_judges_the_goals_only_of_a_full_run(result):
    assert "not judged" in format_table(result) and "MISSED" not in format_table(result)
    full = with_other_load(result, 0.0)  # an idle machine, whatever the load while this test ran
    full["settings"].update(quick=False, busy=False)
    for row in full["measurements"].values():
        row["goal_met"] = row["ratio"] >= row["goal"]
    full["measurements"]["augmentation"]["goal_met"] = False
    table = format_table(full)
    assert "not judged" not in table and ">= 20x MISSED" in table


def test_table_warns_when_other_processes_were_busy(result):
    assert "warning: other processes used up to 1.5 CPU cores" in format_table(with_other_load(result, 1.5))
    assert "warning" not in format_table(with_other_load(result, 0.0))


def test_json_goes_to_stdout_and_the_busy_warning_to_stderr(result, monkeypatch):
    busy = with_other_load(result, 1.5)
    monkeypatch.setattr(bench, "run_benchmark", lambda *args, **kwargs: busy)
    invoked = CliRunner().invoke(main, ["bench", "--json"])
    assert invoked.exit_code == 0
    assert json.loads(invoked.stdout) == json.loads(json.dumps(busy))
    assert "warning: other processes used up to 1.5 CPU cores" in invoked.stderr


def test_a_training_set_smaller_than_a_batch_is_refused_before_any_work(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / split / "cat" / "0.png")
    config = cpu_config()
    config.data.cache_dir = str(tmp_path / "cache")
    with pytest.raises(DataError, match="fewer than one batch"):
        run_benchmark(config, CPU, data_dir=tmp_path, quick=True, log=lambda line: None)


def test_zero_steps_is_refused():
    with pytest.raises(ConfigError, match="at least 1 timed training step"):
        run_benchmark(cpu_config(), CPU, steps=0, quick=True, log=lambda line: None)


def test_a_gpu_times_at_least_a_second_and_judges_no_cpu_goal(monkeypatch):
    config = cpu_config()
    assert bench._make_plan(config, CPU, 5, quick=False).min_seconds == 0.0
    plan = bench._make_plan(config, Runtime("cuda", "bf16-mixed", False), 5, quick=False)
    assert plan.min_seconds >= 1.0 and plan.steps == 5


def test_table_says_why_a_gpu_run_judges_no_goal(result):
    on_gpu = copy.deepcopy(result)
    on_gpu["machine"]["device"] = "cuda"
    assert "the goals were set for a 2-core CPU and are not judged here" in format_table(on_gpu)


def test_no_goal_is_judged_when_other_processes_used_the_machine(result):
    busy = with_other_load(result, 1.5)
    for row in busy["measurements"].values():
        row["goal_met"] = False
    assert bench.judge_goals(busy["measurements"], quick=False, device="cpu") is True
    assert {row["goal_met"] for row in busy["measurements"].values()} == {None}
    busy["settings"].update(quick=False, busy=True)
    table = format_table(busy)
    assert "MISSED" not in table and "other processes used the machine: the goals are not judged" in table
    idle = with_other_load(result, 0.0)
    for row in idle["measurements"].values():
        row["goal_met"] = row["ratio"] >= row["goal"]
    assert bench.judge_goals(idle["measurements"], quick=False, device="cpu") is False
    assert None not in {row["goal_met"] for row in idle["measurements"].values()}


def test_a_quick_bench_reports_the_limits_and_each_models_share(result):
    probes, dtype = result["limits"]["probes"], compute_dtype(result["machine"]["precision"])
    assert result["limits"]["dtype"] == dtype
    assert set(probes) == {"matmul_fp32", "matmul_bf16", f"matmul_{dtype}", f"conv_{dtype}", "copy"}
    assert all(p["per_s"] > 0 and p["seconds"] > 0 for p in probes.values())
    assert f"{QUICK_SIZES.matmul}x" in probes["matmul_fp32"]["what"]  # --quick probes tiny sizes
    for model, share in result["shares"].items():
        assert share["images_per_s"] == result["measurements"][f"train_step_{model}"]["reportgen"]["images_per_s"]
        assert share["share"] == pytest.approx(share["images_per_s"] / share["limit_images_per_s"])
        assert share["bound"] in ("compute", "memory") and share["flops_per_image"] > 0


def test_the_table_prints_each_probe_and_each_models_share(result):
    table = format_table(result)
    assert "the machine's limits on cpu" in table and "GFLOP/s" in table and "GB/s" in table
    for model, share in result["shares"].items():
        name = {"cnn": "CNN", "vit": "ViT"}[model]
        line = next(line for line in table.splitlines() if line.strip().startswith(name) and "%" in line)
        assert f"{100 * share['share']:.1f} %" in line and share["bound"] in line
