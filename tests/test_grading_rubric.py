"""grading.rubric: a validated rubric scores each criterion and the bundle; its mistakes are one line, exit code 2,
before any bundle is read; `reportgen grade --help` explains the command."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from reportgen.cli import main
from reportgen.errors import ConfigError
from reportgen.grading import load_rubric
from tests.grading_helpers import RUBRIC, grade, make_class_of_four, submission


@pytest.fixture
def class_of_four(tmp_path):
    return make_class_of_four(tmp_path)


def test_a_rubric_scores_each_criterion_and_the_bundle(tmp_path, class_of_four):
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    rows = grade(class_of_four, tmp_path / "out", rubric=tmp_path / "rubric.yaml")
    alice, mallory = rows["alice"], rows["mallory"]
    assert alice["cnn_accuracy"] >= 80 and 70 <= alice["vit_accuracy"] <= 75
    assert alice["points"] == {"verified": 2, "CNN accuracy at least 80 %": 3, "ViT accuracy 70 to 75 %": 1.5,
                               "no copy flags": 0}  # flagged: eve copied her
    assert alice["score"] == 6.5 and alice["max_score"] == 10.5
    assert mallory["points"]["verified"] == 0
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[-6:] == ["points: verified", "points: CNN accuracy at least 80 %", "points: ViT accuracy 70 to 75 %",
                           "points: no copy flags", "score", "max_score"]


def test_a_bundle_that_cannot_be_read_meets_no_criterion(tmp_path):
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    rows = grade([tmp_path / "absent"], tmp_path / "out", rubric=tmp_path / "rubric.yaml")
    assert rows["absent"]["score"] == 0 and set(rows["absent"]["points"].values()) == {0}


@pytest.mark.parametrize("text, needle", [
    ("criteria: [", "not valid YAML"),
    ("- a\n- b\n", "must hold one key, criteria"),
    ("criteria: []", "must hold one key, criteria"),
    ("criteria: [3]", "criterion 1 must be a mapping"),
    ("criteria:\n  - {field: verified, equals: true, points: 1}", "criterion 1 needs a name"),
    ("criteria:\n  - {name: a, field: cnn_acc, min: 1, points: 1}", "field 'cnn_acc' is not a column"),
    ("criteria:\n  - {name: a, field: verified, equals: true}", "points must be a positive number"),
    ("criteria:\n  - {name: a, field: verified, equals: true, points: -1}", "points must be a positive number"),
    ("criteria:\n  - {name: a, field: cnn_accuracy, points: 1}", "give a threshold"),
    ("criteria:\n  - {name: a, field: cnn_accuracy, min: high, points: 1}", "min must be a finite number"),
    ("criteria:\n  - {name: a, field: cnn_accuracy, min: .nan, points: 1}", "min must be a finite number"),
    ("criteria:\n  - {name: a, field: verified, equals: true, points: .inf}", "points must be a positive number"),
    ("criteria:\n  - {name: a, field: cnn_accuracy, min: 90, max: 10, points: 1}", "can never be met"),
    ("criteria:\n  - {name: a, field: verified, min: 1, points: 1}", "min and max apply to numeric fields"),
    ("criteria:\n  - {name: a, field: verified, equals: yes please, points: 1}", "equals must be true or false"),
    ("criteria:\n  - {name: a, field: verified, equals: true, points: 1, weight: 2}", "unknown key 'weight'"),
    ("criteria:\n  - {name: a, field: verified, equals: true, points: 1}\n"
     "  - {name: a, field: epochs, min: 1, points: 1}", "two criteria are named 'a'"),
])
def test_rubric_mistakes_are_one_line_with_exit_code_2(tmp_path, text, needle):
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        load_rubric(path)
    root = submission(tmp_path / "a", 1, models=("cnn",))
    result = CliRunner().invoke(main, ["grade", str(root), "--rubric", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and needle in result.output
    assert not (tmp_path / "out").exists()  # the rubric is checked before any bundle is read


def test_grade_explains_itself():
    result = CliRunner().invoke(main, ["grade", "--help"])
    assert result.exit_code == 0 and "reportgen grade submissions/*" in result.output
