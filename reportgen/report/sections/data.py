"""Section "Data and augmentation": the data and its splits (which one validated), its augmentation and
normalisation, and sample images. Of weights evaluated from elsewhere it says only what is known: not which images
they were trained on."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.config import AugmentConfig
from reportgen.report.contents import ReportContents
from reportgen.report.experiments import POLICY_NAMES
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Table,
    config_key,
    key_value_table,
    listing,
    sentence,
)
from reportgen.report.plots import bare, hwc
from reportgen.report.section import FigureDrawer, Section


def dataset_table(contents: ReportContents) -> Table:
    """Sizes, classes, fingerprint, augmentation and normalisation."""
    dataset, data = contents.dataset, contents.config.data
    share = ([("training share", sentence(Metric(config_key("data.train_fraction"), data.train_fraction, "number"),
                                          " of each class (data.train_fraction), drawn with seed ",
                                          Metric(config_key("data.fraction_seed"), data.fraction_seed, "count")))]
             if data.train_fraction < 1 else [])
    test = Metric("dataset.test_size", int(dataset["test_size"]), "count")
    splits = ([("validation images (held out of the training images)", contents.val_size), ("test images", test)]
              if contents.validation_held_out else [("test images (also the validation set)", test)])
    return key_value_table([
        ("source", str(dataset.get("source", "not recorded"))),
        ("training images", Metric("dataset.train_size", int(dataset["train_size"]), "count")),
        *share,
        *splits,
        ("classes", sentence(Metric("dataset.num_classes", len(dataset["classes"]), "count"), ": ",
                             ", ".join(dataset["classes"]))),
        *augmentation_rows(contents.config.augment),
        ("normalisation mean (R, G, B)", sentence(listing(config_key("data.mean"), data.mean))),
        ("normalisation std (R, G, B)", sentence(listing(config_key("data.std"), data.std))),
    ])


def augmentation_rows(aug: AugmentConfig) -> list[tuple[str, Cell]]:
    """The training augmentation as run: the seed's transforms, then the recipe's policy and mixes; or none."""
    if not aug.enabled:
        return [("training augmentation", "none (augment.enabled: false)")]
    rows: list[tuple[str, Cell]] = [
        ("horizontal flip probability", Metric(config_key("augment.hflip_p"), aug.hflip_p, "number")),
        ("random rotation", sentence("±", Metric(config_key("augment.rotation_deg"), aug.rotation_deg, "number"), "°")),
        ("random translation", sentence("up to ", Metric(config_key("augment.translate_frac"), aug.translate_frac,
                                                          "number"), " of width and height")),
    ]
    if aug.policy != "none":
        rows.append(("augmentation policy", sentence(POLICY_NAMES[aug.policy], ", drawn for each image")))
    for name, label in (("mixup_alpha", "MixUp α"), ("cutmix_alpha", "CutMix α")):
        if getattr(aug, name) > 0:
            rows.append((label, Metric(config_key(f"augment.{name}"), getattr(aug, name), "number")))
    return rows


def augmentation_words(aug: AugmentConfig) -> str:
    """How the training images are augmented, for the section's paragraph."""
    if not aug.enabled:
        return "Training images are not augmented (augment.enabled is false)"
    extra = ([f", then {POLICY_NAMES[aug.policy]}"] if aug.policy != "none" else []) + \
        ([", and MixUp / CutMix mix pairs of images and their labels"] if aug.mixup_alpha or aug.cutmix_alpha else [])
    return "Training images are augmented (random horizontal flip, rotation and translation" + "".join(extra) + ")"


def training_words(contents: ReportContents, train: Metric) -> Sentence:
    """On what the models were trained: the bundle's training split for runs trained here; for weights evaluated
    from elsewhere only that this is not known (the split is what the config describes, not what they saw)."""
    trained = [m.name for m in contents.trained]
    evaluated = [m.name for m in contents.models if m.training is None]
    if not evaluated:
        subject = "The models are" if len(trained) > 1 else f"The {trained[0]} is"
        return sentence(f"{subject} trained on ", train, " images and")
    unknown = (f"The weights of the {' and the '.join(evaluated)} were trained elsewhere and evaluated here, so which "
               "images they were trained on is not known to this report")
    if not trained:
        return sentence(unknown, " (the config describes a training split of ", train, " images, which they need not "
                        "have seen); they are")
    return sentence(f"The {' and the '.join(trained)} {'are' if len(trained) > 1 else 'is'} trained on ", train,
                    f" images; {unknown.lower()[0]}{unknown[1:]}; all are")


def validation_sentence(contents: ReportContents) -> Sentence:
    """Which split the training runs validated on."""
    if contents.validation_held_out:
        return sentence("Validation uses ", contents.val_size, " images held out of the training images "
                        "(data.val_fraction), never trained on: every validation curve below is measured on them, and "
                        "the test images are used once, for the test metrics.")
    return sentence("As in the original study, validation uses the test split: there is no separate validation set, "
                    "so every validation curve below is measured on the test images.")


def draw_samples(samples: dict[str, np.ndarray], class_names: Sequence[str], augmented: bool) -> plt.Figure:
    """One row of (augmented) training images and one of test images, titled by class."""
    train = "augmented train" if augmented else "train"
    rows = ((train, "train_augmented", "train_labels"), ("test", "test", "test_labels"))
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
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        aug = contents.config.augment
        train = Metric("dataset.train_size", int(contents.dataset["train_size"]), "count")
        test = Metric("dataset.test_size", int(contents.dataset["test_size"]), "count")
        k = Metric("dataset.num_classes", len(contents.class_names), "count")
        said = [training_words(contents, train), " evaluated on ", test, " test images of ", k, " classes. "]
        if contents.trained:
            said.append(validation_sentence(contents))
        config_only = "" if contents.trained else ", as the config describes it"
        text = sentence(*said, " ", augmentation_words(aug), config_only, "; test images are only normalised with "
                        "the channel statistics below.")
        shown = "augmented training image" if aug.enabled else "training image"
        samples = figures.draw("samples", lambda: draw_samples(contents.samples, contents.class_names, aug.enabled),
                               f"One {shown} (top) and one test image (bottom) per class, as the models see them "
                               "before normalisation" + (" (the flip, rotation and translation only)." if aug.enabled
                                                         else "."))
        return [Paragraph([text]), samples, dataset_table(contents)]
