"""evaluate: weights trained elsewhere (the seed notebook's classes or reportgen's) become a complete bundle;
weights that are not a plain state dict, or do not fit the architecture, are one line and exit code 2."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import reportgen.evaluate as evaluate_module
import reportgen.report
from reportgen.bundle import Bundle
from reportgen.cli import main
from reportgen.config import Config
from reportgen.data import ImageData
from reportgen.evaluate import evaluate
from reportgen.metrics import compute_metrics
from reportgen.runtime import resolve_runtime
from reportgen.verification import RebuiltReport, verify_bundle
from tests import notebook_models
from tests.bundle_factory import CIFAR10_CLASSES
from tests.conftest import tiny_config


def ten_class_data(n_train: int = 20, n_test: int = 40, seed: int = 0) -> ImageData:
    """Random 32x32 images of the ten CIFAR-10 classes: what the notebook's 10-way models need."""
    g = torch.Generator().manual_seed(seed)
    classes = list(CIFAR10_CLASSES)

    def split(n):
        y = torch.arange(n) % len(classes)
        return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), y

    return ImageData(*split(n_train), *split(n_test), classes, "ten random classes", f"ten-classes-{seed}")


def stand_in_report(root: Path, pdf: bool = True) -> list[Path]:
    """A fast stand-in for the report: a report.html that shows every number the real report shows, as it shows
    them, without drawing a figure (the grading tests render dozens of bundles): the report verify rebuilds."""
    rebuilt = RebuiltReport(Bundle(root, require_complete=False))
    spans = [f'<span class="metric" data-metric="{m.key}" data-unit="{m.unit}">{m.text}</span>'
             for m in rebuilt.metrics.values()]
    (root / "report.html").write_text("<html><body>" + " ".join(spans) + "</body></html>")
    return [root / "report.html"]


def save_weights(folder: Path, config: Config, num_classes: int, seed: int = 0) -> dict[str, Path]:
    """State dicts of freshly initialised reportgen models of `config`, one file per model."""
    from reportgen.models import create_model

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for model in config.models:
        files[model] = folder / f"{model}.pt"
        torch.save(create_model(model, config, num_classes).state_dict(), files[model])
    return files


@pytest.fixture
def offline(monkeypatch):
    """evaluate on tiny data with the stand-in report; returns a setter for the data it loads."""
    state = {"data": ten_class_data()}
    monkeypatch.setattr(evaluate_module, "load_data", lambda cfg: state["data"])
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    return state


def evaluated_bundle(root: Path, config: Config, data: ImageData, seed: int = 0) -> Path:
    """A bundle evaluated from freshly initialised weights (fp32 on the CPU), with the stand-in report."""
    weights = save_weights(root.parent / f"{root.name}-weights", config, len(data.classes), seed)
    evaluate(weights, config, resolve_runtime(config), root, log=lambda message: None)
    return root


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for needle in needles:
        assert needle in result.output, result.output


# ---------------------------------------------------------------- the bundle


@pytest.fixture
def notebook_bundle(tmp_path, offline):
    """The seed notebook's own CNN and ViT, saved and evaluated (fp32 on the CPU)."""
    torch.manual_seed(0)
    files = {"cnn": tmp_path / "cnn.pt", "vit": tmp_path / "vit.pt"}
    torch.save(notebook_models.CNN().state_dict(), files["cnn"])
    torch.save(notebook_models.ViT().state_dict(), files["vit"])
    config = Config()
    config.train.precision, config.train.device, config.report.sample_index = "32", "cpu", 3
    runs = evaluate(files, config, resolve_runtime(config), tmp_path / "bundle", log=lambda message: None)
    return tmp_path / "bundle", files, runs, offline["data"]


def test_notebook_weights_evaluate_into_a_complete_bundle(notebook_bundle):
    root, files, runs, data = notebook_bundle
    for name in ("manifest.json", "config.yaml", "environment.json", "dataset.json", "architectures.json",
                 "samples.npz", "report.html"):
        assert (root / name).is_file(), name
    bundle = Bundle(root)
    assert bundle.models() == ["cnn", "vit"]
    assert bundle.dataset()["fingerprint"] == data.fingerprint
    assert set(bundle.visuals("cnn", 42)) == {"stage_1", "stage_2", "stage_3"}
    assert bundle.visuals("vit", 42)["cls_attention"].shape == (4, 8, 8)
    assert bundle.architectures()["cnn"]["parameters"] == 1_353_136  # the seed notebook's CNN
    assert [c.name for c in verify_bundle(bundle) if not c.ok] == []
    assert [r.model for r in runs] == ["cnn", "vit"]


def test_an_evaluated_run_says_where_its_weights_came_from_and_has_no_history(notebook_bundle):
    root, files, runs, data = notebook_bundle
    for model, file in files.items():
        folder = root / "runs" / model / "seed-42"
        info = json.loads((folder / "run.json").read_text())
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        assert info["origin"] == "evaluated" and info["status"] == "evaluated"
        assert info["weights_sha256"] == digest and info["weights_source"] == f"{model}.pt"
        assert "train_time_s" not in info and "epochs" not in info
        assert (folder / "weights.pt").read_bytes() == file.read_bytes()  # the very file evaluated
        assert not (folder / "history.csv").exists()
        (run,) = Bundle(root).runs(model)
        assert run.origin == "evaluated" and run.history is None


def test_evaluated_metrics_and_predictions_follow_from_the_weights(notebook_bundle):
    from reportgen.evaluation import predict
    from reportgen.models import create_model

    root, files, runs, data = notebook_bundle
    for model, file in files.items():
        (run,) = Bundle(root).runs(model)
        assert np.array_equal(run.labels, data.test_y.numpy())
        assert run.metrics == compute_metrics(run.labels, run.preds, data.classes)
        net = create_model(model, Config(), 10)
        net.load_state_dict(torch.load(file, weights_only=True))
        probs = predict(net, data.test_x, Config().data.mean, Config().data.std, 16, "32")
        assert np.array_equal(run.preds, probs.argmax(axis=1))
        np.testing.assert_allclose(run.probs, probs, atol=1e-6)


def test_the_report_says_the_weights_were_evaluated_and_leaves_out_training(tmp_path, monkeypatch):
    data = ten_class_data()
    monkeypatch.setattr(evaluate_module, "load_data", lambda cfg: data)
    config = tiny_config()
    config.models = ["cnn"]
    weights = save_weights(tmp_path / "w", config, 10)
    evaluate(weights, config, resolve_runtime(config), tmp_path / "bundle", log=lambda message: None)  # the real report
    html = (tmp_path / "bundle" / "report.html").read_text()
    assert "evaluated, not trained" in html and hashlib.sha256(weights["cnn"].read_bytes()).hexdigest() in html
    assert "curves_cnn" not in html  # no training history: no learning curves
    assert [c.name for c in verify_bundle(tmp_path / "bundle") if not c.ok] == []


def test_evaluate_replaces_a_previous_bundle_atomically(tmp_path, offline):
    config = tiny_config()
    first = evaluated_bundle(tmp_path / "b", config, offline["data"])
    before = (first / "runs/cnn/seed-42/weights.pt").read_bytes()
    evaluated_bundle(tmp_path / "b", config, offline["data"], seed=1)
    assert (first / "runs/cnn/seed-42/weights.pt").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b-weights"]  # no staging or old folders


# ---------------------------------------------------------------- weights that do not fit


@pytest.fixture
def notebook_cnn(tmp_path):
    torch.manual_seed(0)
    state = notebook_models.CNN().state_dict()
    torch.save(state, tmp_path / "cnn.pt")
    return tmp_path / "cnn.pt", state


def test_a_shape_mismatch_names_the_parameter_and_both_shapes(tmp_path, offline, notebook_cnn):
    file, _ = notebook_cnn
    result = invoke("evaluate", "--weights", f"cnn={file}", "--set", "cnn.channels=[8,16]", "--out", tmp_path / "o")
    assert_one_line_exit_2(result, "parameter 'features.0.conv1.weight' has shape (32, 3, 3, 3) in the file",
                           "(8, 3, 3, 3)", "--config or --set")
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.*"))


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s.pop("classifier.3.bias"), "has no parameter 'classifier.3.bias' (expected shape (10,))"),
    (lambda s: s.__setitem__("extra.weight", torch.zeros(2)), "unexpected parameter 'extra.weight' (shape (2,))"),
    (lambda s: s["whiten.weight"].fill_(float("nan")), "'whiten.weight' holds NaN"),
])
def test_missing_unexpected_and_broken_parameters_are_named(tmp_path, offline, notebook_cnn, edit, needle):
    file, state = notebook_cnn
    edit(state)
    torch.save(state, file)
    assert_one_line_exit_2(invoke("evaluate", "--weights", f"cnn={file}", "--out", tmp_path / "o"), needle)


def test_vit_weights_given_as_the_cnn_are_refused(tmp_path, offline):
    torch.save(notebook_models.ViT().state_dict(), tmp_path / "vit.pt")
    result = invoke("evaluate", "--weights", f"cnn={tmp_path / 'vit.pt'}", "--out", tmp_path / "o")
    assert_one_line_exit_2(result, "does not fit the CNN of the config", "no parameter 'whiten.weight'")


class WritesAFile:
    """Unpickling this would create a file: proof that code from the weights file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("make, needle", [
    (lambda path, marker: torch.save(torch.nn.Linear(2, 2), path), "would run code named in the file"),
    (lambda path, marker: torch.save({"w": WritesAFile(marker)}, path), "would run code named in the file"),
    (lambda path, marker: path.write_bytes(os.urandom(64)), "not a state dict that torch.load(weights_only=True)"),
    (lambda path, marker: path.write_bytes(b""), "not a state dict that torch.load(weights_only=True)"),
    (lambda path, marker: torch.save([torch.zeros(1)], path), "holds a list, not a state dict"),
    (lambda path, marker: torch.save({"state_dict": {"w": torch.zeros(1)}, "epoch": 3}, path),
     "is a training checkpoint"),
    (lambda path, marker: torch.save({"w": torch.zeros(1), "step": 3}, path), "entry 'step', which is not"),
    (lambda path, marker: None, "does not exist"),
])
def test_a_file_that_is_not_a_plain_state_dict_is_refused_in_one_line(tmp_path, make, needle):
    marker = tmp_path / "code-ran"
    make(tmp_path / "w.pt", marker)
    result = invoke("evaluate", "--weights", f"cnn={tmp_path / 'w.pt'}", "--out", tmp_path / "o")
    assert_one_line_exit_2(result, needle)
    assert not marker.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, needle", [
    (["--weights", "cnn"], "--weights takes MODEL=FILE"),
    (["--weights", "resnet=r.pt"], "unknown model 'resnet'"),
    (["--weights", "cnn=a.pt", "--weights", "cnn=b.pt"], "model 'cnn' twice"),
    (["--weights", "cnn=a.pt", "--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
])
def test_option_mistakes_exit_2_in_one_line(tmp_path, args, needle):
    assert_one_line_exit_2(invoke("evaluate", *args, "--out", tmp_path / "o"), needle)


def test_evaluate_explains_itself(tmp_path):
    result = invoke("evaluate", "--help")
    assert result.exit_code == 0 and "reportgen evaluate --weights cnn=" in result.output
    assert "weights_only=True" in result.output
