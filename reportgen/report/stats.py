"""The report's statistics: McNemar's exact test, t-tests over seeds, the significance verdict, the bootstraps.

Two bootstraps: `bootstrap_interval` resamples test images (the trained weights held fixed), and
`hierarchical_bootstrap` resamples seeds, then test images, so that a claim about a model or a treatment
carries the seed-to-seed spread as well as the choice of test images (with one seed it is the image
bootstrap, and the report's wording says the result describes that run).

Significance of an accuracy difference (`accuracy_significance`; its rule is printed by
reportgen.report.rules.significance_rule). Two tests, at the level `alpha` of the report config:

* McNemar's exact test, per seed that both sides ran with, on their predictions of the same test
  images: b images only the first side classifies correctly, c only the second; the two-sided
  binomial test of b successes in b + c trials at 1/2 (p = 1 when b + c = 0);
* with two or more seeds per side, a t-test over seeds of the test accuracy: paired by seed
  (scipy.stats.ttest_rel) when both sides ran the same seeds, Welch's (ttest_ind, unequal variances)
  otherwise; and the hierarchical bootstrap over seeds and test images of the accuracy difference, which
  keeps both sources of variance without assuming normality.

The difference is *significant* when every test that applies rejects equal accuracy: McNemar gives
p < alpha in favour of the side that is more accurate on average in more than half of the seeds it
was run on, and, when there are several seeds, the t-test's and the bootstrap's p < alpha. When no test
applies the difference is not significant. With one seed a significant difference describes that run
(the weights are held fixed), not the models. A "side" is a model (in a report) or a bundle (in
`reportgen compare`).

Interactions (`difference_of_differences`: one model's change against another's, e.g. the drop without
augmentation) are tested by the hierarchical bootstrap alone: with one seed its interval is over the test
images only, and the report says the result describes that run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import numpy as np
from scipy.stats import binomtest, ttest_ind, ttest_rel

from reportgen.bundle import RunData
from reportgen.errors import BundleError
from reportgen.report.kernel import Metric, Part, Sentence, Stat, floored_p, p_parts, sentence, stat


def mcnemar_test(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test on two sides' predictions of the same images: (b, c, two-sided p).

    b counts images only the first side classifies correctly, c those only the second does.
    """
    first_right, second_right = first == labels, second == labels
    b = int(np.sum(first_right & ~second_right))
    c = int(np.sum(~first_right & second_right))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0  # no discordant image: no evidence of a difference
    return b, c, float(p)


def ttest(first: Sequence[float], second: Sequence[float], paired: bool) -> tuple[float, float]:
    """(t, p) of a two-sided t-test of two samples over seeds: paired by position, or Welch's.

    Samples (or differences) without any spread leave t undefined: identical values read as t = 0,
    p = 1 (no evidence of a difference); a constant non-zero difference as scipy's limit, |t| = inf, p = 0.
    """
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns about the zero spread handled below
        result = ttest_rel(first, second) if paired else ttest_ind(first, second, equal_var=False)
    t, p = float(result.statistic), float(result.pvalue)
    return (0.0, 1.0) if math.isnan(p) else (t, p)


@dataclass(frozen=True)
class SignificanceTest:
    """A test's result, whose fields are reported as metrics ``<key>.<field>`` in the units of UNITS."""

    key: str  # e.g. "compare.mcnemar.seed42", "compare.ttest"
    UNITS: ClassVar[dict[str, str]] = {}

    def metric(self, name: str) -> Metric:
        return Metric(f"{self.key}.{name}", getattr(self, name), self.UNITS[name])


@dataclass(frozen=True)
class McNemar(SignificanceTest):
    """McNemar's exact test of two sides' test predictions at one seed (see `mcnemar_test`)."""

    UNITS = {"b": "count", "c": "count", "p": "pvalue", "diff_pts": "points"}
    seed: int
    b: int  # test images only the first side classifies correctly
    c: int  # test images only the second side classifies correctly
    p: float
    images: int  # test images compared

    @property
    def diff_pts(self) -> float:
        """First side's accuracy minus the second's at this seed, in points: (b - c) / images."""
        return 100 * (self.b - self.c) / self.images

    def significant_towards(self, direction: int, alpha: float) -> bool:
        """p < alpha with the first side ahead (direction 1) or the second (-1)."""
        return self.p < alpha and direction != 0 and int(np.sign(self.b - self.c)) == direction


@dataclass(frozen=True)
class TTest(SignificanceTest):
    """A t-test over seeds of two sides' values (see `ttest`)."""

    UNITS = {"t": "statistic", "p": "pvalue"}
    paired: bool
    t: float
    p: float

    @property
    def name(self) -> str:
        return "paired t-test" if self.paired else "Welch's t-test"


def ttest_over_seeds(key: str, first: Sequence[float], second: Sequence[float], paired: bool) -> TTest | None:
    """The t-test of two per-seed samples, or None with fewer than two seeds on a side."""
    if min(len(first), len(second)) < 2:
        return None
    return TTest(key, paired, *ttest(first, second, paired))


@dataclass(frozen=True)
class Significance:
    """Whether the first and second of two sets of runs differ in test accuracy, by the module's rule."""

    key: str  # prefix of every metric, e.g. "compare"
    alpha: float
    mcnemar: tuple[McNemar, ...]  # one per seed both ran with, in seed order
    ttest: TTest | None  # with two or more seeds on each side
    difference: Stat  # first minus second accuracy, points: per paired seed, else the difference of the means
    bootstrap: BootstrapTest | None = None  # with two or more seeds on each side: over seeds and test images

    @property
    def direction(self) -> int:
        """1 when the first is more accurate on average, -1 when the second is, 0 when they are equal."""
        return int(np.sign(self.difference.mean.value))

    @property
    def mcnemar_majority(self) -> Metric:
        """Seeds whose McNemar test is significant in favour of the side ahead on average."""
        agreeing = sum(m.significant_towards(self.direction, self.alpha) for m in self.mcnemar)
        return Metric(f"{self.key}.mcnemar.significant_seeds", agreeing, "count")

    @property
    def tested(self) -> bool:
        return bool(self.mcnemar) or self.ttest is not None

    @property
    def over_seeds(self) -> bool:
        """Whether the verdict includes the seed-to-seed variation (two or more seeds on each side)."""
        return self.bootstrap is not None

    @property
    def significant(self) -> bool:
        mcnemar_ok = not self.mcnemar or 2 * int(self.mcnemar_majority.value) > len(self.mcnemar)
        ttest_ok = self.ttest is None or self.ttest.p < self.alpha
        bootstrap_ok = self.bootstrap is None or self.bootstrap.p < self.alpha
        return self.tested and self.direction != 0 and mcnemar_ok and ttest_ok and bootstrap_ok

    @property
    def deciding_p(self) -> Metric | None:
        """The one p-value a family of such tests adjusts: the bootstrap's over seeds and images with several
        seeds, else McNemar's of the one shared seed; None when neither applies."""
        if self.bootstrap is not None:
            return self.bootstrap.metric("p")
        return self.mcnemar[0].metric("p") if len(self.mcnemar) == 1 else None

    @property
    def verdict(self) -> str:
        return "significant" if self.significant else "not significant"


def percent_accuracies(runs: Sequence[RunData]) -> list[float]:
    """Each run's test accuracy in percent, as stored in metrics.json."""
    return [100 * float(run.metrics["accuracy"]) for run in runs]


def accuracy_significance(first: Sequence[RunData], second: Sequence[RunData], alpha: float,
                          key: str = "compare", resamples: int = 1000, bootstrap_seed: int = 0) -> Significance:
    """Test whether the runs of `first` and `second` (each sorted by seed) differ in test accuracy.

    The runs must have predicted the same test images; McNemar pairs the runs of equal seeds, and so does the
    bootstrap (`resamples` draws from `bootstrap_seed`) when both sides ran the same seeds.
    """
    by_seed = {run.seed: run for run in second}
    common = [run for run in first if run.seed in by_seed]
    if any(not np.array_equal(run.labels, by_seed[run.seed].labels) for run in common):
        raise BundleError("the runs to compare were evaluated on different test images: no paired test is possible")
    mcnemar = tuple(
        McNemar(f"{key}.mcnemar.seed{run.seed}", run.seed,
                *mcnemar_test(run.labels, run.preds, by_seed[run.seed].preds), images=len(run.labels))
        for run in common)
    paired = len(common) == len(first) == len(second)
    first_acc, second_acc = percent_accuracies(first), percent_accuracies(second)
    differences = [m.diff_pts for m in mcnemar] if paired else [np.mean(first_acc) - np.mean(second_acc)]
    bootstrap = None
    if min(len(first), len(second)) >= 2:
        bootstrap = hierarchical_bootstrap(f"{key}.boot", [correctness(first), correctness(second)],
                                           lambda m: m[0] - m[1], bootstrap_seed, resamples, 1 - alpha,
                                           paired_seeds=paired)
    return Significance(key, alpha, mcnemar, ttest_over_seeds(f"{key}.ttest", first_acc, second_acc, paired),
                        stat(f"{key}.seed_diff_pts", "points", differences), bootstrap)


def significance_evidence(sig: Significance, side: str = "model") -> list[Part]:
    """The test results behind a verdict, e.g. "paired t-test over seeds, p = 0.0123; McNemar p < 0.05 ... 3 seeds"."""
    parts: list[Part] = []
    if sig.ttest is not None:
        parts += [f"{sig.ttest.name} over seeds, ", *p_parts(sig.ttest.metric("p"))]
    if len(sig.mcnemar) == 1:
        parts += ["; " if parts else "", "McNemar ", *p_parts(sig.mcnemar[0].metric("p"))]
    elif sig.mcnemar:
        parts += ["; " if parts else "", f"McNemar p < {sig.alpha:g} for the {side} ahead in ", sig.mcnemar_majority,
                  " of ", Metric(f"{sig.key}.mcnemar.seeds", len(sig.mcnemar), "count"), " seeds"]
    if sig.bootstrap is not None:
        parts += ["; ", *bootstrap_parts(sig.bootstrap)]
    return parts or ["no test applies: the runs share no seed and there are fewer than two seeds on a side"]


def bootstrap_parts(test: BootstrapTest) -> list[Part]:
    """"hierarchical bootstrap over seeds and test images, p = 0.0123, 95% interval 1.20 to 3.40 points"; with one
    seed "bootstrap over the test images (the trained weights held fixed), ...": what the interval covers."""
    method = ("hierarchical bootstrap over seeds and test images" if test.over_seeds else
              "bootstrap over the test images with the trained weights held fixed")
    return [f"{method}, ", *p_parts(test.metric("p")), f", {test.level:.0%} interval ", test.metric("low"), " to ",
            test.metric("high"), " points"]


def interval_cell(test: BootstrapTest) -> Sentence:
    """"[low, high]" of a bootstrap interval, as a table cell."""
    return sentence("[", test.metric("low"), ", ", test.metric("high"), "]")


@dataclass(frozen=True)
class DifferenceOfDifferences:
    """Whether two accuracy differences differ: (A1 - A2) - (B1 - B2), in points, e.g. the drop without
    augmentation of one model against another's, or a gap between models at two training-set sizes."""

    key: str  # prefix of its metrics: <key>.diff_pts, <key>.low, <key>.high, <key>.p
    bootstrap: BootstrapTest
    alpha: float

    @property
    def difference(self) -> Metric:
        return Metric(f"{self.key}.diff_pts", self.bootstrap.estimate, "points")

    @property
    def p(self) -> Metric:
        return self.bootstrap.metric("p")

    @property
    def over_seeds(self) -> bool:
        """Whether seed-to-seed variation is in the test: only then is a significant result a claim about models."""
        return self.bootstrap.over_seeds

    @property
    def significant(self) -> bool:
        return self.bootstrap.estimate != 0 and self.bootstrap.p < self.alpha

    @property
    def oriented(self) -> BootstrapTest:
        """The size of the difference, whichever way it goes: key ``<key>.larger_by``, its estimate |difference| and
        its interval turned the same way, so that prose saying "larger by" prints an interval of the same sign."""
        b = self.bootstrap
        low, high = (b.low, b.high) if b.estimate >= 0 else (-b.high, -b.low)
        return BootstrapTest(f"{self.key}.larger_by", abs(b.estimate), low, high, b.p, b.level, b.seeds, b.resamples)

    @property
    def evidence(self) -> list[Part]:
        """How it was tested, with its p-value and the difference's interval, for the prose."""
        return bootstrap_parts(self.bootstrap)


def difference_of_differences(key: str, a1: Sequence[RunData], a2: Sequence[RunData], b1: Sequence[RunData],
                              b2: Sequence[RunData], alpha: float, resamples: int = 1000,
                              bootstrap_seed: int = 0) -> DifferenceOfDifferences:
    """Test (acc(a1) - acc(a2)) - (acc(b1) - acc(b2)) = 0, every side a set of runs (sorted by seed) on the same test
    images, by the hierarchical bootstrap over seeds and test images (seeds drawn jointly when every side ran as
    many: variants train at the base config's seeds) at level 1 - alpha. With one seed a side the interval is over
    the test images only."""
    sides = [correctness(runs) for runs in (a1, a2, b1, b2)]
    if any(not np.array_equal(runs[0].labels, a1[0].labels) for runs in (a2, b1, b2)):
        raise BundleError("the runs to compare were evaluated on different test images: no paired test is possible")
    test = hierarchical_bootstrap(key, sides, lambda m: (m[0] - m[1]) - (m[2] - m[3]), bootstrap_seed, resamples,
                                  1 - alpha)
    return DifferenceOfDifferences(key, test, alpha)


def accuracy_interval(key: str, runs: Sequence[RunData], resamples: int = 1000, bootstrap_seed: int = 0,
                      level: float = 0.95) -> BootstrapTest:
    """One set of runs' test accuracy in percent with its hierarchical-bootstrap interval (over seeds and test
    images; with one seed over test images only). Its p-value tests accuracy 0 and is not reported."""
    return hierarchical_bootstrap(key, [correctness(runs)], lambda m: m[0], bootstrap_seed, resamples, level,
                                  unit="percent")


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile confidence interval of a statistic, with its point estimate."""

    estimate: float
    low: float
    high: float
    level: float  # e.g. 0.95
    resamples: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, seed: int, resamples: int = 1000,
                       level: float = 0.95) -> Interval:
    """Percentile bootstrap over n items (e.g. test images): `statistic` takes an index array.

    Deterministic given `seed` (numpy's default generator), so a re-render reproduces the interval.
    """
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)])
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return Interval(float(statistic(np.arange(n))), float(low), float(high), level, resamples)


@dataclass(frozen=True)
class BootstrapTest:
    """A contrast between sets of runs with its hierarchical-bootstrap interval and two-sided p-value."""

    key: str  # prefix of its metrics: <key>.diff, <key>.low, <key>.high, <key>.p
    estimate: float
    low: float
    high: float
    p: float
    level: float  # e.g. 0.95
    seeds: int  # the fewest seeds any side ran with: 1 means the interval holds the weights fixed
    resamples: int
    unit: str = "points"

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def over_seeds(self) -> bool:
        """Whether seed-to-seed variation is part of the uncertainty (two or more seeds on every side)."""
        return self.seeds >= 2

    def metric(self, name: str) -> Metric:
        """``diff`` (the estimate), ``low``, ``high`` in the contrast's unit, or ``p``."""
        value = {"diff": self.estimate, "low": self.low, "high": self.high, "p": self.p}[name]
        if name == "p":  # at the smallest p the resamples can give, the p is only a bound: no resample crossed 0
            return floored_p(Metric(f"{self.key}.p", value, "pvalue"), self.p_floor)
        return Metric(f"{self.key}.{name}", value, self.unit)

    @property
    def p_floor(self) -> float:
        """The smallest p its resamples can give, 2 / (resamples + 1): no resample crossed 0."""
        return 2 / (self.resamples + 1)


def correctness(runs: Sequence[RunData]) -> np.ndarray:
    """(seeds, N) 1.0 where a run (one per seed, in the given order) classifies a test image correctly."""
    return np.array([run.preds == run.labels for run in runs], dtype=float)


RESAMPLE_CHUNK_VALUES = 1 << 22  # draws per chunk of bootstrap resamples: about 48 MiB of draws and counts


def _row_bincount(draws: np.ndarray, size: int) -> np.ndarray:
    """(rows, m) draws in [0, size) -> (rows, size) float counts of each value in each row (a row at a time: one
    row's histogram stays in cache, which beats one bincount over the flattened rows from a few thousand values)."""
    return np.stack([np.bincount(row, minlength=size) for row in draws]).astype(float)


def _resample_counts(rng: np.random.Generator, n: int, counts: Sequence[int], paired: bool,
                     resamples: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """How often each resample draws each image, (resamples, n), and each side's seeds, (resamples, seeds); the
    seeds' draw is shared by every side when paired. Counts rather than shares, so that sums of 0/1 values are
    exact integers whatever their order, and a resampled difference of 0 is exactly 0."""
    images = _row_bincount(rng.integers(0, n, (resamples, n), dtype=np.int32), n)
    if paired:
        return images, [_row_bincount(rng.integers(0, counts[0], (resamples, counts[0])), counts[0])] * len(counts)
    return images, [_row_bincount(rng.integers(0, count, (resamples, count)), count) for count in counts]


def _resampled_means(rng: np.random.Generator, sides: Sequence[np.ndarray], counts: Sequence[int], paired: bool,
                     resamples: int) -> np.ndarray:
    """(sides, resamples): each side's mean under each resample's draw of seeds and images, a chunk of resamples at
    a time so that memory stays bounded whatever report.bootstrap_resamples and the test set's size are."""
    n = sides[0].shape[1]
    chunk = max(1, RESAMPLE_CHUNK_VALUES // n)
    parts = []
    for start in range(0, resamples, chunk):
        images, seeds = _resample_counts(rng, n, counts, paired, min(chunk, resamples - start))
        # per side: (chunk, n) @ (n, seeds) -> each seed's resampled sum, weighted by how often the seed is drawn
        parts.append(np.stack([np.sum(seed_counts * (images @ side.T), axis=1) / (count * n)
                               for side, seed_counts, count in zip(sides, seeds, counts)]))
    return np.concatenate(parts, axis=1)


def hierarchical_bootstrap(key: str, sides: Sequence[np.ndarray], contrast: Callable[[np.ndarray], float],
                           seed: int, resamples: int = 1000, level: float = 0.95, paired_seeds: bool | None = None,
                           scale: float = 100.0, unit: str = "points") -> BootstrapTest:
    """Bootstrap a contrast of per-side mean values over seeds and then test images.

    Each side is a (seeds, N) array of per-image values (e.g. `correctness`) on the same N test images. One
    resample draws seeds with replacement (the same seed positions for every side when all sides ran the same
    number of seeds and `paired_seeds` is not False: runs of equal seed share their data order and
    initialisation), then N images with replacement (the same images for every side: the comparison is paired
    by image). `contrast` maps the (sides,) vector of resampled means to the statistic, e.g. ``m[0] - m[1]``;
    the estimate is `scale` times its value on the data. The interval is the percentile interval at `level`; the
    p-value is two-sided, twice the smaller share of resamples on either side of 0 with the usual +1 correction
    (so never below 2 / (resamples + 1)). Deterministic given `seed`.
    """
    if len({side.shape[1] for side in sides}) != 1:
        raise BundleError("the runs to compare were evaluated on different test images: no paired test is possible")
    counts = [side.shape[0] for side in sides]
    paired = len(set(counts)) == 1 if paired_seeds is None else paired_seeds and len(set(counts)) == 1
    means = _resampled_means(np.random.default_rng(seed), sides, counts, paired, resamples)
    observed = scale * contrast(np.array([side.mean() for side in sides]))
    values = scale * np.array([contrast(column) for column in means.T])
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    extreme = min(int(np.sum(values <= 0)), int(np.sum(values >= 0)))
    p = min(1.0, 2 * (extreme + 1) / (resamples + 1)) if observed != 0 else 1.0
    return BootstrapTest(key, float(observed), float(low), float(high), float(p), level, min(counts), resamples,
                         unit)
