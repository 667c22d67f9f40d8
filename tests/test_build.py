"""Build: run keys, reuse and retraining decisions, and atomic publishing of the bundle."""

import pytest
import torch

import reportgen.build as build_module
import reportgen.executors.task as task_module
import reportgen.report
import reportgen.training as training
from reportgen.bundle import Bundle
from reportgen.config_loading import config_from_dict
from reportgen.data import training_subset
from reportgen.errors import ConfigError
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config, tiny_data


@pytest.fixture(autouse=True)
def fast_build(monkeypatch):
    """Tiny data, and a stand-in renderer: these tests are about training decisions and files."""
    monkeypatch.setattr(build_module, "load_data", lambda cfg: tiny_data())

    def render(root, pdf=True):
        (root / "report.html").write_text("<html>stand-in</html>")
        return [root / "report.html"]

    monkeypatch.setattr(reportgen.report, "render_report", render)


def run(config, tmp_path, **kwargs):
    return {(o.model, o.seed): o for o in build_module.build(
        config, resolve_runtime(config), tmp_path / "bundle", tmp_path / "runs", progress=False, log=lambda m: None,
        **kwargs)}


def test_bundle_has_every_documented_file(tmp_path):
    run(tiny_config(epochs=1), tmp_path)
    root = tmp_path / "bundle"
    for name in ("manifest.json", "config.yaml", "environment.json", "dataset.json", "architectures.json",
                 "samples.npz", "report.html"):
        assert (root / name).is_file(), name
    for model in ("cnn", "vit"):
        for name in ("run.json", "history.csv", "metrics.json", "predictions.csv", "weights.pt", "visuals.npz"):
            assert (root / "runs" / model / "seed-42" / name).is_file(), (model, name)
    bundle = Bundle(root)
    assert bundle.config() == tiny_config(epochs=1)
    assert set(bundle.manifest()["files"]) >= {"config.yaml", "runs/cnn/seed-42/predictions.csv"}
    run_data = bundle.runs("cnn")[0]
    assert run_data.metrics["accuracy"] == pytest.approx((run_data.labels == run_data.preds).mean())
    visuals = bundle.visuals("vit", 42)
    assert visuals["cls_attention"].shape == (2, 4, 4)  # 2 heads, 32/8 = 4 patches a side
    assert set(bundle.visuals("cnn", 42)) == {"stage_1", "stage_2"}
    assert not list(tmp_path.glob(".bundle.*"))  # no staging or old folders left behind


def test_weights_are_a_plain_state_dict(tmp_path):
    run(tiny_config(epochs=1), tmp_path)
    state = torch.load(tmp_path / "bundle" / "runs" / "cnn" / "seed-42" / "weights.pt", weights_only=True)
    assert "whiten.weight" in state and "classifier.3.bias" in state


def test_unchanged_config_reuses_every_run(tmp_path):
    config = tiny_config(epochs=1)
    first = run(config, tmp_path)
    second = run(config, tmp_path)
    assert {o.status for o in first.values()} == {"trained"}
    assert {o.status for o in second.values()} == {"reused"}
    assert second[("vit", 42)].accuracy == first[("vit", 42)].accuracy
    assert Bundle(tmp_path / "bundle").runs("vit")[0].info["status"] == "reused"


def test_changing_the_vit_retrains_only_the_vit(tmp_path):
    config = tiny_config(epochs=1)
    run(config, tmp_path)
    config.vit.depth = 2
    outcomes = run(config, tmp_path)
    assert outcomes[("cnn", 42)].status == "reused"
    assert outcomes[("vit", 42)].status == "trained"


def test_report_settings_never_retrain(tmp_path):
    config = tiny_config(epochs=1)
    run(config, tmp_path)
    config.report.title = "Another title"
    config.report.sample_index = 5
    config.train.num_threads = 1
    assert {o.status for o in run(config, tmp_path).values()} == {"reused"}


def test_force_retrains_everything(tmp_path):
    config = tiny_config(epochs=1)
    run(config, tmp_path)
    outcomes = run(config, tmp_path, force=True)
    assert {o.status for o in outcomes.values()} == {"trained"}
    assert "forced" in outcomes[("cnn", 42)].reason


def test_every_seed_is_a_run(tmp_path):
    config = tiny_config(epochs=1, seeds=[1, 2])
    config.models = ["cnn"]
    outcomes = run(config, tmp_path)
    assert set(outcomes) == {("cnn", 1), ("cnn", 2)}
    assert [r.seed for r in Bundle(tmp_path / "bundle").runs("cnn")] == [1, 2]


def test_a_failed_render_keeps_the_previous_bundle(tmp_path, monkeypatch):
    config = tiny_config(epochs=1)
    run(config, tmp_path)
    before = (tmp_path / "bundle" / "manifest.json").read_text()

    def broken(root, pdf=True):
        (root / "report.html").write_text("half")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(reportgen.report, "render_report", broken)
    config.report.title = "new"
    with pytest.raises(RuntimeError):
        run(config, tmp_path)
    assert (tmp_path / "bundle" / "manifest.json").read_text() == before
    assert (tmp_path / "bundle" / "report.html").read_text() == "<html>stand-in</html>"
    assert not list(tmp_path.glob(".bundle.*"))


def test_an_interrupted_build_resumes(tmp_path, monkeypatch):
    config = tiny_config(epochs=3)
    config.models = ["cnn"]
    real_fit = task_module.fit
    import pytorch_lightning as pl

    class CtrlC(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(task_module, "fit", lambda *a, **k: real_fit(*a, **k, callbacks=(CtrlC(),)))
    with pytest.raises(build_module.BuildInterrupted, match="0 completed runs, CNN seed 42 after epoch 2 of 3"):
        run(config, tmp_path)
    assert not (tmp_path / "bundle").exists() and not list(tmp_path.glob(".bundle.*"))
    monkeypatch.setattr(task_module, "fit", real_fit)
    outcome = run(config, tmp_path)[("cnn", 42)]
    assert outcome.status == "trained" and "resumed" in outcome.reason
    assert len(Bundle(tmp_path / "bundle").runs("cnn")[0].history["epoch"]) == 3


def test_sample_index_outside_the_test_split_is_refused_before_training(tmp_path):
    config = tiny_config()
    config.report.sample_index = 30  # tiny_data has 30 test images
    with pytest.raises(ConfigError, match="report.sample_index"):
        run(config, tmp_path)
    assert not (tmp_path / "runs").exists()


def test_run_json_times_the_steady_state_apart_from_the_first_epoch(tmp_path):
    config = tiny_config(epochs=3)
    config.models = ["cnn"]
    run(config, tmp_path)
    info = Bundle(tmp_path / "bundle").runs("cnn")[0].info
    history = Bundle(tmp_path / "bundle").runs("cnn")[0].history
    times = list(history["epoch_time_s"])
    assert info["train_time_s"] == pytest.approx(sum(times))  # unchanged meaning: every epoch
    assert info["warmup_epochs"] == [1]
    assert info["steady_epoch_time_s"] == pytest.approx((times[1] + times[2]) / 2)
    assert info["warmup_time_s"] == pytest.approx(max(0.0, times[0] - info["steady_epoch_time_s"]))


def test_epoch_timings_leave_out_the_first_epoch_of_every_fit():
    history = [{"epoch": e, "epoch_time_s": t} for e, t in ((1, 9.0), (2, 2.0), (3, 7.0), (4, 4.0))]
    timings = training.epoch_timings(history, [1, 3])  # resumed before epoch 3
    assert timings == {"steady_epoch_time_s": 3.0, "warmup_time_s": 10.0, "warmup_epochs": [1, 3]}
    assert training.epoch_timings(history[:1], [1]) == {"steady_epoch_time_s": None, "warmup_time_s": None,
                                                             "warmup_epochs": [1]}


def test_force_with_an_interrupted_later_run_retrains_it_from_scratch(tmp_path, monkeypatch):
    config = tiny_config(epochs=2)
    real_fit = task_module.fit
    import pytorch_lightning as pl

    class CtrlCInTheVit(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1 and type(pl_module.model).__name__ == "ViT":
                raise KeyboardInterrupt

    monkeypatch.setattr(task_module, "fit", lambda *a, **k: real_fit(*a, **k, callbacks=(CtrlCInTheVit(),)))
    with pytest.raises(build_module.BuildInterrupted, match="1 completed run, ViT seed 42 after epoch 1 of 2"):
        run(config, tmp_path)
    monkeypatch.setattr(task_module, "fit", real_fit)
    decisions = []
    monkeypatch.setattr(build_module, "share_plan", lambda actions, *sizes: decisions.extend(actions.values()))
    outcomes = run(config, tmp_path, force=True)
    assert decisions == ["train", "train"]  # decided once, before any training, the checkpoint deleted
    assert {o.status for o in outcomes.values()} == {"trained"}
    assert len(Bundle(tmp_path / "bundle").runs("vit")[0].history["epoch"]) == 2


def with_variants(config, variants):
    """`config` with `variants`, validated as a user's config would be."""
    return config_from_dict({**config.to_dict(), "variants": variants})


def run_variants(config, tmp_path, log=lambda m: None):
    return {(o.variant, o.model, o.seed): o for o in build_module.build(
        config, resolve_runtime(config), tmp_path / "bundle", tmp_path / "runs", progress=False, log=log)}


def test_every_variant_trains_every_model_at_every_seed(tmp_path):
    config = with_variants(tiny_config(epochs=1, seeds=[1, 2]), {"plain": {"augment.enabled": False},
                                                                 "half": {"data.train_fraction": 0.5}})
    outcomes = run_variants(config, tmp_path)
    assert set(outcomes) == {(v, m, s) for v in (None, "plain", "half") for m in ("cnn", "vit") for s in (1, 2)}
    assert {o.status for o in outcomes.values()} == {"trained"}
    bundle = Bundle(tmp_path / "bundle")
    assert bundle.variants() == ["plain", "half"]
    folder = tmp_path / "bundle" / "variants" / "half" / "vit" / "seed-2"
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "metrics.json", "predictions.csv", "run.json"]
    half = bundle.runs("vit", "half")[1]
    assert half.info["variant"] == "half" and half.variant == "half"
    assert half.info["train_images"] == len(training_subset(tiny_data(), 0.5, 0).train_y) < 52
    assert bundle.runs("vit")[1].info["train_images"] == 52
    assert bundle.runs("cnn", "plain")[0].info["key"] != bundle.runs("cnn")[0].info["key"]


def test_adding_a_variant_trains_only_it_and_dropping_one_trains_nothing(tmp_path):
    config = tiny_config(epochs=1)
    run_variants(with_variants(config, {"plain": {"augment.enabled": False}}), tmp_path)
    grown = run_variants(with_variants(config, {"plain": {"augment.enabled": False}, "slow": {"train.lr": 1e-4}}),
                         tmp_path)
    assert {k for k, o in grown.items() if o.status == "trained"} == {("slow", "cnn", 42), ("slow", "vit", 42)}
    shrunk = run_variants(config, tmp_path)  # a plain build shares the base runs
    assert {o.status for o in shrunk.values()} == {"reused"} and set(shrunk) == {(None, "cnn", 42), (None, "vit", 42)}
    assert Bundle(tmp_path / "bundle").variants() == [] and not (tmp_path / "bundle" / "variants").exists()


def test_a_variant_run_that_trains_as_a_base_run_shares_it(tmp_path):
    config = with_variants(tiny_config(epochs=1), {"wide": {"cnn.hidden_dim": 32}})  # the ViT trains as in the base
    outcomes = run_variants(config, tmp_path)
    assert outcomes[("wide", "cnn", 42)].status == "trained"
    shared = outcomes[("wide", "vit", 42)]
    assert shared.status == "reused" and shared.reason == "it trains exactly as ViT seed 42"
    assert shared.accuracy == outcomes[(None, "vit", 42)].accuracy
    assert len(list((tmp_path / "runs").glob("vit-*"))) == 1


def test_progress_names_the_variant_and_the_runs_left_with_the_time_left(tmp_path):
    config = with_variants(tiny_config(epochs=1), {"plain": {"augment.enabled": False}})
    first: list[str] = []
    run_variants(config, tmp_path, log=first.append)
    assert "[1/4] base config, CNN seed 42: 4 runs left to train" in first
    assert "[2/4] base config, ViT seed 42: 3 runs left to train" in first
    plain = [line for line in first if line.startswith("[3/4] variant plain, CNN seed 42: 2 runs left to train, about")]
    assert len(plain) == 1  # both models have trained once: the time left is estimated from them
    again: list[str] = []
    run_variants(config, tmp_path, log=again.append)
    assert "[4/4] variant plain, ViT seed 42: nothing left to train" in again


def test_a_variant_s_precision_is_its_own(tmp_path):
    config = with_variants(tiny_config(epochs=1), {"bf16": {"train.precision": "bf16-mixed"}})
    outcomes = run_variants(config, tmp_path)
    assert outcomes[("bf16", "cnn", 42)].status == "trained"  # not the base run: it trains in another precision
    assert Bundle(tmp_path / "bundle").runs("cnn", "bf16")[0].info["precision"] == "bf16-mixed"
    assert Bundle(tmp_path / "bundle").runs("cnn")[0].info["precision"] == "32"


def test_a_held_out_validation_split_is_validated_on_and_the_clean_accuracy_recorded(tmp_path):
    config = tiny_config(epochs=1)
    config.models = ["cnn"]
    config.data.val_fraction = 0.25
    run(config, tmp_path)
    bundle = Bundle(tmp_path / "bundle")
    (cnn,) = bundle.runs("cnn")
    # tiny_data: 13 training images per class; 3 of each held out, never trained on.
    assert bundle.dataset()["val_size"] == 12 and bundle.dataset()["train_size"] == cnn.info["train_images"] == 40
    validation, clean = cnn.info["validation"], cnn.info["clean_train"]
    assert validation["images"] == 12 and clean["images"] == clean["of"] == 40
    # Lightning validated on the held-out split: its last epoch's accuracy is the record's, the same weights' share.
    assert cnn.history["val_acc"][-1] == pytest.approx(validation["accuracy"])
    assert clean["accuracy"] == pytest.approx(clean["correct"].count("1") / 40)


def test_the_validation_split_changes_the_run_key(tmp_path):
    config = tiny_config(epochs=1)
    config.models = ["cnn"]
    run(config, tmp_path)
    config.data.val_fraction = 0.25
    assert run(config, tmp_path)[("cnn", 42)].status == "trained"
    config.data.val_fraction = 0.0
    assert run(config, tmp_path)[("cnn", 42)].status == "reused"
    assert set(Bundle(tmp_path / "bundle").runs("cnn")[0].info["clean_train"]) == {"images", "accuracy", "correct",
                                                                                   "of", "seed"}
