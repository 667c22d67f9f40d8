"""Batches for training and validation: every epoch's order drawn from (seed, epoch, rank), sharded exactly.

The fast pipeline keeps the images on the training device and hands out slices of an index tensor
there, so no step copies anything from the host; the seed pipeline serves PIL-transformed images one
at a time through a DataLoader, as the notebook did. Under DDP every process takes every world_size-th
index of the same permutation, truncated to equal shares (training) or exactly once (validation).
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from reportgen.config import Config
from reportgen.data import ImageData, PILImages, TensorBatches, keep_batch, seed_transforms


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A distinct, reproducible seed for every (run seed, epoch, process)."""
    return (seed * 1_000_003 + epoch * 1_009 + rank) % (2**63)


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
    """Serves the training split and the split Lightning validates on, on the training device for the fast pipeline.

    Validation reads the validation split held out of the training images (data.val_fraction), or the test split
    where none is held out (val_fraction 0, the original study's protocol): ImageData.validation.

    Every process takes batch_size / world_size images a step: the global batch is the config's.
    """

    def __init__(self, data: ImageData, config: Config, seed: int):
        super().__init__()
        self.data, self.config, self.seed = data, config, seed
        self.train_set = self.val_set = None

    def setup(self, stage: str) -> None:
        d = self.data
        val_x, val_y = d.validation()
        if self.config.train.pipeline == "fast":
            device = self.trainer.strategy.root_device  # GPU memory when training on CUDA
            self.train_set = TensorBatches(d.train_x.to(device), d.train_y.to(device))
            self.val_set = TensorBatches(val_x.to(device), val_y.to(device))
        else:
            train_tf, test_tf = seed_transforms(self.config.augment, self.config.data.mean, self.config.data.std)
            self.train_set = PILImages(d.train_x, d.train_y, train_tf)
            self.val_set = PILImages(val_x, val_y, test_tf)

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
        # Every validation image exactly once across processes (rank r takes r, r+world, ...): exact metrics.
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
