"""Helpers for the grading tests: students' synthetic bundles, grading them, and reading the sheet back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from reportgen.bundle import Bundle, write_manifest, write_predictions
from reportgen.grading import grade_bundles
from tests.bundle_factory import make_bundle
from tests.test_evaluate import stand_in_report

RUBRIC = """
criteria:
  - {name: verified, field: verified, equals: true, points: 2}
  - {name: CNN accuracy at least 80 %, field: cnn_accuracy, min: 80, points: 3}
  - {name: ViT accuracy 70 to 75 %, field: vit_accuracy, min: 70, max: 75, points: 1.5}
  - {name: no copy flags, field: flag_count, max: 0, points: 4}
"""


def submission(root: Path, number: int, **options) -> Path:
    """A student's synthetic bundle with its report (the stand-in shows every per-run number)."""
    make_bundle(root, submission=number, **options)
    stand_in_report(root)
    write_manifest(root)
    return root


def rows_of(out: Path) -> dict[str, dict]:
    """The rows of <out>/grades.json by bundle folder name."""
    return {Path(row["bundle"]).name: row for row in json.loads((out / "grades.json").read_text())["rows"]}


def grade(paths, out, **options) -> dict[str, dict]:
    """Grade `paths` into `out` quietly and return the rows by bundle folder name."""
    grade_bundles(paths, out, progress=False, log=lambda message: None, **options)
    return rows_of(out)


def make_class_of_four(tmp_path: Path) -> list[Path]:
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
