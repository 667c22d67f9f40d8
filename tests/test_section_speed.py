"""Section "Training speed and efficiency": speed, parameters and throughput, computed from the runs."""

from __future__ import annotations

from reportgen.report.sections.speed import Speed, speed_sentence
from tests.section_helpers import SWAPPED, build, contents, metric_keys, tables, text


def test_the_faster_model_flips_with_the_results(tmp_path):
    assert text(build(Speed(), contents(tmp_path / "a"))).startswith("The CNN trained faster, by a factor of 1.50×")
    assert text(build(Speed(), contents(tmp_path / "b", **SWAPPED))).startswith("The ViT trained faster")


def test_equal_speeds_read_as_a_tie(tmp_path):
    report = contents(tmp_path / "b")
    cnn = report.facts["cnn"]
    assert speed_sentence(cnn, cnn).text.startswith("The CNN and the CNN trained equally fast")


def test_no_accuracy_per_second_is_stated(tmp_path):
    items = build(Speed(), contents(tmp_path / "b"))
    assert "The CNN processed 999.3 training images per second." in text(items)
    assert "per second of training" not in text(items) and "efficiency_factor" not in metric_keys(items)


def test_one_model_gets_its_table_only(tmp_path):
    items = build(Speed(), contents(tmp_path / "b", models=("vit",)))
    assert text(items) == "" and [row[0] for row in tables(items)[0].rows] == ["ViT"]
