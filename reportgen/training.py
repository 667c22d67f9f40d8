"""Training with Lightning: one LightningModule for any registered architecture.

Epoch metrics are exact: sums of per-sample loss and correct predictions over every sample of the
epoch (reduced across processes under DDP), divided by the sample count, never a mean of batch means.

All randomness of an epoch (shuffling, augmentation, dropout) is drawn from generators seeded by
(seed, epoch, rank), so a run resumed from the checkpoint of epoch k continues as the uninterrupted
run would have. On the CPU the two are bit-identical. On CUDA that holds only with train.deterministic:
otherwise cuDNN and cuBLAS may pick kernels whose sums run in another order (cudnn.benchmark times them
afresh in every process), which changes the last bits and, over many epochs, more.

No training or validation step waits for the GPU: batches are slices of index tensors already on the
device, normalisation constants are cached there, and the epoch's sums stay there until its end. Under DDP the
processes agree every few steps whether a signal stopped one of them, one host sync each time (reportgen.ddp_sync).

Each epoch's history row also records the CPU cores other processes used during it (reportgen.machine_load),
so that the report can say whether the machine was busy while each model trained (`epoch_loads`).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn as nn
import torch.nn.functional as F
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from tqdm.auto import tqdm

from reportgen.bundle_files import atomic_output
from reportgen.config import Config
from reportgen.data import ImageData, TrainAugmentation, normalize
from reportgen.ddp_sync import AgreedStop
from reportgen.loaders import ImageDataModule, epoch_seed
from reportgen.machine_load import LoadMeter
from reportgen.runtime import Runtime, configure_backends, keep_freed_memory

# XORed into the epoch seed of the augmentation generator. Its low 32 bits matter: torch's CPU generator (a
# Mersenne Twister) is seeded from the low 32 bits only, so a pattern in the high bits alone would change nothing.
AUGMENT_STREAM = 0x5EED_A06D_9E37_79B9


def accumulator_dtype(device: torch.device | str) -> torch.dtype:
    """float64 for the epoch's metric sums; float32 on MPS, which has no float64 (exact to 2**24 samples)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


class Classifier(pl.LightningModule):
    """Trains any classifier nn.Module with cross-entropy, AdamW and a cosine schedule over the epochs.

    With train.compile, only the training forward pass is compiled, with the batch dimension marked
    dynamic: the last, smaller batch of an epoch reuses the compiled graph, and evaluation (eval-mode
    BatchNorm and dropout would be a second graph) runs eager, so nothing recompiles after the first step.
    """

    def __init__(self, model: nn.Module, config: Config, seed: int, num_classes: int):
        super().__init__()
        self.model = model
        self.config = config
        self.seed = seed
        self.fast_pipeline = config.train.pipeline == "fast"
        self.train_augmentation = TrainAugmentation(config.augment, config.data.mean, config.data.std, num_classes)
        # NHWC weights let the CPU (oneDNN) and GPU (cuDNN) convolutions skip layout conversions: given
        # NHWC weights, a convolution returns NHWC whatever its input. The input itself stays NCHW: the
        # CNN's first layer, a BatchNorm over 3 channels, is 3x slower in NHWC on a CPU.
        if config.train.channels_last and getattr(model, "prefers_channels_last", False):
            model.to(memory_format=torch.channels_last)
        # A compiled bound method, not a submodule: the checkpoint keeps the plain model's names only.
        self._train_forward = torch.compile(model.forward) if config.train.compile else model.forward
        self.history: list[dict[str, float]] = []
        # Epochs that were the first of a fit (a fresh or a resumed process): they carry one-off costs
        # (allocations, kernel selection, compilation) and are timed apart from the steady state.
        self.first_epochs: list[int] = []
        self._first_of_fit = True
        self._sums: dict[str, torch.Tensor] = {}
        self._epoch_start = 0.0
        self._epoch_load: LoadMeter | None = None
        self._epoch_lr = 0.0
        self._augment_rng: torch.Generator | None = None
        self._logged = 0  # history rows logged to the trackers (Trainer logger=)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_start(self) -> None:
        self._first_of_fit = True

    def on_train_epoch_start(self) -> None:
        # Dropout and the recipe's v2 transforms draw from the global generator, the seed's augmentation from
        # its own; both restart from (seed, epoch, rank) so that a resumed epoch repeats the uninterrupted one
        # exactly, and from different seeds, so that the two streams are not the same numbers.
        seed = epoch_seed(self.seed, self.current_epoch, self.global_rank)
        torch.manual_seed(seed)
        self._augment_rng = torch.Generator(device=self.device).manual_seed(seed ^ AUGMENT_STREAM)
        # [sum of per-sample losses, correct predictions, samples] per split, on the device
        dtype = accumulator_dtype(self.device)
        self._sums = {split: torch.zeros(3, device=self.device, dtype=dtype) for split in ("train", "val")}
        # Read now: Lightning steps the epoch scheduler before on_train_epoch_end.
        self._epoch_lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self._epoch_start = time.perf_counter()
        self._epoch_load = LoadMeter()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        # Augmented on the device here rather than in on_after_batch_transfer: Lightning transfers the first
        # batch of an epoch before on_train_epoch_start has seeded the epoch's generators.
        x, y = batch
        if self.fast_pipeline:
            x, y = self.train_augmentation(x, y, generator=self._augment_rng)
        if self.config.train.compile:
            torch._dynamo.mark_dynamic(x, 0)  # one graph for every batch size, the last one's included
        return self._score(self._train_forward(x), y, "train", self.config.train.label_smoothing)

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        if self.fast_pipeline:
            x = normalize(x, self.config.data.mean, self.config.data.std)
        self._score(self(x), y, "val")

    def _score(self, logits: torch.Tensor, target: torch.Tensor, split: str, smoothing: float = 0.0) -> torch.Tensor:
        """The batch's mean cross-entropy; adds its sums to the epoch's, with no host-device sync.

        `target`: class indices (B,), or MixUp / CutMix's mixed one-hot targets (B, K), whose accuracy counts
        each image's larger label. Validation never smooths: its loss stays the seed's, whatever the recipe.
        """
        loss = F.cross_entropy(logits, target, label_smoothing=smoothing)
        sums = self._sums.get(split)
        if sums is not None:  # absent only in a validation run outside fit
            labels = target.argmax(dim=1) if target.ndim == 2 else target
            # Python numbers enter as kernel arguments: no tensor is built from host data, nothing waits.
            sums[0] += loss.detach().to(sums.dtype) * len(labels)
            sums[1] += (logits.argmax(dim=1) == labels).sum()
            sums[2] += len(labels)
        return loss

    def on_train_epoch_end(self) -> None:
        train = self.trainer.strategy.reduce(self._sums["train"], reduce_op="sum").tolist()
        val = self.trainer.strategy.reduce(self._sums["val"], reduce_op="sum").tolist()
        epoch = self.current_epoch + 1
        self.history.append({
            "epoch": epoch,
            "train_loss": train[0] / train[2],
            "train_acc": train[1] / train[2],
            "val_loss": val[0] / val[2],
            "val_acc": val[1] / val[2],
            "lr": self._epoch_lr,
            "epoch_time_s": time.perf_counter() - self._epoch_start,
            "other_load_cores": self._epoch_load.cores(),  # None where /proc/stat is unknown
        })
        if self._first_of_fit:
            self.first_epochs.append(epoch)
            self._first_of_fit = False
        self._log_new_epochs()

    def _log_new_epochs(self) -> None:
        """The history rows not yet logged to the run's trackers (a resumed run's earlier ones too): Python
        numbers already read back once per epoch above, so logging adds no host-device sync."""
        for row in self.history[self._logged:]:
            for logger in self.loggers:
                logger.log_metrics({k: v for k, v in row.items() if k != "epoch" and v is not None},
                                   step=int(row["epoch"]))
        self._logged = len(self.history)

    def configure_optimizers(self):
        t = self.config.train
        # fused: one kernel for all parameters; it also unscales fp16 gradients itself, so GradScaler
        # never reads its inf check back to the host (no sync per step with 16-mixed).
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay, fused=True)
        return {"optimizer": optimizer, "lr_scheduler": learning_rate_schedule(optimizer, t.epochs, t.warmup_epochs)}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["reportgen_history"] = self.history
        checkpoint["reportgen_first_epochs"] = self.first_epochs

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint["reportgen_history"])
        self.first_epochs = list(checkpoint.get("reportgen_first_epochs", []))


def learning_rate_schedule(optimizer: torch.optim.Optimizer, epochs: int, warmup_epochs: int):
    """Stepped once per epoch: the seed's cosine from lr to 0 over `epochs`; with a warm-up, lr / (w + 1),
    2 lr / (w + 1), ... over the first w epochs, then the cosine over the remaining epochs - w."""
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - warmup_epochs)
    if warmup_epochs == 0:
        return cosine
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup_epochs + 1), end_factor=1.0,
                                               total_iters=warmup_epochs)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_epochs])


class EpochProgress(ProgressBar):
    """One bar per run over all its training batches, with the time left, and a line per epoch.

    An epoch's history row is added by the LightningModule's on_train_epoch_end, which Lightning
    calls after this callback's: so each epoch's line is written when the next epoch starts, and
    the last one when training ends.
    """

    def __init__(self, label: str):
        super().__init__()
        self.label = label
        self.bar = None
        self._enabled = True
        self._written = 0  # history rows already written (a resumed run starts past the old ones)

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer, pl_module) -> None:
        if not self._enabled:
            return
        per_epoch = int(self.total_train_batches)
        self._written = len(pl_module.history)
        self.bar = tqdm(total=per_epoch * trainer.max_epochs, initial=per_epoch * trainer.current_epoch,
                        desc=f"{self.label} epoch {trainer.current_epoch + 1}/{trainer.max_epochs}",
                        unit="batch", smoothing=0.0, mininterval=1.0, dynamic_ncols=True, leave=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._write_new_epochs(trainer, pl_module)
        if self.bar is not None:
            self.bar.set_description(f"{self.label} epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")

    def on_train_end(self, trainer, pl_module) -> None:
        self._write_new_epochs(trainer, pl_module)
        self._close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close()  # now, so that the bar's last state comes before the interruption's message

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _write_new_epochs(self, trainer, pl_module) -> None:
        if self.bar is None:
            return
        for h in pl_module.history[self._written:]:
            self.bar.write(
                f"{self.label} epoch {h['epoch']}/{trainer.max_epochs}: train loss {h['train_loss']:.4f} "
                f"acc {h['train_acc']:.4f} | val loss {h['val_loss']:.4f} acc {h['val_acc']:.4f} "
                f"| {h['epoch_time_s']:.1f} s"
            )
        self._written = len(pl_module.history)


@dataclass
class FitResult:
    """What training hands to evaluation: the trained plain model, its per-epoch history, its timings."""

    model: nn.Module
    history: list[dict[str, float]]
    first_epochs: list[int]  # epochs that were the first of a fit, one-off costs included
    is_global_zero: bool
    fit_wall_time_s: float  # this fit's wall clock: set-up, every epoch, checkpoint writing


def epoch_timings(history: list[dict], first_epochs: list[int]) -> dict:
    """Steady-state time per epoch, and the one-off cost that the first epoch of each fit paid on top.

    steady_epoch_time_s: the mean time of the epochs that were not the first of a fit (a fresh or a
    resumed process); warmup_time_s: what those first epochs took beyond it (at least 0 each). Both
    None when every epoch was a first one (a 1-epoch run). train_time_s stays the sum of all epochs.
    """
    first = set(first_epochs)
    steady = [h["epoch_time_s"] for h in history if h["epoch"] not in first]
    if not steady:
        return {"steady_epoch_time_s": None, "warmup_time_s": None, "warmup_epochs": sorted(first)}
    mean = sum(steady) / len(steady)
    extra = sum(max(0.0, h["epoch_time_s"] - mean) for h in history if h["epoch"] in first)
    return {"steady_epoch_time_s": mean, "warmup_time_s": extra, "warmup_epochs": sorted(first)}


def epoch_loads(history: list[dict]) -> dict:
    """The CPU cores other processes used during each epoch, for run.json: ``epoch_other_load_cores``, one per
    history row (None where unknown, and for epochs of a checkpoint written before reportgen recorded it)."""
    return {"epoch_other_load_cores": [h.get("other_load_cores") for h in history]}


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during fit(); `epochs_kept` completed epochs are in the checkpoint to resume from."""

    def __init__(self, epochs_kept: int):
        super().__init__(epochs_kept)
        self.epochs_kept = epochs_kept


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint beside its target and renames it into place; knows the epochs on disk.

    A process killed mid-write (SIGKILL, out of memory, a second Ctrl-C) leaves the previous checkpoint
    whole, so the run always resumes. `epochs_saved`: the completed epochs of the checkpoint last
    written or resumed from.
    """

    def __init__(self):
        super().__init__()
        self.epochs_saved = 0

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
        self.epochs_saved = len(checkpoint.get("reportgen_history", []))

    def load_checkpoint(self, path, *args, **kwargs) -> dict:
        checkpoint = super().load_checkpoint(path, *args, **kwargs)
        self.epochs_saved = len(checkpoint.get("reportgen_history", []))
        return checkpoint


def quiet_lightning() -> None:
    """Silence Lightning's banners and advice; reportgen prints its own progress."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    for message in (".*LeafSpec.*", ".*does not have many workers.*",
                    ".*smaller than the logging interval.*", ".*exists and is not empty.*"):
        warnings.filterwarnings("ignore", message=message)


def prepare_process(config: Config) -> None:
    """Set up this process for training the way `config.train` asks: threads, quiet Lightning, allocator.

    The seed pipeline keeps the default allocator, so that it runs as the notebook's process did.
    """
    quiet_lightning()
    if config.train.pipeline == "fast":
        keep_freed_memory()
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)


def fit(model: nn.Module, data: ImageData, config: Config, runtime: Runtime, seed: int, checkpoint_dir: Path,
        label: str, progress: bool = True, callbacks: tuple = (), resume: bool | None = None,
        loggers: tuple = ()) -> FitResult:
    """Train `model` for config.train.epochs on `runtime`, resuming from checkpoint_dir/last.ckpt when `resume`.

    `resume=None` resumes when that checkpoint exists; under DDP the build passes rank 0's decision
    instead, so that no process decides alone. `callbacks` are extra Lightning callbacks (the tests use
    one to simulate Ctrl-C); `loggers` are Lightning loggers (Trainer logger=) that get each epoch's history row.
    Ctrl-C or SIGTERM raise TrainingInterrupted, with the checkpoint of the last completed epoch in place; under
    DDP every process stops at the same step (reportgen.ddp_sync.AgreedStop).
    """
    t = config.train
    started = time.perf_counter()
    prepare_process(config)
    configure_backends(config, runtime)
    module = Classifier(model, config, seed, len(data.classes))
    # One rolling checkpoint, last.ckpt, rewritten after every epoch (after the history row is added).
    checkpoint = ModelCheckpoint(dirpath=checkpoint_dir, filename="last", save_top_k=1, every_n_epochs=1,
                                 save_on_train_epoch_end=True, enable_version_counter=False)
    checkpoint_io = AtomicCheckpointIO()
    stop = AgreedStop()  # now, before Lightning adds its signal handlers to those in place
    processes = t.devices * t.num_nodes
    trainer = pl.Trainer(
        max_epochs=t.epochs,
        accelerator={"cuda": "gpu"}.get(runtime.device, runtime.device),
        devices=t.devices,
        num_nodes=t.num_nodes,
        # auto would pick ddp_fork in a notebook, which cannot re-initialise CUDA: one process per device.
        strategy="ddp" if t.strategy == "auto" and processes > 1 else t.strategy,
        precision=runtime.precision,
        plugins=[checkpoint_io],
        callbacks=[checkpoint, *([EpochProgress(label)] if progress else []), stop, *callbacks],
        enable_progress_bar=progress,
        logger=list(loggers) or False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our samplers shard exactly (see ImageDataModule.val_dataloader)
        enable_model_summary=False,
        deterministic=t.deterministic,
        benchmark=runtime.device == "cuda" and not t.deterministic,  # cuDNN picks the fastest kernels per shape
    )
    last = checkpoint_dir / "last.ckpt"
    resume = last.is_file() if resume is None else resume
    try:
        trainer.fit(module, datamodule=ImageDataModule(data, config, seed), ckpt_path=str(last) if resume else None)
        stop.hand_on()
    except (KeyboardInterrupt, SystemExit) as exc:  # Lightning turns Ctrl-C into exit(1), SIGTERM into an exit
        raise TrainingInterrupted(checkpoint_io.epochs_saved) from exc
    return FitResult(model=model, history=module.history, first_epochs=module.first_epochs,
                     is_global_zero=trainer.is_global_zero, fit_wall_time_s=time.perf_counter() - started)
