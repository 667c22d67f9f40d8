"""Explanations: attention rollout by hand, Grad-CAM through captum, and deletion curves that measure faithfulness
(reportgen.analysis.explanations), the same occlusion for every model, and a build without captum."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import reportgen.build as build_module
from reportgen.analysis import explanations as ex
from reportgen.models import create_model
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config, tiny_data

RUN = {"device": "cpu", "precision": "32"}


def test_rollout_of_one_layer_mixes_in_the_residual():
    weights = torch.tensor([[[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]])  # one head, CLS + 2 patches
    other = torch.tensor([[[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]])
    rollout = ex.attention_rollout([torch.stack([weights[0], other[0]])[None]])  # (1, 2 heads, 3, 3)
    mean_cls = (np.array([0.2, 0.3, 0.5]) + np.array([0.6, 0.2, 0.2])) / 2
    expected = 0.5 * mean_cls + 0.5 * np.array([1, 0, 0])  # rows of 0.5 A + 0.5 I already sum to 1
    assert rollout[0].numpy() == pytest.approx(expected[1:], abs=1e-6)


def test_rollout_multiplies_the_layers_from_the_first_up():
    rng = np.random.default_rng(0)
    layers = [rng.dirichlet(np.ones(4), size=4) for _ in range(3)]  # 3 layers of one head over 4 tokens
    mixed = [0.5 * a + 0.5 * np.eye(4) for a in layers]
    expected = (mixed[2] @ mixed[1] @ mixed[0])[0, 1:]
    rollout = ex.attention_rollout([torch.tensor(a, dtype=torch.float32)[None, None] for a in layers])
    assert rollout[0].numpy() == pytest.approx(expected, abs=1e-6)


def test_the_method_follows_what_the_model_can_do():
    config = tiny_config()
    assert ex.explanation_method(create_model("cnn", config, 4)) == ex.GRAD_CAM
    assert ex.explanation_method(create_model("vit", config, 4)) == ex.ROLLOUT
    assert ex.explanation_method(nn.Linear(3, 4)) is None


def test_the_chosen_images_are_the_first_of_each_class():
    labels = np.array([2, 0, 0, 1, 2, 0, 1])
    assert ex.chosen_images(labels, 3, 2).tolist() == [1, 2, 3, 6, 0, 4]
    assert ex.chosen_images(labels, 3, 1).tolist() == [1, 3, 0]


def test_occlusion_removes_the_patches_in_their_order():
    x = torch.ones(1, 3, 32, 32)
    orders = np.array([[3, 0, 1, 2]])  # a 2 x 2 grid: patch 3 (bottom right) first
    out = ex.occluded(x, orders, ex.deletion_cuts(4, 2), grid=2)  # 0, 2, 4 patches occluded
    assert out.shape == (3, 3, 32, 32)
    assert out[0].min() == 1
    assert out[1, :, 16:, 16:].max() == 0 and out[1, :, :16, :16].max() == 0 and out[1, :, :16, 16:].min() == 1
    assert out[2].max() == 0


class CornerModel(nn.Module):
    """Class 0's logit is the mean of the top-left 16 x 16 pixels: only that patch (of a 2 x 2 grid) matters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, :, :16, :16].mean(dim=(1, 2, 3))
        return torch.stack([4 * corner, torch.zeros_like(corner)], dim=1)


def test_a_deletion_curve_falls_when_the_patch_the_model_uses_goes():
    x, labels = torch.ones(1, 3, 32, 32), torch.tensor([0])
    faithful = ex.deletion_curve(CornerModel(), x, labels, np.array([[0, 1, 2, 3]]), steps=4, grid=2, batch_size=8)
    unfaithful = ex.deletion_curve(CornerModel(), x, labels, np.array([[3, 2, 1, 0]]), steps=4, grid=2, batch_size=8)
    clean = torch.softmax(torch.tensor([4.0, 0.0]), 0)[0].item()
    assert faithful[0] == pytest.approx([clean, 0.5, 0.5, 0.5, 0.5])
    assert unfaithful[0] == pytest.approx([clean, clean, clean, clean, 0.5])
    assert np.trapezoid(faithful[0]) < np.trapezoid(unfaithful[0])


def test_random_orders_are_the_same_for_every_model_and_differ_per_image():
    indices = np.array([5, 9])
    first = ex.random_orders(indices, 16, seed=0, repeat=0)
    assert np.array_equal(first, ex.random_orders(indices, 16, seed=0, repeat=0))
    assert not np.array_equal(first[0], first[1]) and sorted(first[0]) == list(range(16))
    assert not np.array_equal(first, ex.random_orders(indices, 16, seed=0, repeat=1))


@pytest.mark.parametrize("name, method, side", [("cnn", ex.GRAD_CAM, 16), ("vit", ex.ROLLOUT, 4)])
def test_compute_stores_maps_and_curves_on_the_same_images(name, method, side):
    config, data = tiny_config(), tiny_data()
    config.analysis.explanation_images = 2
    result = ex.compute(create_model(name, config, 4), config, data, RUN)
    m, steps = 8, config.analysis.deletion_steps  # 2 images of each of the 4 classes
    assert str(result["method"]) == method
    assert result["indices"].tolist() == ex.chosen_images(data.test_y.numpy(), 4, 2).tolist()
    assert result["saliency"].shape == (m, side, side) and result["grid_saliency"].shape == (m, 8, 8)
    assert result["deletion"].shape == result["random_deletion"].shape == (m, steps + 1)
    assert result["fractions"][0] == 0 and result["fractions"][-1] == 1
    assert np.array_equal(result["images"], data.test_x[result["indices"]].numpy())
    # the first point is the intact image: the same probability whichever order follows
    assert result["deletion"][:, 0] == pytest.approx(result["random_deletion"][:, 0], abs=1e-6)
    assert all(v.dtype != object for v in result.values())


def test_occlusion_attributes_the_patch_the_model_uses():
    x, labels = torch.ones(2, 3, 32, 32), torch.tensor([0, 0])
    maps = ex.occlusion_maps(CornerModel(), x, labels, grid=2)
    assert maps.shape == (2, 2, 2)
    assert maps[:, 0, 0].min() > 0 and maps[:, 0, 1:].abs().max() == 0 and maps[:, 1].abs().max() == 0
    assert ex.salient_first(maps)[:, 0].tolist() == [0, 0]  # the top-left patch goes first


@pytest.mark.parametrize("name", ["cnn", "vit"])
def test_compute_adds_the_same_occlusion_for_every_model(name):
    config, data = tiny_config(), tiny_data()
    config.analysis.explanation_images = 1
    result = ex.compute(create_model(name, config, 4), config, data, RUN)
    points = config.analysis.deletion_steps + 1
    assert result["occlusion_saliency"].shape == (4, 8, 8) and result["occlusion_deletion"].shape == (4, points)
    assert "skipped" not in result


def without_captum(monkeypatch):
    """Make `import captum` (and its submodules) fail, as on a machine without it."""
    for module in ("captum", "captum.attr"):
        monkeypatch.setitem(sys.modules, module, None)


def test_without_captum_compute_leaves_out_what_needs_it_and_says_so(monkeypatch):
    without_captum(monkeypatch)
    config, data = tiny_config(), tiny_data()
    config.analysis.explanation_images = 1
    cnn = ex.compute(create_model("cnn", config, 4), config, data, RUN)
    vit = ex.compute(create_model("vit", config, 4), config, data, RUN)
    assert str(cnn["skipped"]) == str(vit["skipped"]) == ex.CAPTUM_MISSING
    assert not {"saliency", "deletion", "occlusion_saliency", "occlusion_deletion"} & set(cnn)
    assert {"saliency", "deletion"} <= set(vit) and "occlusion_deletion" not in vit  # rollout needs no captum
    assert ex.settings(config, "cpu")["captum"] is False  # installing captum later recomputes what was skipped


def test_without_captum_the_build_goes_on_and_the_report_says_what_was_skipped(tmp_path, monkeypatch):
    without_captum(monkeypatch)
    monkeypatch.setattr(build_module, "load_data", lambda cfg: tiny_data())
    config = tiny_config(epochs=1)
    config.analysis.explanations, config.analysis.explanation_images = True, 1
    build_module.build(config, resolve_runtime(config), tmp_path / "bundle", tmp_path / "runs", progress=False,
                       log=lambda message: None)
    stored = np.load(tmp_path / "bundle" / "runs" / "cnn" / "seed-42" / "explanations.npz")
    assert str(stored["skipped"]) == ex.CAPTUM_MISSING
    html = (tmp_path / "bundle" / "report.html").read_text()
    assert "CNN: Grad-CAM skipped: captum not installed." in html and 'id="explanations"' in html
