"""Section "Training speed and efficiency": speed, parameters and throughput, computed from the runs."""

from __future__ import annotations

import json

from reportgen.bundle import write_json, write_manifest
from reportgen.report.contents import read_contents
from reportgen.report.sections.speed import Speed, speed_sentence
from tests.bundle_factory import make_bundle
from tests.section_helpers import SWAPPED, contents, metric_keys, numbers, tables, text


def test_the_faster_model_flips_with_the_results(tmp_path):
    assert text(numbers(Speed(), contents(tmp_path / "a"))).startswith("The CNN trained faster, by a factor of 1.50×")
    assert text(numbers(Speed(), contents(tmp_path / "b", **SWAPPED))).startswith("The ViT trained faster")


def test_equal_speeds_read_as_a_tie(tmp_path):
    report = contents(tmp_path / "b")
    cnn = report.facts["cnn"]
    assert speed_sentence(cnn, cnn).text.startswith("The CNN and the CNN trained equally fast")


def test_no_accuracy_per_second_is_stated(tmp_path):
    items = numbers(Speed(), contents(tmp_path / "b"))
    assert "The CNN processed 999.3 training images per second (training images × epochs / training time, " \
        "warm-up and each epoch's validation pass included)." in text(items)
    assert "per second of training" not in text(items) and "efficiency_factor" not in metric_keys(items)


def test_one_model_gets_its_table_only(tmp_path):
    items = numbers(Speed(), contents(tmp_path / "b", models=("vit",)))
    assert text(items) == "" and [row[0] for row in tables(items)[0].rows] == ["ViT"]


def _record_steady_state(root, steady: dict[str, float], warmup: float) -> None:
    """Add the steady-state timings reportgen 0.3 writes into run.json to a synthetic bundle."""
    for model, seconds in steady.items():
        for path in (root / "runs" / model).glob("seed-*/run.json"):
            info = json.loads(path.read_text())
            write_json(path, {**info, "steady_epoch_time_s": seconds, "warmup_time_s": warmup, "warmup_epochs": [1]})
    write_manifest(root)


def test_speed_compares_the_steady_state_when_every_run_recorded_it(tmp_path):
    root = make_bundle(tmp_path / "b")  # mean epoch times: CNN 2 s, ViT 3 s (warm-up included)
    _record_steady_state(root, {"cnn": 3.0, "vit": 1.0}, warmup=4.0)
    items = numbers(Speed(), read_contents(root))
    assert text(items).startswith("The ViT trained faster, by a factor of 3.00×: 1.00 s against 3.00 s for the CNN "
                                  "per epoch in the steady state")
    assert "The CNN paid 4.00 s of one-off warm-up: what the first epoch of each fit took beyond its steady-state " \
        "epoch of 3.00 s" in text(items)
    assert tables(items)[0].header[5] == "steady epoch (s)"


def test_without_a_recorded_steady_state_the_mean_says_it_includes_warm_up(tmp_path):
    assert "(the mean over all epochs, one-off warm-up of the first included)" in \
        text(numbers(Speed(), contents(tmp_path / "b")))


def test_one_model_without_a_steady_state_means_both_are_compared_by_their_mean(tmp_path):
    root = make_bundle(tmp_path / "b")
    _record_steady_state(root, {"vit": 1.0}, warmup=4.0)  # the CNN recorded none (e.g. one-epoch fits)
    items = numbers(Speed(), read_contents(root))
    assert text(items).startswith("The CNN trained faster, by a factor of 1.50×: 2.00 s against 3.00 s for the ViT "
                                  "per epoch (the mean over all epochs")
