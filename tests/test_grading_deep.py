"""grading.deep: `verify --deep` in worker processes, its failures flagged by the checks' kind; end to end on the
bundled sample, a class graded deeply flags the forged, the copied and the broken submissions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reportgen.bundle import Bundle, write_manifest, write_predictions
from reportgen.grading.deep import record_deep
from reportgen.grading.rows import Submission, empty_row
from reportgen.verification import DEEP, INTEGRITY, Check
from tests.grading_helpers import rows_of


def test_a_failed_check_of_kind_deep_flags_the_row_and_an_error_does_not():
    flagged, unflagged, unread = (Submission(Path(name), empty_row(Path(name))) for name in ("a", "b", "c"))
    for submission in (flagged, unflagged):
        submission.row["flag_count"] = 0  # read from its bundle
    check = Check("cnn seed 1: weights give other predictions", False, "3 of 600 differ", kind=DEEP)  # no "deep: "
    record_deep(flagged, "cnn seed 1: weights give other predictions: 3 of 600 differ", check)
    record_deep(unflagged, "deep: a failure that is no check of kind deep", Check("deep: x", False, "", kind=INTEGRITY))
    record_deep(unread, "deep: cnn seed 1: an error, not a check", None)
    assert flagged.row["deep_verified"] is False and flagged.row["flag_count"] == 1
    assert flagged.row["flags"] == ["results its weights do not give: cnn seed 1: weights give other predictions: "
                                    "3 of 600 differ"]
    assert flagged.flags[0].short.startswith("weights disagree: cnn seed 1")
    assert unflagged.row["flags"] == [] and unflagged.row["deep_failure"].startswith("deep: a failure")
    assert unread.row["flags"] == [] and unread.row["flag_count"] is None and unread.row["deep_verified"] is False


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
    from reportgen.metrics import compute_metrics

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


@pytest.mark.e2e  # real reportgen processes: build, render, verify, grade and evaluate
def test_the_forgery_passes_verify_and_fails_verify_deep(classroom):
    assert reportgen("verify", "class/mallory", cwd=classroom).returncode == 0
    result = reportgen("verify", "--deep", "class/mallory", cwd=classroom)
    assert result.returncode == 1
    assert "FAIL  deep: cnn seed 44: stored predictions follow from the weights" in result.stdout
    assert "ok    deep: cnn seed 44: weights.pt loads into the model config.yaml describes" in result.stdout


@pytest.mark.e2e  # real reportgen processes: build, render, verify, grade and evaluate
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


@pytest.mark.e2e  # real reportgen processes: build, render, verify, grade and evaluate
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
