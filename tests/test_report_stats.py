"""The report's statistics: McNemar, t-tests over seeds, the significance verdict and the bootstrap."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from scipy.stats import ttest_ind, ttest_rel

from reportgen.bundle import Bundle, write_manifest
from reportgen.report.kernel import Stat
from reportgen.report.stats import (
    McNemar,
    Significance,
    TTest,
    accuracy_significance,
    bootstrap_interval,
    mcnemar_test,
    ttest,
)
from tests.bundle_factory import make_bundle


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
