"""The report's statistics: McNemar, t-tests over seeds, the significance verdict and the bootstrap."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from scipy.stats import ttest_ind, ttest_rel

from reportgen.bundle import Bundle, RunData, write_manifest
from reportgen.errors import BundleError
from reportgen.report.kernel import Stat
from reportgen.report.stats import (
    McNemar,
    Significance,
    TTest,
    accuracy_interval,
    accuracy_significance,
    bootstrap_interval,
    difference_of_differences,
    hierarchical_bootstrap,
    mcnemar_test,
    ttest,
)
from tests.bundle_factory import VariantSpec, make_bundle


def test_mcnemar_counts_and_p_match_a_hand_computation():
    labels = np.zeros(12, dtype=np.int64)
    first = np.array([0] * 8 + [1] + [0, 0] + [1])  # right on images 0-7 (only it), 9, 10 (both)
    second = np.array([1] * 8 + [0] + [0, 0] + [1])  # right on image 8 (only it), 9, 10 (both)
    b, c, p = mcnemar_test(labels, first, second)
    assert (b, c) == (8, 1)
    assert p == pytest.approx(2 * (1 + 9) / 2 ** 9)  # two-sided: 2 P(X <= 1), X ~ Binomial(9, 1/2)
    assert mcnemar_test(labels, first, first) == (0, 0, 1.0)


def test_mcnemar_of_a_bundle_counts_its_discordant_predictions(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b"))
    (cnn,), (vit,) = bundle.runs("cnn"), bundle.runs("vit")
    b = sum(1 for y, p, q in zip(cnn.labels, cnn.preds, vit.preds) if p == y and q != y)
    c = sum(1 for y, p, q in zip(cnn.labels, cnn.preds, vit.preds) if p != y and q == y)
    (test,) = accuracy_significance([cnn], [vit], 0.05).mcnemar
    assert (test.seed, test.b, test.c) == (42, b, c)
    assert test.diff_pts == pytest.approx(100 * (cnn.metrics["accuracy"] - vit.metrics["accuracy"]))


def test_paired_ttest_over_seeds_equals_scipy(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b", seeds=(1, 2, 3)))
    cnn = [100 * r.metrics["accuracy"] for r in bundle.runs("cnn")]
    vit = [100 * r.metrics["accuracy"] for r in bundle.runs("vit")]
    sig = accuracy_significance(bundle.runs("cnn"), bundle.runs("vit"), 0.05)
    expected = ttest_rel(cnn, vit)
    assert sig.ttest.paired and sig.ttest.name == "paired t-test"
    assert (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert [m.seed for m in sig.mcnemar] == [1, 2, 3]
    assert sig.difference.std.value == pytest.approx(np.std(np.subtract(cnn, vit), ddof=1))


def test_welch_ttest_when_the_models_ran_different_seeds(tmp_path):
    root = make_bundle(tmp_path / "b", seeds=(1, 2, 3))
    shutil.rmtree(root / "runs" / "vit" / "seed-2")
    write_manifest(root)
    bundle = Bundle(root)
    cnn = [100 * r.metrics["accuracy"] for r in bundle.runs("cnn")]
    vit = [100 * r.metrics["accuracy"] for r in bundle.runs("vit")]
    sig = accuracy_significance(bundle.runs("cnn"), bundle.runs("vit"), 0.05)
    expected = ttest_ind(cnn, vit, equal_var=False)
    assert not sig.ttest.paired and sig.ttest.name == "Welch's t-test"
    assert (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert [m.seed for m in sig.mcnemar] == [1, 3]  # McNemar pairs only the seeds both ran
    assert sig.difference.mean.value == pytest.approx(np.mean(cnn) - np.mean(vit))


def test_ttest_without_spread_reads_as_no_evidence_when_equal():
    assert ttest([80.0, 81.0], [80.0, 81.0], paired=True) == (0.0, 1.0)
    t, p = ttest([81.0, 82.0], [80.0, 81.0], paired=True)
    assert math.isinf(t) and p == 0.0


def _significance(mcnemar_p: list[float], ttest_p: float | None, b_minus_c: int = 10,
                  alpha: float = 0.05) -> Significance:
    tests = tuple(McNemar(f"compare.mcnemar.seed{s}", s, 50 + b_minus_c, 50, p, 1000) for s, p in enumerate(mcnemar_p))
    ttest_result = None if ttest_p is None else TTest("compare.ttest", True, 3.0, ttest_p)
    return Significance("compare", alpha, tests, ttest_result,
                        Stat("compare.seed_diff_pts", "points", tuple(m.diff_pts for m in tests)))


@pytest.mark.parametrize("mcnemar_p, ttest_p, expected", [
    ([0.01], None, True),  # one seed: McNemar alone
    ([0.2], None, False),
    ([0.01, 0.02, 0.3], 0.01, True),  # several seeds: the t-test and a majority of McNemar tests
    ([0.01, 0.2, 0.3], 0.01, False),  # the t-test alone does not suffice
    ([0.01, 0.02, 0.03], 0.2, False),  # nor the McNemar tests alone
    ([0.01, 0.02], 0.01, True),
    ([0.01, 0.2], 0.01, False),  # a tie is no majority
])
def test_significance_rule(mcnemar_p, ttest_p, expected):
    assert _significance(mcnemar_p, ttest_p).significant is expected


def test_the_significance_level_comes_from_the_caller():
    assert _significance([0.03], None).significant
    assert not _significance([0.03], None, alpha=0.01).significant


def test_mcnemar_against_the_model_ahead_does_not_count():
    sig = _significance([0.01], None)
    against = Significance("compare", 0.05, tuple(McNemar(m.key, m.seed, m.c, m.b, m.p, m.images)
                                                  for m in sig.mcnemar),
                           None, Stat("compare.seed_diff_pts", "points", (1.0,)))
    assert against.mcnemar_majority.value == 0 and not against.significant


def test_bootstrap_interval_is_deterministic_and_covers_the_estimate():
    values = np.random.default_rng(0).normal(1.0, 1.0, 500)
    first = bootstrap_interval(lambda idx: float(values[idx].mean()), len(values), seed=7, resamples=300)
    again = bootstrap_interval(lambda idx: float(values[idx].mean()), len(values), seed=7, resamples=300)
    assert first == again
    assert first.estimate == pytest.approx(values.mean())
    assert first.low < first.estimate < first.high
    assert first.excludes_zero  # a mean of 1 with n = 500 is far from 0
    centred = values - values.mean()
    assert not bootstrap_interval(lambda idx: float(centred[idx].mean()), len(values), seed=7, resamples=300) \
        .excludes_zero


def _run(seed: int, right: np.ndarray, labels: np.ndarray | None = None) -> RunData:
    """A run whose predictions are right exactly on the images `right` marks (a wrong one is the next class)."""
    labels = np.arange(len(right)) % 10 if labels is None else labels
    preds = np.where(right, labels, (labels + 1) % 10)
    return RunData("cnn", seed, None, {}, None, {"accuracy": float(np.mean(right))}, labels, preds, None)


def _correct(rng: np.random.Generator, n: int, accuracy: float) -> np.ndarray:
    return rng.random(n) < accuracy


def _study(tmp_path, seeds, off):
    root = make_bundle(tmp_path / "b", seeds=seeds, variants={"off": VariantSpec({"augment.enabled": False}, off)})
    bundle = Bundle(root)
    return bundle.runs("cnn"), bundle.runs("cnn", "off"), bundle.runs("vit"), bundle.runs("vit", "off")


def test_difference_of_differences_over_seeds_is_the_hierarchical_bootstrap(tmp_path):
    a1, a2, b1, b2 = _study(tmp_path, (1, 2, 3), {"cnn": 0.80, "vit": 0.55})
    test = difference_of_differences("x", a1, a2, b1, b2, 0.05)

    def diffs(first, second):
        return [100 * (f.metrics["accuracy"] - s.metrics["accuracy"]) for f, s in zip(first, second)]

    assert test.over_seeds and test.bootstrap.seeds == 3
    assert test.p.key == "x.p" and test.difference.key == "x.diff_pts"
    assert test.difference.value == pytest.approx(np.mean(diffs(a1, a2)) - np.mean(diffs(b1, b2)))
    assert test.significant and test.difference.value < 0  # the ViT loses about 17 points, the CNN about 5
    assert test.bootstrap.high < 0
    assert test.oriented.estimate == pytest.approx(-test.difference.value) and test.oriented.low > 0
    assert not difference_of_differences("x", a1, a2, b1, b2, 1e-6).significant  # alpha decides


def test_difference_of_differences_flips_when_the_results_flip(tmp_path):
    a1, a2, b1, b2 = _study(tmp_path, (1, 2, 3), {"cnn": 0.55, "vit": 0.80})  # now the CNN loses more
    flipped = difference_of_differences("x", a1, a2, b1, b2, 0.05)
    assert flipped.significant and flipped.difference.value > 0 and flipped.bootstrap.low > 0


def test_similar_changes_are_not_significant_over_seeds(tmp_path):
    a1, a2, b1, b2 = _study(tmp_path, (1, 2, 3), {"cnn": 0.84, "vit": 0.71})
    test = difference_of_differences("x", a1, a2, b1, b2, 0.05)
    assert test.over_seeds and not test.significant and test.bootstrap.low < 0 < test.bootstrap.high


def test_difference_of_differences_with_one_seed_holds_the_weights_fixed():
    rng = np.random.default_rng(3)
    n = 400
    runs = [[_run(7, _correct(rng, n, acc))] for acc in (0.85, 0.80, 0.72, 0.55)]
    test = difference_of_differences("x", *runs, alpha=0.05)
    assert not test.over_seeds and test.bootstrap.seeds == 1
    assert test.difference.value == pytest.approx(100 * (runs[0][0].metrics["accuracy"] - runs[1][0].metrics["accuracy"]
                                                         - runs[2][0].metrics["accuracy"]
                                                         + runs[3][0].metrics["accuracy"]))
    assert "with the trained weights held fixed" in "".join(p for p in test.evidence if isinstance(p, str))


def test_no_difference_of_differences_has_p_1_and_is_not_significant():
    rng = np.random.default_rng(5)
    first, second = [_run(1, _correct(rng, 200, 0.8))], [_run(1, _correct(rng, 200, 0.6))]
    same = difference_of_differences("x", first, second, first, second, 0.05)
    assert (same.difference.value, same.p.value, same.significant) == (0.0, 1.0, False)


def test_difference_of_differences_needs_the_same_test_images():
    rng = np.random.default_rng(6)
    right = _correct(rng, 100, 0.7)
    other_labels = (np.arange(100) + 3) % 10
    runs = [_run(1, right), _run(1, right), _run(1, right), _run(1, right, labels=other_labels)]
    with pytest.raises(BundleError, match="different test images"):
        difference_of_differences("x", *([r] for r in runs), alpha=0.05)


def test_the_accuracy_rule_adds_the_bootstrap_over_seeds_only_with_several_seeds(tmp_path):
    one = Bundle(make_bundle(tmp_path / "one"))
    single = accuracy_significance(one.runs("cnn"), one.runs("vit"), 0.05)
    assert single.bootstrap is None and not single.over_seeds
    assert single.deciding_p.key == "compare.mcnemar.seed42.p"
    three = Bundle(make_bundle(tmp_path / "three", seeds=(1, 2, 3)))
    several = accuracy_significance(three.runs("cnn"), three.runs("vit"), 0.05)
    assert several.over_seeds and several.significant and several.deciding_p.key == "compare.boot.p"
    # The bootstrap must reject too: at a level it cannot reach, the difference is not significant.
    strict = accuracy_significance(three.runs("cnn"), three.runs("vit"), 0.05, resamples=10)
    assert strict.bootstrap.p >= 2 / 11 and not strict.significant


def test_accuracy_interval_covers_the_accuracy(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b", seeds=(1, 2)))
    interval = accuracy_interval("cnn.accuracy_boot", bundle.runs("cnn"), resamples=200)
    accuracy = 100 * np.mean([r.metrics["accuracy"] for r in bundle.runs("cnn")])
    assert interval.estimate == pytest.approx(accuracy) and interval.low < accuracy < interval.high
    assert interval.metric("low").unit == "percent"


def test_a_resampled_difference_of_zero_is_exactly_zero():
    # Two models with the same answers: every resampled difference is 0, and integer counts of draws keep it
    # exactly 0 (no rounding of shares), so the test is p = 1 with the interval [0, 0].
    rng = np.random.default_rng(3)
    first = (rng.random((2, 997)) < 0.7).astype(float)
    second = first.copy()
    test = hierarchical_bootstrap("tie", [first, second], lambda m: m[0] - m[1], seed=1, resamples=300)
    assert (test.estimate, test.low, test.high, test.p) == (0.0, 0.0, 0.0, 1.0)


def test_resamples_are_drawn_in_chunks_of_bounded_memory(monkeypatch):
    import reportgen.report.stats as stats

    rng = np.random.default_rng(4)
    sides = [(rng.random((3, 500)) < p).astype(float) for p in (0.8, 0.6)]
    whole = hierarchical_bootstrap("chunks", sides, lambda m: m[0] - m[1], seed=2, resamples=400)
    monkeypatch.setattr(stats, "RESAMPLE_CHUNK_VALUES", 500 * 7)  # 7 resamples a chunk: 58 chunks
    chunked = hierarchical_bootstrap("chunks", sides, lambda m: m[0] - m[1], seed=2, resamples=400)
    assert chunked.resamples == 400 and chunked.estimate == whole.estimate
    # another stream of draws, the same test: 20 points apart, both intervals well clear of 0
    assert chunked.low > 10 and whole.low > 10 and abs(chunked.high - whole.high) < 2
