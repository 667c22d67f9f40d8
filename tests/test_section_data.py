"""Section "Data and augmentation": the data, its augmentation and the sample images."""

from __future__ import annotations

import dataclasses

from reportgen.report.sections.data import Data
from tests.section_helpers import contents, figures, numbers, tables, text


def test_sizes_augmentation_and_samples(tmp_path):
    items = numbers(Data(), contents(tmp_path / "b"))
    assert "The models are trained on 2,000 images and evaluated on 600 test images of 10 classes" in text(items)
    assert [f.key for f in figures(items)] == ["samples"]
    labels = [row[0] for row in tables(items)[0].rows]
    assert "horizontal flip probability" in labels and "normalisation std (R, G, B)" in labels


def test_one_model_is_named(tmp_path):
    assert text(numbers(Data(), contents(tmp_path / "b", models=("vit",)))).startswith("The ViT is trained on")


def _rows(items) -> dict[str, str]:
    return {row[0]: row[1] if isinstance(row[1], str) else row[1].text for row in tables(items)[0].rows}


def test_the_augmentation_said_and_tabled_is_the_one_that_ran(tmp_path):
    seed = numbers(Data(), contents(tmp_path / "seed"))
    assert "Training images are augmented (random horizontal flip, rotation and translation); test" in text(seed)
    assert "augmentation policy" not in _rows(seed) and "training share" not in _rows(seed)
    off = numbers(Data(), contents(tmp_path / "off", config_overrides={"augment.enabled": False,
                                                                     "data.train_fraction": 0.5}))
    assert "Training images are not augmented (augment.enabled is false); test" in text(off)
    assert _rows(off)["training augmentation"] == "none (augment.enabled: false)"
    assert "horizontal flip probability" not in _rows(off)
    assert _rows(off)["training share"] == "0.5 of each class (data.train_fraction), drawn with seed 0"
    assert figures(off)[0].caption.startswith("One training image (top)")
    modern = numbers(Data(), contents(tmp_path / "modern", config_overrides={"augment.policy": "randaugment",
                                                                           "augment.cutmix_alpha": 1.0}))
    assert ("(random horizontal flip, rotation and translation, then RandAugment, and MixUp / CutMix mix pairs of "
            "images and their labels)") in text(modern)
    rows = _rows(modern)
    assert rows["augmentation policy"] == "RandAugment, drawn for each image"
    assert rows["CutMix α"] == "1" and "MixUp α" not in rows


def test_the_split_that_validated_is_said_and_tabled(tmp_path):
    test_split = numbers(Data(), contents(tmp_path / "t"))
    assert "As in the original study, validation uses the test split" in text(test_split)
    assert "test images (also the validation set)" in _rows(test_split)
    held = numbers(Data(), contents(tmp_path / "h", val_size=200, clean_gaps={"cnn": 0.01, "vit": 0.05}))
    assert "Validation uses 200 images held out of the training images (data.val_fraction), never trained on" \
        in text(held)
    rows = _rows(held)
    assert rows["validation images (held out of the training images)"] == "200"
    assert "test images" in rows and "test images (also the validation set)" not in rows


def test_evaluated_weights_are_not_said_to_be_trained_on_the_training_split(tmp_path):
    said = text(numbers(Data(), contents(tmp_path / "e", origin="evaluated")))
    assert "trained on 2,000 images" not in said and "validation" not in said.split(". ")[1]
    assert said.startswith("The weights of the CNN and the ViT were trained elsewhere and evaluated here, so which "
                           "images they were trained on is not known to this report (the config describes a training "
                           "split of 2,000 images, which they need not have seen); they are evaluated on 600 test "
                           "images of 10 classes.")
    assert "as the config describes it" in said
    report = contents(tmp_path / "m")
    report.facts["vit"] = dataclasses.replace(report.facts["vit"], training=None)  # the ViT's weights evaluated
    mixed = text(numbers(Data(), report))
    assert mixed.startswith("The CNN is trained on 2,000 images; the weights of the ViT were trained elsewhere")
