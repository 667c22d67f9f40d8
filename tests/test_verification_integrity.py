"""verification.integrity: each check passes on an intact bundle and fails on the edit it is meant to catch (the
manifest, the schema, the runs' own consistency, the variants' runs); every check says which kind it is."""

import json
import shutil

import numpy as np
import pytest

from reportgen.bundle import Bundle, write_json, write_manifest, write_predictions
from reportgen.errors import BundleError
from reportgen.metrics import compute_metrics
from reportgen.verification import DEEP, INTEGRITY, NUMBERS, verify_bundle
from reportgen.verification.numbers import SUMMARY_CHECK, TABLES_CHECK
from tests.bundle_factory import make_bundle
from tests.verification_helpers import (
    NUMBERS_CHECK,
    failed,
    render_stand_in,
)


def test_an_intact_bundle_passes_every_check(bundle):
    assert failed(bundle) == []


def test_every_check_has_its_kind(bundle):
    kinds = {c.name: c.kind for c in verify_bundle(bundle)}
    assert kinds["manifest: checksums match"] == kinds["vit seed 42: history has every epoch"] == INTEGRITY
    assert kinds["cnn seed 42: metrics.json recomputed from predictions.csv"] == NUMBERS
    assert kinds[NUMBERS_CHECK] == NUMBERS
    assert set(kinds.values()) == {INTEGRITY, NUMBERS} and DEEP not in kinds.values()
    assert [name for name, kind in kinds.items() if kind == NUMBERS] == [
        "cnn seed 42: metrics.json recomputed from predictions.csv",
        "vit seed 42: metrics.json recomputed from predictions.csv", NUMBERS_CHECK, SUMMARY_CHECK, TABLES_CHECK]


def test_a_consistently_forged_metric_is_still_caught_by_recomputation(bundle):
    path = bundle / "runs" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    write_manifest(bundle)  # the forger also rewrites the checksums
    assert failed(bundle) == ["cnn seed 42: metrics.json recomputed from predictions.csv"]


def test_added_and_missing_files_are_caught(bundle):
    (bundle / "extra.txt").write_text("x")
    (bundle / "samples.npz").unlink()
    names = failed(bundle)
    assert "manifest: no file added" in names and "manifest: no file missing" in names


def test_a_truncated_history_is_caught(bundle):
    path = bundle / "runs" / "vit" / "seed-42" / "history.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    write_manifest(bundle)
    names = failed(bundle)
    assert "vit seed 42: history has every epoch" in names
    assert "vit seed 42: training time is the sum of epoch times" in names


def test_a_folder_without_manifest_is_refused(tmp_path):
    root = make_bundle(tmp_path / "b")
    (root / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest"):
        verify_bundle(root)


def test_another_schema_version_is_refused(bundle):
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema version 99"):
        verify_bundle(bundle)


# ---------------------------------------------------------------- runs evaluated from weights


def test_an_evaluated_run_skips_the_history_checks_and_says_so(tmp_path):
    root = make_bundle(tmp_path / "e", origin="evaluated")
    render_stand_in(root)
    checks = {c.name: c for c in verify_bundle(root)}
    assert [c.name for c in checks.values() if not c.ok] == []
    assert "history checks are skipped" in checks["cnn seed 42: training history"].detail
    assert "cnn seed 42: history has every epoch" not in checks


def test_weights_other_than_those_evaluated_are_caught(tmp_path):
    root = make_bundle(tmp_path / "e", origin="evaluated")
    render_stand_in(root)
    (root / "runs/vit/seed-42/weights.pt").write_bytes(b"other weights")
    write_manifest(root)
    assert failed(root) == ["vit seed 42: weights.pt is the file that was evaluated"]


# ---------------------------------------------------------------- a study's variants


def test_a_study_bundle_verifies_its_variants_runs_and_their_numbers(study):
    checks = verify_bundle(study)
    assert [c.name for c in checks if not c.ok] == []
    names = [c.name for c in checks]
    assert "variant longer: test labels identical to the base runs'" in names
    assert "longer: vit seed 42: history has every epoch" in names  # 8 epochs, the variant's, not the base's 5
    report = {c.name: c.detail for c in checks}[NUMBERS_CHECK]
    assert int(report.split()[0]) > 0


def test_a_forged_variant_metric_is_caught(study):
    path = study / "variants" / "no-augment" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    write_manifest(study)
    assert failed(study) == ["no-augment: cnn seed 42: metrics.json recomputed from predictions.csv"]


def test_a_variant_tested_on_other_images_is_caught(study):
    folder = study / "variants" / "longer" / "cnn" / "seed-42"
    run = Bundle(study).runs("cnn", "longer")[0]
    labels = np.roll(run.labels, 1)
    write_predictions(folder / "predictions.csv", labels, labels, np.eye(10)[labels])
    write_json(folder / "metrics.json", compute_metrics(labels, labels, Bundle(study).dataset()["classes"]))
    write_manifest(study)
    assert "variant longer: test labels identical to the base runs'" in failed(study)


def test_a_variant_run_json_naming_another_variant_is_caught(study):
    path = study / "variants" / "longer" / "vit" / "seed-42" / "run.json"
    info = json.loads(path.read_text())
    info["variant"] = "no-augment"
    path.write_text(json.dumps(info))
    write_manifest(study)
    assert failed(study) == ["variant longer: run.json names the variant of its folder"]


def test_a_variant_whose_runs_were_removed_is_caught(study):
    shutil.rmtree(study / "variants" / "longer")
    write_manifest(study)
    # The report still counts the removed variant's runs too: its numbers no longer follow from the bundle.
    assert failed(study) == ["every variant of config.yaml has its runs", NUMBERS_CHECK, SUMMARY_CHECK,
                             TABLES_CHECK]
