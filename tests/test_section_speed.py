"""Section "Training speed and efficiency": machine-independent counts first, then the runs' wall-clock times as a
description (never a verdict), with the other load during training."""

from __future__ import annotations

import json

import numpy as np

from reportgen.bundle import write_json, write_manifest
from reportgen.report.contents import read_contents
from reportgen.report.kernel import item_metrics
from reportgen.report.sections.speed import Speed, common_milestone, time_to_accuracy
from tests.bundle_factory import make_bundle
from tests.section_helpers import SWAPPED, contents, metric_keys, numbers, tables, text


def test_epoch_times_are_described_never_judged(tmp_path):
    default, swapped = (text(numbers(Speed(), contents(tmp_path / n, **o))) for n, o in (("a", {}), ("b", SWAPPED)))
    assert "the CNN took 2.00 s and the ViT 3.00 s per epoch" in default
    assert "the CNN took 4.00 s and the ViT 1.00 s per epoch" in swapped
    assert "not interleaved, so a description of this build, not a test" in default
    assert not any(word in default + swapped for word in ("trained faster", "× faster", "slower", "sooner"))
    assert Speed().verdict(contents(tmp_path / "c")) is None  # nothing for the Summary or the Conclusion


def test_the_counts_that_do_not_depend_on_the_machine_come_first(tmp_path):
    said = text(numbers(Speed(), contents(tmp_path / "b", train_size=2000)))
    assert said.startswith("The CNN has more parameters")
    assert "Optimiser steps (batch 1,024, counts that do not depend on the machine): both models took 2 per epoch, " \
        "10 in all." in said


def test_the_load_during_training_says_whether_the_machine_was_busy(tmp_path):
    root = make_bundle(tmp_path / "b")
    _record_loads(root, {"cnn": [0.01, 0.05], "vit": [0.1, 1.4]})
    items = numbers(Speed(), read_contents(root))
    assert "During the CNN's training epochs other processes used up to 0.05 CPU cores (0.03 on average, from " \
        "/proc/stat): the machine was idle enough while it trained" in text(items)
    assert "up to 1.40 CPU cores (0.75 on average, from /proc/stat): the machine was busy while it trained" in \
        text(items)
    assert tables(items)[0].header[-1] == "other load (cores, max)"
    assert "During" not in text(numbers(Speed(), contents(tmp_path / "c")))  # not recorded: not said


def test_a_machine_busy_during_the_epochs_gets_no_warm_up_ratio_or_time_to_accuracy(tmp_path):
    idle_root, busy_root = make_bundle(tmp_path / "i"), make_bundle(tmp_path / "b")
    for root in (idle_root, busy_root):
        _record_steady_state(root, {"cnn": 1.8, "vit": 2.7}, warmup=1.0)
    _record_loads(idle_root, {"cnn": [0.01] * 5, "vit": [0.02] * 5})
    _record_loads(busy_root, {"cnn": [0.01] * 4 + [1.2], "vit": [0.02] * 5})
    idle, busy = (text(numbers(Speed(), read_contents(root))) for root in (idle_root, busy_root))
    for said in ("× as long as", "of one-off warm-up:", "To reach "):
        assert said in idle and said not in busy
    assert "(memory allocation, kernel selection)" in idle  # torch.compile off: no compilation to pay for
    # the times themselves are still given, as means: no steady state or warm-up is read from loaded epochs
    assert "the CNN took 2.00 s and the ViT 3.00 s per epoch (the mean over all epochs, on a machine busy" in busy
    assert "steady state" not in busy


def _record_loads(root, loads: dict[str, list[float]]) -> None:
    """Add the per-epoch other load reportgen records in run.json to a synthetic bundle."""
    for model, values in loads.items():
        for path in (root / "runs" / model).glob("seed-*/run.json"):
            write_json(path, {**json.loads(path.read_text()), "epoch_other_load_cores": values})
    write_manifest(root)


def test_time_to_accuracy_is_a_description_that_follows_the_histories(tmp_path):
    default = text(numbers(Speed(), contents(tmp_path / "a")))
    assert "(the highest whole percent every run of both models reached), the CNN trained for 4.07 s and the ViT " \
        "for 15.01 s of wall-clock time (one measurement per run, not a test)" in default


def test_time_to_accuracy_sums_epoch_times_to_the_first_epoch_at_the_milestone():
    history = {"val_acc": np.array([0.2, 0.5, 0.45, 0.7]), "epoch_time_s": np.array([1.0, 2.0, 3.0, 4.0])}
    assert time_to_accuracy(history, 0.5) == 3.0 and time_to_accuracy(history, 0.71) is None


def test_the_common_milestone_is_the_highest_whole_percent_every_run_reached(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2))
    best = min(float(h["val_acc"].max()) for m in report.models for h in m.training.histories)
    level = common_milestone(report.models)
    assert level <= best < level + 0.01 and round(100 * level) == 100 * level


def test_no_accuracy_per_second_is_stated(tmp_path):
    items = numbers(Speed(), contents(tmp_path / "b"))
    (table,) = tables(items)
    assert table.header[-1] == "images / s" and table.rows[0][-1].text == "999.3"  # the table's, no sentence repeats it
    assert "Images / s = training images × epochs / training time" in table.caption
    assert "training images per second" not in text(item for item in items if item is not table)
    assert "per second of training" not in text(items) and "efficiency_factor" not in metric_keys(items)


def test_one_model_gets_its_counts_and_its_table(tmp_path):
    items = numbers(Speed(), contents(tmp_path / "b", models=("vit",)))
    assert text(items).startswith("Optimiser steps") and [row[0] for row in tables(items)[0].rows] == ["ViT"]


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
    assert "the CNN took 3.00 s and the ViT 1.00 s per epoch in the steady state" in text(items)
    assert "The CNN paid 4.00 s of one-off warm-up: what the first epoch of each fit took beyond its steady-state " \
        "epoch of 3.00 s" in text(items)
    assert tables(items)[0].header[3] == "steady epoch (s)"


def test_a_warm_up_of_nothing_says_no_warm_up_shows_and_names_no_cost(tmp_path):
    root = make_bundle(tmp_path / "b")
    _record_steady_state(root, {"cnn": 3.0, "vit": 1.0}, warmup=0.0)  # first epochs no slower (a busy machine)
    said = text(numbers(Speed(), read_contents(root)))
    assert "The CNN's first epoch took no longer than its steady-state epoch of 3.00 s: no one-off warm-up shows" \
        in said and "paid" not in said


def test_without_a_recorded_steady_state_the_mean_says_it_includes_warm_up(tmp_path):
    assert "(the mean over all epochs, one-off warm-up of the first included)" in \
        text(numbers(Speed(), contents(tmp_path / "b")))


def test_one_model_without_a_steady_state_means_both_are_compared_by_their_mean(tmp_path):
    root = make_bundle(tmp_path / "b")
    _record_steady_state(root, {"vit": 1.0}, warmup=4.0)  # the CNN recorded none (e.g. one-epoch fits)
    items = numbers(Speed(), read_contents(root))
    assert "the CNN took 2.00 s and the ViT 3.00 s per epoch (the mean over all epochs" in text(items)


def _record_fit_wall_clock(root, seconds: dict[str, float]) -> None:
    """Add run.json's fit_wall_time_s (reportgen 0.6.0 and later) to a synthetic bundle's runs."""
    for model, value in seconds.items():
        for path in (root / "runs" / model).glob("seed-*/run.json"):
            write_json(path, {**json.loads(path.read_text()), "fit_wall_time_s": value})
    write_manifest(root)


def test_the_fit_wall_clock_stands_beside_the_summed_epoch_times_and_says_which_is_which(tmp_path):
    root = make_bundle(tmp_path / "b")  # training time (epochs summed): CNN 10 s, ViT 15 s
    _record_fit_wall_clock(root, {"cnn": 12.5, "vit": 19.25})
    (table,) = tables(numbers(Speed(), read_contents(root)))
    assert table.header[1:3] == ["training time (s)", "fit wall clock (s)"]
    assert [row[2].metrics[0].key for row in table.rows] == ["cnn.fit_wall_time_s.mean", "vit.fit_wall_time_s.mean"]
    assert [row[2].text for row in table.rows] == ["12.50", "19.25"]
    assert "Training time: the epochs' times summed" in table.caption
    assert "passes. Fit wall clock: the whole fit from start to end, which also holds the fit's set-up" in table.caption
    assert "checkpoint writing" in table.caption


def test_a_bundle_without_the_fit_wall_clock_still_renders_without_it(tmp_path):
    root = make_bundle(tmp_path / "b")
    _record_fit_wall_clock(root, {"cnn": 12.5})  # the ViT's runs predate it: the column would be half empty
    (table,) = tables(numbers(Speed(), read_contents(root)))
    assert "fit wall clock (s)" not in table.header and "Fit wall clock" not in table.caption
    assert "passes. Time per epoch = training time / epochs" in table.caption
    assert not any("fit_wall" in m.key for m in item_metrics(numbers(Speed(), contents(tmp_path / "c"))))
