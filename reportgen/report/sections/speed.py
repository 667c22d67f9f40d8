"""Section "Training speed and efficiency": which model trained faster per epoch, parameters and throughput."""

from __future__ import annotations

from reportgen.report.common import accuracy_winner, model_significance, parameter_lead
from reportgen.report.contents import Lead, ModelFacts, ReportContents, lead
from reportgen.report.kernel import (
    Bullets,
    Cell,
    Item,
    Metric,
    Sentence,
    Stat,
    Table,
    capital,
    compare_key,
    sentence,
    stat_cell,
)
from reportgen.report.section import FigureDrawer, TrainingSection, Verdict


def both_steady(a: ModelFacts, b: ModelFacts) -> bool:
    """Whether both models recorded a steady-state time per epoch (bundles of reportgen 0.3 and later)."""
    return a.training.steady_epoch_time is not None and b.training.steady_epoch_time is not None


def compared_epoch_time(m: ModelFacts, steady: bool) -> Stat:
    """The time per epoch a comparison uses, the same measure for both models: steady state or mean."""
    return m.training.steady_epoch_time if steady else m.training.epoch_time


def speed_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The faster model, by the steady-state time per epoch when both recorded one, else by the mean epoch
    time (warm-up included) of both; margin = slower time / faster time (both models trained)."""
    steady = both_steady(a, b)
    return lead(a, b, lambda m: compared_epoch_time(m, steady), False,
                lambda win, lose: Metric(compare_key("speed_factor"), lose / win, "factor"))


def _per_epoch(steady: bool) -> str:
    """What the compared times per epoch are: the steady state, or the mean with warm-up, for both models."""
    return " per epoch in the steady state (the first epoch of each fit, which pays one-off costs, left out)" \
        if steady else " per epoch (the mean over all epochs, one-off warm-up of the first included)"


def speed_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model trained faster, by what factor, and each one's time per epoch."""
    steady = both_steady(a, b)
    ahead = speed_lead(a, b)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} trained equally fast: ",
                        compared_epoch_time(a, steady).parts(" s"), " and ",
                        compared_epoch_time(b, steady).parts(" s"), _per_epoch(steady), ".")
    w, lo = ahead.winner, ahead.loser
    return sentence(
        f"{capital(w.the)} trained faster, by a factor of ", ahead.margin, "×: ",
        compared_epoch_time(w, steady).parts(" s"), " against ", compared_epoch_time(lo, steady).parts(" s"),
        f" for {lo.the}", _per_epoch(steady), " (", w.training.train_time.parts(" s"), " against ",
        lo.training.train_time.parts(" s"), " in total).")


def warmup_sentence(m: ModelFacts) -> Sentence | None:
    """What the first epochs of a model's fits cost beyond its steady state, per run, when recorded."""
    t = m.training
    if t.warmup_time is None:
        return None
    per_run = " per run, mean over seeds" if len(m.seeds) > 1 else ""
    return sentence(f"{capital(m.the)} paid ", t.warmup_time.parts(" s"), f" of one-off warm-up{per_run}: what the "
                    "first epoch of each fit took beyond its steady-state epoch of ", t.steady_epoch_time.parts(" s"),
                    " (memory allocation, kernel selection, compilation).")


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
    return sentence(f"{capital(m.the)} processed ", m.training.images_per_s.parts(), " training images per second "
                    "(training images × epochs / training time, warm-up and each epoch's validation pass included).")


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
                 caption="Accuracy and cost. Time per epoch = training time / epochs, warm-up and each epoch's "
                         "validation pass included; steady epoch: without the first epoch of each fit. Images per "
                         "second = training images × epochs / training time.")


def cost_verdict(a: ModelFacts, b: ModelFacts, winner: ModelFacts | None) -> Sentence:
    """Which model trained faster per epoch, and whether that trades against accuracy (`winner`: the significantly
    more accurate model, or None)."""
    speed = speed_lead(a, b)
    if speed is None:
        return sentence("Both trained equally fast per epoch.")
    if winner is None or speed.winner is winner:
        also = "" if winner is None else " also"
        return sentence(f"{capital(speed.winner.the)}{also} trained ", speed.margin, "× faster per epoch" +
                        ("." if winner is None else ", so it wins on both accuracy and training cost."))
    return sentence(f"{capital(speed.winner.the)}, however, trained ", speed.margin,
                    "× faster per epoch, so choosing between them trades accuracy against training cost.")


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

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """With two models trained here: the faster one, against the accuracy verdict."""
        if not (contents.comparative and len(contents.trained) == 2):
            return None
        a, b = contents.models
        return Verdict((cost_verdict(a, b, accuracy_winner(a, b, model_significance(contents))),))
