"""grading.gradescope: Gradescope results.json per submission, valid against the autograder specification's
output format: scores from the rubric's criteria and the verification, an unreadable submission scored 0 with
the reason, one submission at DIR/results.json, names that collide kept apart."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportgen.cli import main
from reportgen.errors import ConfigError
from reportgen.grading import grade_bundles, load_rubric
from reportgen.grading.gradescope import VISIBILITIES, results_names
from reportgen.grading.rows import Submission, empty_row
from tests.grading_helpers import RUBRIC, submission

RUBRIC_FOR_GRADESCOPE = RUBRIC + """\
  - {name: seeds, field: seed_count, min: 1, points: 1, visibility: after_published, tags: [protocol]}
"""
TOP_LEVEL = {"score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data", "tests",
             "output_format", "test_output_format", "test_name_format", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def assert_valid(results: dict) -> None:
    """`results` follows Gradescope's results.json format (the autograder specification's output format)."""
    assert set(results) <= TOP_LEVEL and {"score", "tests", "output", "execution_time"} <= set(results)
    assert isinstance(results["score"], float) and math.isfinite(results["score"])
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results["output"], str) and results["output"]
    assert results.get("visibility", "visible") in VISIBILITIES
    assert isinstance(results["tests"], list) and results["tests"]
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS and {"name", "score", "max_score", "status", "output", "number"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["output"], str) and isinstance(test["number"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITIES
        assert isinstance(test["tags"], list) and all(isinstance(tag, str) for tag in test["tags"])
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert results["score"] <= sum(t["max_score"] for t in results["tests"])
    assert [t["number"] for t in results["tests"]] == [str(i) for i in range(1, len(results["tests"]) + 1)]


def quietly(paths, out: Path, **options) -> list[Path]:
    return grade_bundles(paths, out / "sheet", progress=False, log=lambda message: None, **options)


def read(path: Path) -> dict:
    results = json.loads(path.read_text())
    assert_valid(results)
    return results


def test_a_class_with_a_rubric_gets_valid_results_scored_by_its_criteria(tmp_path):
    alice = submission(tmp_path / "alice", 1, test_size=1000)
    bob = submission(tmp_path / "bob", 2, test_size=1000, accuracies={"cnn": 0.70, "vit": 0.72})
    (tmp_path / "rubric.yaml").write_text(RUBRIC_FOR_GRADESCOPE)
    written = quietly([alice, bob], tmp_path, rubric=tmp_path / "rubric.yaml", gradescope=tmp_path / "gs")
    assert written[3:] == [tmp_path / "gs" / "alice" / "results.json", tmp_path / "gs" / "bob" / "results.json"]
    rows = {Path(r["bundle"]).name: r for r in json.loads((tmp_path / "sheet" / "grades.json").read_text())["rows"]}
    for name in ("alice", "bob"):
        results = read(tmp_path / "gs" / name / "results.json")
        tests = {t["name"]: t for t in results["tests"]}
        assert list(tests) == ["verification", "verified", "CNN accuracy at least 80 %", "ViT accuracy 70 to 75 %",
                               "no copy flags", "seeds"]
        assert tests["verification"]["max_score"] == 0 and tests["verification"]["status"] == "passed"
        assert results["score"] == rows[name]["score"]  # the sheet's score, from the rubric alone
        assert sum(t["max_score"] for t in results["tests"]) == rows[name]["max_score"] == 11.5
        assert tests["seeds"]["visibility"] == "after_published" and tests["seeds"]["tags"] == ["protocol"]
        assert "visibility" not in tests["verified"]  # Gradescope's default applies
    alice_tests = {t["name"]: t for t in read(tmp_path / "gs" / "alice" / "results.json")["tests"]}
    bob_tests = {t["name"]: t for t in read(tmp_path / "gs" / "bob" / "results.json")["tests"]}
    assert alice_tests["CNN accuracy at least 80 %"]["score"] == 3 and alice_tests["CNN accuracy at least 80 %"][
        "status"] == "passed"
    assert bob_tests["CNN accuracy at least 80 %"]["score"] == 0 and bob_tests["CNN accuracy at least 80 %"][
        "status"] == "failed"
    output = bob_tests["CNN accuracy at least 80 %"]["output"]
    assert "cnn_accuracy is 70" in output and "at least 80" in output and "not met, 0 of 3 points" in output


def test_without_a_rubric_each_verification_is_one_point(tmp_path):
    good = submission(tmp_path / "good", 1, models=("cnn",))
    results = read(quietly([good], tmp_path, gradescope=tmp_path / "gs")[-1])
    assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [("verification", 1.0, 1.0)]
    assert results["score"] == 1.0 and "It verified." in results["output"]


def test_a_submission_that_cannot_be_read_scores_0_and_says_why(tmp_path):
    good = submission(tmp_path / "good", 1, models=("cnn",))
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    (broken / "manifest.json").write_text("{not json")
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    quietly([good, broken, tmp_path / "absent"], tmp_path, rubric=tmp_path / "rubric.yaml",
            gradescope=tmp_path / "gs")
    assert read(tmp_path / "gs" / "good" / "results.json")["score"] > 0
    for name in ("broken", "absent"):
        results = read(tmp_path / "gs" / name / "results.json")
        assert results["score"] == 0 and "could not be read" in results["output"]
        assert all(t["status"] == "failed" for t in results["tests"])
    assert "is not a folder" in read(tmp_path / "gs" / "absent" / "results.json")["output"]


def test_an_unreadable_submission_with_deep_fails_both_verifications():
    sub = Submission(Path("gone"), {**empty_row(Path("gone")), "verify_failure": "bundle gone does not exist"})
    from reportgen.grading.gradescope import results

    out = results(sub, [], deep=True, execution_time=3.4)
    assert_valid(out)
    assert [t["name"] for t in out["tests"]] == ["verification", "verification from the weights"]
    assert out["score"] == 0 and out["execution_time"] == 3
    assert all("does not exist" in t["output"] for t in out["tests"])


def test_one_submission_as_in_an_autograder_writes_dir_results_json(tmp_path):
    root = submission(tmp_path / "submission", 1, models=("cnn",))
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    result = CliRunner().invoke(main, ["grade", str(root), "--rubric", str(tmp_path / "rubric.yaml"), "--out",
                                       str(tmp_path / "grades"), "--gradescope", str(tmp_path / "results"),
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'results' / 'results.json'}" in result.output
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["results.json"]
    results = read(tmp_path / "results" / "results.json")
    assert results["score"] == 2.0 + 3.0 + 4.0  # verified, the CNN at 85 %, no flags; there is no ViT
    assert "vit_accuracy is unknown" in {t["name"]: t for t in results["tests"]}["ViT accuracy 70 to 75 %"]["output"]


def test_submissions_whose_names_collide_do_not_overwrite_each_other(tmp_path):
    first = submission(tmp_path / "a" / "alice smith", 1, models=("cnn",))
    second = submission(tmp_path / "b" / "alice smith", 2, models=("cnn",))
    third = submission(tmp_path / "c" / "Alice_smith", 3, models=("cnn",))
    written = quietly([first, second, third], tmp_path, gradescope=tmp_path / "gs")
    names = [p.parent.name for p in written[3:]]
    assert names == ["alice_smith", "alice_smith-2", "Alice_smith-3"]
    bundles = [read(p)["output"].splitlines()[0] for p in written[3:]]
    assert [str(first) in bundles[0], str(second) in bundles[1], str(third) in bundles[2]] == [True] * 3


def test_names_are_sanitised_for_a_file_name():
    subs = [Submission(Path(name), empty_row(Path(name))) for name in ("../..", "a/.hidden", "x:y*z", "é")]
    names = results_names(subs)
    assert all("/" not in n and not n.startswith(".") and n for n in names)
    assert names[1:] == ["hidden", "x_y_z", "_"]


@pytest.mark.parametrize("extra, needle", [
    ("visibility: sometimes", "visibility 'sometimes' is not one of Gradescope's: hidden, after_due_date"),
    ("tags: protocol", "tags must be a list of texts"),
    ("tags: [1]", "tags must be a list of texts"),
])
def test_the_rubrics_gradescope_keys_are_checked_in_one_line(tmp_path, extra, needle):
    path = tmp_path / "rubric.yaml"
    path.write_text(f"criteria:\n  - {{name: a, field: verified, equals: true, points: 1, {extra}}}\n")
    with pytest.raises(ConfigError, match=needle):
        load_rubric(path)


def test_the_results_are_not_written_into_a_graded_bundle(tmp_path):
    root = submission(tmp_path / "a", 1, models=("cnn",))
    with pytest.raises(Exception, match="inside the graded bundle"):
        quietly([root], tmp_path, gradescope=root / "results")
