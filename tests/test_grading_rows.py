"""grading.rows: one row per bundle with its numbers, numbers the predictions do not support flagged (by the
checks' kind, not their names), broken and hostile bundles in their own rows."""

from __future__ import annotations

import csv
import shutil

import pytest

import reportgen.grading.rows
from reportgen.bundle import Bundle
from reportgen.grading import grade_bundles
from reportgen.verification import INTEGRITY, NUMBERS, Check
from tests.grading_helpers import grade, make_class_of_four, rows_of, submission
from tests.torch_free import assert_runs_without_torch


@pytest.fixture
def class_of_four(tmp_path):
    return make_class_of_four(tmp_path)


def test_a_class_of_thirty_is_graded_one_row_each_in_three_files(tmp_path):
    paths = [submission(tmp_path / f"s{i:02d}", i, models=("cnn",), test_size=200) for i in range(30)]
    written = grade_bundles(paths, tmp_path / "out", progress=False, log=lambda message: None)
    assert [p.name for p in written] == ["grades.csv", "grades.json", "grades.html"]
    rows = rows_of(tmp_path / "out")
    assert list(rows) == [p.name for p in paths]
    assert all(row["verified"] and row["flags"] == [] for row in rows.values())
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 30 and table[0]["bundle"] == str(paths[0])
    bundle = Bundle(paths[0])
    accuracy = 100 * float((bundle.runs("cnn")[0].preds == bundle.runs("cnn")[0].labels).mean())
    assert float(table[0]["cnn_accuracy"]) == pytest.approx(accuracy, abs=0.005)
    assert table[0]["vit_accuracy"] == "" and table[0]["epochs"] == "5" and table[0]["seeds"] == "42"


def test_config_keys_that_differ_from_the_seed_protocol_are_listed(tmp_path):
    root = submission(tmp_path / "a", 1, config_overrides={"vit.depth": 4, "report.title": "Mine",
                                                           "data.cache_dir": "/tmp/c"})
    (row,) = grade([root], tmp_path / "out").values()
    assert row["config_changes"] == ["vit.depth=4", "train.epochs=5"]  # report.* and paths do not count
    assert row["config_change_count"] == 2


def test_numbers_the_predictions_do_not_support_are_flagged(class_of_four, tmp_path):
    rows = grade(class_of_four, tmp_path / "out")
    assert not rows["mallory"]["verified"]
    assert rows["mallory"]["verify_failure"].startswith("vit seed 42: metrics.json recomputed from predictions.csv")
    unsupported = [f for f in rows["mallory"]["flags"] if f.startswith("numbers its predictions do not support")]
    # The check names the first mismatches in page order: the Summary of findings' accuracy comes first now.
    assert any("report.html: numbers equal" in f and "vit.accuracy.mean" in f for f in unsupported)
    assert not any(f.startswith("numbers") for f in rows["alice"]["flags"])


def test_the_verdict_reads_each_checks_kind_not_its_name(tmp_path, monkeypatch):
    good = submission(tmp_path / "good", 1, models=("cnn",))
    real = reportgen.grading.rows.verify_bundle

    def verify(bundle):
        return real(bundle) + [
            Check("manifest: checksums match", False, "a numbers check under an integrity name", kind=NUMBERS),
            Check("report.html: numbers equal those recomputed", False, "an integrity check under a numbers name",
                  kind=INTEGRITY)]

    monkeypatch.setattr(reportgen.grading.rows, "verify_bundle", verify)
    row = grade([good], tmp_path / "out")["good"]
    assert not row["verified"] and row["verify_failure"].startswith("manifest: checksums match")
    assert row["flags"] == ["numbers its predictions do not support: manifest: checksums match: "
                            "a numbers check under an integrity name"]
    assert row["flag_count"] == 1


def test_broken_and_hostile_bundles_get_rows_that_say_why(tmp_path):
    good = submission(tmp_path / "good", 1, models=("cnn",))
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    (broken / "runs/cnn/seed-42/predictions.csv").write_text("index,label\n0,")
    hostile = tmp_path / "hostile"
    shutil.copytree(good, hostile)
    (hostile / "config.yaml").unlink()
    (hostile / "config.yaml").symlink_to("/etc/passwd")
    rows = grade([good, broken, hostile, tmp_path / "absent"], tmp_path / "out")
    assert rows["good"]["verified"]
    assert "predictions.csv holds a value that is not a number" in rows["broken"]["verify_failure"]
    assert "config.yaml is a symbolic link" in rows["hostile"]["verify_failure"]
    assert "is not a folder" in rows["absent"]["verify_failure"]
    assert not any(rows[name]["verified"] for name in ("broken", "hostile", "absent"))
    assert rows["broken"]["cnn_accuracy"] is None and rows["broken"]["flags"] == []
    assert rows["broken"]["flag_count"] is None and rows["good"]["flag_count"] == 0  # unknown, not none


def test_an_unexpected_error_in_one_bundle_does_not_stop_the_sheet(tmp_path, monkeypatch):
    good = submission(tmp_path / "good", 1, models=("cnn",))
    odd = submission(tmp_path / "odd", 2, models=("cnn",))
    real = reportgen.grading.rows.verify_bundle

    def verify(bundle):
        if bundle.root.name == "odd":
            raise ZeroDivisionError("a bug that a strange bundle triggers")
        return real(bundle)

    monkeypatch.setattr(reportgen.grading.rows, "verify_bundle", verify)
    rows = grade([good, odd], tmp_path / "out")
    assert rows["good"]["verified"]
    assert rows["odd"]["verify_failure"] == "unreadable (ZeroDivisionError: a bug that a strange bundle triggers)"


def test_grading_imports_neither_torch_nor_the_report_nor_compare():
    assert_runs_without_torch("""
        import sys
        import reportgen.grading
        heavy = ("matplotlib", "reportgen.compare", "reportgen.report.render", "reportgen.report.sections")
        assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]
    """)
