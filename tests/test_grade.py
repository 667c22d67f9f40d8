"""grade: one row per bundle, copies flagged by checksum and by near-identical predictions, numbers the
predictions do not support flagged, broken and hostile bundles in their own rows, a validated rubric."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reportgen.bundle import Bundle, write_manifest, write_predictions
from reportgen.cli import main
from reportgen.errors import ConfigError, ReportgenError
from reportgen.grade import (
    NEAR_IDENTICAL_AGREEMENT,
    grade_bundles,
    load_rubric,
    prediction_likeness,
)
from tests.bundle_factory import make_bundle
from tests.test_evaluate import stand_in_report


def submission(root: Path, number: int, **options) -> Path:
    """A student's synthetic bundle with its report (the stand-in shows every per-run number)."""
    make_bundle(root, submission=number, **options)
    stand_in_report(root)
    write_manifest(root)
    return root


def rows_of(out: Path) -> dict[str, dict]:
    return {Path(row["bundle"]).name: row for row in json.loads((out / "grades.json").read_text())["rows"]}


def grade(paths, out, **options) -> dict[str, dict]:
    grade_bundles(paths, out, progress=False, log=lambda message: None, **options)
    return rows_of(out)


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


@pytest.fixture
def class_of_four(tmp_path):
    """Two honest students, one who copied the first, and one who changed predictions of the second."""
    alice = submission(tmp_path / "alice", 1, test_size=1000)
    bob = submission(tmp_path / "bob", 2, test_size=1000)
    eve = tmp_path / "eve"
    shutil.copytree(alice, eve)
    mallory = tmp_path / "mallory"
    shutil.copytree(bob, mallory)
    run = Bundle(mallory).runs("vit")[0]
    preds = run.preds.copy()
    preds[:4] = (preds[:4] + 1) % 10  # 99.6 % agreement, the errors unchanged but four
    write_predictions(run.path / "predictions.csv", run.labels, preds, np.eye(10)[preds])
    (run.path / "weights.pt").write_bytes(b"retrained, honestly")
    write_manifest(mallory)  # metrics.json and the report now disagree with the predictions
    return [alice, bob, eve, mallory]


def test_copies_are_flagged_on_both_rows_naming_the_other(class_of_four, tmp_path):
    rows = grade(class_of_four, tmp_path / "out")
    alice, bob, eve, mallory = (str(p) for p in class_of_four)
    assert f"possible copy of {eve}: cnn weights identical" in " | ".join(rows["alice"]["flags"])
    assert f"possible copy of {alice}: vit weights identical" in " | ".join(rows["eve"]["flags"])
    near = [f for f in rows["bob"]["flags"] if mallory in f and "vit" in f]
    assert near and "predictions nearly identical (99.6% agreement on 1,000 test images" in near[0]
    assert f"possible copy of {bob}: cnn weights identical" in " | ".join(rows["mallory"]["flags"])


def test_numbers_the_predictions_do_not_support_are_flagged(class_of_four, tmp_path):
    rows = grade(class_of_four, tmp_path / "out")
    assert not rows["mallory"]["verified"]
    assert rows["mallory"]["verify_failure"].startswith("vit seed 42: metrics.json recomputed from predictions.csv")
    unsupported = [f for f in rows["mallory"]["flags"] if f.startswith("numbers its predictions do not support")]
    assert any("report.html: numbers equal" in f and "vit.seed42.accuracy" in f for f in unsupported)
    assert not any(f.startswith("numbers") for f in rows["alice"]["flags"])


def test_identical_predictions_with_other_weights_are_flagged(tmp_path):
    alice = submission(tmp_path / "alice", 1, models=("cnn",))
    carol = tmp_path / "carol"
    shutil.copytree(alice, carol)
    (carol / "runs/cnn/seed-42/weights.pt").write_bytes(b"weights of her own")
    write_manifest(carol)
    rows = grade([alice, carol], tmp_path / "out")
    assert rows["carol"]["flags"] == [f"possible copy of {alice}: cnn predictions identical on all 600 test images"]


def test_the_near_identical_rule():
    labels = np.arange(2000) % 10
    honest = np.where(np.arange(2000) % 5 == 0, (labels + 1) % 10, labels)  # 80 % right
    copied = honest.copy()
    fixed = np.flatnonzero(honest != labels)[:10]
    copied[fixed] = labels[fixed]  # ten of the 400 errors corrected: 99.5 % agreement
    agreement, same_errors = prediction_likeness(labels, honest, copied)
    assert agreement == pytest.approx(0.995) and agreement >= NEAR_IDENTICAL_AGREEMENT
    assert same_errors == pytest.approx(390 / 400)
    other = np.where(np.arange(2000) % 5 == 1, (labels + 2) % 10, labels)  # as accurate, other errors
    assert prediction_likeness(labels, honest, other) == (pytest.approx(0.6), 0.0)
    assert prediction_likeness(labels, labels, labels) == (1.0, 0.0)  # no errors: no evidence


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
    import reportgen.grade

    good = submission(tmp_path / "good", 1, models=("cnn",))
    odd = submission(tmp_path / "odd", 2, models=("cnn",))
    real = reportgen.grade.verify_bundle

    def verify(bundle):
        if bundle.root.name == "odd":
            raise ZeroDivisionError("a bug that a strange bundle triggers")
        return real(bundle)

    monkeypatch.setattr(reportgen.grade, "verify_bundle", verify)
    rows = grade([good, odd], tmp_path / "out")
    assert rows["good"]["verified"]
    assert rows["odd"]["verify_failure"] == "unreadable (ZeroDivisionError: a bug that a strange bundle triggers)"


def test_the_html_sheet_escapes_everything_from_bundles(tmp_path):
    root = submission(tmp_path / "<img src=x onerror=alert(1)>", 1, models=("cnn",),
                      config_overrides={"train.strategy": "<script>alert(2)</script>"})
    grade([root], tmp_path / "out")
    sheet = (tmp_path / "out" / "grades.html").read_text()
    assert "<img src=x" not in sheet and "<script>alert" not in sheet
    assert "&lt;img src=x onerror=alert(1)&gt;" in sheet and "&lt;script&gt;alert(2)&lt;/script&gt;" in sheet
    assert sheet.count("<script>") == 1  # the sorting script, and nothing else


def test_the_sheet_is_not_written_into_a_graded_bundle(tmp_path):
    root = submission(tmp_path / "a", 1, models=("cnn",))
    with pytest.raises(ReportgenError, match="inside the graded bundle"):
        grade_bundles([root], root / "grades", progress=False)
    assert not (root / "grades").exists()


# ---------------------------------------------------------------- rubric

RUBRIC = """
criteria:
  - {name: verified, field: verified, equals: true, points: 2}
  - {name: CNN accuracy at least 80 %, field: cnn_accuracy, min: 80, points: 3}
  - {name: ViT accuracy 70 to 75 %, field: vit_accuracy, min: 70, max: 75, points: 1.5}
  - {name: no copy flags, field: flag_count, max: 0, points: 4}
"""


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
    ("criteria:\n  - {name: a, field: cnn_accuracy, min: high, points: 1}", "min must be a number"),
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


# ---------------------------------------------------------------- end to end, on the bundled sample

NO_ANALYSES = [arg for name in ("efficiency", "calibration", "robustness", "explanations")
               for arg in ("--set", f"analysis.{name}=false")]  # grading needs none of them: keep the test fast
TINY = ["--preset", "quick", "--epochs", "1", "--set", "models=[cnn]", "--set", "cnn.channels=[8, 16]",
        "--set", "train.batch_size=256", "--set", "report.pdf=false", *NO_ANALYSES, "--no-progress"]


def reportgen(*args, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed command line, as a user would."""
    return subprocess.run([sys.executable, "-m", "reportgen.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def forge_consistently(root: Path) -> None:
    """What a forger does with a bundle: the CNN's wrong predictions made right (probabilities to match),
    metrics.json recomputed, the manifest redone; `reportgen render` then redoes the report."""
    from reportgen.bundle import write_json
    from reportgen.evaluation import compute_metrics

    bundle = Bundle(root)
    run = bundle.runs("cnn")[0]
    preds = run.labels.copy()
    write_predictions(run.path / "predictions.csv", run.labels, preds, np.eye(run.probs.shape[1])[preds])
    write_json(run.path / "metrics.json", compute_metrics(run.labels, preds, bundle.dataset()["classes"]))
    write_manifest(root)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """Five submissions from the command line (tiny CNNs, one epoch on the bundled sample): alice and bob
    built honestly, mallory built and then forged consistently, eve a copy of alice's, trudy's broken in
    transit (bob's, with predictions.csv cut)."""
    work = tmp_path_factory.mktemp("classroom")
    for name, seed in (("alice", 42), ("bob", 43), ("mallory", 44)):
        result = reportgen("build", *TINY, "--seed", seed, "--out", f"class/{name}", cwd=work)
        assert result.returncode == 0, result.stderr[-3000:]
    shutil.copytree(work / "class/alice", work / "class/eve")
    shutil.copytree(work / "class/bob", work / "class/trudy")
    cut = work / "class/trudy/runs/cnn/seed-43/predictions.csv"
    cut.write_text(cut.read_text()[:5000])
    forge_consistently(work / "class/mallory")
    result = reportgen("render", "class/mallory", "--no-pdf", cwd=work)
    assert result.returncode == 0, result.stderr
    return work


def test_the_forgery_passes_verify_and_fails_verify_deep(classroom):
    assert reportgen("verify", "class/mallory", cwd=classroom).returncode == 0
    result = reportgen("verify", "--deep", "class/mallory", cwd=classroom)
    assert result.returncode == 1
    assert "FAIL  deep: cnn seed 44: stored predictions follow from the weights" in result.stdout
    assert "ok    deep: cnn seed 44: weights.pt loads into the model config.yaml describes" in result.stdout


def test_a_class_graded_deeply_flags_the_forged_the_copied_and_the_broken(classroom):
    result = reportgen("grade", "class/alice", "class/bob", "class/eve", "class/mallory", "class/trudy", "--deep",
                       "--jobs", "2", "--no-progress", "--out", "grades", cwd=classroom)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(classroom / "grades")
    assert rows["bob"]["verified"] and rows["bob"]["deep_verified"] and rows["bob"]["flags"] == []
    assert rows["mallory"]["verified"] and not rows["mallory"]["deep_verified"]
    assert rows["mallory"]["deep_failure"].startswith("deep: cnn seed 44: stored predictions follow from the weights")
    assert rows["mallory"]["cnn_accuracy"] == 100.0
    assert rows["mallory"]["flags"] == [f"results its weights do not give: {rows['mallory']['deep_failure']}"]
    assert [f for f in rows["eve"]["flags"] if f.startswith("possible copy of class/alice: cnn weights identical")]
    assert [f for f in rows["alice"]["flags"] if f.startswith("possible copy of class/eve: cnn weights identical")]
    assert not rows["trudy"]["verified"] and "predictions.csv" in rows["trudy"]["verify_failure"]
    assert rows["trudy"]["deep_verified"] is False
    assert "grades.html" in result.stdout and (classroom / "grades" / "grades.html").is_file()


def test_the_notebooks_classes_trained_briefly_are_evaluated_into_a_bundle(classroom):
    weights = train_notebook_models(classroom / "notebook")
    result = reportgen("evaluate", "--weights", f"cnn={weights['cnn']}", "--weights", f"vit={weights['vit']}",
                       "--preset", "quick", "--set", "report.pdf=false", *NO_ANALYSES, "--out", "class/nina",
                       cwd=classroom)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weights sha256" in result.stdout and "evaluated, not trained" in (classroom / "class/nina/report.html"
                                                                              ).read_text()
    deep = reportgen("verify", "--deep", "class/nina", cwd=classroom)
    assert deep.returncode == 0, deep.stdout


def train_notebook_models(folder: Path, steps: int = 3) -> dict[str, Path]:
    """The seed notebook's CNN and ViT (tests/notebook_models.py), trained for a few steps on the sample and saved."""
    import torch
    import torch.nn.functional as F

    from reportgen.config import DataConfig
    from reportgen.data import load_data, normalize
    from tests import notebook_models

    config = DataConfig(dataset="sample")
    data = load_data(config)
    x, y = normalize(data.train_x[:64 * steps], config.mean, config.std), data.train_y[:64 * steps]
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, cls in (("cnn", notebook_models.CNN), ("vit", notebook_models.ViT)):
        torch.manual_seed(0)
        model = cls()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for step in range(steps):
            batch = slice(64 * step, 64 * (step + 1))
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        files[name] = folder / f"{name}.pt"
        torch.save(model.state_dict(), files[name])
    return files
