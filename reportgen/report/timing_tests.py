"""The interleaved timings of timings.json, tested over blocks: which model is faster, by how much, and whether the
machine was idle enough for the question to be asked at all.

The build times the models together in blocks (reportgen.analysis.timing): each block times every model
once, in alternating order, so one block is one paired observation and the per-block ratio of the two
models' times cancels whatever speed the machine had during that block. A model is called faster on a
measure only by a two-sided exact Wilcoxon signed-rank test of the per-block log ratios: paired by block
(never the passes of one block against those of another, which would be pseudo-replication confounded
with the machine's drift), exact (no normal approximation with 8 to 24 blocks), and using the size of each
ratio, not only its sign, so it has more power than a sign test; the log makes a ratio and its inverse
symmetric, as the test assumes. The three measures (inference throughput, latency, training step) form one
family, adjusted together (reportgen.report.multiplicity). How much faster is the Hodges-Lehmann estimate of
the per-block log ratio (the median of its Walsh averages, the estimate that goes with the signed-rank test) with
the exact distribution-free interval got by inverting that same test (`ratio_estimate`): it excludes a ratio of 1
exactly when the unadjusted test rejects equal speed at the interval's level. The estimate and its interval are
shown on a busy machine too; what is withheld there is the verdict. When other processes used more than
machine_load.BUSY_CORES in any block, or their load is unknown, no test is made: `Timings.busy`.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from reportgen.analyses import TIMINGS
from reportgen.machine_load import BUSY_CORES, is_busy
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import Metric, Part, Sentence, compare_key, model_key, p_parts, plural, sentence
from reportgen.report.multiplicity import METHODS, family

# timings.json field -> (key of its tests and metrics, what it measures in words); in the family's order.
MEASURES = {"inference_s": ("inference", "inference throughput"), "latency_s": ("latency", "latency at batch 1"),
            "step_s": ("step", "training step time")}
TEST_NAME = "exact Wilcoxon signed-rank test of the per-block log time ratios"


@dataclass(frozen=True)
class Timings:
    """timings.json, as the report reads it."""

    record: dict[str, Any]

    @property
    def blocks(self) -> int:
        return len(self.record["block_seeds"])

    def seconds(self, field: str, model: str) -> np.ndarray:
        """(B,) seconds of `field` for `model`, block by block."""
        return np.asarray(self.record[field], dtype=float)[:, self.record["models"].index(model)]

    @property
    def loads(self) -> list[float] | None:
        """Other processes' CPU cores in each block, None where unknown."""
        return self.record["other_load_cores"]

    @property
    def busy(self) -> bool:
        """Whether any block was timed on a busy machine, or on one whose load is unknown: then no speed verdict."""
        return is_busy(self.loads or [None])

    @property
    def max_load(self) -> Metric | None:
        """The most CPU cores other processes used in one block."""
        return None if self.loads is None else Metric("timing.other_load.max", max(self.loads), "factor")

    @property
    def busy_blocks(self) -> Metric | None:
        """How many blocks other processes used more than BUSY_CORES in."""
        return None if self.loads is None else Metric("timing.other_load.busy_blocks",
                                                      sum(v > BUSY_CORES for v in self.loads), "count")

    @property
    def measured_on(self) -> str:
        """"AMD EPYC (cpu, 1 thread, fp32)": the machine and threads the timings used."""
        r = self.record
        precision = {"32": "fp32", "bf16-mixed": "bf16 autocast"}.get(r["precision"], r["precision"])
        return f"{r['device_name']} ({r['device']}, {plural(int(r['threads']), 'thread')}, {precision})"

    def median(self, field: str, m: ModelFacts) -> Metric:
        """A model's median over the blocks: images per second for inference, milliseconds otherwise."""
        seconds = float(np.median(self.seconds(field, m.key)))
        if field == "inference_s":
            return Metric(model_key(m.key, "efficiency.inference_images_per_s"),
                          int(self.record["batch_size"]) / seconds, "rate")
        name = "latency_ms" if field == "latency_s" else "step_ms"
        return Metric(model_key(m.key, f"efficiency.{name}"), 1000 * seconds, "milliseconds")


def read_timings(contents: ReportContents) -> Timings | None:
    """The bundle's timings.json when it times every model of the report; None in bundles without it."""
    path = contents.root / TIMINGS.filename
    if not path.is_file():
        return None
    timings = Timings(contents.analysis_file(path, TIMINGS.spec))
    return timings if sorted(timings.record["models"]) == sorted(m.key for m in contents.models) else None


@dataclass(frozen=True)
class RatioEstimate:
    """The Hodges-Lehmann estimate of a per-block log time ratio (first model's time over the second's) with the
    exact distribution-free interval of the signed-rank test; `low`/`high` None when the blocks are too few for
    any interval at the level (fewer than 6 at 95%)."""

    key: str  # prefix of its metrics: <key>.estimate, <key>.low, <key>.high
    log_centre: float
    log_low: float | None
    log_high: float | None
    coverage: float  # the interval's exact confidence (the level or a little more: W's distribution is discrete)

    def metric(self, name: str) -> Metric:
        """``estimate``, ``low`` or ``high``, as a ratio."""
        log = {"estimate": self.log_centre, "low": self.log_low, "high": self.log_high}[name]
        return Metric(f"{self.key}.{name}", float(np.exp(log)), "factor")

    def inverse(self, key: str) -> RatioEstimate:
        """The ratio the other way up (a rate ratio from a time ratio): the interval's ends swap."""
        low, high = (None if v is None else -v for v in (self.log_high, self.log_low))
        return RatioEstimate(key, -self.log_centre, low, high, self.coverage)

    @property
    def has_interval(self) -> bool:
        return self.log_low is not None


def signed_rank_null(n: int) -> np.ndarray:
    """P(W+ = w) for w = 0 .. n(n+1)/2: the exact null distribution of the signed-rank statistic of n non-zero,
    untied differences (each rank's sign a fair coin), by counting the subsets of ranks with each sum."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts / 2.0 ** n


def ratio_estimate(key: str, log_ratios: np.ndarray, level: float) -> RatioEstimate:
    """The Hodges-Lehmann estimate of `log_ratios`' centre and its exact interval at `level`: the c-th smallest
    and c-th largest of the n(n+1)/2 Walsh averages, c the largest count with P(W+ < c) <= (1 - level) / 2."""
    x = np.asarray(log_ratios, dtype=float)
    first, second = np.triu_indices(len(x))
    walsh = np.sort((x[first] + x[second]) / 2)
    cdf = np.cumsum(signed_rank_null(len(x)))
    within = np.flatnonzero(cdf <= (1 - level) / 2)  # the statistic values a two-sided test at `level` rejects
    if not within.size:
        return RatioEstimate(key, float(np.median(walsh)), None, None, 1.0)
    c = int(within[-1])
    return RatioEstimate(key, float(np.median(walsh)), float(walsh[c]), float(walsh[-1 - c]), float(1 - 2 * cdf[c]))


def log_time_ratios(timings: Timings, field: str, a: ModelFacts, b: ModelFacts) -> np.ndarray:
    """(B,) per-block log of a's time over b's on one measure."""
    return np.log(timings.seconds(field, a.key) / timings.seconds(field, b.key))


def ratio_estimates(timings: Timings, a: ModelFacts, b: ModelFacts, level: float) -> dict[str, RatioEstimate]:
    """Every measure's Hodges-Lehmann time ratio of a over b with its interval (``compare.efficiency.<measure>.
    time_ratio.*``), idle machine or not: the numbers are shown even where no verdict is drawn."""
    return {field: ratio_estimate(compare_key(f"efficiency.{name}.time_ratio"), log_time_ratios(timings, field, a, b),
                                  level) for field, (name, _) in MEASURES.items()}


@dataclass(frozen=True)
class BlockTest:
    """Which of two models is faster on one measure over the blocks, by how much, raw and adjusted p."""

    what: str  # the measure in words
    faster: ModelFacts | None  # None: the median log ratio is 0
    slower: ModelFacts | None
    factor: Metric  # the Hodges-Lehmann per-block ratio, slower time / faster time (>= 1)
    ratio: RatioEstimate  # the same estimate as a's time over b's, with its interval
    p: Metric
    p_adj: Metric
    alpha: float

    @property
    def significant(self) -> bool:
        return self.faster is not None and self.p_adj.value < self.alpha

    def evidence(self, blocks: int) -> list[Part]:
        """"exact Wilcoxon ... over 8 blocks, p = 0.0078, adjusted p = 0.0234"."""
        return [f"{TEST_NAME} over {blocks} blocks, ", *p_parts(self.p), ", ", *self.adjusted]

    @property
    def adjusted(self) -> list[Part]:
        """"adjusted p = 0.0234": what decides."""
        return ["adjusted ", *p_parts(self.p_adj)]


def log_ratio_p(log_ratios: np.ndarray) -> float:
    """Two-sided exact Wilcoxon signed-rank p of log ratios against 0 (1 when every ratio is exactly 1)."""
    if not np.any(log_ratios):
        return 1.0
    return float(wilcoxon(log_ratios, alternative="two-sided", method="exact").pvalue)


def block_tests(timings: Timings, a: ModelFacts, b: ModelFacts, method: str, alpha: float) -> list[BlockTest]:
    """The family of the three timing tests of `a` against `b`, in MEASURES order, adjusted together."""
    raw = [Metric(compare_key(f"efficiency.{name}.p"), log_ratio_p(log_time_ratios(timings, field, a, b)), "pvalue")
           for field, (name, _) in MEASURES.items()]
    adjusted = family("the timing measures", raw, method)
    out = []
    for i, (field, estimate) in enumerate(ratio_estimates(timings, a, b, 1 - alpha).items()):
        centre = estimate.log_centre  # > 0: a's time is the longer, b is faster
        fast, slow = (None, None) if centre == 0 else ((b, a) if centre > 0 else (a, b))
        factor = Metric(compare_key(f"efficiency.{MEASURES[field][0]}.factor"), float(np.exp(abs(centre))), "factor")
        out.append(BlockTest(MEASURES[field][1], fast, slow, factor, estimate, raw[i], adjusted.adjusted[i], alpha))
    return out


def block_rule(method: str, alpha: float) -> Sentence:
    """When the report calls one model faster, as printed in the cost section's rule."""
    return sentence(
        "Each interleaved block times every model once, in alternating order; a block's ratio of the two times is "
        f"one paired observation. A model is faster on a measure when a two-sided {TEST_NAME} rejects equal speed at "
        f"α = {alpha:g}, the three timing tests adjusted together by {METHODS[method]}. The factor is the "
        f"Hodges-Lehmann estimate of the per-block ratio, its {1 - alpha:.0%} interval the exact one that inverts the "
        "same test (unadjusted), shown on a busy machine too. No speed verdict is drawn when other processes used "
        f"more than {BUSY_CORES:g} CPU cores in any block, or when their load is unknown. The training runs' "
        "wall-clock times (one run after the other) decide nothing.")


def busy_sentence(timings: Timings | None) -> Sentence:
    """Why no speed verdict is drawn: the machine was busy (with the numbers), its load unknown, or no timings."""
    if timings is None:
        return sentence("this bundle holds no interleaved timings (timings.json)")
    if timings.loads is None:
        return sentence("the machine's other load during the timings could not be measured (no /proc/stat)")
    return sentence("the machine was busy during the timings: other processes used up to ", timings.max_load,
                    f" CPU cores, more than {BUSY_CORES:g} cores in ", timings.busy_blocks,
                    f" of {timings.blocks} blocks")


def speed_ratios(contents: ReportContents) -> tuple[Timings | None, dict[str, RatioEstimate] | None]:
    """The bundle's timings and, with two models, each measure's time ratio with its interval, busy or idle."""
    timings = read_timings(contents)
    if timings is None or not contents.comparative:
        return timings, None
    return timings, ratio_estimates(timings, *contents.models, 1 - contents.rules.alpha)


def speed_verdicts(contents: ReportContents) -> tuple[Timings | None, list[BlockTest] | None]:
    """The bundle's timings and, where they can decide (two models, an idle machine), their family of tests."""
    timings = read_timings(contents)
    if timings is None or timings.busy or not contents.comparative:
        return timings, None
    a, b = contents.models
    return timings, block_tests(timings, a, b, contents.rules.multiplicity, contents.rules.alpha)
