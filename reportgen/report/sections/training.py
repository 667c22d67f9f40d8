"""Section "Training workflow": the hyperparameters as run, and how far the run is from the seed protocol."""

from __future__ import annotations

from typing import Callable

from reportgen.config import TrainConfig
from reportgen.report.contents import ReportContents
from reportgen.report.kernel import (
    Callout,
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

# The seed protocol, for the scale note: the seed notebook trains 80 epochs on CIFAR-10's 50,000 images.
SEED_PROTOCOL_EPOCHS = TrainConfig().epochs
SEED_PROTOCOL_TRAIN_SIZE = 50_000


# train.pipeline in words: the one the run used, never a list of both beside its name
PIPELINES = {"fast": "batched augmentation on the training device (train.pipeline: fast)",
             "seed": "the original study's per-image torchvision transforms (train.pipeline: seed)"}


def scale_note(contents: ReportContents) -> Sentence | None:
    """A warning when the run is smaller than the seed protocol (fewer epochs or training images)."""
    epochs, train_size = contents.epochs, int(contents.dataset["train_size"])
    if epochs is None or (epochs.value >= SEED_PROTOCOL_EPOCHS and train_size >= SEED_PROTOCOL_TRAIN_SIZE):
        return None
    return sentence(
        "This run trained for ", epochs, " epochs on ", Metric("dataset.train_size", train_size, "count"),
        f" training images; the seed protocol is {SEED_PROTOCOL_EPOCHS} epochs on the "
        f"{SEED_PROTOCOL_TRAIN_SIZE:,} CIFAR-10 training images. It is a reduced-scale run: its numbers show what "
        "this run measured, not the converged performance of the architectures, and its conclusions may change at "
        "full scale.")


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
            Paragraph([sentence(how, " After each epoch, training loss and accuracy (over the epoch's samples) and "
                                "validation loss and accuracy (on the test split) are recorded; after training, the "
                                "model predicts the test set once and the metrics below are computed from those "
                                "predictions.")]),
            training_table(contents)]
        if scale_note(contents) is not None:
            items.append(Callout("note", [sentence("This run trained for ", contents.epochs,
                                                   f" epochs; the seed protocol is {SEED_PROTOCOL_EPOCHS}.")]))
        return items

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """The caveat on every conclusion of a reduced-scale run."""
        if scale_note(contents) is None:
            return None
        return Verdict(caveats=(sentence("These conclusions describe a reduced-scale run; the seed protocol's "
                                         f"{SEED_PROTOCOL_EPOCHS} epochs on the full training set may change them."),))
