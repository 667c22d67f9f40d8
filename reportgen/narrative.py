"""Facts and sentences of the report, computed from a results bundle only (no torch).

Every number and every comparison the report states is computed here from the bundle, so when the
results flip the prose flips. The module has three layers:

* measurements on plain arrays (`generalisation_gap`, `first_epoch_below`, `confused_pairs`,
  `within_group_share`, `class_wins`, `attention_stats`, `feature_stats`, ...);
* per-model facts (`ModelFacts`, from `model_facts`) and two-model leads (`Lead`, e.g.
  `accuracy_lead`), where a tie is a difference that vanishes at the displayed precision;
* sentence builders returning `Sentence`s: text interleaved with `Metric`s, which the template
  renders as ``<span data-metric=...>`` elements (see reportgen.report for the naming scheme).

Across several seeds, a headline quantity is a `Stat`: mean and sample standard deviation (ddof=1)
over seeds; with one seed it is that seed's value and has no standard deviation. Curves of several
seeds are averaged epoch by epoch before milestones are read from them. Confusion matrices of
several seeds are summed.

Significance of an accuracy difference (`accuracy_significance`, stated in the report by
`significance_rule`). Two tests, at ALPHA = 0.05:

* McNemar's exact test, per seed that both models ran with, on their predictions of the same test
  images: b images only the first model classifies correctly, c only the second; the two-sided
  binomial test of b successes in b + c trials at 1/2 (p = 1 when b + c = 0);
* with two or more seeds per model, a t-test over seeds of the test accuracy: paired by seed
  (scipy.stats.ttest_rel) when both models ran the same seeds, Welch's (ttest_ind, unequal
  variances) otherwise.

The difference is *significant* when every test that applies rejects equal accuracy: McNemar gives
p < ALPHA in favour of the model that is more accurate on average in more than half of the seeds
it was run on, and, when there is a t-test, its p < ALPHA. With one seed that is McNemar's p alone;
with several paired seeds both the paired t-test (variation between training runs) and a majority
of per-seed McNemar tests (variation between test images) must agree. When no test applies the
difference is not significant. A difference that is not significant is never called a win: the
accuracy sentence, the per-class statements and the conclusion say so instead.

Likewise a model is said to generalise better (`generalisation_rule`) only when its final
train-validation accuracy gap is smaller and a t-test over seeds of the gaps (`accuracy_ttest`: paired
when both models ran the same seeds, else Welch's) gives p < ALPHA; with one seed it is never said.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Iterable, Sequence, Union

import numpy as np
from scipy.stats import binomtest, ttest_ind, ttest_rel

from reportgen.bundle import Bundle, RunData
from reportgen.config import TrainConfig
from reportgen.errors import BundleError

# The overfitting rule (stated verbatim in the report by `overfitting_rule`).
OVERFIT_ACC_GAP_POINTS = 5.0  # final train accuracy minus final validation accuracy, percentage points
OVERFIT_VAL_LOSS_RISE_PCT = 10.0  # final validation loss above its minimum over the run, percent

VAL_LOSS_MILESTONE = 1.0  # first epoch whose validation loss is below this
VAL_ACC_MILESTONE = 0.70  # first epoch whose validation accuracy reaches this
TOP_PATCH_FRACTION = 0.10  # attention concentration: share of mass on the top 10% of patches
ALPHA = 0.05  # significance level of the accuracy tests (see the module docstring)

# The seed protocol, for the scale note: the seed notebook trains 80 epochs on CIFAR-10's 50,000 images.
SEED_PROTOCOL_EPOCHS = TrainConfig().epochs
SEED_PROTOCOL_TRAIN_SIZE = 50_000

CIFAR10_GROUPS = {
    "animal": frozenset({"bird", "cat", "deer", "dog", "frog", "horse"}),
    "vehicle": frozenset({"airplane", "automobile", "ship", "truck"}),
}

class PValueFormat:
    """p-values with 4 significant digits, and "< 0.0001" below that: never an exponent in the prose."""

    floor = 1e-4

    def format(self, value: float) -> str:
        return f"< {self.floor:g}" if value < self.floor else f"{value:#.4g}"


# How each unit is displayed (anything with a str.format-like `format`); the data-metric value is exactly this text.
UNIT_FORMATS = {
    "percent": "{:.2f}",  # a share or accuracy in percent
    "points": "{:.2f}",  # a difference of percentages, in percentage points
    "fraction": "{:.4f}",  # precision, recall, F1, per-class accuracy, normalised entropy in [0, 1]
    "loss": "{:.4f}",  # cross-entropy
    "seconds": "{:.2f}",
    "factor": "{:.2f}",  # a ratio, shown with a trailing ×
    "rate": "{:.1f}",  # training images per second
    "activation": "{:.4f}",  # mean feature-map activation
    "count": "{:,.0f}",  # integers; thousands separated by commas
    "epoch": "{:.0f}",
    "number": "{:g}",  # config values (learning rate, probabilities, normalisation constants)
    "pvalue": PValueFormat(),  # a test's p-value: 4 significant digits, or "< 0.0001"
    "statistic": "{:.2f}",  # a test statistic (t)
}


@dataclass(frozen=True)
class Metric:
    """One reported number: its data-metric key, raw value and unit (which fixes its format)."""

    key: str
    value: float
    unit: str

    @property
    def text(self) -> str:
        return UNIT_FORMATS[self.unit].format(self.value)


Part = Union[str, Metric]


@dataclass(frozen=True)
class Sentence:
    """Text interleaved with metrics; `text` is the plain reading of it."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text if isinstance(p, Metric) else p for p in self.parts)


def sentence(*parts: Part | Iterable[Part]) -> Sentence:
    """Build a Sentence from strings, metrics and lists of them (lists are flattened)."""
    flat: list[Part] = []
    for part in parts:
        if isinstance(part, (str, Metric)):
            flat.append(part)
        else:
            flat.extend(part)
    return Sentence(tuple(flat))


@dataclass(frozen=True)
class Stat:
    """A quantity over seeds: mean, and the sample standard deviation when there are several seeds."""

    key: str
    unit: str
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Metric:
        return Metric(f"{self.key}.mean", float(np.mean(self.values)), self.unit)

    @property
    def std(self) -> Metric | None:
        if self.n < 2:
            return None
        return Metric(f"{self.key}.std", float(np.std(self.values, ddof=1)), self.unit)

    def parts(self, suffix: str = "") -> list[Part]:
        """``mean`` or ``mean ± std``, followed by `suffix` (a unit such as "%" or " s")."""
        std = self.std
        return [self.mean, suffix] if std is None else [self.mean, " ± ", std, suffix]


# ---------------------------------------------------------------- measurements on plain arrays


@dataclass(frozen=True)
class Gap:
    """Train-validation gap at the final epoch of one history."""

    acc_gap_pts: float  # train accuracy minus validation accuracy, percentage points
    loss_gap: float  # validation loss minus train loss
    val_loss_rise_pct: float  # final validation loss above the run's minimum, percent
    final_train_acc_pct: float
    final_val_acc_pct: float


def generalisation_gap(history: dict[str, np.ndarray]) -> Gap:
    """Final-epoch gaps of a history (columns as in history.csv)."""
    val_loss = history["val_loss"]
    lowest = float(val_loss.min())
    rise = (float(val_loss[-1]) / lowest - 1) * 100 if lowest > 0 else 0.0
    return Gap(
        acc_gap_pts=float(history["train_acc"][-1] - history["val_acc"][-1]) * 100,
        loss_gap=float(val_loss[-1] - history["train_loss"][-1]),
        val_loss_rise_pct=rise,
        final_train_acc_pct=float(history["train_acc"][-1]) * 100,
        final_val_acc_pct=float(history["val_acc"][-1]) * 100,
    )


def is_overfitting(acc_gap_pts: float, val_loss_rise_pct: float) -> bool:
    """The report's overfitting rule (see `overfitting_rule`)."""
    return acc_gap_pts > OVERFIT_ACC_GAP_POINTS or val_loss_rise_pct > OVERFIT_VAL_LOSS_RISE_PCT


def stack_curves(histories: Sequence[dict[str, np.ndarray]], column: str) -> np.ndarray:
    """(seeds, epochs) array of one history column, cut to the shortest history."""
    length = min(len(h[column]) for h in histories)
    return np.stack([h[column][:length] for h in histories])


def first_epoch_below(values: np.ndarray, threshold: float) -> int | None:
    """1-based epoch of the first value strictly below `threshold`, or None."""
    hits = np.flatnonzero(values < threshold)
    return int(hits[0]) + 1 if hits.size else None


def first_epoch_reaching(values: np.ndarray, threshold: float) -> int | None:
    """1-based epoch of the first value at or above `threshold`, or None."""
    hits = np.flatnonzero(values >= threshold)
    return int(hits[0]) + 1 if hits.size else None


def summed_confusion(runs: Sequence[RunData]) -> np.ndarray:
    """The confusion matrices of all seeds' runs, summed (rows true, columns predicted)."""
    return np.sum([np.asarray(run.metrics["confusion"], dtype=np.int64) for run in runs], axis=0)


@dataclass(frozen=True)
class ConfusedPair:
    """Two classes and how often the model mixed them up, in both directions together."""

    first: str
    second: str
    count: int
    share_pct: float  # of all errors


def confused_pairs(confusion: np.ndarray, class_names: Sequence[str], top: int = 3) -> list[ConfusedPair]:
    """The `top` class pairs with the most errors between them (i as j plus j as i), most first."""
    cm = np.asarray(confusion, dtype=np.int64)
    errors = int(cm.sum() - np.trace(cm))
    both_ways = cm + cm.T
    pairs = [(int(both_ways[i, j]), i, j) for i in range(len(cm)) for j in range(i + 1, len(cm)) if both_ways[i, j]]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))  # ties broken by class order, for stable prose
    return [ConfusedPair(class_names[i], class_names[j], count, 100 * count / errors) for count, i, j in pairs[:top]]


def class_groups(class_names: Sequence[str]) -> list[int] | None:
    """Group index of each class when the classes are exactly CIFAR-10's, else None."""
    groups = list(CIFAR10_GROUPS.values())
    if set(class_names) != set().union(*groups) or len(class_names) != len(set(class_names)):
        return None
    return [next(g for g, members in enumerate(groups) if name in members) for name in class_names]


def within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors whose true and predicted class share a CIFAR-10 group (animal or vehicle).

    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors = cm.sum() - np.trace(cm)
    if groups is None or errors == 0:
        return None
    same = np.equal.outer(groups, groups) & ~np.eye(len(groups), dtype=bool)
    return float(100 * cm[same].sum() / errors)


def chance_within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors expected to stay within a group if each misclassified image's wrong label were
    drawn uniformly from the other K - 1 classes, given where the model's errors actually fall.

    A misclassified image of true class c keeps a uniformly drawn wrong label within c's group with
    probability (|group(c)| - 1) / (K - 1); the baseline is that probability averaged over the errors,
    weighted by e_c, the errors on true class c (the off-diagonal sum of row c of `confusion`). It is
    computed from the same confusion matrix as `within_group_share` (summed over seeds in the report).
    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors_per_class = cm.sum(axis=1) - np.diag(cm)
    total = int(errors_per_class.sum())
    if groups is None or total == 0:
        return None
    k = len(groups)
    stay = np.array([(groups.count(g) - 1) / (k - 1) for g in groups])
    return float(100 * (errors_per_class * stay).sum() / total)


@dataclass(frozen=True)
class ClassWins:
    """Which classes each of two models scores higher on, by one per-class metric."""

    metric: str
    first: tuple[str, ...]
    second: tuple[str, ...]
    ties: tuple[str, ...]


def class_wins(class_names: Sequence[str], first: Sequence[float], second: Sequence[float], metric: str) -> ClassWins:
    """Per-class comparison; equal at the displayed 4 decimals counts as a tie."""
    a, b = np.round(first, 4), np.round(second, 4)
    return ClassWins(
        metric=metric,
        first=tuple(n for n, x, y in zip(class_names, a, b) if x > y),
        second=tuple(n for n, x, y in zip(class_names, a, b) if x < y),
        ties=tuple(n for n, x, y in zip(class_names, a, b) if x == y),
    )


@dataclass(frozen=True)
class AttentionStats:
    """Concentration of one CLS attention map over the patches."""

    label: str  # "1".."H" for heads, "mean" for the mean over heads
    entropy: float  # Shannon entropy / log(N): 1 for uniform attention, 0 for a single patch
    top_share_pct: float  # percent of attention mass on the top_patches most attended patches
    top_patches: int  # the top TOP_PATCH_FRACTION of the patches, rounded up (see `top_patch_count`)
    patches: int

    @property
    def _prefix(self) -> str:
        return "vit.visual.mean" if self.label == "mean" else f"vit.visual.head{self.label}"

    @property
    def entropy_metric(self) -> Metric:
        return Metric(f"{self._prefix}.entropy", self.entropy, "fraction")

    @property
    def top_share_metric(self) -> Metric:
        return Metric(f"{self._prefix}.top_share_pct", self.top_share_pct, "percent")


def top_patch_count(patches: int) -> int:
    """How many patches make up the top TOP_PATCH_FRACTION of `patches` (rounded up, at least one)."""
    return max(1, math.ceil(TOP_PATCH_FRACTION * patches))


def top_share_label(patches: int) -> str:
    """What `AttentionStats.top_share_pct` measures, e.g. "share of attention on the top 10% of patches (7 of 64)"."""
    top = top_patch_count(patches)
    return f"share of attention on the top {TOP_PATCH_FRACTION:.0%} of patches ({top} of {patches})"


def attention_concentration(attention: np.ndarray, label: str) -> AttentionStats:
    """Concentration of one G x G map, renormalised over patches (the CLS-to-CLS weight is not in it)."""
    p = np.asarray(attention, dtype=np.float64).ravel()
    p = p / p.sum()
    n = p.size
    nonzero = p[p > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / math.log(n)) if n > 1 else 0.0
    top = top_patch_count(n)
    return AttentionStats(label, entropy, float(100 * np.sort(p)[-top:].sum()), top, n)


def attention_stats(cls_attention: np.ndarray) -> list[AttentionStats]:
    """Per-head stats of a (heads, G, G) attention array, then the stats of the mean over heads."""
    heads = [attention_concentration(a, str(h)) for h, a in enumerate(cls_attention, start=1)]
    return heads + [attention_concentration(cls_attention.mean(axis=0), "mean")]


def stage_maps(visuals: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The CNN's stage_1..stage_S feature maps in stage order (numeric, so stage_10 follows stage_9)."""
    keys = sorted((k for k in visuals if k.startswith("stage_")), key=lambda k: int(k.split("_")[1]))
    return [visuals[k] for k in keys]


@dataclass(frozen=True)
class StageStats:
    """Activation statistics of one CNN stage's feature maps (C, H, W)."""

    stage: int
    channels: int
    height: int
    width: int
    mean_activation: float
    zero_pct: float  # percent of activations that are exactly zero (ReLU outputs), i.e. sparsity

    @property
    def mean_metric(self) -> Metric:
        return Metric(f"cnn.visual.stage{self.stage}.mean_activation", self.mean_activation, "activation")

    @property
    def zero_metric(self) -> Metric:
        return Metric(f"cnn.visual.stage{self.stage}.zero_pct", self.zero_pct, "percent")


def feature_stats(maps: Sequence[np.ndarray]) -> list[StageStats]:
    """Mean activation and sparsity of each stage's feature maps."""
    return [
        StageStats(s, m.shape[0], m.shape[1], m.shape[2], float(m.mean()), float(100 * (m <= 0).mean()))
        for s, m in enumerate(maps, start=1)
    ]


# ---------------------------------------------------------------- per-model facts


@dataclass(frozen=True)
class Milestones:
    """First epochs at which the (seed-mean) validation curves pass the milestones."""

    val_loss_below: Metric | None
    val_acc_reached: Metric | None


@dataclass(frozen=True)
class ModelFacts:
    """Everything the report says about one model, over all its seeds."""

    key: str
    name: str
    seeds: tuple[int, ...]
    class_names: tuple[str, ...]
    parameters: Metric
    epochs: Metric
    accuracy: Stat  # percent
    macro_f1: Stat
    train_time: Stat
    epoch_time: Stat
    images_per_s: Stat
    final_train_acc: Stat
    final_val_acc: Stat
    acc_gap: Stat
    loss_gap: Stat
    val_loss_rise: Stat
    milestones: Milestones
    class_f1: np.ndarray = field(repr=False)  # mean over seeds, per class
    class_accuracy: np.ndarray = field(repr=False)
    confusion: np.ndarray = field(repr=False)  # summed over seeds

    @property
    def overfits(self) -> bool:
        return is_overfitting(self.acc_gap.mean.value, self.val_loss_rise.mean.value)

    @property
    def errors(self) -> Metric:
        return Metric(f"{self.key}.errors", int(self.confusion.sum() - np.trace(self.confusion)), "count")


def _stat(key: str, unit: str, values: Iterable[float]) -> Stat:
    return Stat(key, unit, tuple(float(v) for v in values))


def _milestones(model: str, histories: Sequence[dict[str, np.ndarray]]) -> Milestones:
    val_loss = stack_curves(histories, "val_loss").mean(axis=0)
    val_acc = stack_curves(histories, "val_acc").mean(axis=0)
    below = first_epoch_below(val_loss, VAL_LOSS_MILESTONE)
    reached = first_epoch_reaching(val_acc, VAL_ACC_MILESTONE)
    return Milestones(
        val_loss_below=None if below is None else Metric(f"{model}.first_epoch.val_loss_below", below, "epoch"),
        val_acc_reached=None if reached is None else Metric(f"{model}.first_epoch.val_acc_reached", reached, "epoch"),
    )


def model_facts(bundle: Bundle, model: str, runs: Sequence[RunData] | None = None) -> ModelFacts:
    """Facts about `model` from all its runs in `bundle` (`runs`, when the caller has read them already)."""
    runs = bundle.runs(model) if runs is None else runs
    dataset = bundle.dataset()
    class_names = tuple(dataset["classes"])
    train_size = int(dataset["train_size"])
    epochs = [len(run.history["epoch"]) for run in runs]
    times = [float(run.info["train_time_s"]) for run in runs]
    accuracy = [100 * float(run.metrics["accuracy"]) for run in runs]
    gaps = [generalisation_gap(run.history) for run in runs]

    def per_class(name: str) -> np.ndarray:
        return np.mean([[c[name] for c in run.metrics["per_class"]] for run in runs], axis=0)

    return ModelFacts(
        key=model,
        name=runs[0].display_name,
        seeds=tuple(run.seed for run in runs),
        class_names=class_names,
        parameters=Metric(f"{model}.parameters", int(bundle.architectures()[model]["parameters"]), "count"),
        epochs=Metric(f"{model}.epochs", max(epochs), "count"),
        accuracy=_stat(f"{model}.accuracy", "percent", accuracy),
        macro_f1=_stat(f"{model}.macro_f1", "fraction", (run.metrics["macro"]["f1"] for run in runs)),
        train_time=_stat(f"{model}.train_time_s", "seconds", times),
        epoch_time=_stat(f"{model}.epoch_time_s", "seconds", (t / e for t, e in zip(times, epochs))),
        images_per_s=_stat(f"{model}.images_per_s", "rate", (train_size * e / t for t, e in zip(times, epochs))),
        final_train_acc=_stat(f"{model}.final_train_acc", "percent", (g.final_train_acc_pct for g in gaps)),
        final_val_acc=_stat(f"{model}.final_val_acc", "percent", (g.final_val_acc_pct for g in gaps)),
        acc_gap=_stat(f"{model}.acc_gap_pts", "points", (g.acc_gap_pts for g in gaps)),
        loss_gap=_stat(f"{model}.loss_gap", "loss", (g.loss_gap for g in gaps)),
        val_loss_rise=_stat(f"{model}.val_loss_rise_pct", "percent", (g.val_loss_rise_pct for g in gaps)),
        milestones=_milestones(model, [run.history for run in runs]),
        class_f1=per_class("f1"),
        class_accuracy=per_class("accuracy"),
        confusion=summed_confusion(runs),
    )


# ---------------------------------------------------------------- two-model leads


@dataclass(frozen=True)
class Lead:
    """`winner` beats `loser` on one quantity, by `margin` (None where no single margin is reported)."""

    winner: ModelFacts
    loser: ModelFacts
    margin: Metric | None


def _lead(a: ModelFacts, b: ModelFacts, stat: Callable[[ModelFacts], Stat | Metric], higher_wins: bool,
          margin: Callable[[float, float], Metric] | None) -> Lead | None:
    """The better of a and b on `stat`; None when both show the same value at displayed precision."""
    def shown(m: ModelFacts) -> Metric:
        value = stat(m)
        return value.mean if isinstance(value, Stat) else value

    va, vb = shown(a), shown(b)
    if va.text == vb.text:
        return None
    a_wins = (va.value > vb.value) == higher_wins
    winner, loser = (a, b) if a_wins else (b, a)
    return Lead(winner, loser, None if margin is None else margin(shown(winner).value, shown(loser).value))


def accuracy_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The more accurate model, by mean test accuracy; margin in percentage points."""
    return _lead(a, b, lambda m: m.accuracy, True,
                 lambda win, lose: Metric("compare.accuracy_diff_pts", win - lose, "points"))


def speed_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The faster model, by mean time per epoch; margin = slower time / faster time."""
    return _lead(a, b, lambda m: m.epoch_time, False,
                 lambda win, lose: Metric("compare.speed_factor", lose / win, "factor"))


def parameter_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with more parameters; margin = larger count / smaller count."""
    return _lead(a, b, lambda m: m.parameters, True,
                 lambda win, lose: Metric("compare.parameter_ratio", win / lose, "factor"))


def overfit_gap(m: ModelFacts) -> Metric:
    """The final train-validation accuracy gap, each seed's negative gap (validation above training) as 0,
    averaged over seeds: the same per-seed values the gap t-test compares (`generalisation_significance`)."""
    return Metric(f"{m.key}.overfit_gap_pts", float(np.mean(_clipped_gaps(m))), "points")


def _clipped_gaps(m: ModelFacts) -> list[float]:
    """Each seed's final train-validation accuracy gap, a negative one (validation above training) as 0."""
    return [max(g, 0.0) for g in m.acc_gap.values]


def generalisation_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with the smaller final train-validation accuracy gap, a negative gap counting as none.

    None when both gaps are equal that way (in particular when neither is positive).
    """
    return _lead(a, b, overfit_gap, False, None)


# ---------------------------------------------------------------- significance of an accuracy difference


def mcnemar_test(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test on two models' predictions of the same images: (b, c, two-sided p).

    b counts images only the first model classifies correctly, c those only the second does.
    """
    first_right, second_right = first == labels, second == labels
    b = int(np.sum(first_right & ~second_right))
    c = int(np.sum(~first_right & second_right))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0  # no discordant image: no evidence of a difference
    return b, c, float(p)


def accuracy_ttest(first: Sequence[float], second: Sequence[float], paired: bool) -> tuple[float, float]:
    """(t, p) of a two-sided t-test of two models' accuracies over seeds: paired by position, or Welch's.

    Differences (or samples) without any spread leave t undefined: identical accuracies read as t = 0,
    p = 1 (no evidence of a difference); a constant non-zero difference as scipy's limit, |t| = inf, p = 0.
    """
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns about the zero spread handled below
        result = ttest_rel(first, second) if paired else ttest_ind(first, second, equal_var=False)
    t, p = float(result.statistic), float(result.pvalue)
    return (0.0, 1.0) if math.isnan(p) else (t, p)


def p_parts(p: Metric) -> list[Part]:
    """"p = 0.0123", or "p < 0.0001" when the value is below the displayed floor."""
    return ["p ", p] if p.text.startswith("<") else ["p = ", p]


@dataclass(frozen=True)
class SignificanceTest:
    """A test's result, whose fields are reported as metrics ``<key>.<field>`` in the units of UNITS."""

    key: str  # e.g. "compare.mcnemar.seed42", "compare.ttest"
    UNITS: ClassVar[dict[str, str]] = {}

    def metric(self, name: str) -> Metric:
        return Metric(f"{self.key}.{name}", getattr(self, name), self.UNITS[name])


@dataclass(frozen=True)
class McNemar(SignificanceTest):
    """McNemar's exact test of two models' test predictions at one seed (see `mcnemar_test`)."""

    UNITS = {"b": "count", "c": "count", "p": "pvalue", "diff_pts": "points"}
    seed: int
    b: int  # test images only the first model classifies correctly
    c: int  # test images only the second model classifies correctly
    p: float
    images: int  # test images compared

    @property
    def diff_pts(self) -> float:
        """First model's accuracy minus the second's at this seed, in points: (b - c) / images."""
        return 100 * (self.b - self.c) / self.images

    def significant_towards(self, direction: int) -> bool:
        """p < ALPHA with the first model ahead (direction 1) or the second (-1)."""
        return self.p < ALPHA and direction != 0 and int(np.sign(self.b - self.c)) == direction


@dataclass(frozen=True)
class TTest(SignificanceTest):
    """A t-test over seeds of two models' test accuracies (see `accuracy_ttest`)."""

    UNITS = {"t": "statistic", "p": "pvalue"}
    paired: bool
    t: float
    p: float

    @property
    def name(self) -> str:
        return "paired t-test" if self.paired else "Welch's t-test"


@dataclass(frozen=True)
class Significance:
    """Whether the first and second of two sets of runs differ in test accuracy, by the module's rule."""

    key: str  # prefix of every metric, e.g. "compare"
    mcnemar: tuple[McNemar, ...]  # one per seed both ran with, in seed order
    ttest: TTest | None  # with two or more seeds on each side
    difference: Stat  # first minus second accuracy, points: per paired seed, else the difference of the means

    @property
    def direction(self) -> int:
        """1 when the first is more accurate on average, -1 when the second is, 0 when they are equal."""
        return int(np.sign(self.difference.mean.value))

    @property
    def mcnemar_majority(self) -> Metric:
        """Seeds whose McNemar test is significant in favour of the model ahead on average."""
        agreeing = sum(m.significant_towards(self.direction) for m in self.mcnemar)
        return Metric(f"{self.key}.mcnemar.significant_seeds", agreeing, "count")

    @property
    def tested(self) -> bool:
        return bool(self.mcnemar) or self.ttest is not None

    @property
    def significant(self) -> bool:
        mcnemar_ok = not self.mcnemar or 2 * int(self.mcnemar_majority.value) > len(self.mcnemar)
        ttest_ok = self.ttest is None or self.ttest.p < ALPHA
        return self.tested and self.direction != 0 and mcnemar_ok and ttest_ok

    @property
    def verdict(self) -> str:
        return "significant" if self.significant else "not significant"


def _percent_accuracies(runs: Sequence[RunData]) -> list[float]:
    return [100 * float(run.metrics["accuracy"]) for run in runs]


def accuracy_significance(first: Sequence[RunData], second: Sequence[RunData], key: str = "compare") -> Significance:
    """Test whether the runs of `first` and `second` (each sorted by seed) differ in test accuracy.

    The runs must have predicted the same test images; McNemar pairs the runs of equal seeds.
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
    first_acc, second_acc = _percent_accuracies(first), _percent_accuracies(second)
    ttest = None
    if min(len(first), len(second)) >= 2:
        ttest = TTest(f"{key}.ttest", paired, *accuracy_ttest(first_acc, second_acc, paired))
    differences = [m.diff_pts for m in mcnemar] if paired else [np.mean(first_acc) - np.mean(second_acc)]
    return Significance(key, mcnemar, ttest, _stat(f"{key}.seed_diff_pts", "points", differences))


def significance_rule(side: str = "model") -> Sentence:
    """The rule by which an accuracy difference between two `side`s (models, bundles) is called significant."""
    return sentence(
        f"Rule used for accuracy differences: a difference is significant when every test that applies rejects "
        f"equal accuracy at α = {ALPHA:g}. McNemar's exact test compares the two {side}s' predictions of the same "
        f"test images (b images only the first {side} classifies correctly, c only the second; two-sided binomial "
        f"test of b in b + c at 1/2); it must give p < {ALPHA:g} in favour of the {side} that is more accurate on "
        "average in more than half of the seeds both ran with (with one seed: in that seed). With two or more seeds "
        f"per {side}, a t-test over seeds of the test accuracy (paired by seed when both {side}s ran the same seeds, "
        f"else Welch's) must also give p < {ALPHA:g}. A difference that is not significant is not called a win.")


@dataclass(frozen=True)
class GapSignificance:
    """Whether two models' final train-validation accuracy gaps differ, by `generalisation_rule`."""

    first: ModelFacts = field(repr=False)  # the t-test's first sample
    lead: Lead | None  # the model with the smaller gap (negative gaps as none), see `generalisation_lead`
    ttest: TTest | None  # over seeds of the gaps (first minus second), with two or more seeds per model

    @property
    def significant(self) -> bool:
        """A smaller gap, and a t-test with p < ALPHA pointing the same way (t < 0: the first's gap is smaller)."""
        if self.lead is None or self.ttest is None or not self.ttest.p < ALPHA:
            return False
        return (self.ttest.t < 0) == (self.lead.winner is self.first)


def generalisation_significance(a: ModelFacts, b: ModelFacts, key: str = "compare.gap_ttest") -> GapSignificance:
    """The smaller-gap model and a t-test over seeds of the two models' gaps (a negative gap read as 0).

    The t-test is `accuracy_ttest` on the per-seed gaps: paired by seed when both models ran the same
    seeds, Welch's otherwise; there is none with fewer than two seeds on a side.
    """
    ttest = None
    if min(len(a.seeds), len(b.seeds)) >= 2:
        paired = a.seeds == b.seeds
        first, second = _clipped_gaps(a), _clipped_gaps(b)
        ttest = TTest(key, paired, *accuracy_ttest(first, second, paired))
    return GapSignificance(a, generalisation_lead(a, b), ttest)


def significance_evidence(sig: Significance, side: str = "model") -> list[Part]:
    """The test results behind a verdict, e.g. "paired t-test over seeds, p = 0.0123; McNemar p < 0.05 ... 3 seeds"."""
    parts: list[Part] = []
    if sig.ttest is not None:
        parts += [f"{sig.ttest.name} over seeds, ", *p_parts(sig.ttest.metric("p"))]
    if len(sig.mcnemar) == 1:
        parts += ["; " if parts else "", "McNemar ", *p_parts(sig.mcnemar[0].metric("p"))]
    elif sig.mcnemar:
        parts += ["; " if parts else "", f"McNemar p < {ALPHA:g} for the {side} ahead in ", sig.mcnemar_majority,
                  " of ", Metric(f"{sig.key}.mcnemar.seeds", len(sig.mcnemar), "count"), " seeds"]
    return parts or ["no test applies: the runs share no seed and there are fewer than two seeds on a side"]


# ---------------------------------------------------------------- sentences


def _the(m: ModelFacts) -> str:
    return f"the {m.name}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _seed_count(m: ModelFacts) -> Metric:
    return Metric(f"{m.key}.seeds", len(m.seeds), "count")


def _over_seeds(m: ModelFacts) -> list[Part]:
    return [" (mean ± standard deviation over ", _seed_count(m), " seeds)"] if len(m.seeds) > 1 else []


def _name_list(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def scale_note(epochs: int, train_size: int) -> Sentence | None:
    """A warning when the run is smaller than the seed protocol (fewer epochs or training images)."""
    if epochs >= SEED_PROTOCOL_EPOCHS and train_size >= SEED_PROTOCOL_TRAIN_SIZE:
        return None
    return sentence(
        "This run trained for ", Metric("run.epochs", epochs, "count"), " epochs on ",
        Metric("dataset.train_size", train_size, "count"), f" training images; the seed protocol is "
        f"{SEED_PROTOCOL_EPOCHS} epochs on the {SEED_PROTOCOL_TRAIN_SIZE:,} CIFAR-10 training images. "
        "It is a reduced-scale run: its numbers show what this run measured, not the converged "
        "performance of the architectures, and its conclusions may change at full scale.")


def headline_sentence(m: ModelFacts) -> Sentence:
    """Test accuracy, macro F1 and training time of one model."""
    return sentence(
        f"{_capital(_the(m))} reached a test accuracy of ", m.accuracy.parts("%"), _over_seeds(m),
        ", a macro-averaged F1 of ", m.macro_f1.parts(), ", and trained in ", m.train_time.parts(" s"),
        " (", m.epoch_time.parts(" s"), " per epoch) over ", m.epochs, " epochs.")


def accuracy_winner(a: ModelFacts, b: ModelFacts, sig: Significance) -> ModelFacts | None:
    """The more accurate model when the difference is significant, else None (no win is claimed)."""
    lead = accuracy_lead(a, b)
    return lead.winner if lead is not None and sig.significant else None


def _spread(sig: Significance) -> list[Part]:
    """" ± s" of the per-seed accuracy differences, when there are several paired seeds."""
    std = sig.difference.std
    return [] if std is None else [" (± ", std, " over the paired seeds)"]


def accuracy_sentence(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """Which model is more accurate and by how many percentage points, if the difference is significant."""
    lead = accuracy_lead(a, b)
    evidence = significance_evidence(sig)
    if lead is None:
        return sentence(f"The {a.name} and the {b.name} are equally accurate: ", a.accuracy.parts("%"),
                        " and ", b.accuracy.parts("%"), " test accuracy (", evidence, ").")
    w, lo = lead.winner, lead.loser
    if sig.significant:
        return sentence(
            f"{_capital(_the(w))} is more accurate: ", w.accuracy.parts("%"), " test accuracy against ",
            lo.accuracy.parts("%"), f" for {_the(lo)}", _over_seeds(w), ", a lead of ", lead.margin,
            " percentage points", _spread(sig), "; the difference is significant (", evidence, ").")
    return sentence(
        f"{_capital(_the(w))}'s test accuracy, ", w.accuracy.parts("%"), ", is ", lead.margin, " percentage points",
        _spread(sig), f" above {_the(lo)}'s ", lo.accuracy.parts("%"), _over_seeds(w),
        ", but the difference is not significant (", evidence, "), so neither model is the more accurate on "
        "this evidence.")


def speed_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model trained faster, by what factor, and each one's time per epoch."""
    lead = speed_lead(a, b)
    if lead is None:
        return sentence(f"The {a.name} and the {b.name} trained equally fast: ", a.epoch_time.parts(" s"),
                        " and ", b.epoch_time.parts(" s"), " per epoch.")
    w, lo = lead.winner, lead.loser
    return sentence(
        f"{_capital(_the(w))} trained faster, by a factor of ", lead.margin, "×: ", w.epoch_time.parts(" s"),
        " per epoch against ", lo.epoch_time.parts(" s"), f" for {_the(lo)} (", w.train_time.parts(" s"),
        " against ", lo.train_time.parts(" s"), " in total).")


def parameters_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model has more parameters and how many more."""
    lead = parameter_lead(a, b)
    if lead is None:
        return sentence(f"The {a.name} and the {b.name} have the same number of parameters, ", a.parameters, ".")
    w, lo = lead.winner, lead.loser
    return sentence(f"{_capital(_the(w))} has more parameters: ", w.parameters, " against ", lo.parameters,
                    f" for {_the(lo)}, ", lead.margin, "× as many.")


def throughput_sentences(a: ModelFacts, b: ModelFacts) -> list[Sentence]:
    """Training throughput of each model, in training images per second.

    The prose states no accuracy-per-second figure: the seed study computes no such metric.
    """
    return [sentence(f"{_capital(_the(m))} processed ", m.images_per_s.parts(), " training images per second.")
            for m in (a, b)]


def overfitting_rule() -> Sentence:
    """The rule by which the report calls a model overfitting."""
    return sentence(
        "Rule used in this report: a model overfits when, at its final epoch, its training accuracy exceeds "
        f"its validation accuracy by more than {OVERFIT_ACC_GAP_POINTS:g} percentage points, or its validation "
        f"loss has risen more than {OVERFIT_VAL_LOSS_RISE_PCT:g}% above the lowest value it reached during training.")


def gap_sentence(m: ModelFacts) -> Sentence:
    """One model's final train-validation gaps and the overfitting verdict."""
    verdict = "it overfits" if m.overfits else "it does not overfit"
    return sentence(
        f"At the final epoch {_the(m)} has a training accuracy of ", m.final_train_acc.parts("%"),
        " and a validation accuracy of ", m.final_val_acc.parts("%"), "; training minus validation accuracy is ",
        m.acc_gap.parts(" points"), ", validation loss minus training loss is ", m.loss_gap.parts(),
        ", and the final validation loss lies ", m.val_loss_rise.parts("%"),
        f" above its minimum. By the rule, {verdict}.")


def generalisation_rule() -> Sentence:
    """The rule by which the report says that one model generalises better than the other."""
    return sentence(
        "Rule used for the generalisation comparison: a model generalises better when its final train–validation "
        "accuracy gap is smaller (a negative gap, validation above training accuracy, counts as no gap) and, with "
        "two or more seeds per model, a t-test over seeds of the gaps (paired by seed when both models ran the same "
        f"seeds, else Welch's) gives p < {ALPHA:g}. With fewer than two seeds for either model the difference "
        "cannot be tested, and neither model is said to generalise better.")


def generalisation_sentence(a: ModelFacts, b: ModelFacts) -> Sentence:
    """Which model has the smaller final train-validation accuracy gap, and whether that difference is
    significant (`generalisation_significance`); "generalises better" only when it is."""
    sig = generalisation_significance(a, b)
    if sig.lead is None and overfit_gap(a).value == 0:
        return sentence("Neither model ends with a training accuracy above its validation accuracy: ",
                        a.acc_gap.parts(" points"), f" for {_the(a)} and ", b.acc_gap.parts(" points"),
                        f" for {_the(b)}.")
    if sig.lead is None:
        return sentence(f"The {a.name} and the {b.name} end with the same train–validation accuracy gap, ",
                        a.acc_gap.parts(" points"), ".")
    w, lo = sig.lead.winner, sig.lead.loser
    negative = "a negative gap, validation above training accuracy, counts as no gap"
    if sig.significant:
        assert sig.ttest is not None
        return sentence(f"By the final train–validation accuracy gap, {_the(w)} generalises better: ",
                        w.acc_gap.parts(" points"), " against ", lo.acc_gap.parts(" points"), f" for {_the(lo)}",
                        _over_seeds(w), f", a significant difference ({sig.ttest.name} over seeds, ",
                        p_parts(sig.ttest.metric("p")), f"; {negative}).")
    if sig.ttest is not None:
        why = ["but the difference is not significant (", f"{sig.ttest.name} over seeds, ",
               *p_parts(sig.ttest.metric("p")), f"; {negative})"]
    elif len(a.seeds) == len(b.seeds) == 1:
        why = [f"but a single run per model cannot tell whether the difference is significant ({negative})"]
    else:
        few = a if len(a.seeds) < 2 else b
        why = [f"but with a single run of {_the(few)} the difference cannot be tested ({negative})"]
    return sentence(f"{_capital(_the(w))}'s final train–validation accuracy gap, ", w.acc_gap.parts(" points"),
                    f", is smaller than {_the(lo)}'s, ", lo.acc_gap.parts(" points"), _over_seeds(w), ", ", why,
                    ", so neither model is shown to generalise better.")


def milestone_sentences(m: ModelFacts) -> list[Sentence]:
    """First epochs with validation loss below 1.0 and validation accuracy at 70%, or that it never happened."""
    ms = m.milestones
    curve = [" (on the validation curves averaged over ", _seed_count(m), " seeds)"] if len(m.seeds) > 1 else []
    never = [" within its ", m.epochs, " epochs"]
    subject = f"{_capital(_the(m))}'s validation loss"
    loss = (sentence(f"{subject} first fell below {VAL_LOSS_MILESTONE:.1f} at epoch ", ms.val_loss_below, curve, ".")
            if ms.val_loss_below else
            sentence(f"{subject} never fell below {VAL_LOSS_MILESTONE:.1f}", never, curve, "."))
    acc = (sentence(f"Its validation accuracy first reached {VAL_ACC_MILESTONE:.0%} at epoch ", ms.val_acc_reached, ".")
           if ms.val_acc_reached else
           sentence(f"Its validation accuracy never reached {VAL_ACC_MILESTONE:.0%}", never, "."))
    return [loss, acc]


def confusion_sentences(m: ModelFacts) -> list[Sentence]:
    """The most confused class pairs and, for CIFAR-10 classes, how many errors stay within a group."""
    errors = m.errors
    seeds = [", summed over ", _seed_count(m), " seeds"] if len(m.seeds) > 1 else []
    if errors.value == 0:
        return [sentence(f"{_capital(_the(m))} made no errors on the test set.")]
    pairs = confused_pairs(m.confusion, m.class_names)
    listed: list[Part] = []
    for rank, pair in enumerate(pairs, start=1):
        listed += ["; " if rank > 1 else "", f"{pair.first} ↔ {pair.second} (",
                   Metric(f"{m.key}.confusion.pair{rank}.count", pair.count, "count"), " errors, ",
                   Metric(f"{m.key}.confusion.pair{rank}.share_pct", pair.share_pct, "percent"), "%)"]
    out = [sentence("Of the ", errors, f" test errors of {_the(m)}", seeds, ", the most frequent confusions, "
                    "counting both directions, are: ", listed, ".")]
    share = within_group_share(m.confusion, m.class_names)
    chance = chance_within_group_share(m.confusion, m.class_names)
    if share is not None and chance is not None:
        out.append(sentence(
            "Of its errors, ", Metric(f"{m.key}.confusion.within_group_pct", share, "percent"),
            f"% stay within a group (animals: {', '.join(sorted(CIFAR10_GROUPS['animal']))}; "
            f"vehicles: {', '.join(sorted(CIFAR10_GROUPS['vehicle']))}), against ",
            Metric(f"{m.key}.confusion.within_group_chance_pct", chance, "percent"),
            "% expected if each misclassified image's wrong label were drawn uniformly from the other classes, "
            "given how its errors fall over the true classes; the remaining ",
            Metric(f"{m.key}.confusion.cross_group_pct", 100 - share, "percent"), "% cross between the groups."))
    return out


def wins_sentence(a: ModelFacts, b: ModelFacts, metric: str, sig: Significance) -> Sentence:
    """In how many classes each model has the higher per-class `metric` ("f1" or "accuracy").

    Per-class differences are not tested one by one, so they are stated as scores, never as wins; when
    the overall accuracy difference is not significant, the sentence says they show no better model.
    """
    scores = {"f1": (a.class_f1, b.class_f1), "accuracy": (a.class_accuracy, b.class_accuracy)}[metric]
    wins = class_wins(a.class_names, *scores, metric)
    label = {"f1": "F1", "accuracy": "accuracy"}[metric]
    parts: list[Part] = [
        f"By per-class {label}, {_the(a)} scores higher in ",
        Metric(f"compare.{metric}_wins.{a.key}", len(wins.first), "count"), " of ",
        Metric("dataset.num_classes", len(a.class_names), "count"),
        f" classes ({_name_list(wins.first)}) and {_the(b)} in ",
        Metric(f"compare.{metric}_wins.{b.key}", len(wins.second), "count"), f" ({_name_list(wins.second)})",
    ]
    if wins.ties:
        parts += ["; they tie in ", Metric(f"compare.{metric}_ties", len(wins.ties), "count"),
                  f" ({_name_list(wins.ties)})"]
    if not sig.significant:
        parts += ["; as the overall accuracy difference is not significant, these per-class differences do not show "
                  "either model to be better"]
    return sentence(parts, ".")


def _trend(first: float, last: float, text_first: str, text_last: str) -> str:
    if text_first == text_last:
        return "stays at"
    return "rises" if last > first else "falls"


def feature_map_sentence(stages: Sequence[StageStats]) -> Sentence:
    """How sparsity and mean activation change from the first to the last CNN stage."""
    first, last = stages[0], stages[-1]
    zero = [first.zero_metric, last.zero_metric]
    mean = [first.mean_metric, last.mean_metric]
    if len(stages) == 1:
        return sentence("In its single stage, ", zero[0], "% of the CNN's activations on the focus image are zero "
                        "and the mean activation is ", mean[0], ".")
    return sentence(
        "On the focus image, the share of zero activations (sparsity) "
        f"{_trend(first.zero_pct, last.zero_pct, zero[0].text, zero[1].text)} from ", zero[0],
        f"% at stage {first.stage} to ", zero[1], f"% at stage {last.stage}, and the mean activation "
        f"{_trend(first.mean_activation, last.mean_activation, mean[0].text, mean[1].text)} from ", mean[0],
        " to ", mean[1], "; the spatial resolution shrinks from ",
        f"{first.height}×{first.width} to {last.height}×{last.width}.")


def attention_sentences(stats: Sequence[AttentionStats], patches: int) -> list[Sentence]:
    """Concentration of the mean CLS attention, and the most concentrated and most diffuse heads."""
    *heads, mean = stats
    top = top_patch_count(patches)
    out = [sentence(
        "In the last layer, the CLS token's attention over the ", Metric("vit.visual.patches", patches, "count"),
        " patches, averaged over heads, has a normalised entropy of ", mean.entropy_metric,
        f" (1 would be uniform, 0 a single patch), and the {top} most attended patches (the top "
        f"{TOP_PATCH_FRACTION:.0%} of the {patches}, rounded up) hold ", mean.top_share_metric,
        f"% of its attention (uniform attention would give {100 * top / patches:.2f}%).")]
    if len(heads) > 1:
        sharpest = min(heads, key=lambda s: s.entropy)
        flattest = max(heads, key=lambda s: s.entropy)
        out.append(sentence(
            f"The most concentrated head is head {sharpest.label} (entropy ", sharpest.entropy_metric, "; ",
            _top_share_parts(sharpest), f"), the most diffuse is head {flattest.label} (entropy ",
            flattest.entropy_metric, "; ", _top_share_parts(flattest), ")."))
    return out


def _top_share_parts(s: AttentionStats) -> list[Part]:
    """E.g. "35.00% of its attention on the top 10% of patches, 7 of 64"."""
    return [s.top_share_metric, f"% of its attention on the top {TOP_PATCH_FRACTION:.0%} of patches, "
            f"{s.top_patches} of {s.patches}"]


def _verdict(m: ModelFacts) -> str:
    return f"{_the(m)} {'overfits' if m.overfits else 'does not overfit'}"


def _accuracy_verdict(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    lead = accuracy_lead(a, b)
    if lead is None:
        return sentence(f"On this run the {a.name} and the {b.name} are equally accurate.")
    if sig.significant:
        return sentence(f"On this run {_the(lead.winner)} is the more accurate model, by ", lead.margin,
                        " percentage points, a significant difference.")
    return sentence(f"On this run neither model is shown to be more accurate: {_the(lead.winner)}'s lead of ",
                    lead.margin, " percentage points is not significant.")


def conclusion_sentences(facts: Sequence[ModelFacts], note: Sentence | None,
                         sig: Significance | None = None) -> list[Sentence]:
    """The closing verdict, computed from the results (one model, or two with their `sig`nificance)."""
    out: list[Sentence] = []
    if len(facts) == 1:
        (m,) = facts
        out.append(sentence(f"{_capital(_the(m))} reached ", m.accuracy.parts("%"), " test accuracy after ",
                            m.epochs, " epochs and ", m.train_time.parts(" s"), f" of training; by the "
                            f"overfitting rule, {_verdict(m)}."))
    else:
        a, b = facts
        assert sig is not None, "two models need their significance test"
        winner, speed = accuracy_winner(a, b, sig), speed_lead(a, b)
        out.append(_accuracy_verdict(a, b, sig))
        if speed is None:
            out.append(sentence("Both trained equally fast per epoch."))
        elif winner is None or speed.winner is winner:
            also = "" if winner is None else " also"
            out.append(sentence(f"{_capital(_the(speed.winner))}{also} trained ", speed.margin,
                                "× faster per epoch" + ("." if winner is None else
                                                         ", so it wins on both accuracy and training cost.")))
        else:
            out.append(sentence(f"{_capital(_the(speed.winner))}, however, trained ", speed.margin,
                                "× faster per epoch, so choosing between them trades accuracy against training cost."))
        if a.overfits == b.overfits:
            verdict = "both models overfit" if a.overfits else "neither model overfits"
        else:
            verdict = f"{_verdict(a)} and {_verdict(b)}"
        out.append(sentence(f"By the overfitting rule, {verdict}."))
    if note is not None:
        out.append(sentence("These conclusions describe a reduced-scale run; the seed protocol's "
                            f"{SEED_PROTOCOL_EPOCHS} epochs on the full training set may change them."))
    return out


# ---------------------------------------------------------------- the whole narrative


@dataclass
class Narrative:
    """All facts and sentences of one bundle's report, grouped by report section."""

    facts: list[ModelFacts]
    significance: Significance | None  # of the accuracy difference, with two models
    scale_note: Sentence | None
    headlines: dict[str, Sentence]
    accuracy: list[Sentence]
    speed: list[Sentence]
    generalisation: list[Sentence]
    confusions: dict[str, list[Sentence]]
    milestones: dict[str, list[Sentence]]
    feature_stages: list[StageStats]
    feature_maps: list[Sentence]
    attention: list[AttentionStats]
    attention_text: list[Sentence]
    conclusion: list[Sentence]
    generalisation_rule: Sentence | None = None  # with two models: when one is said to generalise better

    @property
    def comparative(self) -> bool:
        return len(self.facts) == 2

    @property
    def top_share_label(self) -> str | None:
        """What the attention top share measures, for table headers; None without attention maps."""
        return top_share_label(self.attention[-1].patches) if self.attention else None


def _comparisons(a: ModelFacts, b: ModelFacts,
                 sig: Significance) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    accuracy = [accuracy_sentence(a, b, sig), wins_sentence(a, b, "f1", sig), wins_sentence(a, b, "accuracy", sig)]
    speed = [speed_sentence(a, b), parameters_sentence(a, b), *throughput_sentences(a, b)]
    generalisation = [generalisation_sentence(a, b)]
    return accuracy, speed, generalisation


def build_narrative(bundle: Bundle) -> Narrative:
    """Compute every fact and sentence of the report from `bundle`."""
    runs = {m: bundle.runs(m) for m in bundle.models()}
    facts = [model_facts(bundle, m, model_runs) for m, model_runs in runs.items()]
    note = scale_note(max(int(f.epochs.value) for f in facts), int(bundle.dataset()["train_size"]))
    significance = None
    if len(facts) == 2:
        significance = accuracy_significance(*runs.values())
        accuracy, speed, generalisation = _comparisons(*facts, significance)
    else:
        accuracy, speed, generalisation = [], [], []
    by_key = {f.key: f for f in facts}
    stages = feature_stats(stage_maps(bundle.visuals("cnn", by_key["cnn"].seeds[0]))) if "cnn" in by_key else []
    attention: list[AttentionStats] = []
    attention_text: list[Sentence] = []
    if "vit" in by_key:
        cls_attention = bundle.visuals("vit", by_key["vit"].seeds[0])["cls_attention"]
        attention = attention_stats(cls_attention)
        attention_text = attention_sentences(attention, cls_attention.shape[1] * cls_attention.shape[2])
    return Narrative(
        facts=facts,
        significance=significance,
        scale_note=note,
        headlines={f.key: headline_sentence(f) for f in facts},
        accuracy=accuracy,
        speed=speed,
        generalisation=generalisation + [gap_sentence(f) for f in facts],
        confusions={f.key: confusion_sentences(f) for f in facts},
        milestones={f.key: milestone_sentences(f) for f in facts},
        feature_stages=stages,
        feature_maps=[feature_map_sentence(stages)] if stages else [],
        attention=attention,
        attention_text=attention_text,
        conclusion=conclusion_sentences(facts, note, significance),
        generalisation_rule=generalisation_rule() if len(facts) == 2 else None,
    )
