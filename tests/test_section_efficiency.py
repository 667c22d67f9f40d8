"""Section "Computational cost": every comparison flips with the measurements, and speed claims need a test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reportgen.errors import BundleError
from reportgen.report.sections.efficiency import Efficiency, common_milestone, time_to_accuracy
from tests.analysis_factory import ANALYSES, DEFAULT_COSTS, AnalysisOptions
from tests.section_helpers import SWAPPED, contents, numbers, tables, text

SWAPPED_COSTS = {"cnn": DEFAULT_COSTS["vit"], "vit": DEFAULT_COSTS["cnn"]}
SAME_SPEED = {m: {**DEFAULT_COSTS[m], "batch_s": 0.08, "latency_s": 0.003} for m in DEFAULT_COSTS}


def section_text(tmp_path, name="b", **options) -> str:
    bundle_options = {k: options.pop(k) for k in ("seeds", "models", "epoch_times") if k in options}
    return text(numbers(Efficiency(), contents(tmp_path / name, analyses=AnalysisOptions(ANALYSES, **options),
                                             **bundle_options)))


def test_the_costlier_model_flips_with_the_measurements(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", costs=SWAPPED_COSTS)
    assert "The ViT needs 2.05× the forward FLOPs per image of the CNN: 167.1 against 81.7 MFLOPs." in default
    assert "The ViT needs 2.59× the activation memory per training image of the CNN: 3.65 against 1.41 MB." in default
    assert "The ViT needs 2.45× the peak memory in a training step of the CNN" in default
    assert "The CNN needs 2.05× the forward FLOPs per image of the ViT" in swapped
    assert "The CNN needs 2.59× the activation memory" in swapped


def test_faster_is_said_only_when_the_timed_passes_differ_significantly(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", costs=SWAPPED_COSTS)
    same = section_text(tmp_path, "c", costs=SAME_SPEED)
    assert "The CNN is faster in inference at batch 1024, by 2.4" in default
    assert "The CNN is faster in single-image inference (batch 1)" in default
    assert "(Mann-Whitney U test over 7 and 7 timed passes, p = 0.0005828)" in default
    assert "The ViT is faster in inference at batch 1024" in swapped
    assert "is faster in" not in same
    assert same.count("but the difference is not significant (Mann-Whitney U test") == 2


def test_more_parameters_yet_faster_is_tested_not_repeated(tmp_path):
    holds = section_text(tmp_path, "a")
    contradicted = section_text(tmp_path, "b", costs=SWAPPED_COSTS)
    untested = section_text(tmp_path, "c", costs=SAME_SPEED)
    claim = "The seed study remarked that its model with more parameters nevertheless trained faster. Tested here: "
    assert claim + "the CNN has 1.12× the parameters of the ViT and needs 0.49× its FLOPs per image" in holds
    assert ('it is significantly faster in inference at batch 1024 and single-image inference (batch 1); not tested in '
            'training. So "more parameters yet faster" holds on every tested measure on this machine.') in holds
    assert "significantly slower in inference at batch 1024" in contradicted
    assert '"more parameters yet faster" is not supported on any measure' in contradicted
    assert "not significantly different in inference at batch 1024" in untested
    assert '"more parameters yet faster" is not supported on any measure' in untested


def test_training_throughput_is_tested_over_seeds(tmp_path):
    one = section_text(tmp_path, "a")
    three = section_text(tmp_path, "b", seeds=(1, 2, 3))
    assert "The CNN is ahead in training by 1.50× (" in one
    assert "with a single run per model the difference is not tested" in one
    assert "The CNN is faster in training, by 1.50×" in three and "(paired t-test over seeds, p" in three
    assert "holds on every tested measure" in three


def test_time_to_accuracy_flips_with_the_histories(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", epoch_times=SWAPPED["epoch_times"])
    assert "(the highest whole percent every run of both models reached)" in default
    assert "the CNN got there 3.69× sooner" in default and "the ViT got there" in swapped


def test_time_to_accuracy_sums_epoch_times_to_the_first_epoch_at_the_milestone():
    history = {"val_acc": np.array([0.2, 0.5, 0.45, 0.7]), "epoch_time_s": np.array([1.0, 2.0, 3.0, 4.0])}
    assert time_to_accuracy(history, 0.5) == 3.0 and time_to_accuracy(history, 0.71) is None


def test_the_common_milestone_is_the_highest_whole_percent_every_run_reached(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2))
    best = min(float(h["val_acc"].max()) for m in report.models for h in m.training.histories)
    level = common_milestone(report.models)
    assert level <= best < level + 0.01 and round(100 * level) == 100 * level


def test_one_model_gets_its_table_and_its_attention_count(tmp_path):
    items = numbers(Efficiency(), contents(tmp_path / "b", models=("vit",), analyses=AnalysisOptions(ANALYSES)))
    (table,) = tables(items)
    assert table.header == ["measure", "ViT"]
    assert text(items).endswith("Of the ViT's 167.1 MFLOPs per image, 13.0 are the attention's batched matrix "
                                "products (queries times keys, weights times values), which a counter blind to fused "
                                "attention kernels would miss.")
    assert "needs" not in text(items)


def test_an_unmeasured_peak_is_said_and_not_compared(tmp_path):
    items = numbers(Efficiency(), contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES, peak_measured=False)))
    assert ["peak memory of a training step (MB)", "not measured", "not measured"] in tables(items)[0].rows
    assert "peak memory in a training step" not in text(items)


def test_applies_when_the_build_measured_cost(tmp_path):
    assert Efficiency().applies(contents(tmp_path / "a", analyses=AnalysisOptions(("efficiency",))))
    assert not Efficiency().applies(contents(tmp_path / "b"))


def test_timings_on_a_busy_machine_carry_a_note(tmp_path):
    quiet = numbers(Efficiency(), contents(tmp_path / "a", analyses=AnalysisOptions(ANALYSES)))
    busy = numbers(Efficiency(), contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES, other_load=3.25)))
    assert "shared machine" not in text(quiet)
    assert ("Other processes used up to 3.25 CPU cores during the CNN's timings and 3.25 CPU cores during the ViT's "
            "timings (from /proc/stat): the timings measure a shared machine") in text(busy)


def test_a_cost_record_with_a_broken_field_is_refused_in_one_line(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(("efficiency",)))
    path = report.runs["vit"][0].path / "efficiency.json"
    record = json.loads(path.read_text())
    record["batch_s"] = [0.1, "fast"]
    path.write_text(json.dumps(record))
    with pytest.raises(BundleError, match="efficiency.json: batch_s holds <U"):
        Efficiency().applies(report)
