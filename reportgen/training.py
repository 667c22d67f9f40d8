"""Training with Lightning: one LightningModule for any registered architecture.

Epoch metrics are exact: sums of per-sample loss and correct predictions over every sample of the
epoch (reduced across processes under DDP), divided by the sample count, never a mean of batch means.

All randomness of an epoch (shuffling, augmentation, dropout) is drawn from generators seeded by
(seed, epoch, rank), so a run resumed from the checkpoint of epoch k continues as the uninterrupted
run would have. On the CPU the two are bit-identical. On CUDA that holds only with train.deterministic:
otherwise cuDNN and cuBLAS may pick kernels whose sums run in another order (cudnn.benchmark times them
afresh in every process), which changes the last bits and, over many epochs, more.

No training or validation step waits for the GPU: batches are slices of index tensors already on the
device, normalisation constants are cached there, and the epoch's sums stay there until its end.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import re
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
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from reportgen.bundle import atomic_output
from reportgen.config import Config
from reportgen.data import (
    ImageData,
    PILImages,
    TensorBatches,
    TrainAugmentation,
    keep_batch,
    normalize,
    seed_transforms,
)
from reportgen.errors import ConfigError


def resolve_device(requested: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'mps' on Apple silicon, else 'cpu'."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def check_device(device: str) -> None:
    """Refuse, in one line, a device that this machine does not have."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device' is cuda but no CUDA GPU is visible; use --device cpu or auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("config key 'train.device' is mps but this machine has no Apple GPU; "
                          "use --device cpu or auto")


def resolve_precision(requested: str, device: str) -> str:
    """'auto' -> bf16 autocast where the hardware computes in bf16 natively, fp16 on older GPUs, else fp32.

    CUDA: bf16 from compute capability 8.0 (A100, RTX 30xx, H100), asked without emulation (by
    default torch counts a T4's emulated bf16 as supported); fp16 with loss scaling (16-mixed) on 7.x
    (V100, T4, RTX 20xx), whose tensor cores compute fp16; fp32 below that. CPU: bf16 where the CPU has
    AVX512-BF16 or AMX, where oneDNN runs bf16 convolutions and matmuls about twice as fast as fp32
    (see `reportgen bench`); elsewhere bf16 would be emulated and slower. MPS: fp32 (not measured).
    """
    if requested != "auto":
        return requested
    if device == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return "bf16-mixed"
        return "16-mixed" if torch.cuda.get_device_capability() >= (7, 0) else "32"
    if device == "cpu":
        return "bf16-mixed" if _cpu_has_native_bf16() else "32"
    return "32"


def autocast(device: str, precision: str):
    """The autocast context that Lightning's `precision` runs the model under, for code outside the Trainer."""
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device, dtype=dtype)


def uses_tf32(config: Config, device: str, precision: str) -> bool:
    """Whether fp32 matmuls and convolutions run in TF32: on CUDA, at precision 32, with train.tf32."""
    return device == "cuda" and precision == "32" and config.train.tf32


def configure_backends(config: Config, device: str, precision: str) -> None:
    """Process-wide numerics for this run: TF32 on CUDA, and what deterministic algorithms need.

    cudnn.benchmark is Lightning's (Trainer(benchmark=...)); TF32 is set both ways, so that one run's
    setting never leaks into the next run of the same process.
    """
    if device == "cuda":
        tf32 = uses_tf32(config, device, precision)
        torch.set_float32_matmul_precision("high" if tf32 else "highest")  # the API Lightning reads back
        torch.backends.cudnn.allow_tf32 = tf32
    if config.train.deterministic:
        # cuBLAS reads this when it creates its handle: it must be set before the first matmul on the GPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def _cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has bf16 instructions (x86 AVX512-BF16 or AMX-BF16), read from Linux's cpuinfo.

    Not oneDNN's own check, which accepts any AVX-512 CPU and so would pick an emulated bf16.
    Where there is no cpuinfo (macOS, Windows), False: fp32 is the safe default there.
    """
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of handing it back to the OS (Linux).

    A CPU training step frees and reallocates the same large activation buffers every time; by
    default glibc unmaps them, and every step pays the page faults again: up to half the step time
    on a 2-core VM (reportgen bench). Elsewhere (macOS, musl) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)  # large blocks from the heap too, where freed memory is reused
    libc.mallopt(m_trim_threshold, 2**31 - 1)  # and never shrink the heap


# XORed into the epoch seed of the augmentation generator. Its low 32 bits matter: torch's CPU generator (a
# Mersenne Twister) is seeded from the low 32 bits only, so a pattern in the high bits alone would change nothing.
AUGMENT_STREAM = 0x5EED_A06D_9E37_79B9


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A distinct, reproducible seed for every (run seed, epoch, process)."""
    return (seed * 1_000_003 + epoch * 1_009 + rank) % (2**63)


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
        self._epoch_lr = 0.0
        self._augment_rng: torch.Generator | None = None

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
        })
        if self._first_of_fit:
            self.first_epochs.append(epoch)
            self._first_of_fit = False

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


def epoch_order(length: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This process's share of the permutation of `length` samples drawn from (seed, epoch), on the CPU.

    Every process draws the same permutation and takes every world_size-th index of it, truncated to
    equal shares (DDP steps in lockstep). Drawn on the CPU, so the order is the same on any device.
    Returns int64 (length // world_size,).
    """
    g = torch.Generator().manual_seed(epoch_seed(seed, epoch, 0))
    share = length // world_size
    return torch.randperm(length, generator=g)[: share * world_size][rank::world_size]


class EpochShuffleSampler(Sampler):
    """The seed pipeline's sampler: this process's indices of the epoch's permutation, one int at a time.

    The epoch comes from the trainer when iteration starts, so a resumed run draws exactly the
    permutation the uninterrupted run drew for that epoch.
    """

    def __init__(self, length: int, seed: int, current_epoch, rank: int = 0, world_size: int = 1):
        self.length, self.seed, self.current_epoch = length, seed, current_epoch
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        return iter(epoch_order(self.length, self.seed, self.current_epoch(), self.rank, self.world_size).tolist())

    def __len__(self) -> int:
        return self.length // self.world_size


class DeviceBatches(Sampler):
    """The fast pipeline's sampler: each item is one batch's indices, a slice of an index tensor on the device.

    `indices()` gives the pass's indices (a CPU or device tensor); they are copied to the device once
    per pass (asynchronously, from pinned memory, on CUDA), so no step copies anything from the host.
    """

    def __init__(self, indices, length: int, batch_size: int, device: torch.device):
        self.indices, self.length, self.batch_size, self.device = indices, length, batch_size, device

    def __iter__(self):
        # A generator: the indices are drawn at the first batch, once the trainer's epoch has advanced
        # (DataLoader creates this iterator earlier, and with batch_size=None nothing else defers it).
        order = self.indices()
        if order.device != self.device:
            if self.device.type == "cuda":
                order = order.pin_memory()
            order = order.to(self.device, non_blocking=True)
        yield from order.split(self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.length / self.batch_size)


class ImageDataModule(pl.LightningDataModule):
    """Serves the train and test splits, on the training device for the fast pipeline.

    Every process takes batch_size / world_size images a step: the global batch is the config's.
    """

    def __init__(self, data: ImageData, config: Config, seed: int):
        super().__init__()
        self.data, self.config, self.seed = data, config, seed
        self.train_set = self.val_set = None

    def setup(self, stage: str) -> None:
        d = self.data
        if self.config.train.pipeline == "fast":
            device = self.trainer.strategy.root_device  # GPU memory when training on CUDA
            self.train_set = TensorBatches(d.train_x.to(device), d.train_y.to(device))
            self.val_set = TensorBatches(d.test_x.to(device), d.test_y.to(device))
        else:
            train_tf, test_tf = seed_transforms(self.config.augment, self.config.data.mean, self.config.data.std)
            self.train_set = PILImages(d.train_x, d.train_y, train_tf)
            self.val_set = PILImages(d.test_x, d.test_y, test_tf)

    @property
    def _process_batch(self) -> int:
        return self.config.train.batch_size // self.trainer.world_size  # config validation: it divides

    def train_dataloader(self) -> DataLoader:
        world, rank, n = self.trainer.world_size, self.trainer.global_rank, len(self.train_set)
        if isinstance(self.train_set, TensorBatches):
            def indices():
                return epoch_order(n, self.seed, self.trainer.current_epoch, rank, world)
            return self._batch_loader(self.train_set, DeviceBatches(indices, n // world, self._process_batch,
                                                                    self.train_set.device))
        sampler = EpochShuffleSampler(n, self.seed, lambda: self.trainer.current_epoch, rank, world)
        return self._sample_loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader:
        # Every test image exactly once across processes (rank r takes r, r+world, ...): exact metrics.
        # DistributedSampler would pad the last shard with repeated images and count them twice.
        world, rank, n = self.trainer.world_size, self.trainer.global_rank, len(self.val_set)
        share = len(range(rank, n, world))
        if isinstance(self.val_set, TensorBatches):
            device = self.val_set.device
            return self._batch_loader(self.val_set, DeviceBatches(
                lambda: torch.arange(rank, n, world, device=device), share, self._process_batch, device))
        return self._sample_loader(self.val_set, list(range(rank, n, world)))

    # Both loaders get a private generator: creating a DataLoader iterator otherwise draws from the
    # global RNG, at a point of the epoch that differs between a fresh and a resumed run.

    @staticmethod
    def _batch_loader(dataset: TensorBatches, sampler: DeviceBatches) -> DataLoader:
        # batch_size=None: the sampler's items are whole batches, which the dataset gathers at once.
        return DataLoader(dataset, batch_size=None, sampler=sampler, collate_fn=keep_batch, num_workers=0,
                          generator=torch.Generator())

    def _sample_loader(self, dataset: PILImages, sampler) -> DataLoader:
        return DataLoader(dataset, batch_size=self._process_batch, sampler=sampler, num_workers=0,
                          generator=torch.Generator())


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


def fit(model: nn.Module, data: ImageData, config: Config, seed: int, checkpoint_dir: Path,
        label: str, progress: bool = True, callbacks: tuple = (), resume: bool | None = None) -> FitResult:
    """Train `model` for config.train.epochs, resuming from checkpoint_dir/last.ckpt when `resume`.

    `resume=None` resumes when that checkpoint exists; under DDP the build passes rank 0's decision
    instead, so that no process decides alone. `callbacks` are extra Lightning callbacks (the tests use
    one to simulate Ctrl-C). Ctrl-C or SIGTERM raise TrainingInterrupted, with the checkpoint of the
    last completed epoch in place.
    """
    t = config.train
    device = resolve_device(t.device)
    precision = resolve_precision(t.precision, device)
    prepare_process(config)
    configure_backends(config, device, precision)
    module = Classifier(model, config, seed, len(data.classes))
    # One rolling checkpoint, last.ckpt, rewritten after every epoch (after the history row is added).
    checkpoint = ModelCheckpoint(dirpath=checkpoint_dir, filename="last", save_top_k=1, every_n_epochs=1,
                                 save_on_train_epoch_end=True, enable_version_counter=False)
    checkpoint_io = AtomicCheckpointIO()
    processes = t.devices * t.num_nodes
    trainer = pl.Trainer(
        max_epochs=t.epochs,
        accelerator={"cuda": "gpu"}.get(device, device),
        devices=t.devices,
        num_nodes=t.num_nodes,
        # auto would pick ddp_fork in a notebook, which cannot re-initialise CUDA: one process per device.
        strategy="ddp" if t.strategy == "auto" and processes > 1 else t.strategy,
        precision=precision,
        plugins=[checkpoint_io],
        callbacks=[checkpoint, *([EpochProgress(label)] if progress else []), *callbacks],
        enable_progress_bar=progress,
        logger=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our samplers shard exactly (see ImageDataModule.val_dataloader)
        enable_model_summary=False,
        deterministic=t.deterministic,
        benchmark=device == "cuda" and not t.deterministic,  # cuDNN picks the fastest kernels per shape
    )
    last = checkpoint_dir / "last.ckpt"
    resume = last.is_file() if resume is None else resume
    try:
        trainer.fit(module, datamodule=ImageDataModule(data, config, seed), ckpt_path=str(last) if resume else None)
    except (KeyboardInterrupt, SystemExit) as exc:  # Lightning turns Ctrl-C into exit(1), SIGTERM into an exit
        raise TrainingInterrupted(checkpoint_io.epochs_saved) from exc
    return FitResult(model=model, history=module.history, first_epochs=module.first_epochs,
                     is_global_zero=trainer.is_global_zero)
