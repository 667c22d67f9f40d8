"""CUDA: precision choice, sync-free steps (the modern recipe's too), compilation, a short fit, exact resume with
train.deterministic, and the benchmark. Skipped where no CUDA GPU is visible (scripts/gpu-check runs them)."""

import functools

import pytest
import pytorch_lightning as pl
import torch

from reportgen import loaders, runtime, training
from reportgen.data import TensorBatches
from reportgen.models import create_model
from tests.conftest import tiny_config, tiny_data
from tests.test_training import InterruptAtEpoch, modern_recipe

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")]


def cuda_config(**train):
    """tiny_config on the GPU, at the precision `auto` picks there unless `train` names one."""
    return tiny_config(**{"device": "cuda", "precision": "auto", **train})


def fit(name, config, path, callbacks=(), seed=42):
    import pytorch_lightning as pl

    data = tiny_data()
    pl.seed_everything(seed, verbose=False)
    model = create_model(name, config, len(data.classes))
    return training.fit(model, data, config, runtime.resolve_runtime(config), seed, path, name, progress=False,
                        callbacks=callbacks)


def test_auto_precision_is_native_on_this_gpu():
    major, _ = torch.cuda.get_device_capability()
    expected = "bf16-mixed" if major >= 8 else "16-mixed" if major >= 7 else "32"
    assert runtime.resolve_precision("auto", "cuda") == expected


@pytest.mark.parametrize("recipe", [lambda c: c, modern_recipe], ids=["seed recipe", "modern recipe"])
@pytest.mark.parametrize("name", ["cnn", "vit"])
def test_training_and_validation_steps_never_wait_for_the_gpu(name, recipe):
    config = recipe(cuda_config(batch_size=16))
    precision = runtime.resolve_precision("auto", "cuda")
    data = tiny_data()
    classes = len(data.classes)
    module = training.Classifier(create_model(name, config, classes), config, seed=0, num_classes=classes).cuda()
    module._augment_rng = torch.Generator(device="cuda").manual_seed(0)
    module._sums = {split: torch.zeros(3, device="cuda", dtype=torch.float64) for split in ("train", "val")}
    optimizer = module.configure_optimizers()["optimizer"]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "16-mixed")
    train_set = TensorBatches(data.train_x.cuda(), data.train_y.cuda())
    batches = loaders.DeviceBatches(lambda: loaders.epoch_order(len(train_set), 0, 0), len(train_set), 16,
                                    train_set.device)

    def epoch():
        for indices in batches:
            with runtime.autocast("cuda", precision):
                loss = module.training_step(train_set[indices], 0)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        module.eval()
        with torch.no_grad(), runtime.autocast("cuda", precision):
            module.validation_step(train_set[torch.arange(16, device="cuda")], 0)
        module.train()

    epoch()  # the first pass makes the cached constants and the optimizer's state
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        epoch()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert module._sums["train"][2].item() == 2 * len(train_set)


def test_the_modern_recipe_resumes_bit_identically_on_the_gpu(tmp_path):
    config = modern_recipe(cuda_config(epochs=3, deterministic=True))
    straight = fit("vit", config, tmp_path / "straight")
    with pytest.raises(training.TrainingInterrupted):
        fit("vit", config, tmp_path / "resumed", callbacks=(InterruptAtEpoch(1),))
    resumed = fit("vit", config, tmp_path / "resumed")
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]


class DeviceRecorder(pl.Callback):
    """The devices of the module's parameters and of each training batch, recorded while training: Lightning's
    teardown moves the module back to the CPU after fit, so the module's device afterwards proves nothing."""

    def __init__(self):
        self.parameters, self.batches = set(), set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.parameters.add(next(pl_module.parameters()).device.type)
        self.batches.add(batch[0].device.type)


def test_a_short_fit_on_the_gpu(tmp_path):
    recorder = DeviceRecorder()
    result = fit("vit", cuda_config(epochs=2), tmp_path, callbacks=(recorder,))
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert all(0 < h["train_loss"] < 10 for h in result.history)
    assert recorder.parameters == {"cuda"} and recorder.batches == {"cuda"}


def test_tf32_follows_the_config_at_precision_32(tmp_path):
    fit("cnn", cuda_config(epochs=1, precision="32"), tmp_path / "a")
    assert torch.get_float32_matmul_precision() == "high"
    fit("cnn", cuda_config(epochs=1, precision="32", tf32=False), tmp_path / "b")
    assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize("name", ["cnn", "vit"])
def test_deterministic_resume_is_bit_identical(name, tmp_path):
    config = cuda_config(epochs=3, deterministic=True)
    straight = fit(name, config, tmp_path / "straight")
    with pytest.raises(training.TrainingInterrupted):
        fit(name, config, tmp_path / "resumed", callbacks=(InterruptAtEpoch(1),))
    resumed = fit(name, config, tmp_path / "resumed")

    def strip(history):
        return [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in history]

    assert strip(resumed.history) == strip(straight.history)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_compiled_training_never_recompiles_on_the_gpu(tmp_path, monkeypatch):
    import torch._dynamo

    torch._dynamo.reset()
    monkeypatch.setattr(torch._dynamo.config, "error_on_recompile", True)
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    result = fit("cnn", cuda_config(epochs=2, compile=True, batch_size=32), tmp_path)  # last batch: 20 images
    assert len(result.history) == 2
    torch._dynamo.reset()


def test_the_benchmark_runs_on_the_gpu_and_judges_no_cpu_goal():
    from reportgen.bench import run_benchmark
    from reportgen.config import Config

    config = Config()
    config.train.device = "cuda"
    result = run_benchmark(config, runtime.resolve_runtime(config), quick=True, log=lambda line: None)
    assert result["machine"]["device"] == "cuda"
    assert all(row["goal_met"] is None for row in result["measurements"].values())
    assert all(row["reportgen"]["images_per_s"] > 0 for row in result["measurements"].values())
