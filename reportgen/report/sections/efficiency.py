"""Section "Computational cost": first what does not depend on the machine (parameters, FLOPs, activation and peak
memory, optimiser steps; each run's efficiency.json, measured by the build, reportgen/analysis/efficiency.py: a
table for one model, the sentences comparing FLOPs and memory for two), then the times, from the models timed
together in interleaved blocks (the bundle's timings.json, reportgen/analysis/timing.py).

Static quantities are the first seed's (they do not depend on the weights). One model is called faster
only by the test over blocks of reportgen/report/timing_tests.py, adjusted within the family of the three
timing measures, and only when the machine was idle during every block; otherwise the section says the
machine was busy and gives the load, and neither it, the Summary of findings nor the Conclusion draws a
speed verdict. Its verdict gives the Summary's cost rows and the original study's "cnn-trains-faster" and
"vit-more-memory".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from reportgen.analyses import EFFICIENCY
from reportgen.config import ReportConfig
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Callout,
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Table,
    capital,
    compare_key,
    first_seed,
    model_key,
    sentence,
)
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, STUDY_MODELS, SUPPORTED
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, SummaryRow, Verdict
from reportgen.report.timing_tests import (
    MEASURES,
    TEST_NAME,
    BlockTest,
    RatioEstimate,
    Timings,
    block_rule,
    busy_sentence,
    speed_ratios,
    speed_verdicts,
)


def cost_rule(rules: ReportConfig, peak_methods: list[str]) -> Sentence:
    """How every number of the cost section is measured."""
    return sentence(
        "How cost is measured: FLOPs count every convolution and matrix product of one image's forward pass, the "
        "attention's included, at 2 FLOPs per multiply-add (PyTorch's FlopCounterMode, attention by its math backend "
        "so that no fused kernel hides it). Activation memory: what autograd saves for the backward pass per training "
        "image (each storage once, weights excluded; the difference between two batch sizes). Peak memory: one "
        "training step (forward, backward, AdamW) at the run's batch size after a warm-up step: ",
        "; ".join(peak_methods), ". "
        "Optimiser steps: batches per epoch (the last one partial) times epochs. None of these depends on the "
        "machine's load. Times, from the interleaved timings: per block, the median timed forward pass at the run's "
        "batch size (inference throughput) and at batch 1 (latency), and one training step on a fixed batch, after "
        "untimed warm-up. MB are 10^6 bytes.")


@dataclass(frozen=True)
class Cost:
    """What efficiency.json and run.json say about one model that does not depend on the machine."""

    model: ModelFacts
    flops: Metric  # MFLOPs of one image's forward pass
    attention_flops: Metric | None  # of which in batched matrix products (the attention's), when there are any
    activation: Metric  # MB saved for backward per training image
    peak: Metric | None  # MB, one training step at the run's batch size
    peak_method: str
    batch_size: int
    steps_per_epoch: Metric | None  # optimiser steps; None for evaluated weights (no training here)
    steps: Metric | None  # in all, over the epochs


def optimiser_steps(m: ModelFacts, contents: ReportContents, batch_size: int) -> tuple[Metric | None, Metric | None]:
    """Optimiser steps per epoch and in all of the model's first run: ceil(training images / batch) per epoch."""
    if m.training is None:
        return None, None
    info = contents.runs[m.key][0].info
    per_epoch = math.ceil(int(info.get("train_images", contents.dataset["train_size"])) / batch_size)
    return (Metric(model_key(m.key, "efficiency.steps_per_epoch"), per_epoch, "count"),
            Metric(model_key(m.key, "efficiency.optimizer_steps"), per_epoch * int(info["epochs"]), "count"))


def model_cost(m: ModelFacts, records: Sequence[dict], contents: ReportContents) -> Cost:
    """The cost of `m` from its seeds' efficiency.json records."""
    first = records[0]
    flops, peak, batch = first["flops_per_image"], first["peak_step_bytes"], int(first["batch_size"])
    return Cost(
        model=m,
        flops=Metric(model_key(m.key, "efficiency.mflops"), flops["total"] / 1e6, "mflops"),
        attention_flops=(Metric(model_key(m.key, "efficiency.attention_mflops"), flops["aten.bmm"] / 1e6, "mflops")
                         if flops.get("aten.bmm") else None),
        activation=Metric(model_key(m.key, "efficiency.activation_mb"), first["activation_bytes_per_image"] / 1e6,
                          "megabytes"),
        peak=None if peak is None else Metric(model_key(m.key, "efficiency.peak_mb"), peak / 1e6, "megabytes"),
        peak_method=first["peak_method"],
        batch_size=batch,
        **dict(zip(("steps_per_epoch", "steps"), optimiser_steps(m, contents, batch))),
    )


def costs(contents: ReportContents) -> list[Cost]:
    """The cost of every model whose runs all hold efficiency.json, in config order."""
    out = []
    for m in contents.models:
        records = contents.analysis(m.key, EFFICIENCY.filename, EFFICIENCY.spec)
        if records is not None:
            out.append(model_cost(m, records, contents))
    return out


# ---------------------------------------------------------------- what does not depend on the machine


def static_table(cost: Sequence[Cost], seeds: Sequence[int]) -> Table:
    """One column per model, one row per machine-independent measure."""
    rows: list[list[Cell]] = [
        ["parameters", *(c.model.parameters for c in cost)],
        ["forward MFLOPs per image", *(c.flops for c in cost)],
        ["activation memory per training image (MB)", *(c.activation for c in cost)],
        ["peak memory of a training step (MB)", *(c.peak if c.peak is not None else "not measured" for c in cost)],
        ["batch size", *(Metric(model_key(c.model.key, "efficiency.batch_size"), c.batch_size, "count")
                         for c in cost)],
    ]
    if all(c.steps is not None for c in cost):
        rows += [["optimiser steps per epoch", *(c.steps_per_epoch for c in cost)],
                 ["optimiser steps in all", *(c.steps for c in cost)]]
    return Table(["measure", *(c.model.name for c in cost)], rows,
                 caption=f"What the models cost independently of the machine's load (the runs of "
                         f"{first_seed(seeds)}).")


@dataclass(frozen=True)
class Quantity:
    """One deterministic quantity of both models (FLOPs, memory), as the comparison words it."""

    key: str  # of its ratio, ``compare.efficiency.<key>_ratio``
    what: str  # "forward FLOPs per image"
    unit: str  # "MFLOPs"
    a: Metric
    b: Metric


def memory_ratio(key: str, big: Metric, small: Metric) -> Metric:
    """Larger over smaller of one deterministic quantity, ``compare.efficiency.<key>_ratio``."""
    return Metric(compare_key(f"efficiency.{key}_ratio"), big.value / small.value, "factor")


def quantities(a: Cost, b: Cost) -> list[Quantity]:
    """FLOPs, activation memory and (where both were measured) peak memory of the two models."""
    out = [Quantity("flops", "forward FLOPs per image", "MFLOPs", a.flops, b.flops),
           Quantity("activation", "activation memory per training image", "MB", a.activation, b.activation)]
    if a.peak is not None and b.peak is not None:
        out.append(Quantity("peak", "peak memory in a training step", "MB", a.peak, b.peak))
    return out


def more_clause(q: Quantity) -> list:
    """"2.05× the forward FLOPs per image (167.1 against 81.7 MFLOPs)", the larger over the smaller."""
    big, small = (q.a, q.b) if q.a.value > q.b.value else (q.b, q.a)
    return [memory_ratio(q.key, big, small), f"× the {q.what} (", big, " against ", small, f" {q.unit})"]


def static_sentences(a: Cost, b: Cost) -> list[Sentence]:
    """FLOPs and memory compared, facts not tests: one sentence per model that needs more of some of them (the
    measures in one sentence, not one each), and one for what they need alike."""
    measured = quantities(a, b)
    same = [q for q in measured if q.a.text == q.b.text]
    out = []
    for big, small, more in ((a, b, [q for q in measured if q not in same and q.a.value > q.b.value]),
                             (b, a, [q for q in measured if q not in same and q.a.value < q.b.value])):
        if more:
            clauses = [part for i, q in enumerate(more) for part in (
                ("" if i == 0 else " and " if i == len(more) - 1 else ", "), *more_clause(q))]
            out.append(sentence(f"{capital(big.model.the)} needs ", clauses, f" of {small.model.the}."))
    if same:
        out.append(sentence(f"The {a.model.name} and the {b.model.name} need the same ", [part for i, q in enumerate(
            same) for part in ("" if i == 0 else "; ", f"{q.what}, ", q.a, f" {q.unit}")], "."))
    return out


def attention_sentence(c: Cost) -> Sentence:
    """How much of a model's count is in batched matrix products (the attention's, which some counters miss)."""
    return sentence(f"Of {c.model.the}'s ", c.flops, " MFLOPs per image, ", c.attention_flops,
                    " are the attention's batched matrix products (queries times keys, weights times values), which "
                    "a counter blind to fused attention kernels would miss.")


# ---------------------------------------------------------------- times


UNITS = {"inference_s": "images per second", "latency_s": "ms", "step_s": "ms"}


def ratio_cells(estimate: RatioEstimate) -> list[Cell]:
    """A time ratio and its interval as two cells ("2.41×", "[2.30, 2.55]"; "too few blocks" for no interval)."""
    interval = sentence("[", estimate.metric("low"), ", ", estimate.metric("high"), "]") if estimate.has_interval \
        else "too few blocks"
    return [sentence(estimate.metric("estimate"), "×"), interval]


def timing_table(timings: Timings, models: Sequence[ModelFacts], ratios: dict[str, RatioEstimate] | None,
                 tests: list[BlockTest] | None) -> Table:
    """Each model's median over the blocks per measure; with two models their time ratio and its interval (busy or
    idle), and with the tests their raw and adjusted p."""
    names = [m.name for m in models]
    header = ["measure", *names, *([f"time ratio {names[0]}/{names[1]}", "95% interval"] if ratios else []),
              *(["p", "adjusted p"] if tests else [])]
    rows: list[list[Cell]] = []
    for i, (field, (_, what)) in enumerate(MEASURES.items()):
        ratio = ratio_cells(ratios[field]) if ratios else []
        test = [tests[i].p, tests[i].p_adj] if tests else []
        rows.append([f"{what} ({UNITS[field]})", *(timings.median(field, m) for m in models), *ratio, *test])
    load = timings.max_load
    # A caption is plain text (the LaTeX export escapes it), so the load is written as the number it shows.
    caption = (
        f"Interleaved timings on {timings.measured_on}: medians over {timings.blocks} blocks (each times every model "
        "once, in alternating order), warm-up passes and a settling block excluded; other processes used up to "
        f"{f'{load.text} CPU cores' if load is not None else 'an unknown number of CPU cores'} in a block."
        + (" Time ratio: the Hodges-Lehmann estimate of the per-block ratio, with its exact interval from the "
           "signed-rank test (unadjusted)." if ratios else ""))
    return Table(header, rows, caption=caption)


def busy_note(timings: Timings | None) -> Callout:
    """Why the section draws no speed verdict, with the load."""
    return Callout("note", [sentence("No speed verdict: ", busy_sentence(timings), ". No model is called faster here, "
                                     "in the Summary of findings or in the Conclusion; the times are shown as "
                                     "measured.")])


def speed_items(contents: ReportContents) -> list[Item]:
    """The timing table and either the tested speed sentences or the note that no verdict is drawn."""
    timings, tests = speed_verdicts(contents)
    ratios = speed_ratios(contents)[1]
    items: list[Item] = [] if timings is None else [timing_table(timings, contents.models, ratios, tests)]
    if tests is not None:  # one sentence: the table holds each measure's ratio, interval and p
        items.append(Paragraph([sentence(f"By the {TEST_NAME} over {timings.blocks} blocks, ",
                                         *clauses(tests), ".")]))
    elif contents.comparative:
        items.append(busy_note(timings))
    return items


# ---------------------------------------------------------------- the verdict


def speed_cell(test: BlockTest | None, why: str) -> Sentence:
    """A speed row's verdict: the faster model by its adjusted p, no difference shown, or why there is none."""
    if test is None:
        return sentence(why)
    if not test.significant:
        return sentence("no difference shown (", test.adjusted, ")")
    return sentence(f"{test.faster.name} faster (", test.adjusted, ")")


def summary_ratio(ratios: dict[str, RatioEstimate], field: str) -> RatioEstimate:
    """The Summary's ratio of one measure, first model over second: of times for the step, of images per second
    (the inverse) for inference throughput."""
    if field == "inference_s":
        return ratios[field].inverse(compare_key("efficiency.inference.rate_ratio"))
    return ratios[field]


def summary_rows(contents: ReportContents, a: Cost, b: Cost) -> list[SummaryRow]:
    """The Summary's secondary cost rows: training step time and inference throughput (the Hodges-Lehmann ratio over
    the blocks with its interval, busy or idle; the verdict tested over blocks, or withheld), and peak memory (a
    measurement, not a test)."""
    timings, tests = speed_verdicts(contents)
    ratios = speed_ratios(contents)[1]
    ma, mb = a.model, b.model
    rows = []
    if timings is not None and ratios is not None:
        why = "machine busy: no verdict" if timings.loads is not None else "load unknown: no verdict"
        for index, field, measure, ratio_name in ((2, "step_s", "Training step time (ms)", "time ratio "),
                                                  (0, "inference_s", "Inference throughput (images/s)",
                                                   "throughput ratio ")):
            ratio, interval = ratio_cells(summary_ratio(ratios, field))
            rows.append(SummaryRow(measure, (timings.median(field, ma), timings.median(field, mb)),
                                   sentence(ratio_name, ratio), interval,
                                   speed_cell(None if tests is None else tests[index], why)))
    if a.peak is not None and b.peak is not None:
        rows.append(SummaryRow("Peak memory of a training step (MB)", (a.peak, b.peak),
                               Metric(compare_key("efficiency.peak.difference"), a.peak.value - b.peak.value,
                                      "megabytes"), "", peak_cell(a, b)))
    return rows


def peak_cell(a: Cost, b: Cost) -> Sentence:
    """"ViT needs 2.45× (a measurement, not a test)"."""
    if a.peak.text == b.peak.text:
        return sentence("the same (a measurement, not a test)")
    big, vb, vs = (a, a.peak, b.peak) if a.peak.value > b.peak.value else (b, b.peak, a.peak)
    return sentence(f"{big.model.name} needs ", memory_ratio("peak", vb, vs), "× (a measurement, not a test)")


def trains_faster_claim(tests: list[BlockTest] | None, timings: Timings | None) -> ClaimFinding:
    """The original study's "the CNN trains faster", from the block test of the training step on an idle machine."""
    if tests is None:
        return ClaimFinding("cnn-trains-faster", INCONCLUSIVE, sentence("no speed verdict: ", busy_sentence(timings)))
    step = tests[2]
    if not step.significant:
        return ClaimFinding("cnn-trains-faster", INCONCLUSIVE, sentence(
            "the training step times do not differ significantly over the interleaved blocks (",
            step.adjusted, ")"))
    status = SUPPORTED if step.faster.key == "cnn" else CONTRADICTED
    return ClaimFinding("cnn-trains-faster", status, sentence(
        f"{step.faster.name}'s training step is ", step.factor, "× faster over the interleaved blocks (",
        step.adjusted, ")"))


def more_memory_claim(costs_by_model: dict[str, Cost]) -> ClaimFinding:
    """The original study's "training the ViT is more memory-intensive", from activation and peak memory (both
    machine-independent): supported or contradicted where they agree, inconclusive where they disagree."""
    vit, cnn = costs_by_model["vit"], costs_by_model["cnn"]
    pairs = [(vit.activation, cnn.activation), *([(vit.peak, cnn.peak)] if vit.peak and cnn.peak else [])]
    signs = {(v.value > c.value) - (v.value < c.value) for v, c in pairs}
    evidence = sentence("activation memory per training image ", vit.activation, " MB for the ViT against ",
                        cnn.activation, " MB for the CNN",
                        *([", peak of a training step ", vit.peak, " against ", cnn.peak, " MB"] if len(pairs) > 1
                          else []), " (measurements, not tests)")
    status = {frozenset({1}): SUPPORTED, frozenset({-1}): CONTRADICTED}.get(frozenset(signs), INCONCLUSIVE)
    return ClaimFinding("vit-more-memory", status, evidence)


def speed_finding(contents: ReportContents) -> Sentence:
    """The Conclusion's speed finding: each tested measure's outcome, or why no speed verdict is drawn."""
    timings, tests = speed_verdicts(contents)
    if tests is None:
        return sentence("Speed: no verdict, because ", busy_sentence(timings), ".")
    return sentence("Speed, from the interleaved timings: ", *clauses(tests), ".")


def clauses(tests: list[BlockTest]) -> list:
    """Each timing test's outcome, "; "-separated."""
    return [part for i, t in enumerate(tests) for part in ("; " if i else "", speed_clause(t))]


def speed_clause(test: BlockTest) -> Sentence:
    """"the CNN is faster in training step time (1.80×, adjusted p = 0.0234)" or "no difference shown in ..."."""
    if not test.significant:
        return sentence(f"no difference shown in {test.what} (", test.adjusted, ")")
    return sentence(f"{test.faster.the} is faster in {test.what} (", test.factor, "×, ", test.adjusted, ")")


class Efficiency(Section):
    key = "efficiency"
    title = "Computational cost"

    def applies(self, contents: ReportContents) -> bool:
        return bool(costs(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        cost = costs(contents)
        methods = list(dict.fromkeys(c.peak_method for c in cost))
        facts = [attention_sentence(c) for c in cost if c.attention_flops is not None]
        if len(cost) == 2 and contents.comparative:
            unmeasured = [c.model.the for c in cost if c.peak is None]
            facts = static_sentences(*cost) + facts + ([sentence(
                f"The peak memory of a training step was not measured for {' and '.join(unmeasured)}.")]
                if unmeasured else [])
        # Two models compared: their sentences give every machine-independent number, the table would repeat them
        # (parameters and optimiser steps are the speed section's, the batch size the training workflow's).
        static = [] if len(cost) == 2 and contents.comparative else [static_table(cost, contents.config.train.seeds)]
        return [Callout("rule", [cost_rule(contents.rules, methods),
                                 block_rule(contents.rules.multiplicity, contents.rules.alpha)]),
                *static, *([Paragraph(facts)] if facts else []), *speed_items(contents)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        """With two models measured: the machine-independent facts and the speed finding, the Summary's cost rows,
        and the original study's two cost claims when the models are its CNN and ViT."""
        cost = costs(contents)
        if not (contents.comparative and len(cost) == 2):
            return None
        a, b = cost
        findings = (*static_sentences(a, b), speed_finding(contents))
        claims: tuple[ClaimFinding, ...] = ()
        by_model = {c.model.key: c for c in cost}
        if sorted(by_model) == sorted(STUDY_MODELS):
            timings, tests = speed_verdicts(contents)
            claims = (trains_faster_claim(tests, timings), more_memory_claim(by_model))
        return Verdict(findings, (), tuple(summary_rows(contents, a, b)), claims)
