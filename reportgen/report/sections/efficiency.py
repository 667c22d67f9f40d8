"""Section "Computational cost": FLOPs, activation and peak memory, inference throughput and latency, training
throughput and time to accuracy, from each run's efficiency.json (measured by the build,
reportgen/analysis/efficiency.py) and history.csv; the seed's "more parameters yet faster" is tested.

Static quantities (FLOPs, memory) are the first seed's (they do not depend on the weights); the
timed passes of all seeds are pooled. One model is called faster only when a test says so: a
Mann-Whitney U test of the two models' timed passes, or for training throughput a t-test over seeds
(with two or more seeds per model); see `cost_rule`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import mannwhitneyu

from reportgen.analyses import EFFICIENCY
from reportgen.config import ReportConfig
from reportgen.machine_load import BUSY_CORES
from reportgen.report.common import parameter_lead
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Part,
    Sentence,
    Table,
    capital,
    compare_key,
    model_key,
    p_parts,
    sentence,
    stat_cell,
)
from reportgen.report.section import FigureDrawer, Section
from reportgen.report.stats import ttest_over_seeds

TRAINING = "training"  # the measure name of training throughput
PRECISIONS = {"32": "fp32", "bf16-mixed": "bf16 autocast"}


def cost_rule(rules: ReportConfig, peak_methods: list[str]) -> Sentence:
    """How every number of the cost section is measured, and when a model is called faster."""
    return sentence(
        "How cost is measured: FLOPs count every convolution and matrix product of one image's forward pass, the "
        "attention's included, at 2 FLOPs per multiply-add (PyTorch's FlopCounterMode, with attention computed by "
        "its math backend so that no fused kernel hides it). Activation memory is what autograd saves for the "
        "backward pass per training image (each storage once, weights not counted; the difference between two batch "
        "sizes, per image). Peak memory is that of one training step (forward, backward, AdamW) at the run's batch "
        f"size after a warm-up step: {'; '.join(peak_methods)}. Inference is timed in evaluation mode at the run's "
        "batch size and at batch 1: the median of the timed forward passes, after untimed warm-up passes that the "
        "timings exclude. Training throughput is training images × epochs / training time, and time to accuracy sums "
        "the epoch times up to the first epoch whose validation accuracy reaches the milestone (history.csv). A model "
        f"is called faster only when a test rejects equal speed at α = {rules.alpha:g}: a two-sided Mann-Whitney U "
        "test of the two models' timed passes, or, for training throughput, a t-test over seeds (paired by seed) with "
        "two or more seeds per model; other work on the machine while the passes are timed makes them noisier and a "
        "difference harder to show. MB are 10^6 bytes.")


@dataclass(frozen=True)
class Cost:
    """What efficiency.json says about one model, over its seeds."""

    model: ModelFacts
    flops: Metric  # MFLOPs of one image's forward pass
    attention_flops: Metric | None  # of which in batched matrix products (the attention's), when there are any
    activation: Metric  # MB saved for backward per training image
    peak: Metric | None  # MB, one training step at the run's batch size
    peak_method: str
    batch_size: int
    batch_times: tuple[float, ...]  # seconds of each timed pass at the batch size, all seeds pooled
    latency_times: tuple[float, ...]  # seconds of each timed pass at batch 1
    measured_on: str  # device name, threads and precision
    other_load: float | None  # the most CPU cores other processes used during a timing, None where unknown

    @property
    def throughput(self) -> Metric:
        """Inference images per second at the run's batch size: the batch over the median time of a pass."""
        return Metric(model_key(self.model.key, "efficiency.inference_images_per_s"),
                      self.batch_size / float(np.median(self.batch_times)), "rate")

    @property
    def latency(self) -> Metric:
        """Median time of a batch-1 forward pass, in ms."""
        return Metric(model_key(self.model.key, "efficiency.latency_ms"), 1000 * float(np.median(self.latency_times)),
                      "milliseconds")


def model_cost(m: ModelFacts, records: Sequence[dict]) -> Cost:
    """The cost of `m` from its seeds' efficiency.json records."""
    first = records[0]
    flops = first["flops_per_image"]
    peak = first["peak_step_bytes"]
    return Cost(
        model=m,
        flops=Metric(model_key(m.key, "efficiency.mflops"), flops["total"] / 1e6, "mflops"),
        attention_flops=(Metric(model_key(m.key, "efficiency.attention_mflops"), flops["aten.bmm"] / 1e6, "mflops")
                         if flops.get("aten.bmm") else None),
        activation=Metric(model_key(m.key, "efficiency.activation_mb"), first["activation_bytes_per_image"] / 1e6,
                          "megabytes"),
        peak=None if peak is None else Metric(model_key(m.key, "efficiency.peak_mb"), peak / 1e6, "megabytes"),
        peak_method=first["peak_method"],
        batch_size=int(first["batch_size"]),
        batch_times=tuple(t for r in records for t in r["batch_s"]),
        latency_times=tuple(t for r in records for t in r["latency_s"]),
        measured_on=f"{first['device_name']} ({first['device']}, {first['threads']} threads, "
                    f"{PRECISIONS.get(first['precision'], first['precision'])})",
        other_load=max((r["other_load_cores"] for r in records if r.get("other_load_cores") is not None),
                       default=None),
    )


def costs(contents: ReportContents) -> list[Cost]:
    """The cost of every model whose runs all hold efficiency.json, in config order."""
    out = []
    for m in contents.models:
        records = contents.analysis(m.key, EFFICIENCY.filename, EFFICIENCY.spec)
        if records is not None:
            out.append(model_cost(m, records))
    return out


# ---------------------------------------------------------------- time to accuracy


def time_to_accuracy(history: dict[str, np.ndarray], milestone: float) -> float | None:
    """Seconds of training (epoch times summed) until the validation accuracy first reached `milestone`, or None."""
    reached = np.flatnonzero(history["val_acc"] >= milestone)
    return float(np.cumsum(history["epoch_time_s"])[reached[0]]) if reached.size else None


def common_milestone(models: Sequence[ModelFacts]) -> float:
    """The highest whole percent of validation accuracy that every run of every model reached."""
    best = min(float(h["val_acc"].max()) for m in models for h in m.training.histories)
    return math.floor(100 * best + 1e-9) / 100


def time_stat(m: ModelFacts, milestone: float, name: str) -> Metric | None:
    """Mean over seeds of the time to `milestone`; None unless every seed reached it."""
    times = [time_to_accuracy(h, milestone) for h in m.training.histories]
    if any(t is None for t in times):
        return None
    return Metric(model_key(m.key, f"efficiency.{name}"), float(np.mean(times)), "seconds")


# ---------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class SpeedTest:
    """Which of two models is faster on one measure, by how much, and whether a test supports it."""

    faster: ModelFacts | None  # None: the same median, or the same shown value
    slower: ModelFacts | None
    factor: Metric | None  # faster / slower speed
    p: Metric | None  # None: not tested (too few samples)
    test: str  # the test's name, for the prose
    alpha: float

    @property
    def significant(self) -> bool:
        return self.faster is not None and self.p is not None and self.p.value < self.alpha


def timing_test(key: str, a: ModelFacts, b: ModelFacts, a_times: Sequence[float], b_times: Sequence[float],
                alpha: float) -> SpeedTest:
    """A Mann-Whitney U test (two-sided) of two models' timed passes; the faster has the lower median time."""
    ma, mb = float(np.median(a_times)), float(np.median(b_times))
    p = Metric(compare_key(f"{key}.p"), float(mannwhitneyu(a_times, b_times, alternative="two-sided").pvalue),
               "pvalue")
    if ma == mb:
        return SpeedTest(None, None, None, p, "Mann-Whitney U test", alpha)
    (fast, slow, t_fast, t_slow) = (a, b, ma, mb) if ma < mb else (b, a, mb, ma)
    return SpeedTest(fast, slow, Metric(compare_key(f"{key}.factor"), t_slow / t_fast, "factor"), p,
                     "Mann-Whitney U test", alpha)


def training_test(a: ModelFacts, b: ModelFacts, alpha: float) -> SpeedTest:
    """Training throughput from history: the higher mean wins a t-test over seeds, with two or more seeds a side."""
    ra, rb = a.training.images_per_s, b.training.images_per_s
    t = ttest_over_seeds(compare_key("efficiency.training"), ra.values, rb.values, a.seeds == b.seeds)
    p = None if t is None else t.metric("p")
    if ra.mean.text == rb.mean.text:
        return SpeedTest(None, None, None, p, "t-test over seeds", alpha)
    fast, slow = (a, b) if ra.mean.value > rb.mean.value else (b, a)
    factor = fast.training.images_per_s.mean.value / slow.training.images_per_s.mean.value
    return SpeedTest(fast, slow, Metric(compare_key("efficiency.training.factor"), factor, "factor"), p,
                     "" if t is None else f"{t.name} over seeds", alpha)


def evidence(test: SpeedTest, samples: str) -> list[Part]:
    """"Mann-Whitney U test over ..., p = 0.0012"."""
    return [f"{test.test}{samples}, ", *p_parts(test.p)]


def speed_sentence(test: SpeedTest, what: str, values: tuple[Metric, Metric], models: tuple[ModelFacts, ModelFacts],
                   unit: str, samples: str) -> Sentence:
    """Which model is faster on one measure, only when the test says so; the two values either way."""
    (a, b), (va, vb) = models, values
    shown = [va, f" {unit} for {a.the} against ", vb, f" for {b.the}"]
    if test.faster is None:
        return sentence(f"Both models are equally fast in {what}: ", shown, ".")
    ahead = [f"{capital(test.faster.the)} is ahead in {what} by ", test.factor, "× (", shown, ")"]
    if test.p is None:
        return sentence(ahead, "; with a single run per model the difference is not tested, so neither model is "
                        "shown to be faster.")
    if test.significant:
        return sentence(f"{capital(test.faster.the)} is faster in {what}, by ", test.factor, "×: ", shown, " (",
                        evidence(test, samples), ").")
    return sentence(ahead, ", but the difference is not significant (", evidence(test, samples),
                    "), so neither model is shown to be faster.")


def more_sentence(key: str, what: str, unit: str, a_value: Metric, b_value: Metric, a: ModelFacts,
                  b: ModelFacts) -> Sentence:
    """Which model needs more of a deterministic quantity (FLOPs, memory), and how many times as much."""
    if a_value.text == b_value.text:
        return sentence(f"The {a.name} and the {b.name} need the same {what}: ", a_value, f" {unit}.")
    (big, small, vb, vs) = (a, b, a_value, b_value) if a_value.value > b_value.value else (b, a, b_value, a_value)
    return sentence(f"{capital(big.the)} needs ", Metric(compare_key(f"efficiency.{key}_ratio"), vb.value / vs.value,
                                                         "factor"),
                    f"× the {what} of {small.the}: ", vb, " against ", vs, f" {unit}.")


def outcome(test: SpeedTest, big: ModelFacts) -> str:
    """How one speed test bears on "the model with more parameters is faster"."""
    if test.p is None:
        return "not tested"
    if not test.significant:
        return "no significant difference"
    return "holds" if test.faster is big else "contradicted"


def observation_sentence(a: Cost, b: Cost, tests: dict[str, SpeedTest]) -> Sentence:
    """The seed's "more parameters yet faster" (its CNN, 1.4 million parameters against 1.2, trained faster),
    tested on each speed measure: it holds where the model with more parameters is significantly faster."""
    ahead = parameter_lead(a.model, b.model)
    if ahead is None:
        return sentence("The seed study remarked that its model with more parameters trained faster; here both "
                        "models have the same number of parameters, so the remark does not apply.")
    big, small = ahead.winner, ahead.loser
    flops = {c.model.key: c.flops for c in (a, b)}
    by_outcome = {kind: [what for what, t in tests.items() if outcome(t, big) == kind] for kind in OUTCOMES}
    clauses = [f"{OUTCOMES[kind]} {spoken_list(measures)}" for kind, measures in by_outcome.items() if measures]
    if by_outcome["holds"] and len(by_outcome["holds"]) + len(by_outcome["not tested"]) == len(tests):
        verdict = "holds on every tested measure"
    elif by_outcome["holds"]:
        verdict = f"holds only for {spoken_list(by_outcome['holds'])}"
    else:
        verdict = "is not supported on any measure"
    return sentence(
        "The seed study remarked that its model with more parameters nevertheless trained faster. Tested here: ",
        f"{big.the} has ", ahead.margin, f"× the parameters of {small.the} and needs ",
        Metric(compare_key("efficiency.more_parameters_flops_ratio"), flops[big.key].value / flops[small.key].value,
               "factor"),
        f"× its FLOPs per image; it is {'; '.join(clauses)}. So \"more parameters yet faster\" {verdict} on this "
        "machine.")


def spoken_list(names: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# How each outcome of a speed test reads in the observation sentence, in the order listed.
OUTCOMES = {"holds": "significantly faster in", "contradicted": "significantly slower in",
            "no significant difference": "not significantly different in", "not tested": "not tested in"}


# ---------------------------------------------------------------- the section


def cost_table(cost: Sequence[Cost], contents: ReportContents) -> Table:
    """One column per model, one row per measure."""
    milestone = contents.rules.val_acc_milestone
    trained = [c for c in cost if c.model.training is not None]
    rows: list[list[Cell]] = [
        ["parameters", *(c.model.parameters for c in cost)],
        ["forward MFLOPs per image", *(c.flops for c in cost)],
        ["activation memory per training image (MB)", *(c.activation for c in cost)],
        ["peak memory of a training step (MB)", *(c.peak if c.peak is not None else "not measured" for c in cost)],
        ["inference, images per second (run's batch size)", *(c.throughput for c in cost)],
        ["inference latency at batch 1 (ms)", *(c.latency for c in cost)],
        ["batch size", *(Metric(model_key(c.model.key, "efficiency.batch_size"), c.batch_size, "count")
                         for c in cost)],
    ]
    if len(trained) == len(cost):
        rows.append(["training, images per second", *(stat_cell(c.model.training.images_per_s) for c in cost)])
        times = [time_stat(c.model, milestone, "time_to_milestone_s") for c in cost]
        rows.append([f"time to {milestone:.0%} validation accuracy (s)",
                     *(t if t is not None else "not reached" for t in times)])
    where = "; ".join(dict.fromkeys(f"{c.model.name} on {c.measured_on}" for c in cost))
    return Table(["measure", *(c.model.name for c in cost)], rows,
                 caption=f"Computational cost, measured by the build ({where}). Timings are medians of the timed "
                         "passes, excluding warm-up; static quantities are the first seed's.")


def time_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """How long each model took to reach the highest validation accuracy both reached, and the ratio."""
    level = common_milestone([a, b])
    milestone = Metric(compare_key("efficiency.common_milestone_pct"), 100 * level, "percent")
    ta, tb = (time_stat(m, level, "time_to_common_s") for m in (a, b))
    intro = ["To reach ", milestone, "% validation accuracy (the highest whole percent every run of both models "
             f"reached), {a.the} trained for ", ta, f" s and {b.the} for ", tb, " s"]
    if ta.text == tb.text:
        return sentence(intro, ".")
    soon, late = (a, b) if ta.value < tb.value else (b, a)
    ratio = max(ta.value, tb.value) / min(ta.value, tb.value)
    return sentence(intro, f": {soon.the} got there ", Metric(compare_key("efficiency.time_to_common_ratio"), ratio,
                                                               "factor"),
                    "× sooner (one measurement per run, not a test).")


def comparison(a: Cost, b: Cost, alpha: float) -> list[Sentence]:
    """The pairwise statements: FLOPs, memory, speed, time to accuracy, and the seed's remark tested."""
    ma, mb = a.model, b.model
    samples = f" over {len(a.batch_times)} and {len(b.batch_times)} timed passes"
    tests = {  # inference first, then latency: the order of the values zipped with them below
        f"inference at batch {a.batch_size}": timing_test("efficiency.inference", ma, mb, a.batch_times,
                                                          b.batch_times, alpha),
        "single-image inference (batch 1)": timing_test("efficiency.latency", ma, mb, a.latency_times,
                                                        b.latency_times, alpha),
    }
    if ma.training is not None and mb.training is not None:
        tests[TRAINING] = training_test(ma, mb, alpha)
    out = [more_sentence("flops", "forward FLOPs per image", "MFLOPs", a.flops, b.flops, ma, mb),
           more_sentence("activation", "activation memory per training image", "MB", a.activation, b.activation,
                         ma, mb)]
    if a.peak is not None and b.peak is not None:
        out.append(more_sentence("peak", "peak memory in a training step", "MB", a.peak, b.peak, ma, mb))
    pair = (ma, mb)
    for (what, test), values, unit in zip(tests.items(), ((a.throughput, b.throughput), (a.latency, b.latency)),
                                          ("images per second", "ms")):
        out.append(speed_sentence(test, what, values, pair, unit, samples))
    if TRAINING in tests:
        out.append(speed_sentence(tests[TRAINING], TRAINING, (ma.training.images_per_s.mean,
                                                              mb.training.images_per_s.mean),
                                  pair, "training images per second", ""))
        out.append(time_sentence(ma, mb))
    return out + [observation_sentence(a, b, tests)]


def busy_note(cost: Sequence[Cost]) -> Callout | None:
    """A caveat when other processes used the CPU while a model's passes were timed."""
    busy = [c for c in cost if c.other_load is not None and c.other_load > BUSY_CORES]
    if not busy:
        return None
    loads = [part for i, c in enumerate(busy) for part in (" and " if i else "", Metric(
        model_key(c.model.key, "efficiency.other_load_cores"), c.other_load, "factor"),
        f" CPU cores during {c.model.the}'s timings")]
    return Callout("note", [sentence(
        "Other processes used up to ", loads, " (from /proc/stat): the timings measure a shared machine, so they are "
        "noisier than on an idle one and a difference is harder to show.")])


def attention_sentence(c: Cost) -> Sentence:
    """How much of a model's count is in batched matrix products (the attention's, which some counters miss)."""
    return sentence(f"Of {c.model.the}'s ", c.flops, " MFLOPs per image, ", c.attention_flops,
                    " are the attention's batched matrix products (queries times keys, weights times values), which "
                    "a counter blind to fused attention kernels would miss.")


class Efficiency(Section):
    key = "efficiency"
    title = "Computational cost"

    def applies(self, contents: ReportContents) -> bool:
        return bool(costs(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        cost, alpha = costs(contents), contents.rules.alpha
        facts = [attention_sentence(c) for c in cost if c.attention_flops is not None]
        if len(cost) == 2 and contents.comparative:
            facts = comparison(*cost, alpha) + facts
        methods = list(dict.fromkeys(c.peak_method for c in cost))
        note = busy_note(cost)
        return [Callout("rule", [cost_rule(contents.rules, methods)]), cost_table(cost, contents),
                *([note] if note else []), *([Bullets(facts)] if facts else [])]
