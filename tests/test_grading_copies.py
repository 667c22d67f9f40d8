"""grading.copies: copies flagged on both rows by checksum and by (near-)identical predictions, and identical
weights from the same training (a copied bundle, or a run reused from the run store) given the same caveat."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from reportgen.bundle import read_json, write_json, write_manifest
from reportgen.grading import NEAR_IDENTICAL_AGREEMENT, REPRODUCTION, prediction_likeness
from tests.grading_helpers import grade, make_class_of_four, submission


@pytest.fixture
def class_of_four(tmp_path):
    return make_class_of_four(tmp_path)


def test_copies_are_flagged_on_both_rows_naming_the_other(class_of_four, tmp_path):
    rows = grade(class_of_four, tmp_path / "out")
    alice, bob, eve, mallory = (str(p) for p in class_of_four)
    assert f"possible copy of {eve}: cnn weights identical" in " | ".join(rows["alice"]["flags"])
    assert f"possible copy of {alice}: vit weights identical" in " | ".join(rows["eve"]["flags"])
    near = [f for f in rows["bob"]["flags"] if mallory in f and "vit" in f]
    assert near and "predictions nearly identical (99.6% agreement on 1,000 test images" in near[0]
    assert f"possible copy of {bob}: cnn weights identical" in " | ".join(rows["mallory"]["flags"])
    # eve holds alice's very bundle: the same config at the same seeds, as an honest reproduction would
    assert REPRODUCTION in " | ".join(rows["alice"]["flags"])


def test_a_run_reused_from_the_run_store_gets_the_caveat_of_a_reproduction(tmp_path):
    """Two studies that differ only in the ViT share the CNN run (the same run key: the run store reused it):
    its identical weights get the caveat; the ViT's identical weights under another run key do not."""
    first = submission(tmp_path / "first", 1)
    second = submission(tmp_path / "second", 1, config_overrides={"vit.depth": 4})
    info = read_json(second / "runs/vit/seed-42/run.json")
    write_json(second / "runs/vit/seed-42/run.json", {**info, "key": "another vit config"})
    write_manifest(second)
    rows = grade([first, second], tmp_path / "out")
    assert rows["first"]["config_changes"] != rows["second"]["config_changes"]  # the bundles' configs differ
    (cnn,) = [f for f in rows["first"]["flags"] if " cnn " in f]
    (vit,) = [f for f in rows["first"]["flags"] if " vit " in f]
    assert cnn.startswith(f"possible copy of {second}: cnn weights identical") and REPRODUCTION in cnn
    assert vit.startswith(f"possible copy of {second}: vit weights identical") and "caveat" not in vit
    assert [f for f in rows["second"]["flags"] if " cnn " in f and REPRODUCTION in f]
    assert "deterministic training" in REPRODUCTION and len(REPRODUCTION) < 200  # short, and says why


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
