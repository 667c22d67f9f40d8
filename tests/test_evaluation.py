"""Evaluation: the clean accuracy records are measured in eval mode on un-augmented images."""

from __future__ import annotations

import torch
import torch.nn as nn

from reportgen.data import ImageData
from reportgen.evaluation import generalisation_records
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config


class CornerReader(nn.Module):
    """Right only on un-augmented images in eval mode: reads the label from the top-left pixel, and in train mode
    (where dropout would act) answers the next class instead. A flip, rotation or shift moves the pixel away."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes
        self.anchor = nn.Parameter(torch.zeros(1))  # a parameter, so that evaluation finds the model's device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        label = torch.round((x[:, 0, 0, 0] * 0.5 + 0.5) * 255 / 50).long().clamp(0, self.classes - 1)
        if self.training:
            label = (label + 1) % self.classes
        return nn.functional.one_hot(label, self.classes).float() * 10 + self.anchor


def corner_data(n: int = 40, classes: int = 4) -> ImageData:
    y = torch.arange(n) % classes
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    x[:, 0, 0, 0] = (y * 50).to(torch.uint8)
    return ImageData(x[:32], y[:32], x[32:], y[32:], [f"c{i}" for i in range(classes)], "corner", "fp",
                     val_x=x[32:], val_y=y[32:])


def test_the_clean_accuracy_is_measured_in_eval_mode_without_augmentation():
    config = tiny_config()
    config.data.mean, config.data.std = [0.5] * 3, [0.5] * 3
    model = CornerReader(4).train()  # left in train mode by training: the measurement must switch to eval mode
    records = generalisation_records(model, corner_data(), config, resolve_runtime(config))
    clean = records["clean_train"]
    assert clean["accuracy"] == 1.0 and clean["correct"] == "1" * 32  # 0 in train mode; ~0 under augmentation
    assert clean["images"] == clean["of"] == 32 and clean["seed"] == 0
    assert records["validation"] == {"images": 8, "accuracy": 1.0, "correct": "1" * 8}


def test_no_validation_record_without_a_held_out_split():
    config = tiny_config()
    config.data.mean, config.data.std = [0.5] * 3, [0.5] * 3
    data = corner_data()
    data.val_x = data.val_y = None
    assert set(generalisation_records(CornerReader(4), data, config, resolve_runtime(config))) == {"clean_train"}
