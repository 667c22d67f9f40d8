"""reportgen.report.timing_tests: the Hodges-Lehmann ratio and its exact interval are the signed-rank test
inverted, so the interval excludes a ratio of 1 exactly when the test rejects equal speed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon

from reportgen.report.timing_tests import log_ratio_p, ratio_estimate, signed_rank_null


def test_the_null_distribution_is_that_of_every_sign_pattern():
    n = 6
    ranks = np.arange(1, n + 1)
    signs = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1  # every subset of ranks taken positive
    sums = np.bincount(signs @ ranks, minlength=n * (n + 1) // 2 + 1) / 2 ** n
    assert signed_rank_null(n) == pytest.approx(sums)
    assert signed_rank_null(n).sum() == pytest.approx(1.0)


def test_the_estimate_is_the_median_of_the_walsh_averages():
    x = np.array([0.1, 0.4, -0.2, 0.3, 0.25, 0.05, 0.15])
    walsh = [(x[i] + x[j]) / 2 for i in range(len(x)) for j in range(i, len(x))]
    assert ratio_estimate("k", x, 0.95).log_centre == pytest.approx(np.median(walsh))


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1, -0.04, -0.2])
def test_the_interval_excludes_a_ratio_of_one_exactly_when_the_test_rejects(shift):
    rng = np.random.default_rng(3)
    x = shift + rng.normal(0, 0.08, 12)
    estimate = ratio_estimate("k", x, 0.95)
    rejects = log_ratio_p(x) < 0.05
    assert (not estimate.log_low <= 0 <= estimate.log_high) is rejects
    assert estimate.coverage >= 0.95


def test_each_end_is_where_the_shifted_test_starts_to_reject():
    rng = np.random.default_rng(5)
    x = 0.3 + rng.normal(0, 0.1, 10)
    estimate = ratio_estimate("k", x, 0.95)
    inside = (estimate.log_low + estimate.log_high) / 2
    p = lambda theta: wilcoxon(x - theta, method="exact").pvalue  # noqa: E731
    assert p(inside) >= 0.05
    assert p(estimate.log_low - 1e-6) < 0.05 and p(estimate.log_high + 1e-6) < 0.05
    assert p(estimate.log_low + 1e-6) >= 0.05 and p(estimate.log_high - 1e-6) >= 0.05


def test_too_few_blocks_have_no_interval_and_a_rate_ratio_is_the_inverse():
    assert not ratio_estimate("k", np.array([0.1, 0.2, 0.3, 0.4, 0.5]), 0.95).has_interval  # 2^-5 > 0.025
    estimate = ratio_estimate("k", np.log(np.array([2.0, 2.1, 1.9, 2.2, 1.8, 2.05, 1.95])), 0.95)
    rate = estimate.inverse("r")
    assert rate.metric("estimate").value == pytest.approx(1 / estimate.metric("estimate").value)
    assert rate.metric("low").value == pytest.approx(1 / estimate.metric("high").value)
    assert rate.metric("high").key == "r.high"
