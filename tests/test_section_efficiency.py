"""Section "Computational cost": the machine-independent facts flip with the measurements, a model is faster only
by the test over interleaved blocks, and no speed verdict is drawn on a busy machine."""

from __future__ import annotations

import json

import pytest

from reportgen.errors import BundleError
from reportgen.report.kernel import Paragraph
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.efficiency import Efficiency
from tests.analysis_factory import ANALYSES, DEFAULT_COSTS, AnalysisOptions
from tests.section_helpers import contents, numbers, tables, text

SWAPPED_COSTS = {"cnn": DEFAULT_COSTS["vit"], "vit": DEFAULT_COSTS["cnn"]}
SAME_SPEED = {m: {**DEFAULT_COSTS[m], "batch_s": 0.08, "latency_s": 0.003, "step_s": 0.3} for m in DEFAULT_COSTS}
BUSY = "No speed verdict: the machine was busy during the timings"


def report(tmp_path, name="b", seeds=(42,), models=("cnn", "vit"), **options):
    return contents(tmp_path / name, analyses=AnalysisOptions(ANALYSES, **options), seeds=seeds, models=models)


def section_text(tmp_path, name="b", **options) -> str:
    return text(numbers(Efficiency(), report(tmp_path, name, **options)))


def verdict(tmp_path, name="b", **options):
    return Efficiency().verdict(report(tmp_path, name, **options))


def claims(v) -> dict[str, str]:
    return {c.claim: c.status for c in v.claims}


def test_the_costlier_model_flips_with_the_measurements(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", costs=SWAPPED_COSTS)
    assert "The ViT needs 2.05× the forward FLOPs per image (167.1 against 81.7 MFLOPs), 2.59× the activation memory " \
        "per training image (3.65 against 1.41 MB) and 2.45× the peak memory in a training step (499.30 against " \
        "204.00 MB) of the CNN." in default
    assert "The CNN needs 2.05× the forward FLOPs per image (167.1 against 81.7 MFLOPs), 2.59× the activation memory" \
        in swapped and "The ViT needs" not in swapped
    mixed = section_text(tmp_path, "c", costs={"cnn": {**DEFAULT_COSTS["cnn"], "peak_mb": 600.0},
                                               "vit": DEFAULT_COSTS["vit"]})
    assert "The ViT needs 2.05× the forward FLOPs per image (167.1 against 81.7 MFLOPs) and 2.59× the activation " \
        "memory per training image (3.65 against 1.41 MB) of the CNN." in mixed
    assert "The CNN needs 1.20× the peak memory in a training step (600.00 against 499.30 MB) of the ViT." in mixed
    same = section_text(tmp_path, "d", costs={"cnn": {**DEFAULT_COSTS["cnn"], "mflops": 167.1},
                                              "vit": DEFAULT_COSTS["vit"]})
    assert "The CNN and the ViT need the same forward FLOPs per image, 167.1 MFLOPs." in same


def test_the_machine_independent_facts_lead_and_the_times_follow(tmp_path):
    items = numbers(Efficiency(), report(tmp_path))
    # two models compared: their FLOPs and memory sentences carry every machine-independent number, so no table
    # repeats them; the timings' table follows those sentences
    (second,) = tables(items)
    paragraphs = [item for item in items if isinstance(item, Paragraph)]
    assert paragraphs[0].sentences[0].text.startswith("The ViT needs 2.05× the forward FLOPs per image")
    assert items.index(paragraphs[0]) < items.index(second)
    first = tables(numbers(Efficiency(), report(tmp_path, "one", models=("vit",))))[0]  # one model: the table
    assert [row[0] for row in first.rows] == [
        "parameters", "forward MFLOPs per image", "activation memory per training image (MB)",
        "peak memory of a training step (MB)", "batch size", "optimiser steps per epoch", "optimiser steps in all"]
    assert [row[0] for row in second.rows] == ["inference throughput (images per second)", "latency at batch 1 (ms)",
                                               "training step time (ms)"]
    assert second.header[-4:] == ["time ratio CNN/ViT", "95% interval", "p", "adjusted p"]
    assert [row[3].text for row in second.rows] == ["0.42×", "0.50×", "0.39×"]
    assert "on Synthetic CPU (cpu, 1 thread, fp32): medians over 8 blocks" in second.caption
    assert "warm-up passes and a settling block excluded" in second.caption
    assert isinstance(second.caption, str) and "up to 0.00 CPU cores in a block" in second.caption  # never a repr


def test_faster_is_said_only_when_the_test_over_blocks_says_so(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", costs=SWAPPED_COSTS)
    same = section_text(tmp_path, "c", costs=SAME_SPEED)
    # one sentence for the three tests: each one's factor and adjusted p (the table holds the ratios, intervals and p)
    assert "By the exact Wilcoxon signed-rank test of the per-block log time ratios over 8 blocks, the CNN is faster " \
        "in inference throughput (2.39×, adjusted p = 0.02344); the CNN is faster in latency at batch 1 (1.99×, " \
        "adjusted p = 0.02344); the CNN is faster in training step time (2.53×, adjusted p = 0.02344)." in default
    assert "the ViT is faster in training step time" in swapped and "the CNN is faster" not in swapped
    assert "is faster in" not in same
    assert same.count("no difference shown in") == 3


def test_the_timing_tests_are_one_family_adjusted_together(tmp_path):
    (timed,) = tables(numbers(Efficiency(), report(tmp_path)))
    keys = [(row[-2].key, row[-1].key) for row in timed.rows]
    assert keys == [(f"compare.efficiency.{m}.p", f"compare.efficiency.{m}.p_adj")
                    for m in ("inference", "latency", "step")]
    assert all(row[-1].value == pytest.approx(3 * row[-2].value) for row in timed.rows)  # Holm, three equal p


def test_more_blocks_over_seeds_enter_the_test(tmp_path):
    three = section_text(tmp_path, seeds=(1, 2, 3))
    assert "over 24 blocks, the CNN is faster in inference throughput (" in three and "adjusted p < 0.0001" in three


def test_a_busy_machine_gets_no_speed_verdict_anywhere_and_the_numbers(tmp_path):
    idle = verdict(tmp_path, "a")
    busy_report = report(tmp_path, "b", block_loads=[0.0] * 7 + [1.3])  # one busy block is enough
    busy_text = text(numbers(Efficiency(), busy_report))
    busy = Efficiency().verdict(busy_report)
    assert BUSY + ": other processes used up to 1.30 CPU cores, more than 0.2 cores in 1 of 8 blocks." in busy_text
    assert "is faster in" not in busy_text and "is faster" not in " ".join(f.text for f in busy.findings)
    assert [r.verdict.text for r in busy.rows][:2] == ["machine busy: no verdict"] * 2
    assert [r.verdict.text for r in idle.rows][:2] == ["CNN faster (adjusted p = 0.02344)"] * 2
    # the numbers stay, with their intervals, busy or idle: only the verdict is withheld
    assert [(r.difference.text, r.interval.text) for r in busy.rows[:2]] == [
        (r.difference.text, r.interval.text) for r in idle.rows[:2]] == [
        ("time ratio 0.39×", "[0.39, 0.40]"), ("throughput ratio 2.39×", "[2.37, 2.42]")]
    (busy_timed,) = tables(numbers(Efficiency(), busy_report))
    assert busy_timed.header[-2:] == ["time ratio CNN/ViT", "95% interval"]
    assert claims(idle)["cnn-trains-faster"] == SUPPORTED and claims(busy)["cnn-trains-faster"] == INCONCLUSIVE
    assert "machine was busy" in busy.claims[0].evidence.text
    assert "Speed: no verdict, because the machine was busy" in busy.findings[-1].text
    assert claims(busy)["vit-more-memory"] == claims(idle)["vit-more-memory"] == SUPPORTED  # machine-independent


def test_an_unknown_load_or_missing_timings_decide_nothing(tmp_path):
    unknown = section_text(tmp_path, "a", load_known=False)
    missing = section_text(tmp_path, "b", timings=False)
    assert "No speed verdict: the machine's other load during the timings could not be measured" in unknown
    assert "No speed verdict: this bundle holds no interleaved timings (timings.json)" in missing
    assert "is faster in" not in unknown + missing


def test_the_study_claims_flip_with_the_measurements(tmp_path):
    swapped = verdict(tmp_path, "a", costs=SWAPPED_COSTS)
    same = verdict(tmp_path, "b", costs=SAME_SPEED)
    assert claims(swapped) == {"cnn-trains-faster": CONTRADICTED, "vit-more-memory": CONTRADICTED}
    assert claims(same)["cnn-trains-faster"] == INCONCLUSIVE
    mixed = {"cnn": {**DEFAULT_COSTS["cnn"], "peak_mb": 600.0}, "vit": DEFAULT_COSTS["vit"]}
    assert claims(verdict(tmp_path, "c", costs=mixed))["vit-more-memory"] == INCONCLUSIVE  # activation and peak differ


def test_the_summary_rows_are_secondary_and_peak_memory_is_no_test(tmp_path):
    rows = verdict(tmp_path).rows
    assert [r.measure for r in rows] == ["Training step time (ms)", "Inference throughput (images/s)",
                                         "Peak memory of a training step (MB)"]
    assert [m.key for r in rows[:2] for m in (*r.difference.metrics, *r.interval.metrics)] == [
        "compare.efficiency.step.time_ratio.estimate", "compare.efficiency.step.time_ratio.low",
        "compare.efficiency.step.time_ratio.high", "compare.efficiency.inference.rate_ratio.estimate",
        "compare.efficiency.inference.rate_ratio.low", "compare.efficiency.inference.rate_ratio.high"]
    assert not any(r.primary for r in rows)
    assert rows[2].verdict.text == "ViT needs 2.45× (a measurement, not a test)"


def test_one_model_gets_its_tables_and_its_attention_count_and_no_verdict(tmp_path):
    one = report(tmp_path, models=("vit",))
    items = numbers(Efficiency(), one)
    static, timed = tables(items)
    assert static.header == ["measure", "ViT"] and timed.header == ["measure", "ViT"]
    assert "Of the ViT's 167.1 MFLOPs per image, 13.0 are the attention's batched matrix products" in text(items)
    assert "needs" not in text(items) and "No speed verdict:" not in text(items)
    assert Efficiency().verdict(one) is None


def test_an_unmeasured_peak_is_said_and_not_compared(tmp_path):
    items = numbers(Efficiency(), report(tmp_path, peak_measured=False))
    assert "The peak memory of a training step was not measured for the CNN and the ViT." in text(items)
    assert "peak memory in a training step" not in text(items)
    one = numbers(Efficiency(), report(tmp_path, "one", models=("vit",), peak_measured=False))
    assert ["peak memory of a training step (MB)", "not measured"] in tables(one)[0].rows


def test_applies_when_the_build_measured_cost(tmp_path):
    assert Efficiency().applies(contents(tmp_path / "a", analyses=AnalysisOptions(("efficiency",))))
    assert not Efficiency().applies(contents(tmp_path / "b"))


def test_a_timings_file_with_a_broken_field_is_refused_in_one_line(tmp_path):
    broken = report(tmp_path)
    path = broken.root / "timings.json"
    record = json.loads(path.read_text())
    record["step_s"][0] = [0.1, "fast"]
    path.write_text(json.dumps(record))
    with pytest.raises(BundleError, match="timings.json: step_s holds <U"):
        Efficiency().build(broken, None)
