"""Training with Lightning: one LightningModule for any registered architecture.

Epoch metrics are exact: sums of per-sample loss and correct predictions over every sample of the
epoch (reduced across processes under DDP), divided by the sample count, never a mean of batch means.

All randomness of an epoch (shuffling, augmentation, dropout) is drawn from generators seeded by
(seed, epoch, rank), so a run resumed from the checkpoint of epoch k continues exactly as the
uninterrupted run would have (on the same device).
"""

from __future__ import annotations

import ctypes
import logging
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from reportgen.config import Config
from reportgen.data import ImageData, PILImages, TensorBatches, augment, keep_batch, normalize, seed_transforms


def resolve_device(requested: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def resolve_precision(requested: str, device: str) -> str:
    """'auto' -> bf16 autocast where the hardware computes in bf16 natively, else fp32.

    That is CUDA GPUs with bf16 support, and CPUs with AVX512-BF16 or AMX, where oneDNN runs bf16
    convolutions and matmuls about twice as fast as fp32 (see `reportgen bench`). Elsewhere bf16
    would be emulated and slower.
    """
    if requested != "auto":
        return requested
    if device == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    return "bf16-mixed" if _cpu_has_native_bf16() else "32"


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


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A distinct, reproducible seed for every (run seed, epoch, process)."""
    return (seed * 1_000_003 + epoch * 1_009 + rank) % (2**63)


class Classifier(pl.LightningModule):
    """Trains any classifier nn.Module with cross-entropy, AdamW and a cosine schedule over the epochs."""

    def __init__(self, model: nn.Module, config: Config, seed: int):
        super().__init__()
        self.model = model
        self.config = config
        self.seed = seed
        self.fast_pipeline = config.train.pipeline == "fast"
        # NHWC lets the CPU (oneDNN) and GPU (cuDNN) convolution kernels skip layout conversions.
        self.channels_last = config.train.channels_last and getattr(model, "prefers_channels_last", False)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.history: list[dict[str, float]] = []
        self._sums: dict[str, torch.Tensor] = {}
        self._epoch_start = 0.0
        self._epoch_lr = 0.0
        self._augment_rng: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_epoch_start(self) -> None:
        # Dropout draws from the global generator, augmentation from its own; both restart from
        # (seed, epoch, rank) so that a resumed epoch repeats the uninterrupted one exactly.
        seed = epoch_seed(self.seed, self.current_epoch, self.global_rank)
        torch.manual_seed(seed)
        self._augment_rng = torch.Generator(device=self.device).manual_seed(seed)
        self._sums = {split: torch.zeros(3, device=self.device, dtype=torch.float64) for split in ("train", "val")}
        # Read now: Lightning steps the epoch scheduler before on_train_epoch_end.
        self._epoch_lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self._epoch_start = time.perf_counter()

    def _prepare(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """On the device: augment (training only) and normalise a uint8 batch; NHWC for convs.

        Done in the step rather than in on_after_batch_transfer, because Lightning transfers the
        first batch of an epoch before on_train_epoch_start has seeded the epoch's generators.
        """
        if self.fast_pipeline:
            if train:
                x = augment(x, self.config.augment, generator=self._augment_rng)
            x = normalize(x, self.config.data.mean, self.config.data.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        logits = self(self._prepare(x, train=split == "train"))
        loss = F.cross_entropy(logits, y)
        if split in self._sums:  # absent only in a validation run outside fit
            # [sum of per-sample losses, correct predictions, samples]
            self._sums[split] += torch.stack([
                loss.detach().double() * len(y),
                (logits.argmax(dim=1) == y).sum().double(),
                torch.tensor(len(y), device=self.device, dtype=torch.float64),
            ])
        return loss

    def on_train_epoch_end(self) -> None:
        train = self.trainer.strategy.reduce(self._sums["train"], reduce_op="sum")
        val = self.trainer.strategy.reduce(self._sums["val"], reduce_op="sum")
        self.history.append({
            "epoch": self.current_epoch + 1,
            "train_loss": (train[0] / train[2]).item(),
            "train_acc": (train[1] / train[2]).item(),
            "val_loss": (val[0] / val[2]).item(),
            "val_acc": (val[1] / val[2]).item(),
            "lr": self._epoch_lr,
            "epoch_time_s": time.perf_counter() - self._epoch_start,
        })

    def configure_optimizers(self):
        t = self.config.train
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay, fused=True)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.epochs)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["reportgen_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint["reportgen_history"])


class EpochShuffleSampler(Sampler):
    """This process's share of a permutation drawn from (seed, epoch): resumable and DDP-aware.

    The epoch comes from the trainer when iteration starts, so a resumed run draws exactly the
    permutation the uninterrupted run drew for that epoch. Under DDP each process takes every
    world_size-th index of the same permutation, truncated to equal shares (DDP steps in lockstep).
    """

    def __init__(self, length: int, seed: int, current_epoch, rank: int = 0, world_size: int = 1):
        self.length, self.seed, self.current_epoch = length, seed, current_epoch
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        g = torch.Generator().manual_seed(epoch_seed(self.seed, self.current_epoch(), 0))
        order = torch.randperm(self.length, generator=g)[: len(self) * self.world_size]
        return iter(order[self.rank::self.world_size].tolist())

    def __len__(self) -> int:
        return self.length // self.world_size


class ShardSampler(Sampler):
    """Every index exactly once across processes (rank r takes r, r+world, ...): exact DDP metrics.

    DistributedSampler pads the last shard with repeated samples, which would count them twice.
    """

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class ImageDataModule(pl.LightningDataModule):
    """Serves the train and test splits, on the training device for the fast pipeline."""

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

    def train_dataloader(self) -> DataLoader:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        sampler = EpochShuffleSampler(len(self.train_set), self.seed, lambda: self.trainer.current_epoch, rank, world)
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        return self._loader(self.val_set, ShardSampler(len(self.val_set), rank, world))

    def _loader(self, dataset, sampler) -> DataLoader:
        fast = isinstance(dataset, TensorBatches)
        # A private generator: creating a DataLoader iterator otherwise draws from the global RNG,
        # at a point of the epoch that differs between a fresh and a resumed run.
        return DataLoader(dataset, batch_size=self.config.train.batch_size, sampler=sampler,
                          collate_fn=keep_batch if fast else None, num_workers=0, generator=torch.Generator())


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
    """What training hands to evaluation: the trained plain model and its per-epoch history."""

    model: nn.Module
    history: list[dict[str, float]]
    is_global_zero: bool


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
        label: str, progress: bool = True, callbacks: tuple = ()) -> FitResult:
    """Train `model` for config.train.epochs, resuming from checkpoint_dir/last.ckpt when present.

    `callbacks` are extra Lightning callbacks (the tests use one to simulate Ctrl-C).
    """
    t = config.train
    device = resolve_device(t.device)
    prepare_process(config)
    module = Classifier(model, config, seed)
    if t.compile:
        module.model = torch.compile(model)
    # One rolling checkpoint, last.ckpt, rewritten after every epoch (after the history row is added).
    checkpoint = ModelCheckpoint(dirpath=checkpoint_dir, filename="last", save_top_k=1, every_n_epochs=1,
                                 save_on_train_epoch_end=True, enable_version_counter=False)
    trainer = pl.Trainer(
        max_epochs=t.epochs,
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=resolve_precision(t.precision, device),
        callbacks=[checkpoint, *([EpochProgress(label)] if progress else []), *callbacks],
        enable_progress_bar=progress,
        logger=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our samplers shard exactly (see ShardSampler)
        enable_model_summary=False,
        deterministic=False,
    )
    last = checkpoint_dir / "last.ckpt"
    trainer.fit(module, datamodule=ImageDataModule(data, config, seed), ckpt_path=str(last) if last.is_file() else None)
    return FitResult(model=model, history=module.history, is_global_zero=trainer.is_global_zero)
