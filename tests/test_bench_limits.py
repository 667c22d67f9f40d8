"""`reportgen bench`'s machine limits (reportgen.machine_limits): the probes' arithmetic with a fake clock, the
roofline share (a quick bench's limits and shares in its JSON and table: tests/test_bench.py). Nothing here judges
a speed."""

from __future__ import annotations

import pytest

from reportgen.bench_steps import step_cost
from reportgen.config import Config
from reportgen.machine_limits import (
    ProbeSizes,
    compute_dtype,
    measure_limits,
    seconds_per_call,
    step_share,
)
from reportgen.models import model_cost

SIZES = ProbeSizes(matmul=8, conv_batch=2, copy_bytes=4096, min_seconds=0.0)


def fake_timer(call, device, min_seconds):
    call()  # the probe's call runs (shapes are right), its time is made up
    return 0.5


def test_each_probe_counts_its_work_and_divides_by_the_fake_clock():
    limits = measure_limits("cpu", SIZES, "bf16", timer=fake_timer)
    assert list(limits) == ["matmul_fp32", "matmul_bf16", "conv_bf16", "copy"]
    assert limits["matmul_fp32"]["work"] == 2 * 8 ** 3 and limits["matmul_fp32"]["unit"] == "FLOP"
    assert limits["conv_bf16"]["work"] == 2 * 9 * 64 * 64 * 32 * 32 * 2
    assert limits["copy"]["work"] == 2 * 4096 and limits["copy"]["unit"] == "byte"  # read + written
    assert all(p["seconds"] == 0.5 and p["per_s"] == p["work"] / 0.5 for p in limits.values())


def test_a_step_in_fp16_gets_an_fp16_probe_and_fp32_only_its_own():
    assert "matmul_fp16" in measure_limits("cpu", SIZES, "fp16", timer=fake_timer)
    assert list(measure_limits("cpu", SIZES, "fp32", timer=fake_timer)) == ["matmul_fp32", "matmul_bf16",
                                                                             "conv_fp32", "copy"]
    assert [compute_dtype(p) for p in ("bf16-mixed", "16-mixed", "32")] == ["bf16", "fp16", "fp32"]


def test_the_real_clock_times_at_least_two_calls():
    calls = []
    assert seconds_per_call(lambda: calls.append(1), "cpu", 0.0) >= 0 and len(calls) == 3  # a warm-up + 2


def limits(matmul: float, conv: float, copy: float) -> dict:
    return {"matmul_bf16": {"unit": "FLOP", "per_s": matmul}, "conv_bf16": {"unit": "FLOP", "per_s": conv},
            "matmul_fp32": {"unit": "FLOP", "per_s": 1.0}, "copy": {"unit": "byte", "per_s": copy}}


def test_the_share_is_the_roofline_of_the_fastest_probe_and_the_copy():
    cost = {"flops_per_image": 1e9, "bytes_per_image": 1e7}
    share = step_share(cost, limits(matmul=4e11, conv=5e11, copy=2e10), "bf16", images_per_s=250.0)
    assert share["compute_probe"] == "conv_bf16" and share["limit_by_compute"] == pytest.approx(500.0)
    assert share["limit_by_memory"] == pytest.approx(2000.0) and share["bound"] == "compute"
    assert share["limit_images_per_s"] == pytest.approx(500.0) and share["share"] == pytest.approx(0.5)
    memory_bound = step_share(cost, limits(matmul=4e14, conv=5e11, copy=2e10), "bf16", images_per_s=1000.0)
    assert memory_bound["bound"] == "memory" and memory_bound["share"] == pytest.approx(0.5)


def test_a_step_costs_three_forwards_and_its_estimated_traffic():
    config = Config()
    config.cnn.channels, config.cnn.hidden_dim = [4, 8], 16
    cost = step_cost("cnn", config, 10, "cpu", "32", batch_size=16)
    parameters, forward = model_cost("cnn", config, 10)
    assert cost["flops_per_image"] == 3 * forward and cost["parameters"] == parameters
    expected = 4 * cost["saved_bytes_per_image"] + parameters * 4 * 11 / 16
    assert cost["saved_bytes_per_image"] > 0 and cost["bytes_per_image"] == pytest.approx(expected)
