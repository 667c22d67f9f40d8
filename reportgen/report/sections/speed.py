"""Section "Training speed and efficiency": which model trained faster per epoch, parameters and throughput."""

from __future__ import annotations

from reportgen.report.contents import Lead, ModelFacts, ReportContents, lead
from reportgen.report.kernel import (
    Bullets,
    Cell,
    Item,
    Metric,
    Sentence,
    Table,
    capital,
    compare_key,
    sentence,
    stat_cell,
)
from reportgen.report.section import FigureDrawer, TrainingSection


def speed_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The faster model, by its steady-state time per epoch where recorded (else the mean epoch time);
    margin = slower time / faster time (both models trained)."""
    return lead(a, b, lambda m: m.training.speed_epoch_time, False,
                lambda win, lose: Metric(compare_key("speed_factor"), lose / win, "factor"))


def parameter_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with more parameters; margin = larger count / smaller count."""
    return lead(a, b, lambda m: m.parameters, True,
                lambda win, lose: Metric(compare_key("parameter_ratio"), win / lose, "factor"))


def _per_epoch(a: ModelFacts, b: ModelFacts) -> str:
    """What the compared times per epoch are: the steady state, or the mean with warm-up, for both models."""
    steady = a.training.steady_epoch_time is not None and b.training.steady_epoch_time is not None
    return " per epoch in the steady state (the first epoch of each fit, which pays one-off costs, left out)" \
        if steady else " per epoch (the mean over all epochs, one-off warm-up of the first included)"


def speed_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model trained faster, by what factor, and each one's time per epoch."""
    ahead = speed_lead(a, b)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} trained equally fast: ",
                        a.training.speed_epoch_time.parts(" s"), " and ", b.training.speed_epoch_time.parts(" s"),
                        _per_epoch(a, b), ".")
    w, lo = ahead.winner, ahead.loser
    return sentence(
        f"{capital(w.the)} trained faster, by a factor of ", ahead.margin, "×: ",
        w.training.speed_epoch_time.parts(" s"), " against ", lo.training.speed_epoch_time.parts(" s"),
        f" for {lo.the}", _per_epoch(a, b), " (", w.training.train_time.parts(" s"), " against ",
        lo.training.train_time.parts(" s"), " in total).")


def warmup_sentence(m: ModelFacts) -> Sentence | None:
    """How much the first epoch of each fit cost beyond the steady state, when recorded."""
    t = m.training
    if t.warmup_time is None:
        return None
    return sentence(f"{capital(m.the)}'s first epoch of each fit took ", t.warmup_time.parts(" s"),
                    " longer than its steady-state epoch of ", t.steady_epoch_time.parts(" s"),
                    " (one-off costs: memory allocation, kernel selection, compilation).")


def parameters_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model has more parameters and how many more."""
    ahead = parameter_lead(a, b)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} have the same number of parameters, ", a.parameters, ".")
    w, lo = ahead.winner, ahead.loser
    return sentence(f"{capital(w.the)} has more parameters: ", w.parameters, " against ", lo.parameters,
                    f" for {lo.the}, ", ahead.margin, "× as many.")


def throughput_sentence(m: ModelFacts) -> Sentence:
    """Training throughput, in training images per second (the seed computes no accuracy-per-second figure)."""
    return sentence(f"{capital(m.the)} processed ", m.training.images_per_s.parts(), " training images per second.")


def efficiency_table(models: list[ModelFacts]) -> Table:
    """Parameters, test accuracy, training time and throughput, one row per trained model."""
    steady = all(f.training.steady_epoch_time is not None for f in models)
    rows: list[list[Cell]] = [
        [f.name, f.parameters, stat_cell(f.accuracy, "%"), stat_cell(f.training.train_time),
         stat_cell(f.training.epoch_time), *([stat_cell(f.training.steady_epoch_time)] if steady else []),
         stat_cell(f.training.images_per_s)]
        for f in models
    ]
    return Table(["model", "parameters", "test accuracy", "training time (s)", "time per epoch (s)",
                  *(["steady epoch (s)"] if steady else []), "images / s"], rows,
                 caption="Accuracy and cost. Time per epoch = training time / epochs (warm-up included); steady "
                         "epoch: without the first epoch of each fit. Images per second = training images × epochs "
                         "/ training time.")


class Speed(TrainingSection):
    key = "speed"
    title = "Training speed and efficiency"


    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        items: list[Item] = []
        if contents.comparative and len(contents.trained) == 2:
            a, b = contents.trained
            warmups = [w for w in (warmup_sentence(a), warmup_sentence(b)) if w is not None]
            items.append(Bullets([speed_sentence(a, b), *warmups, parameters_sentence(a, b),
                                  throughput_sentence(a), throughput_sentence(b)]))
        return items + [efficiency_table(contents.trained)]
