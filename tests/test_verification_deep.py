"""verification.deep: --deep catches what only the weights can show (consistently forged predictions and labels),
within tolerances that follow from how each run was computed; the data comes from the user, never the bundle."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import reportgen.data
import reportgen.evaluate
import reportgen.image_folder
import reportgen.report
from reportgen.bundle import Bundle, RunData, write_json, write_manifest, write_predictions
from reportgen.cli import main
from reportgen.config import DataConfig
from reportgen.config_loading import config_from_dict
from reportgen.errors import DataError
from reportgen.metrics import compute_metrics
from reportgen.verification import DEEP, deep_data_config, tolerance_for, verify_deep
from reportgen.verification.deep import prediction_checks
from tests.bundle_factory import make_bundle
from tests.conftest import tiny_config, tiny_data
from tests.test_evaluate import evaluated_bundle, stand_in_report
from tests.verification_helpers import failed, render_stand_in

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
    assert {c.kind for c in checks} == {DEEP}


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


def test_a_config_describing_a_huge_model_fails_one_check_before_the_model_is_built(deep):
    import yaml

    root, data = deep
    raw = yaml.safe_load((root / "config.yaml").read_text())
    raw["cnn"]["hidden_dim"] = 500_000_000  # a 2 GB head, were it built
    (root / "config.yaml").write_text(yaml.safe_dump(raw))
    write_manifest(root)
    (check,) = [c for c in verify_deep(root, data) if not c.ok]
    assert check.name == "deep: cnn seed 42: the model config.yaml describes is within the bounds of a deep check"
    assert "parameters, over the 50,000,000 reportgen re-runs; not built" in check.detail


def test_a_vit_of_one_pixel_patches_is_over_the_flops_bound():
    from reportgen.config_loading import load_config
    from reportgen.models import model_cost, size_problem

    config = load_config()
    assert model_cost("vit", config, 10) == (1_205_898, 167_122_432)  # the original study's ViT, counted on meta
    config.vit.patch_size = 1  # 1,025 tokens
    assert "GFLOPs per image, over the 1" in size_problem("vit", config, 10)


def test_other_data_is_refused_in_one_line(deep):
    root, _ = deep
    with pytest.raises(DataError, match="has dataset fingerprint .* but .* records"):
        verify_deep(root, tiny_data(seed=1))


def test_the_cli_runs_the_deep_checks_and_refuses_other_data(deep, monkeypatch):
    root, data = deep
    monkeypatch.setattr(reportgen.data, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.image_folder, "check_data_source", lambda cfg: None)  # the data is given above
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
    preds_check, probs_check = prediction_checks("x", run, fresh, tolerance_for(run))
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


def test_deep_verification_of_a_study_trained_on_a_share_of_the_training_images(tmp_path, monkeypatch):
    import reportgen.build as build_module
    from reportgen.runtime import resolve_runtime

    data = tiny_data()
    monkeypatch.setattr(build_module, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    raw = tiny_config(epochs=1).to_dict()
    raw["data"]["train_fraction"] = 0.5
    raw["variants"] = {"plain": {"augment.enabled": False}}
    config = config_from_dict(raw)
    build_module.build(config, resolve_runtime(config), tmp_path / "b", tmp_path / "runs", progress=False,
                       log=lambda m: None)
    checks = verify_deep(tmp_path / "b", data)  # the whole training set given: its base share is drawn again
    assert [c.name for c in checks if not c.ok] == []
    variants = next(c for c in checks if c.name == "deep: the variants' runs")
    assert "checked from their predictions only" in variants.detail
