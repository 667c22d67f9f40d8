"""Training: exact epoch metrics, the learning-rate schedule, resume after an interruption, the choice
of device and precision, sync-free steps, compilation without recompiles, and one-off epoch costs."""

import functools
import inspect
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

import reportgen.training as training
from reportgen.data import normalize
from reportgen.models import create_model
from reportgen.runtime import Runtime
from tests.conftest import tiny_config

CPU = Runtime("cpu", "32", False)  # the tests' runtime: tiny_config trains in fp32 on the CPU


def train(name, data, config, tmp_path, seed=42, callbacks=()):
    pl.seed_everything(seed, verbose=False)
    model = create_model(name, config, len(data.classes))
    return training.fit(model, data, config, CPU, seed, tmp_path / "ckpt", name, progress=False, callbacks=callbacks)


@pytest.mark.parametrize("name", ["cnn", "vit"])
def test_validation_metrics_are_exact_over_the_epoch(name, data, tmp_path):
    # 30 test images in batches of 16: a mean of batch means would weigh the last 14 images wrongly.
    config = tiny_config(epochs=1)
    result = train(name, data, config, tmp_path)
    model = result.model.eval()
    with torch.no_grad():
        logits = model(normalize(data.test_x, config.data.mean, config.data.std))
    row = result.history[-1]
    assert row["val_loss"] == pytest.approx(F.cross_entropy(logits, data.test_y).item(), rel=1e-5)
    assert row["val_acc"] == pytest.approx((logits.argmax(1) == data.test_y).float().mean().item())


def test_history_has_every_epoch_with_the_cosine_learning_rate(data, tmp_path):
    config = tiny_config(epochs=4, lr=0.01)
    history = train("cnn", data, config, tmp_path).history
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    expected = [0.005 * (1 + torch.cos(torch.tensor(torch.pi * e / 4))).item() for e in range(4)]
    assert [h["lr"] for h in history] == pytest.approx(expected)
    assert all(0 <= h["train_acc"] <= 1 and h["epoch_time_s"] > 0 for h in history)


def test_every_epoch_records_the_other_load_and_run_json_gets_one_per_epoch(data, tmp_path):
    history = train("cnn", data, tiny_config(epochs=2), tmp_path).history
    loads = [h["other_load_cores"] for h in history]
    assert len(loads) == 2 and all(v is None or v >= 0 for v in loads)
    assert training.epoch_loads(history) == {"epoch_other_load_cores": loads}
    assert training.epoch_loads([{"epoch": 1}]) == {"epoch_other_load_cores": [None]}  # a checkpoint from before


def test_warmup_rises_linearly_then_the_cosine_decays_over_the_remaining_epochs(data, tmp_path):
    config = tiny_config(epochs=5, lr=0.01, warmup_epochs=2)
    history = train("cnn", data, config, tmp_path).history
    cosine = [0.005 * (1 + torch.cos(torch.tensor(torch.pi * e / 3))).item() for e in range(3)]
    assert [h["lr"] for h in history] == pytest.approx([0.01 / 3, 0.02 / 3, *cosine])


def test_the_training_loss_smooths_labels_and_takes_mixed_targets_but_validation_never_smooths(data):
    config = tiny_config(label_smoothing=0.2)
    module = training.Classifier(create_model("cnn", config, 4), config, seed=0, num_classes=4)
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    mixed = 0.7 * F.one_hot(labels, 4).float() + 0.3 * F.one_hot(labels.roll(1), 4).float()
    assert module._score(logits, mixed, "train", 0.2) == pytest.approx(
        F.cross_entropy(logits, mixed, label_smoothing=0.2).item())
    module._sums = {"train": torch.zeros(3, dtype=torch.float64)}
    module._score(logits, mixed, "train", 0.2)
    assert module._sums["train"][1] == (logits.argmax(1) == labels).sum()  # accuracy against the larger label
    batch = (data.test_x[:8], data.test_y[:8])
    module.eval()  # no dropout: the two evaluations below must see the same network
    module._sums = {"val": torch.zeros(3, dtype=torch.float64)}
    module.validation_step(batch, 0)
    x = normalize(batch[0], config.data.mean, config.data.std)
    with torch.no_grad():
        plain = F.cross_entropy(module(x), batch[1]).item()
    assert module._sums["val"][0].item() / 8 == pytest.approx(plain, rel=1e-5)


@pytest.mark.parametrize("device", ["cpu"])
def test_augmentation_and_dropout_draw_different_numbers(device):
    # The epoch seeds the global generator (dropout, the recipe's v2 transforms) and, with AUGMENT_STREAM, the
    # augmentation generator: the two must not produce the same stream.
    seed = training.epoch_seed(42, 3, 0)
    augment_rng = torch.Generator(device).manual_seed(seed ^ training.AUGMENT_STREAM)
    global_rng = torch.Generator(device).manual_seed(seed)
    assert not torch.equal(torch.rand(8, generator=augment_rng), torch.rand(8, generator=global_rng))


def test_training_learns_the_tiny_task(data, tmp_path):
    config = tiny_config(epochs=20, lr=0.01)
    history = train("cnn", data, config, tmp_path).history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_acc"] > 0.6  # chance is 0.25


def test_same_seed_same_result_different_seed_different_result(data, tmp_path):
    config = tiny_config(epochs=1)
    a = train("vit", data, config, tmp_path / "a", seed=1).history[-1]
    b = train("vit", data, config, tmp_path / "b", seed=1).history[-1]
    c = train("vit", data, config, tmp_path / "c", seed=2).history[-1]
    assert a["train_loss"] == b["train_loss"]
    assert a["train_loss"] != c["train_loss"]


class InterruptAtEpoch(pl.Callback):
    """Stands in for Ctrl-C at the start of a given epoch."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


def modern_recipe(config):
    """The modern recipe's ingredients on a tiny config: every random draw they add must resume exactly too."""
    config.augment.policy = "trivialaugment"
    config.augment.mixup_alpha, config.augment.cutmix_alpha = 0.8, 1.0
    config.train.label_smoothing, config.train.warmup_epochs = 0.1, 1
    return config


@pytest.mark.parametrize("recipe", [lambda c: c, modern_recipe], ids=["seed recipe", "modern recipe"])
def test_interrupted_run_resumes_to_the_same_result(data, tmp_path, recipe):
    config = recipe(tiny_config(epochs=4))
    straight = train("cnn", data, config, tmp_path / "straight")
    with pytest.raises(training.TrainingInterrupted) as interrupted:
        train("cnn", data, config, tmp_path / "resumed", callbacks=(InterruptAtEpoch(2),))
    assert interrupted.value.epochs_kept == 2
    assert (tmp_path / "resumed" / "ckpt" / "last.ckpt").is_file()
    with pytest.raises(training.TrainingInterrupted) as interrupted:  # at once, before the resumed epoch 3 ends
        train("cnn", data, config, tmp_path / "resumed", callbacks=(InterruptAtEpoch(2),))
    assert interrupted.value.epochs_kept == 2  # what the checkpoint it resumed from holds
    resumed = train("cnn", data, config, tmp_path / "resumed")

    def strip(history):  # what the machine measures (time, other processes' load) differs between two runs
        return [{k: v for k, v in h.items() if k not in ("epoch_time_s", "other_load_cores")} for h in history]

    assert strip(resumed.history) == strip(straight.history)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # Each fit's first epoch pays one-off costs and is timed apart: the straight run's 1, the resumed run's 1 and 3.
    assert straight.first_epochs == [1] and resumed.first_epochs == [1, 3]


def test_a_checkpoint_write_that_fails_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    io = training.AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"reportgen_history": [{}]}, target)
    before = target.read_bytes()

    def killed_mid_write(self, checkpoint, path, storage_options=None):
        Path(path).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(training.TorchCheckpointIO, "save_checkpoint", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"reportgen_history": [{}, {}]}, target)
    assert target.read_bytes() == before and io.epochs_saved == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


@pytest.mark.parametrize("precision, dtype", [("bf16-mixed", torch.bfloat16), ("32", torch.float32)])
def test_inference_runs_under_the_training_precision(precision, dtype):
    from reportgen.evaluation import predict, probe_visuals

    config = tiny_config()
    model = create_model("vit", config, 4)
    seen = []
    model.head.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    images = torch.zeros(3, 3, 32, 32, dtype=torch.uint8)
    probs = predict(model, images, config.data.mean, config.data.std, 2, precision)
    assert probs.shape == (3, 4) and seen == [dtype, dtype]
    assert probe_visuals(model, images[0], config.data.mean, config.data.std, precision)["cls_attention"].shape[0] == 2


def test_accumulators_are_float32_on_mps_only():
    assert training.accumulator_dtype("mps") == torch.float32
    assert training.accumulator_dtype("cpu") == training.accumulator_dtype("cuda") == torch.float64


def test_seed_pipeline_trains_too(data, tmp_path):
    config = tiny_config(epochs=1, pipeline="seed")
    history = train("cnn", data, config, tmp_path).history
    assert len(history) == 1 and history[0]["train_loss"] > 0


def test_compiled_training_never_recompiles_for_the_last_batch_or_evaluation(data, tmp_path, monkeypatch):
    # 52 training images in batches of 32 end with a batch of 20. (Not under 16: on CPU, oneDNN picks
    # another convolution kernel below 16 images, and that one last batch would compile once more.)
    # Dynamo's graph capture and guards are what recompiles; the eager backend skips inductor's ~30 s codegen.
    import torch._dynamo

    torch._dynamo.reset()
    monkeypatch.setattr(torch._dynamo.config, "error_on_recompile", True)
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    model = create_model("cnn", tiny_config(), len(data.classes))
    config = tiny_config(epochs=2, compile=True, batch_size=32)
    result = training.fit(model, data, config, CPU, 0, tmp_path, "cnn", progress=False)
    assert result.model is model and len(result.history) == 2
    torch._dynamo.reset()


class CountHostTensors(pl.Callback):
    """Counts tensors that reportgen's own code builds from host values (torch.tensor, as_tensor,
    from_numpy) during the second epoch: its training steps, its batches and its validation.

    Leaves out models._scaled_keep_mask: the CPU's dropout draws its masks on the host, which is its
    device; on a GPU, dropout is torch's own, drawn on the GPU (tests/test_cuda.py checks those steps).
    """

    def __init__(self, monkeypatch):
        self.monkeypatch, self.calls = monkeypatch, []

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            for name in ("tensor", "as_tensor", "from_numpy"):
                self.monkeypatch.setattr(torch, name, self._counting(getattr(torch, name)))

    def on_train_epoch_end(self, trainer, pl_module):
        self.monkeypatch.undo()

    def _counting(self, make):
        def counted(*args, **kwargs):
            caller = inspect.stack()[1]
            if "reportgen" in Path(caller.filename).parts and caller.function != "_scaled_keep_mask":
                self.calls.append(f"{caller.filename}:{caller.lineno}")
            return make(*args, **kwargs)
        return counted


@pytest.mark.parametrize("recipe", [lambda c: c, modern_recipe], ids=["seed recipe", "modern recipe"])
def test_steps_build_no_tensors_from_host_values(data, tmp_path, monkeypatch, recipe):
    counter = CountHostTensors(monkeypatch)
    result = train("cnn", data, recipe(tiny_config(epochs=2)), tmp_path, callbacks=(counter,))
    assert len(result.history) == 2 and counter.calls == []


def test_progress_writes_one_line_per_epoch_including_the_last(data, tmp_path, capsys):
    model = create_model("cnn", tiny_config(), len(data.classes))
    training.fit(model, data, tiny_config(epochs=3), CPU, 0, tmp_path, "CNN seed 0", progress=True)
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if ": train loss" in line] == [
        "CNN seed 0 epoch 1/3", "CNN seed 0 epoch 2/3", "CNN seed 0 epoch 3/3"]


def test_the_fit_wall_clock_covers_every_epoch_and_the_rest(data, tmp_path):
    result = train("cnn", data, tiny_config(epochs=2), tmp_path)
    assert result.fit_wall_time_s > sum(h["epoch_time_s"] for h in result.history) > 0
