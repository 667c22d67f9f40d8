"""Section "Data and augmentation": the data, its augmentation and normalisation, and sample images."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.report.contents import ReportContents
from reportgen.report.kernel import Item, Metric, Paragraph, Table, config_key, key_value_table, listing, sentence
from reportgen.report.plots import bare, hwc
from reportgen.report.section import FigureDrawer, Section


def dataset_table(contents: ReportContents) -> Table:
    """Sizes, classes, fingerprint, augmentation and normalisation."""
    dataset, aug, data = contents.dataset, contents.config.augment, contents.config.data
    return key_value_table([
        ("source", str(dataset.get("source", "not recorded"))),
        ("training images", Metric("dataset.train_size", int(dataset["train_size"]), "count")),
        ("test images (also the validation set)", Metric("dataset.test_size", int(dataset["test_size"]), "count")),
        ("classes", sentence(Metric("dataset.num_classes", len(dataset["classes"]), "count"), ": ",
                             ", ".join(dataset["classes"]))),
        ("horizontal flip probability", Metric(config_key("augment.hflip_p"), aug.hflip_p, "number")),
        ("random rotation", sentence("±", Metric(config_key("augment.rotation_deg"), aug.rotation_deg, "number"), "°")),
        ("random translation", sentence("up to ", Metric(config_key("augment.translate_frac"), aug.translate_frac,
                                                          "number"), " of width and height")),
        ("normalisation mean (R, G, B)", sentence(listing(config_key("data.mean"), data.mean))),
        ("normalisation std (R, G, B)", sentence(listing(config_key("data.std"), data.std))),
    ])


def draw_samples(samples: dict[str, np.ndarray], class_names: Sequence[str]) -> plt.Figure:
    """One row of augmented training images and one of test images, titled by class."""
    rows = (("augmented train", "train_augmented", "train_labels"), ("test", "test", "test_labels"))
    k = len(samples["test"])
    fig, axes = plt.subplots(2, k, figsize=(max(0.72 * k, 3.0), 1.75), squeeze=False)
    for r, (label, images, labels) in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(hwc(samples[images][c]))
            ax.set_title(class_names[int(samples[labels][c])], fontsize=6.5, pad=2)
            bare(ax)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.2, w_pad=0.2, h_pad=0.4)
    return fig


class Data(Section):
    key = "data"
    title = "Data and augmentation"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        subject = "The models are" if len(contents.models) > 1 else f"The {contents.models[0].name} is"
        train = Metric("dataset.train_size", int(contents.dataset["train_size"]), "count")
        test = Metric("dataset.test_size", int(contents.dataset["test_size"]), "count")
        k = Metric("dataset.num_classes", len(contents.class_names), "count")
        text = sentence(
            f"{subject} trained on ", train, " images and evaluated on ", test, " test images of ", k, " classes. "
            "As in the seed notebook, validation uses the test split: there is no separate validation set, so every "
            "validation curve below is measured on the test images. Training images are augmented (random "
            "horizontal flip, rotation and translation); test images are only normalised with the channel "
            "statistics below.")
        samples = figures.draw("samples", lambda: draw_samples(contents.samples, contents.class_names),
                               "One augmented training image (top) and one test image (bottom) per class, as the "
                               "models see them before normalisation.")
        return [Paragraph([text]), samples, dataset_table(contents)]
