"""Section "Training speed and efficiency": first what does not depend on the machine (parameters, optimiser
steps), then the training runs' wall-clock times as a description (time per epoch, warm-up, throughput, time to
accuracy), with the CPU cores other processes used during the epochs (run.json's epoch_other_load_cores).

The runs trained one after the other, so their times are never a verdict: this section concludes nothing
(no `verdict`), and which model is faster comes only from the interleaved timings of the section
"Computational cost" (reportgen/report/timing_tests.py).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from reportgen.machine_load import BUSY_CORES
from reportgen.report.common import parameter_lead
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
    model_key,
    sentence,
    stat_cell,
)
from reportgen.report.section import FigureDrawer, TrainingSection


def both_steady(a: ModelFacts, b: ModelFacts) -> bool:
    """Whether both models recorded a steady-state time per epoch (bundles of reportgen 0.3 and later)."""
    return a.training.steady_epoch_time is not None and b.training.steady_epoch_time is not None


def compared_epoch_time(m: ModelFacts, steady: bool) -> Stat:
    """The time per epoch a comparison uses, the same measure for both models: steady state or mean."""
    return m.training.steady_epoch_time if steady else m.training.epoch_time


def epoch_time_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with the shorter compared time per epoch in this build (steady state when both recorded one, else
    the mean); margin ``compare.speed_factor`` = longer time / shorter time. A description, not a test."""
    steady = both_steady(a, b)
    return lead(a, b, lambda m: compared_epoch_time(m, steady), False,
                lambda win, lose: Metric(compare_key("speed_factor"), lose / win, "factor"))


def per_epoch(steady: bool, busy: bool = False) -> str:
    """What the compared times per epoch are: the steady state, or the mean with warm-up, for both models; on a
    machine `busy` during the epochs only the mean, with no cause named (the load, not warm-up, may set them)."""
    if busy:
        return " per epoch (the mean over all epochs, on a machine busy during some of them, below)"
    return " per epoch in the steady state (the first epoch of each fit, which pays one-off costs, left out)" \
        if steady else " per epoch (the mean over all epochs, one-off warm-up of the first included)"


def epoch_time_sentence(a: ModelFacts, b: ModelFacts, busy: bool) -> Sentence:
    """Each model's time per epoch in this build, as a description: the runs trained one after the other, so
    their wall-clock times share no machine state and decide nothing; no ratio of them when the machine was `busy`
    during the epochs (it would measure the load)."""
    steady = both_steady(a, b) and not busy  # the totals are the table's
    return sentence(
        f"In this build's training runs, which ran one after the other, {a.the} took ",
        compared_epoch_time(a, steady).parts(" s"), f" and {b.the} ", compared_epoch_time(b, steady).parts(" s"),
        per_epoch(steady, busy), *([] if busy else ratio_clause(a, b)), ": not interleaved, so a description of this "
        "build, not a test (the interleaved timings of Computational cost decide which model is faster).")


def ratio_clause(a: ModelFacts, b: ModelFacts) -> list:
    """"; the ViT's epochs took 1.50× as long as the CNN's" (nothing when the times read the same)."""
    shorter = epoch_time_lead(a, b)
    if shorter is None:
        return []
    return [f"; {shorter.loser.the}'s epochs took ", shorter.margin, f"× as long as {shorter.winner.the}'s"]


def warmup_sentence(m: ModelFacts, compiled: bool) -> Sentence | None:
    """What the first epoch of a model's fits cost beyond its steady state, per run, when recorded (`compiled`:
    torch.compile was on, so compiling is one of the one-off costs)."""
    t = m.training
    if t.warmup_time is None:
        return None
    several = len(m.seeds) > 1
    if max(t.warmup_time.values) < 0.005:  # every first epoch was as fast as the steady ones, to the printed 0.01 s
        return sentence(f"{capital(m.the)}'s first epoch{'s' if several else ''} took no longer than its steady-state "
                        "epoch of ", t.steady_epoch_time.parts(" s"), ": no one-off warm-up shows in these timings.")
    return sentence(f"{capital(m.the)} paid ", t.warmup_time.parts(" s"),
                    f" of one-off warm-up{' per run, mean over seeds' if several else ''}: what the first epoch of "
                    "each fit took beyond its steady-state epoch of ", t.steady_epoch_time.parts(" s"),
                    f" (memory allocation, kernel selection{', compilation' if compiled else ''}).")


def parameters_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model has more parameters and how many more."""
    ahead = parameter_lead(a, b)
    if ahead is None:
        return sentence(f"The {a.name} and the {b.name} have the same number of parameters, ", a.parameters, ".")
    w, lo = ahead.winner, ahead.loser
    return sentence(f"{capital(w.the)} has more parameters: ", w.parameters, " against ", lo.parameters,
                    f" for {lo.the}, ", ahead.margin, "× as many.")


def optimiser_steps(m: ModelFacts, contents: ReportContents) -> tuple[Metric, Metric]:
    """Optimiser steps per epoch and in all of the model's first run: ceil(training images / batch) per epoch."""
    info = contents.runs[m.key][0].info
    images = int(info.get("train_images", contents.dataset["train_size"]))
    per_epoch = math.ceil(images / contents.config.train.batch_size)
    return (Metric(model_key(m.key, "optimizer_steps_per_epoch"), per_epoch, "count"),
            Metric(model_key(m.key, "optimizer_steps"), per_epoch * int(info["epochs"]), "count"))


def steps_sentence(models: Sequence[ModelFacts], contents: ReportContents) -> Sentence:
    """How many optimiser steps each model took: counts that no machine changes."""
    steps = [optimiser_steps(m, contents) for m in models]
    if len(models) > 1 and len({(a.value, b.value) for a, b in steps}) == 1:  # the same counts: said once
        parts = ["both models took " if len(models) == 2 else "every model took ",
                 *interleave(steps[0], (" per epoch, ", " in all"))]
    else:
        parts = [part for i, (m, counts) in enumerate(zip(models, steps)) for part in (
            "; " if i else "", f"{m.the} took ", *interleave(counts, (" per epoch, ", " in all")))]
    batch = Metric("config.train.batch_size", contents.config.train.batch_size, "count")
    return sentence("Optimiser steps (batch ", batch, ", counts that do not depend on the machine): ", parts, ".")


def interleave(values: Sequence[Metric], words: Sequence[str]) -> list:
    """value, word, value, word, ..."""
    return [part for value, word in zip(values, words) for part in (value, word)]


def epoch_loads(m: ModelFacts, contents: ReportContents) -> list[float]:
    """The CPU cores other processes used in each recorded epoch of every run of the model (run.json)."""
    return [float(v) for run in contents.runs[m.key] for v in (run.info.get("epoch_other_load_cores") or [])
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def busy_training(m: ModelFacts, contents: ReportContents) -> bool:
    """Whether other processes used more than BUSY_CORES in any recorded epoch of the model's runs: then its epoch
    times, their steady state and its first epoch's excess measure the load as much as the model."""
    return any(load > BUSY_CORES for load in epoch_loads(m, contents))


def load_sentence(m: ModelFacts, contents: ReportContents) -> Sentence | None:
    """Whether the machine was busy while the model trained, with the load; None where no epoch recorded it."""
    loads = epoch_loads(m, contents)
    if not loads:
        return None
    peak = Metric(model_key(m.key, "training_load.max"), max(loads), "factor")
    mean = Metric(model_key(m.key, "training_load.mean"), float(np.mean(loads)), "factor")
    state = ("busy while it trained, so its epoch times include other processes' work" if peak.value > BUSY_CORES
             else "idle enough while it trained")
    return sentence(f"During {m.the}'s training epochs other processes used up to ", peak, " CPU cores (", mean,
                    f" on average, from /proc/stat): the machine was {state} (the threshold is {BUSY_CORES:g} "
                    "cores).")


# What the fit wall clock is, beside the epochs' summed time (run.json's fit_wall_time_s and train_time_s).
FIT_WALL_CLOCK = ("Fit wall clock: the whole fit from start to end, which also holds the fit's set-up and checkpoint "
                  "writing (of a resumed run, the fit that finished). ")


def efficiency_table(models: list[ModelFacts], contents: ReportContents) -> Table:
    """Training time (epochs summed, and the fit's wall clock where recorded), time per epoch and throughput, one row
    per trained model (parameters and accuracy are the sections' before: not repeated)."""
    steady = all(f.training.steady_epoch_time is not None for f in models)
    fit_wall = all(f.training.fit_wall_time is not None for f in models)
    loads = {f.key: epoch_loads(f, contents) for f in models}
    recorded = all(loads.values())
    rows: list[list[Cell]] = [
        [f.name, stat_cell(f.training.train_time),
         *([stat_cell(f.training.fit_wall_time)] if fit_wall else []), stat_cell(f.training.epoch_time),
         *([stat_cell(f.training.steady_epoch_time)] if steady else []),
         stat_cell(f.training.images_per_s),
         *([Metric(model_key(f.key, "training_load.max"), max(loads[f.key]), "factor")] if recorded else [])]
        for f in models
    ]
    return Table(["model", "training time (s)",
                  *(["fit wall clock (s)"] if fit_wall else []), "time per epoch (s)",
                  *(["steady epoch (s)"] if steady else []), "images / s",
                  *(["other load (cores, max)"] if recorded else [])], rows,
                 caption="The training runs' wall-clock cost (one run after the other: a description, not a test). "
                         "Training time: the epochs' times summed, training and validation passes. "
                         + (FIT_WALL_CLOCK if fit_wall else "") + "Time per epoch = training time / epochs, warm-up "
                         "included; steady epoch: without each fit's first. Images / s = training images × epochs / "
                         "training time. Other load: the most CPU cores other processes used in an epoch.")


# ---------------------------------------------------------------- time to accuracy


def time_to_accuracy(history: dict[str, np.ndarray], milestone: float) -> float | None:
    """Seconds of training (epoch times summed) until the validation accuracy first reached `milestone`, or None."""
    reached = np.flatnonzero(history["val_acc"] >= milestone)
    return float(np.cumsum(history["epoch_time_s"])[reached[0]]) if reached.size else None


def common_milestone(models: Sequence[ModelFacts]) -> float:
    """The highest whole percent of validation accuracy that every run of every model reached."""
    best = min(float(h["val_acc"].max()) for m in models for h in m.training.histories)
    return math.floor(100 * best + 1e-9) / 100


def time_stat(m: ModelFacts, milestone: float) -> Metric:
    """Mean over seeds of the time to `milestone` (every seed reached it: it is the common milestone)."""
    times = [time_to_accuracy(h, milestone) for h in m.training.histories]
    return Metric(model_key(m.key, "efficiency.time_to_common_s"), float(np.mean(times)), "seconds")


def time_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """How long each model trained to reach the highest validation accuracy both reached: a description."""
    level = common_milestone([a, b])
    milestone = Metric(compare_key("efficiency.common_milestone_pct"), 100 * level, "percent")
    return sentence("To reach ", milestone, "% validation accuracy (the highest whole percent every run of both "
                    f"models reached), {a.the} trained for ", time_stat(a, level), f" s and {b.the} for ",
                    time_stat(b, level), " s of wall-clock time (one measurement per run, not a test).")


class Speed(TrainingSection):
    key = "speed"
    title = "Training speed and efficiency"
    descriptive = True  # the sequential runs' wall clocks were not interleaved: the cost section tests speed

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        trained = contents.trained
        facts: list[Sentence] = [steps_sentence(trained, contents)]
        if contents.comparative and len(trained) == 2:
            a, b = trained
            # On a machine busy during the epochs, a warm-up, a ratio of epoch times or a time to accuracy would
            # measure the load: the load sentences below say so, and the table gives the times as measured.
            busy = busy_training(a, contents) or busy_training(b, contents)
            compiled = contents.config.train.compile
            warmups = [] if busy else [w for m in (a, b) if (w := warmup_sentence(m, compiled)) is not None]
            # training throughput is the table's (images / s): no sentence repeats it
            facts = [parameters_sentence(a, b), *facts, epoch_time_sentence(a, b, busy), *warmups,
                     *([] if busy else [time_sentence(a, b)])]
        facts += [s for m in trained if (s := load_sentence(m, contents)) is not None]
        return [Bullets(facts), efficiency_table(trained, contents)]
