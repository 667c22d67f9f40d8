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
    """The faster model, by mean time per epoch; margin = slower time / faster time (both models trained)."""
    return lead(a, b, lambda m: m.training.epoch_time, False,
                lambda win, lose: Metric(compare_key("speed_factor"), lose / win, "factor"))


def parameter_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with more parameters; margin = larger count / smaller count."""
    return lead(a, b, lambda m: m.parameters, True,
                lambda win, lose: Metric(compare_key("parameter_ratio"), win / lose, "factor"))


def speed_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model trained faster, by what factor, and each one's time per epoch."""
    ahead = speed_lead(a, b)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} trained equally fast: ", a.training.epoch_time.parts(" s"),
                        " and ", b.training.epoch_time.parts(" s"), " per epoch.")
    w, lo = ahead.winner, ahead.loser
    return sentence(
        f"{capital(w.the)} trained faster, by a factor of ", ahead.margin, "×: ", w.training.epoch_time.parts(" s"),
        " per epoch against ", lo.training.epoch_time.parts(" s"), f" for {lo.the} (",
        w.training.train_time.parts(" s"), " against ", lo.training.train_time.parts(" s"), " in total).")


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
    rows: list[list[Cell]] = [
        [f.name, f.parameters, stat_cell(f.accuracy, "%"), stat_cell(f.training.train_time),
         stat_cell(f.training.epoch_time), stat_cell(f.training.images_per_s)]
        for f in models
    ]
    return Table(["model", "parameters", "test accuracy", "training time (s)", "time per epoch (s)",
                  "images / s"], rows,
                 caption="Accuracy and cost. Images per second = training images × epochs / training time.")


class Speed(TrainingSection):
    key = "speed"
    title = "Training speed and efficiency"


    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        items: list[Item] = []
        if contents.comparative and len(contents.trained) == 2:
            a, b = contents.trained
            items.append(Bullets([speed_sentence(a, b), parameters_sentence(a, b),
                                  throughput_sentence(a), throughput_sentence(b)]))
        return items + [efficiency_table(contents.trained)]
