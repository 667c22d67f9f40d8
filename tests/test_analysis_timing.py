"""The interleaved timings of a build (reportgen.analysis.timing): blocks in alternating order, every model timed in
every block, the load recorded per block, the threads the timings used."""

from __future__ import annotations

import json

import torch

from reportgen.analysis import timing
from reportgen.models import create_model
from tests.conftest import tiny_config


def test_blocks_alternate_the_order_of_the_models():
    assert timing.block_orders(2, 6) == [[0, 1], [1, 0]] * 3
    assert timing.block_orders(3, 2) == [[0, 1, 2], [2, 1, 0]]


def test_every_block_times_every_model_and_records_its_load():
    config = tiny_config(num_threads=1)
    config.analysis.timing_blocks, config.analysis.timing_repeats, config.analysis.timing_warmup = 6, 5, 1
    models = {s: {m: create_model(m, config, 4) for m in ("cnn", "vit")} for s in (1, 2)}
    before = {k: v.clone() for k, v in models[1]["vit"].state_dict().items()}
    messages: list[str] = []
    threads = torch.get_num_threads()
    try:
        record = timing.compute(models, config, "cpu", "32", messages.append)
        assert record["threads"] == 1 == torch.get_num_threads()  # train.num_threads, as training uses
    finally:
        torch.set_num_threads(threads)
    json.dumps(record)
    assert record["models"] == ["cnn", "vit"] and record["block_seeds"] == [1] * 6 + [2] * 6
    assert record["order"] == timing.block_orders(2, 6) * 2
    assert all(len(record[f]) == 12 and all(len(row) == 2 and min(row) > 0 for row in record[f])
               for f in timing.MEASURES)
    loads = record["other_load_cores"]
    assert loads is None or (len(loads) == 12 and min(loads) >= 0)
    assert len(messages) == 2 and all("interleaved blocks" in m for m in messages)
    assert all(torch.equal(before[k], v) for k, v in models[1]["vit"].state_dict().items())


def test_the_settings_name_the_blocks_the_machine_and_the_threads():
    config = tiny_config(num_threads=1)
    settings = timing.settings(config, "cpu")
    assert settings["threads"] == 1 and settings["timing_blocks"] == config.analysis.timing_blocks
    config.analysis.timing_blocks = 9
    assert timing.settings(config, "cpu") != settings


def test_one_untimed_settling_block_runs_before_the_timed_ones(monkeypatch):
    config = tiny_config(num_threads=1)
    config.analysis.timing_blocks, config.analysis.timing_repeats, config.analysis.timing_warmup = 4, 2, 1
    models = {1: {m: create_model(m, config, 4) for m in ("cnn", "vit")}}
    measured = []
    real = timing.ModelTimer.measure
    monkeypatch.setattr(timing.ModelTimer, "measure", lambda self: measured.append(self) or real(self))
    threads = torch.get_num_threads()
    try:
        record = timing.compute(models, config, "cpu", "32", lambda _: None)
    finally:
        torch.set_num_threads(threads)
    assert len(record["step_s"]) == 4 and len(measured) == (4 + 1) * 2  # every model once more, untimed
