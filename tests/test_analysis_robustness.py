"""Predictions on the corruption suite (reportgen.analysis.robustness) and the run store of every analysis
(reportgen.analysis.store): computed once per run and settings, reused, switched off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.analyses import ANALYSES
from reportgen.analysis import robustness, store
from reportgen.analysis.corruptions import SEVERITIES, corrupt, image_subset
from reportgen.bundle import write_json
from reportgen.evaluation import predict
from reportgen.models import create_model
from tests.conftest import tiny_config, tiny_data

RUN = {"device": "cpu", "precision": "32"}


@pytest.fixture
def config():
    c = tiny_config(analyses=True)  # analyse_run computes only what analysis.* switches on
    c.analysis.corruption_images, c.analysis.corruptions = 12, ["gaussian_noise", "contrast"]
    c.analysis.timing_repeats, c.analysis.explanation_images = 5, 1
    return c


def test_predictions_cover_every_corruption_and_severity_of_the_same_images(config):
    data = tiny_data()
    model = create_model("cnn", config, 4)
    result = robustness.compute(model, config, data, RUN)
    indices = image_subset(len(data.test_y), 12, config.analysis.seed)
    assert np.array_equal(result["indices"], indices) and np.array_equal(result["labels"], data.test_y[indices])
    assert result["preds"].shape == (2, len(SEVERITIES), 12)
    assert result["corruptions"].tolist() == ["gaussian_noise", "contrast"]
    assert result["families"].tolist() == ["noise", "digital"]
    images = data.test_x[indices].numpy()
    contrast_4 = predict(model, torch.from_numpy(corrupt(images, "contrast", 4, config.analysis.seed)),
                         config.data.mean, config.data.std, 1000, "32").argmax(axis=1)
    assert np.array_equal(result["preds"][1, 3], contrast_4)
    clean = predict(model, data.test_x[indices], config.data.mean, config.data.std, 1000, "32").argmax(axis=1)
    assert np.array_equal(result["clean_preds"], clean)
    again = robustness.compute(model, config, data, RUN)
    assert all(np.array_equal(result[k], again[k]) for k in result)


@pytest.fixture
def run_dir(tmp_path, config):
    folder = tmp_path / "runs" / "cnn-0123"
    write_json(folder / "run.json", {"key": "k" * 64, "device": "cpu", "precision": "32", "display_name": "CNN",
                                     "seed": 42})
    return folder


def analyse(config, run_dir, target, model=None):
    target.mkdir(parents=True, exist_ok=True)
    messages = []
    store.analyse_run(model or create_model("cnn", config, 4), config, tiny_data(), run_dir, target, messages.append)
    return messages


def test_each_analysis_is_computed_once_and_copied_into_the_bundle(config, run_dir, tmp_path):
    first = analyse(config, run_dir, tmp_path / "b1")
    assert [m.split(": ")[1] for m in first] == ["efficiency computed on cpu", "robustness computed on cpu",
                                                  "explanations computed on cpu"]
    assert sorted(p.name for p in (tmp_path / "b1").iterdir()) == sorted(a.filename for a in ANALYSES.values())
    again = analyse(config, run_dir, tmp_path / "b2")
    assert all("reused" in m for m in again)
    for name in (a.filename for a in ANALYSES.values()):
        assert (tmp_path / "b1" / name).read_bytes() == (tmp_path / "b2" / name).read_bytes()


def test_changing_one_analysis_recomputes_only_it(config, run_dir, tmp_path):
    analyse(config, run_dir, tmp_path / "b1")
    config.analysis.corruption_images = 20
    config.report.alpha = 0.01  # a report setting is in no analysis key
    messages = analyse(config, run_dir, tmp_path / "b2")
    assert [m.split(": ")[1].split(" ")[:2] for m in messages] == [["efficiency", "reused"],
                                                                    ["robustness", "computed"],
                                                                    ["explanations", "reused"]]


def test_a_switched_off_analysis_is_neither_computed_nor_copied(config, run_dir, tmp_path):
    config.analysis.efficiency = config.analysis.explanations = False
    messages = analyse(config, run_dir, tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["robustness.npz"] and len(messages) == 1
    config.analysis.explanations = True  # switched on later: computed now, robustness reused
    messages = analyse(config, run_dir, tmp_path / "b2")
    assert ["robustness reused" in messages[0], "explanations computed" in messages[1]] == [True, True]


def test_an_analysis_that_does_not_apply_is_recorded_and_not_copied(config, run_dir, tmp_path):
    config.analysis.efficiency = config.analysis.robustness = False

    class Plain(torch.nn.Module):  # no attention weights, no convolutional last stage
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3 * 32 * 32, 4)

        def forward(self, x):
            return self.linear(x.flatten(1))

    analyse(config, run_dir, tmp_path / "b", Plain())
    assert not list((tmp_path / "b").iterdir())
    assert [p.suffix for p in (run_dir / "analysis").iterdir()] == [".none"]
    assert "reused" in analyse(config, run_dir, tmp_path / "b2", Plain())[0]


def test_the_key_depends_on_the_run_the_analysis_and_its_settings():
    key = store.analysis_key("run-a", "robustness", {"images": 10})
    assert key == store.analysis_key("run-a", "robustness", {"images": 10})
    assert len({key, store.analysis_key("run-b", "robustness", {"images": 10}),
                store.analysis_key("run-a", "explanations", {"images": 10}),
                store.analysis_key("run-a", "robustness", {"images": 11})}) == 4
