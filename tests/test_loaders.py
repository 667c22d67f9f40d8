"""Loaders: every process takes its share of the global batch, and the epoch order is the same on every device."""

from types import SimpleNamespace

import torch

import reportgen.loaders as loaders
from tests.conftest import tiny_config


def test_each_process_takes_its_share_of_the_global_batch(data):
    config = tiny_config(batch_size=16)
    module = loaders.ImageDataModule(data, config, seed=0)
    sizes = {}
    for rank in (0, 1):
        module.trainer = SimpleNamespace(world_size=2, global_rank=rank, current_epoch=0,
                                         strategy=SimpleNamespace(root_device=torch.device("cpu")))
        module.setup("fit")
        train_batches = [len(y) for _, y in module.train_dataloader()]
        val_labels = torch.cat([y for _, y in module.val_dataloader()])
        sizes[rank] = train_batches, val_labels
    # 52 images: 26 per process in batches of 16 / 2 = 8, so 4 steps an epoch, as one process with 16 would take.
    assert sizes[0][0] == sizes[1][0] == [8, 8, 8, 2]
    assert len(sizes[0][1]) + len(sizes[1][1]) == len(data.test_y)  # every test image once


def test_epoch_order_is_the_same_on_every_device_and_split_without_overlap():
    whole = loaders.epoch_order(10, seed=3, epoch=1)
    shares = [loaders.epoch_order(10, seed=3, epoch=1, rank=r, world_size=3) for r in range(3)]
    assert sorted(whole.tolist()) == list(range(10))
    assert torch.equal(torch.stack(shares, 1).flatten(), whole[:9])
    assert not torch.equal(loaders.epoch_order(10, seed=3, epoch=2), whole)


def test_lightning_validates_on_the_held_out_split_where_there_is_one(data):
    from reportgen.config import DataConfig
    from reportgen.data import training_data

    for val_fraction, expected in ((0.0, data.test_y), (0.25, None)):
        run_data = training_data(data, DataConfig(val_fraction=val_fraction))
        module = loaders.ImageDataModule(run_data, tiny_config(batch_size=16), seed=0)
        module.trainer = SimpleNamespace(world_size=1, global_rank=0, current_epoch=0,
                                         strategy=SimpleNamespace(root_device=torch.device("cpu")))
        module.setup("fit")
        validated = torch.cat([y for _, y in module.val_dataloader()])
        assert torch.equal(validated, run_data.val_y if expected is None else expected)
        assert sum(len(y) for _, y in module.train_dataloader()) == len(run_data.train_y)  # none of them held out
