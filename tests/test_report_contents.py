"""The bundle read once into the report's contents, and the per-model facts sections share."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.bundle import Bundle
from reportgen.report.common import accuracy_lead
from reportgen.report.contents import generalisation_gap, model_facts, read_contents
from tests.bundle_factory import make_bundle


def test_generalisation_gap_reads_the_final_epoch():
    history = {"train_acc": np.array([0.5, 0.9]), "val_acc": np.array([0.5, 0.8]),
               "train_loss": np.array([1.5, 0.3]), "val_loss": np.array([1.0, 1.1])}
    gap = generalisation_gap(history)
    assert gap.acc_gap_pts == pytest.approx(10.0)
    assert gap.loss_gap == pytest.approx(0.8)
    assert gap.val_loss_rise_pct == pytest.approx(10.0)


def test_model_facts_match_the_bundle(tmp_path):
    report = read_contents(make_bundle(tmp_path / "b"))
    cnn, vit = report.facts["cnn"], report.facts["vit"]
    (cnn_run,), (vit_run,) = report.runs["cnn"], report.runs["vit"]
    assert cnn.accuracy.mean.value == pytest.approx(100 * cnn_run.metrics["accuracy"])
    ahead = accuracy_lead(cnn, vit)
    assert ahead.winner is cnn
    assert ahead.margin.value == pytest.approx(100 * (cnn_run.metrics["accuracy"] - vit_run.metrics["accuracy"]))
    epochs = len(cnn_run.history["epoch"])
    assert cnn.training.images_per_s.mean.value == pytest.approx(
        report.dataset["train_size"] * epochs / cnn_run.info["train_time_s"])
    assert cnn.training.epoch_time.mean.value == pytest.approx(cnn_run.info["train_time_s"] / epochs)
    assert cnn.parameters.value == report.architectures["cnn"]["parameters"]


def test_every_run_file_is_read_once(tmp_path, monkeypatch):
    calls: list[str] = []
    original = Bundle._read_run

    def counting(self, model, seed, variant=None):
        calls.append(f"{model}/seed-{seed}")
        return original(self, model, seed, variant)

    monkeypatch.setattr(Bundle, "_read_run", counting)
    report = read_contents(make_bundle(tmp_path / "b", seeds=(1, 2)))
    report.visuals("cnn"), report.visuals("cnn"), report.facts, report.epochs
    assert sorted(calls) == ["cnn/seed-1", "cnn/seed-2", "vit/seed-1", "vit/seed-2"]


def test_runs_without_history_have_no_training_facts(tmp_path):
    report = read_contents(make_bundle(tmp_path / "b"))
    for run in report.runs["vit"]:
        run.history = None  # as a run evaluated from given weights reads
    facts = model_facts("vit", report.runs["vit"], report.dataset, 1, report.rules)
    assert facts.training is None and facts.accuracy.mean.value > 0
