"""Computational cost: FLOPs against an analytic count of both seed models, exact activation memory, peak memory
and timings (reportgen.analysis.efficiency)."""

from __future__ import annotations

import json

import torch
import torch.nn as nn

from reportgen.analysis import efficiency
from reportgen.config import Config
from reportgen.models import create_model
from tests.conftest import tiny_config, tiny_data


def analytic_cnn_flops(c: Config, classes: int = 10) -> int:
    """2 FLOPs per multiply-add of every convolution and linear layer of the seed's CNN."""
    macs, side, widths = 0, 32, (3, *c.cnn.channels)
    for cin, cout in zip(widths, widths[1:]):
        macs += side * side * cout * 9 * (cin + cout) + (side * side * cout * cin if cin != cout else 0)
        side //= 2
    macs += widths[-1] * side * side * c.cnn.hidden_dim + c.cnn.hidden_dim * classes
    return 2 * macs


def analytic_vit_flops(c: Config, classes: int = 10) -> tuple[int, int]:
    """(all FLOPs, the attention's QK^T and AV products) of the seed's ViT, 2 per multiply-add."""
    v = c.vit
    patches = (32 // v.patch_size) ** 2
    tokens, e = patches + 1, v.embed_dim
    attention = 2 * tokens * tokens * e  # scores (h x T x T x E/h) and weights x values, per layer
    per_layer = tokens * e * 3 * e + attention + tokens * e * e + 2 * tokens * e * v.mlp_dim
    macs = patches * e * 3 * v.patch_size ** 2 + v.depth * per_layer + e * classes
    return 2 * macs, 2 * v.depth * attention


def test_flops_of_the_seed_cnn_match_the_analytic_count():
    counted = efficiency.count_flops(create_model("cnn", Config(), 10))
    assert counted["total"] == analytic_cnn_flops(Config()) == 81_668_096  # "about 82 MFLOPs"


def test_flops_of_the_seed_vit_match_the_analytic_count_attention_included():
    counted = efficiency.count_flops(create_model("vit", Config(), 10))
    total, attention = analytic_vit_flops(Config())
    assert counted["total"] == total == 167_122_432
    assert counted["aten.bmm"] == attention  # the attention's matmuls, which the fused kernel would hide


def test_flops_follow_the_architecture():
    c = tiny_config()
    assert efficiency.count_flops(create_model("cnn", c, 4))["total"] == analytic_cnn_flops(c, 4)
    assert efficiency.count_flops(create_model("vit", c, 4))["total"] == analytic_vit_flops(c, 4)[0]


def test_activation_memory_is_exact_per_image():
    """Linear(10, 20) saves its input (10 floats), ReLU its output (20 floats), which is also the second
    Linear's saved input: one storage, counted once. Weights are never counted."""
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 20), nn.ReLU(), nn.Linear(20, 5))
    assert efficiency.activation_bytes_per_image(mlp, "cpu", "32") == 4 * (3 * 32 * 32 + 20)


def test_saved_bytes_grow_linearly_with_the_batch():
    model = create_model("vit", tiny_config(), 4)
    sizes = [efficiency.saved_bytes(model, efficiency.images(b, "cpu"), "32") for b in (2, 4, 8)]
    assert sizes[2] - sizes[1] == 2 * (sizes[1] - sizes[0]) > 0


def test_the_peak_of_a_step_holds_weights_gradients_and_optimizer_state():
    config = tiny_config()
    model = create_model("cnn", config, 4)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    peak, method = efficiency.peak_step_bytes(model, config, "cpu", "32")
    assert "MemTracker" in method
    assert peak > 4 * weights  # weights, gradients, AdamW's two moments, and the activations on top


def test_timings_exclude_warm_up_and_count_the_repeats():
    model = create_model("cnn", tiny_config(), 4)
    times = efficiency.inference_times(model, 3, "cpu", "32", True, warmup=1, repeats=5)
    assert len(times) == 5 and all(t > 0 for t in times)


def test_the_record_is_json_holds_no_timing_and_leaves_the_model_alone():
    config = tiny_config()
    model = create_model("vit", config, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record = efficiency.compute(model, config, tiny_data(), {"device": "cpu", "precision": "32"})
    json.dumps(record)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not {"batch_s", "latency_s", "other_load_cores", "threads"} & set(record)  # timed interleaved instead
    assert record["flops_per_image"]["total"] == analytic_vit_flops(config, 4)[0]
    assert record["batch_size"] == config.train.batch_size and record["device"] == "cpu"


def test_the_settings_name_the_device_not_the_threads():
    assert set(efficiency.settings(tiny_config(), "cpu")) == {"device_name"}


def test_what_a_step_keeps_between_steps_is_weights_buffers_optimizer_state_and_batch():
    config = tiny_config()
    model = create_model("cnn", config, 4)
    step = efficiency.TrainingStep(model, config, "cpu", "32")
    step()
    weights = sum(p.numel() * 4 for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    batch = 16 * 3 * 32 * 32 * 4 + 16 * 8
    steps = sum(1 for p in model.parameters())  # AdamW keeps a step count per parameter, on the CPU a 0-d tensor
    assert step.resident_bytes() == 3 * weights + buffers + batch + 4 * steps
