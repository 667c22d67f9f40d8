"""Section "Training workflow": the hyperparameters as run, which split validated, and how far the run is from the
original study's protocol."""

from __future__ import annotations

from typing import Callable

from reportgen.config import TrainConfig
from reportgen.report.contents import ReportContents
from reportgen.report.kernel import (
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
from reportgen.report.section import FigureDrawer, TrainingSection, Verdict

# The original study's protocol, for the scale note: its notebook trains 80 epochs on CIFAR-10's 50,000 images.
ORIGINAL_EPOCHS = TrainConfig().epochs
ORIGINAL_TRAIN_SIZE = 50_000


# train.pipeline in words: the one the run used, never a list of both beside its name
PIPELINES = {"fast": "batched augmentation on the training device (train.pipeline: fast)",
             "seed": "the original study's per-image torchvision transforms (train.pipeline: seed)"}


def scale_note(contents: ReportContents) -> Sentence | None:
    """A warning when the run is smaller than the original study's protocol (fewer epochs or training images; the
    images held out for validation count as the protocol's training images, which they are)."""
    epochs, train_size = contents.epochs, int(contents.dataset["train_size"])
    held_out = contents.val_size
    if epochs is None or (epochs.value >= ORIGINAL_EPOCHS and train_size + held_out.value >= ORIGINAL_TRAIN_SIZE):
        return None
    validation = [" (and ", held_out, " held out for validation)"] if held_out.value else []
    return sentence(
        "This run trained for ", epochs, " epochs on ", Metric("dataset.train_size", train_size, "count"),
        " training images", validation, f"; the original study's protocol is {ORIGINAL_EPOCHS} epochs on the "
        f"{ORIGINAL_TRAIN_SIZE:,} CIFAR-10 training images. It is a reduced-scale run: its numbers show what "
        "this run measured, not the converged performance of the architectures, and its conclusions may change at "
        "full scale.")


def validation_words(contents: ReportContents) -> Sentence:
    """Which split validated (curves, milestones, the overfitting rule), and where the test split comes in."""
    if contents.validation_held_out:
        share = Metric(config_key("data.val_fraction"), contents.config.data.val_fraction, "number")
        return sentence("on the validation split held out of the training images (", contents.val_size,
                        " images, a share of ", share, " of each class, data.val_fraction), which every choice made "
                        "during training reads; the test split is used once, at the end")
    return sentence("on the test split, as the original study did (data.val_fraction is 0: no validation split is "
                    "held out, so the curves, milestones and overfitting rule read the test images)")


def schedule_words(t: TrainConfig, number: Callable[..., Metric]) -> Sentence:
    """The learning-rate schedule as run: the seed's cosine, after a linear warm-up where there is one."""
    cosine = ["cosine annealing to 0 over ", number("train.epochs", t.epochs, "count"), " epochs"]
    if not t.warmup_epochs:
        return sentence(cosine)
    return sentence("linear warm-up over the first ", number("train.warmup_epochs", t.warmup_epochs, "count"),
                    " epochs, then cosine annealing to 0 over the rest (", cosine[1], " epochs in all)")


def loss_words(t: TrainConfig, number: Callable[..., Metric]) -> Sentence:
    """The training loss as run: cross-entropy, with label smoothing where the config asks for it."""
    if not t.label_smoothing:
        return sentence("cross-entropy")
    return sentence("cross-entropy with label smoothing ", number("train.label_smoothing", t.label_smoothing),
                    " (the validation loss is plain cross-entropy)")


def after_training(contents: ReportContents) -> str:
    """What each model does once trained: the clean training accuracy where its runs record it, the test set."""
    if all(m.training.clean is not None for m in contents.trained):
        return ("each model classifies its training images in eval mode without augmentation (the clean training "
                "accuracy of the Generalisation section) and predicts the test set once")
    return "each model predicts the test set once (these runs record no clean training accuracy)"


def training_table(contents: ReportContents) -> Table:
    """The training hyperparameters, as run."""
    t, env = contents.config.train, contents.environment

    def number(path: str, value: float, unit: str = "number") -> Metric:
        return Metric(config_key(path), value, unit)

    return key_value_table([
        ("optimiser", sentence("AdamW, learning rate ", number("train.lr", t.lr), ", weight decay ",
                               number("train.weight_decay", t.weight_decay))),
        ("learning-rate schedule", schedule_words(t, number)),
        ("epochs run", contents.epochs),
        ("batch size", number("train.batch_size", t.batch_size, "count")),
        ("loss", loss_words(t, number)),
        ("seeds", sentence(listing(config_key("train.seeds"), t.seeds, "count"))),
        ("data pipeline", PIPELINES[t.pipeline]),
        ("validation split", "held out of the training images" if contents.validation_held_out
         else "the test split (as the original study)"),
        ("precision (configured / used)", f"{t.precision} / {env.get('precision', 'not recorded')}"),
        ("device (configured / used)", f"{t.device} / {env.get('device', 'not recorded')}"),
        ("channels-last, torch.compile", f"{'yes' if t.channels_last else 'no'}, {'yes' if t.compile else 'no'}"),
    ])


class Training(TrainingSection):
    key = "training"
    title = "Training workflow"
    descriptive = True


    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        if len(contents.trained) > 1:
            how = ("Both models are trained with PyTorch Lightning on the cross-entropy loss, with the same optimiser, "
                   "schedule and batch size.")
        else:
            how = f"The {contents.trained[0].name} is trained with PyTorch Lightning on the cross-entropy loss."
        items: list[Item] = [
            Paragraph([sentence(how, " After each epoch, training loss and accuracy (running averages over the "
                                "epoch's augmented batches, dropout on) and validation loss and accuracy are "
                                "recorded, ", validation_words(contents), ". After training, ",
                                after_training(contents), "; the test metrics are computed from those predictions.")]),
            training_table(contents)]
        return items  # a reduced scale is page 1's note (scale_note) and the Conclusion's caveat: not said again

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """The caveat on every conclusion of a reduced-scale run."""
        if scale_note(contents) is None:
            return None
        return Verdict(caveats=(sentence("These conclusions describe a reduced-scale run; the original study's "
                                         f"{ORIGINAL_EPOCHS} epochs on the full training set may change them."),))
