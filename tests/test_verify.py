"""verify: each check passes on an intact bundle and fails on the edit it is meant to catch; --deep catches
what only the weights can show (consistently forged predictions and labels), within stated tolerances."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import reportgen.data
import reportgen.evaluate
import reportgen.report
from reportgen.bundle import Bundle, RunData, write_json, write_manifest, write_predictions
from reportgen.cli import main
from reportgen.config import DataConfig, config_from_dict
from reportgen.errors import BundleError, DataError
from reportgen.evaluation import compute_metrics
from reportgen.report import render_report
from reportgen.verification import deep_data_config, tolerance_for, verify_bundle, verify_deep
from reportgen.verification.deep import prediction_checks as _prediction_checks
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import VariantSpec, make_bundle
from tests.conftest import tiny_config, tiny_data
from tests.test_evaluate import evaluated_bundle, stand_in_report


@pytest.fixture
def bundle(tmp_path):
    root = make_bundle(tmp_path / "b")
    render_report(root, pdf=False)
    write_manifest(root)
    return root


def failed(root):
    return [c.name for c in verify_bundle(root) if not c.ok]


def test_an_intact_bundle_passes_every_check(bundle):
    assert failed(bundle) == []


def test_a_consistently_forged_metric_is_still_caught_by_recomputation(bundle):
    path = bundle / "runs" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    write_manifest(bundle)  # the forger also rewrites the checksums
    assert failed(bundle) == ["cnn seed 42: metrics.json recomputed from predictions.csv"]


def test_a_number_edited_in_the_html_is_caught(bundle):
    html = bundle / "report.html"
    text = html.read_text()
    marker = 'data-metric="vit.seed42.accuracy" data-unit="percent">'
    start = text.index(marker) + len(marker)
    end = text.index("<", start)
    html.write_text(text[:start] + "99.99" + text[end:])
    write_manifest(bundle)
    assert failed(bundle) == ["report.html: numbers equal those recomputed from the predictions and probabilities"]


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


def render_stand_in(root):
    stand_in_report(root)
    write_manifest(root)


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


# ---------------------------------------------------------------- deep: predictions from the weights


@pytest.fixture
def deep(tmp_path, monkeypatch):
    """A bundle evaluated in fp32 on the CPU from tiny weights, and the data it was evaluated on."""
    data = tiny_data()
    monkeypatch.setattr(reportgen.evaluate, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    return evaluated_bundle(tmp_path / "b", tiny_config(), data), data


def deep_failed(root, data):
    return [c.name for c in verify_deep(root, data) if not c.ok]


def test_deep_verification_passes_on_what_the_weights_predict(deep):
    root, data = deep
    checks = verify_deep(root, data)
    assert [c.name for c in checks if not c.ok] == []
    names = " | ".join(c.name for c in checks)
    for model in ("cnn", "vit"):
        for what in ("weights.pt loads", "stored predictions follow", "stored probabilities follow",
                     "visuals.npz follows", "architectures.json describes"):
            assert f"deep: {model} seed 42: {what}" in names
    assert "0 of 30 differ (fp32 on a CPU" in next(c.detail for c in checks if "predictions follow" in c.name)


def rewrite_run(root, model: str, labels, preds, probs, render: bool = True) -> None:
    """Rewrite a run consistently, as a forger would: predictions, metrics.json, the report's numbers, the manifest
    (the last two left out with `render` False, for a forger who rewrites several runs first)."""
    run = Bundle(root).runs(model)[0]
    write_predictions(run.path / "predictions.csv", labels, preds, probs)
    write_json(run.path / "metrics.json", compute_metrics(labels, preds, Bundle(root).dataset()["classes"]))
    if render:
        render_stand_in(root)


def forge_predictions(root, model: str = "cnn", count: int = 5) -> None:
    """Make `count` wrong predictions right, with probabilities to match."""
    run = Bundle(root).runs(model)[0]
    preds, probs = run.preds.copy(), run.probs.copy()
    wrong = np.flatnonzero(preds != run.labels)[:count]
    assert len(wrong) == count
    preds[wrong] = run.labels[wrong]
    probs[wrong] = np.eye(probs.shape[1])[run.labels[wrong]]
    rewrite_run(root, model, run.labels, preds, probs)


def test_consistently_forged_predictions_pass_verify_but_fail_deep_verification(deep):
    root, data = deep
    forge_predictions(root)
    assert failed(root) == []  # everything in the bundle agrees with everything else
    assert deep_failed(root, data) == ["deep: cnn seed 42: stored predictions follow from the weights",
                                       "deep: cnn seed 42: stored probabilities follow from the weights"]


def test_forged_labels_are_caught(deep):
    root, data = deep
    labels = Bundle(root).runs("cnn")[0].preds  # the CNN made right everywhere, in every run's labels
    for model in ("cnn", "vit"):
        run = Bundle(root).runs(model)[0]
        rewrite_run(root, model, labels, run.preds, run.probs, render=False)
    render_stand_in(root)
    assert failed(root) == []
    assert deep_failed(root, data) == ["deep: the stored test labels are the data's"]


def test_weights_of_another_architecture_fail_in_one_check(deep):
    import torch

    from tests import notebook_models

    root, data = deep
    torch.save(notebook_models.CNN().state_dict(), root / "runs/cnn/seed-42/weights.pt")
    write_manifest(root)
    (check,) = [c for c in verify_deep(root, data) if not c.ok]
    assert check.name == "deep: cnn seed 42: weights.pt loads into the model config.yaml describes"
    assert "parameter 'features.0.conv1.weight' has shape (32, 3, 3, 3)" in check.detail


def test_other_data_is_refused_in_one_line(deep):
    root, _ = deep
    with pytest.raises(DataError, match="has dataset fingerprint .* but .* records"):
        verify_deep(root, tiny_data(seed=1))


def test_the_cli_runs_the_deep_checks_and_refuses_other_data(deep, monkeypatch):
    root, data = deep
    monkeypatch.setattr(reportgen.data, "load_data", lambda cfg: data)
    result = CliRunner().invoke(main, ["verify", "--deep", str(root)])
    assert result.exit_code == 0, result.output
    assert "ok    deep: vit seed 42: stored predictions follow from the weights" in result.output
    forge_predictions(root)
    result = CliRunner().invoke(main, ["verify", "--deep", str(root)])
    assert result.exit_code == 1 and "FAIL  deep: cnn seed 42: stored predictions follow" in result.output
    monkeypatch.setattr(reportgen.data, "load_data", lambda cfg: tiny_data(seed=1))
    result = CliRunner().invoke(main, ["verify", "--deep", str(root), "--data-dir", str(root)])
    assert result.exit_code == 1 and result.output.startswith("error: the data given")
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["verify", str(root), "--data-dir", str(root)])
    assert result.exit_code == 2 and "--data-dir goes with --deep" in result.output


def test_deep_data_comes_from_the_user_never_from_a_strangers_paths(tmp_path):
    folder = make_bundle(tmp_path / "f", config_overrides={"data.dataset": "folder", "data.dir": "/etc",
                                                          "data.cache_dir": "/tmp/elsewhere"})
    with pytest.raises(DataError, match="pass --data-dir"):
        deep_data_config(Bundle(folder), None)
    given = deep_data_config(Bundle(folder), tmp_path / "mine")
    assert (given.dataset, given.dir, given.cache_dir) == ("folder", str(tmp_path / "mine"), DataConfig().cache_dir)
    sample = make_bundle(tmp_path / "s", config_overrides={"data.dataset": "sample", "data.cache_dir": "/tmp/x"})
    assert deep_data_config(Bundle(sample), None).cache_dir == DataConfig().cache_dir


# ---------------------------------------------------------------- the tolerances, by how a run was computed


def tolerance_verdicts(precision: str, device: str, flips: int, margin: float, offset: float = 0.0):
    """(predictions ok, probabilities ok) for 1,000 two-class images whose fresh fp32 prediction is class 0;
    the first `flips` are near-ties (top-2 within `margin`) stored as class 1; stored probabilities are
    the fresh ones (swapped where flipped) shifted by `offset`."""
    n = 1000
    fresh = np.stack([np.full(n, 0.9), np.full(n, 0.1)], axis=1)
    fresh[:flips] = [0.5 + margin / 2, 0.5 - margin / 2]
    stored = fresh.copy()
    stored[:flips] = stored[:flips, ::-1]
    stored += [-offset, offset]
    preds = (np.arange(n) < flips).astype(np.int64)
    run = RunData("cnn", 42, Path("unused"), {"precision": precision, "device": device}, None, {},
                  labels=np.zeros(n, dtype=np.int64), preds=preds, probs=stored)
    preds_check, probs_check = _prediction_checks("x", run, fresh, tolerance_for(run))
    return preds_check.ok, probs_check.ok


@pytest.mark.parametrize("precision, device, flips, margin, expected", [
    ("32", "cpu", 1, 1e-6, True),  # a tie at float rounding may flip
    ("32", "cpu", 1, 0.01, False),  # fp32 on a CPU: nothing else may
    ("bf16-mixed", "cpu", 15, 0.01, True),  # bf16: 1.5 % of the images, at near-ties, may flip
    ("32", "cuda", 5, 0.04, True),  # fp32 on CUDA computes convolutions in TF32: the reduced tolerance
    ("bf16-mixed", "cuda", 25, 0.01, False),  # but not 2.5 % of the images
    ("bf16-mixed", "cpu", 1, 0.2, False),  # nor one prediction with a clear margin
])
def test_the_prediction_tolerance_follows_device_and_precision(precision, device, flips, margin, expected):
    assert tolerance_verdicts(precision, device, flips, margin)[0] is expected


@pytest.mark.parametrize("precision, offset, expected", [
    ("32", 5e-5, True), ("32", 1e-3, False), ("bf16-mixed", 0.03, True), ("bf16-mixed", 0.08, False),
])
def test_the_probability_tolerance_follows_precision(precision, offset, expected):
    assert tolerance_verdicts(precision, "cpu", 0, 0.0, offset)[1] is expected


def test_an_edited_calibration_number_is_caught(bundle):
    html = bundle / "report.html"
    text = html.read_text()
    marker = 'data-metric="cnn.calibration.ece.mean" data-unit="percent">'
    assert marker in text
    start = text.index(marker) + len(marker)
    end = text.index("<", start)
    html.write_text(text[:start] + "0.01" + text[end:])
    write_manifest(bundle)
    failures = verify_bundle(bundle)
    (check,) = [c for c in failures if not c.ok]
    assert "cnn.calibration.ece.mean: shows 0.01, recomputed" in check.detail


def test_an_edited_robustness_number_is_caught(tmp_path):
    root = make_bundle(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    render_report(root, pdf=False)
    write_manifest(root)
    assert all(c.ok for c in verify_bundle(root))
    html = root / "report.html"
    text = html.read_text()
    key = sorted(re.findall(r'data-metric="(cnn\.robustness[^"]*)"', text))[0]
    marker = f'data-metric="{key}" data-unit="'
    start = text.index(">", text.index(marker)) + 1
    end = text.index("<", start)
    html.write_text(text[:start] + "1.23" + text[end:])
    write_manifest(root)
    (check,) = [c for c in verify_bundle(root) if not c.ok]
    assert f"{key}: shows 1.23, recomputed" in check.detail


@pytest.fixture
def study(tmp_path):
    root = make_bundle(tmp_path / "study", variants={
        "no-augment": VariantSpec({"augment.enabled": False}, {"cnn": 0.8, "vit": 0.6}),
        "longer": VariantSpec({"train.epochs": 8}, {"cnn": 0.86, "vit": 0.75})})
    render_report(root, pdf=False)
    write_manifest(root)
    return root


def test_a_study_bundle_verifies_its_variants_runs_and_their_numbers(study):
    checks = verify_bundle(study)
    assert [c.name for c in checks if not c.ok] == []
    names = [c.name for c in checks]
    assert "variant longer: test labels identical to the base runs'" in names
    assert "longer: vit seed 42: history has every epoch" in names  # 8 epochs, the variant's, not the base's 5
    report = {c.name: c.detail for c in checks}["report.html: numbers equal those recomputed from the predictions "
                                                 "and probabilities"]
    assert int(report.split()[0]) > 0


def test_a_forged_variant_metric_is_caught(study):
    path = study / "variants" / "no-augment" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    write_manifest(study)
    assert failed(study) == ["no-augment: cnn seed 42: metrics.json recomputed from predictions.csv"]


def test_a_variant_accuracy_edited_in_the_report_is_caught(study):
    html = study / "report.html"
    text = html.read_text()
    marker = 'data-metric="variant.no-augment.vit.accuracy.mean" data-unit="percent">'
    start = text.index(marker) + len(marker)
    html.write_text(text[:start] + "99.99" + text[text.index("<", start):])
    write_manifest(study)
    assert failed(study) == ["report.html: numbers equal those recomputed from the predictions and probabilities"]


def test_a_variant_tested_on_other_images_is_caught(study):
    folder = study / "variants" / "longer" / "cnn" / "seed-42"
    run = Bundle(study).runs("cnn", "longer")[0]
    labels = np.roll(run.labels, 1)
    write_predictions(folder / "predictions.csv", labels, labels, np.eye(10)[labels])
    write_json(folder / "metrics.json", compute_metrics(labels, labels, Bundle(study).dataset()["classes"]))
    write_manifest(study)
    assert "variant longer: test labels identical to the base runs'" in failed(study)


def test_deep_verification_of_a_study_trained_on_a_share_of_the_training_images(tmp_path, monkeypatch):
    import reportgen.build as build_module

    data = tiny_data()
    monkeypatch.setattr(build_module, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    raw = tiny_config(epochs=1).to_dict()
    raw["data"]["train_fraction"] = 0.5
    raw["variants"] = {"plain": {"augment.enabled": False}}
    build_module.build(config_from_dict(raw), tmp_path / "b", tmp_path / "runs", progress=False, log=lambda m: None)
    checks = verify_deep(tmp_path / "b", data)  # the whole training set given: its base share is drawn again
    assert [c.name for c in checks if not c.ok] == []
    variants = next(c for c in checks if c.name == "deep: the variants' runs")
    assert "checked from their predictions only" in variants.detail


def test_a_variant_run_json_naming_another_variant_is_caught(study):
    path = study / "variants" / "longer" / "vit" / "seed-42" / "run.json"
    info = json.loads(path.read_text())
    info["variant"] = "no-augment"
    path.write_text(json.dumps(info))
    write_manifest(study)
    assert failed(study) == ["variant longer: run.json names the variant of its folder"]


@pytest.mark.parametrize("key", ["variant.no-augment.drop_difference.p", "vit.end_slope.val_acc",
                                 "variant.no-augment.cnn.drop_pts.mean"])
def test_an_experiment_number_edited_in_the_report_is_caught(study, key):
    html = study / "report.html"
    text = html.read_text()
    marker = f'data-metric="{key}"'
    start = text.index(">", text.index(marker)) + 1
    html.write_text(text[:start] + "12.34" + text[text.index("<", start):])
    write_manifest(study)
    assert failed(study) == ["report.html: numbers equal those recomputed from the predictions and probabilities"]


def test_a_variant_whose_runs_were_removed_is_caught(study):
    shutil.rmtree(study / "variants" / "longer")
    write_manifest(study)
    # The report still counts the removed variant's runs too: its numbers no longer follow from the bundle.
    assert failed(study) == ["every variant of config.yaml has its runs",
                             "report.html: numbers equal those recomputed from the predictions and probabilities"]
