"""The corruption suite made once per build (reportgen.analysis.store.SharedArrays): the same predictions as the suite
generated per model, reused by the next model and build, made in worker processes where there are cores."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from reportgen.analysis import corruptions, robustness, store
from reportgen.analysis.store import SharedArrays, made_in_parallel
from reportgen.bundle import write_json
from reportgen.models import create_model
from tests.conftest import tiny_config, tiny_data

RUN = {"device": "cpu", "precision": "32"}


@pytest.fixture
def config():
    c = tiny_config(analyses=True)
    c.analysis.corruption_images, c.analysis.corruptions = 12, ["gaussian_noise", "contrast", "pixelate"]
    c.analysis.efficiency = c.analysis.explanations = False
    return c


def test_the_shared_suite_gives_the_predictions_of_the_suite_made_per_model(config, tmp_path):
    data = tiny_data()
    for name in ("cnn", "vit"):
        model = create_model(name, config, 4)
        alone = robustness.compute(model, config, data, RUN)
        shared = robustness.compute(model, config, data, RUN, shared=SharedArrays(tmp_path / "runs"))
        assert alone.keys() == shared.keys()
        assert all(np.array_equal(alone[k], shared[k]) for k in alone), name
    assert len(list((tmp_path / "runs" / store.SHARED_FOLDER).glob("corrupted-*.npy"))) == 3 * 5  # made once


def test_a_stored_suite_is_read_not_made_again(config, tmp_path, monkeypatch):
    data, model = tiny_data(), create_model("cnn", config, 4)
    first = robustness.compute(model, config, data, RUN, shared=SharedArrays(tmp_path))

    def refuse(*args):
        raise AssertionError("the suite was made again")

    monkeypatch.setattr(corruptions, "corrupt", refuse)
    monkeypatch.setattr(robustness, "corrupt", refuse)
    again = robustness.compute(model, config, data, RUN, shared=SharedArrays(tmp_path))
    assert np.array_equal(first["preds"], again["preds"])


def test_the_key_is_the_images_and_the_suites_settings(config, tmp_path):
    data, model = tiny_data(), create_model("cnn", config, 4)
    shared = SharedArrays(tmp_path)
    robustness.compute(model, config, data, RUN, shared=shared)
    config.analysis.seed += 1  # other noise, other images
    robustness.compute(model, config, data, RUN, shared=shared)
    config.analysis.corruption_images = 13
    robustness.compute(model, config, data, RUN, shared=shared)
    assert len(list(shared.folder.iterdir())) == 3 * 3 * 5


def test_the_build_shares_the_suite_between_runs_of_one_store(config, tmp_path):
    data = tiny_data()
    for name in ("cnn", "vit"):
        run_dir = tmp_path / "runs" / f"{name}-0123"
        write_json(run_dir / "run.json", {"key": name * 32, "device": "cpu", "precision": "32",
                                          "display_name": name, "seed": 42})
        (tmp_path / name).mkdir()
        store.analyse_run(create_model(name, config, 4), config, data, run_dir, tmp_path / name, lambda m: None)
    assert len(list((tmp_path / "runs" / store.SHARED_FOLDER).iterdir())) == 3 * 5
    cnn, vit = (np.load(tmp_path / name / "robustness.npz") for name in ("cnn", "vit"))
    assert np.array_equal(cnn["indices"], vit["indices"]) and cnn["preds"].shape == vit["preds"].shape == (3, 5, 12)


@pytest.mark.e2e  # starts two real interpreters: about 10 s on a busy 2-core machine
def test_worker_processes_make_what_this_process_makes(monkeypatch):
    monkeypatch.setattr(store, "PARALLEL_MIN_CORES", 1)
    monkeypatch.setattr(store.os, "cpu_count", lambda: 2)  # two spawned workers, whatever this machine has
    images = tiny_data().test_x[:8].numpy()
    makers = [functools.partial(corruptions.corrupt, images, name, 3, 7) for name in ("shot_noise", "saturate")]
    made = list(made_in_parallel(makers))
    assert all(np.array_equal(a, make()) for a, make in zip(made, makers))
