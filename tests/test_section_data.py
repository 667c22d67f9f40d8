"""Section "Data and augmentation": the data, its augmentation and the sample images."""

from __future__ import annotations

from reportgen.report.sections.data import Data
from tests.section_helpers import build, contents, figures, tables, text


def test_sizes_augmentation_and_samples(tmp_path):
    items = build(Data(), contents(tmp_path / "b"))
    assert "The models are trained on 2,000 images and evaluated on 600 test images of 10 classes" in text(items)
    assert [f.key for f in figures(items)] == ["samples"]
    labels = [row[0] for row in tables(items)[0].rows]
    assert "horizontal flip probability" in labels and "normalisation std (R, G, B)" in labels


def test_one_model_is_named(tmp_path):
    assert text(build(Data(), contents(tmp_path / "b", models=("vit",)))).startswith("The ViT is trained on")
