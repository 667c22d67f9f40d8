"""Training: exact epoch metrics, the learning-rate schedule, and resume after an interruption."""

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

import reportgen.training as training
from reportgen.data import normalize
from reportgen.models import create_model
from tests.conftest import tiny_config


def train(name, data, config, tmp_path, seed=42, callbacks=()):
    pl.seed_everything(seed, verbose=False)
    model = create_model(name, config, len(data.classes))
    return training.fit(model, data, config, seed, tmp_path / "ckpt", name, progress=False, callbacks=callbacks)


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


def test_interrupted_run_resumes_to_the_same_result(data, tmp_path):
    config = tiny_config(epochs=4)
    straight = train("cnn", data, config, tmp_path / "straight")
    with pytest.raises(SystemExit):  # Lightning turns Ctrl-C into a graceful exit(1)
        train("cnn", data, config, tmp_path / "resumed", callbacks=(InterruptAtEpoch(2),))
    assert (tmp_path / "resumed" / "ckpt" / "last.ckpt").is_file()
    resumed = train("cnn", data, config, tmp_path / "resumed")

    def strip(history):
        return [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in history]

    assert strip(resumed.history) == strip(straight.history)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_precision_and_device_resolution(monkeypatch):
    assert training.resolve_device("cpu") == "cpu"
    assert training.resolve_precision("32", "cuda") == "32"
    for native, expected in ((True, "bf16-mixed"), (False, "32")):
        monkeypatch.setattr(training, "_cpu_has_native_bf16", lambda: native)
        assert training.resolve_precision("auto", "cpu") == expected


@pytest.mark.parametrize("flags, native", [
    ("fpu avx2 avx512f avx512bw avx512vl avx512dq", False),  # AVX-512 alone: bf16 would be emulated
    ("fpu avx2 avx512f avx512bw avx512_bf16 avx512_vnni", True),
    ("fpu avx512f amx_bf16 amx_tile", True),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert training._cpu_has_native_bf16(cpuinfo) is native
    assert training._cpu_has_native_bf16(tmp_path / "missing") is False


def test_seed_pipeline_trains_too(data, tmp_path):
    config = tiny_config(epochs=1, pipeline="seed")
    history = train("cnn", data, config, tmp_path).history
    assert len(history) == 1 and history[0]["train_loss"] > 0


def test_compile_option_trains_a_compiled_model_and_returns_the_plain_one(data, tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda model: compiled.append(model) or model)  # inductor takes ~30 s
    model = create_model("cnn", tiny_config(), len(data.classes))
    result = training.fit(model, data, tiny_config(epochs=1, compile=True), 0, tmp_path, "cnn", progress=False)
    assert compiled == [model]
    assert result.model is model and len(result.history) == 1


def test_progress_writes_one_line_per_epoch_including_the_last(data, tmp_path, capsys):
    model = create_model("cnn", tiny_config(), len(data.classes))
    training.fit(model, data, tiny_config(epochs=3), 0, tmp_path, "CNN seed 0", progress=True)
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if ": train loss" in line] == [
        "CNN seed 0 epoch 1/3", "CNN seed 0 epoch 2/3", "CNN seed 0 epoch 3/3"]
