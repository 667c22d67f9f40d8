"""Multiple testing: the report's families of tests, and their p-values adjusted within each family.

The report declares its primary comparisons up front (the Summary of findings): each is one test, at
the level `report.alpha`, unadjusted. Every other test belongs to a family of secondary tests that ask
one question many times (per corruption, per corruption family, per class, per variant, per
training-set size); a family's p-values are adjusted together by `report.multiplicity`:

* ``holm``: Holm's step-down method, which controls the family-wise error rate (the chance of any false
  rejection in the family) at alpha under any dependence between the tests;
* ``bh``: Benjamini and Hochberg's step-up method, which controls the false discovery rate (the expected
  share of false rejections among the rejections) under independence or positive dependence.

A secondary verdict is decided by its adjusted p-value, and the report prints both. A family of one test
is no family: its adjusted p is its raw p. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.report.kernel import Metric, Sentence, sentence

METHODS = {"holm": "Holm's step-down method (family-wise error rate)",
           "bh": "Benjamini-Hochberg's step-up method (false discovery rate)"}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order: the k-th smallest times (m - k + 1), made monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg-adjusted p-values (q-values), in the input order: the k-th smallest times m / k, made
    monotone from the largest down, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def adjust(pvalues: Sequence[float], method: str) -> list[float]:
    """The p-values adjusted within their family by `method` ("holm" or "bh")."""
    if method not in METHODS:
        raise ValueError(f"unknown multiplicity method {method!r}: use one of {', '.join(METHODS)}")
    if not pvalues:
        return []
    return holm(pvalues) if method == "holm" else benjamini_hochberg(pvalues)


@dataclass(frozen=True)
class Family:
    """A family of secondary tests, adjusted together: its name in words and each test's raw and adjusted p."""

    name: str  # e.g. "the 10 corruptions"
    method: str  # "holm" or "bh"
    raw: tuple[Metric, ...]  # each test's p-value metric, key ``<test>.p``
    adjusted: tuple[Metric, ...]  # the same order, key ``<test>.p_adj``

    def significant(self, index: int, alpha: float) -> bool:
        """Whether the index-th test of the family rejects at `alpha` after adjustment."""
        return self.adjusted[index].value < alpha

    def adjusted_p(self, raw_key: str) -> Metric:
        """The adjusted p of the test whose raw p-value has key `raw_key`."""
        return self.adjusted[[m.key for m in self.raw].index(raw_key)]


def deciding_tests(pvalues: Sequence[float], method: str) -> list[int]:
    """For each test (input order), the index of the raw p whose scaled value its adjusted p is: Holm's running
    maximum comes from a smaller (or equal) p, Benjamini-Hochberg's running minimum from a larger one."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order] if method == "holm" else p[order] * m / np.arange(1, m + 1)
    if method == "holm":
        best = [int(np.argmax(scaled[:k + 1])) for k in range(m)]
    else:
        best = [k + int(np.argmin(scaled[k:])) for k in range(m)]
    deciding = np.empty(m, dtype=int)
    deciding[order] = order[best]
    return deciding.tolist()


def family(name: str, raw: Sequence[Metric], method: str) -> Family:
    """Adjust the raw p-value metrics of one family; each adjusted metric's key is the raw key with ``_adj``.

    An adjusted p computed from a raw p that is only an upper bound (unit "pvalue_bound": the floor of a
    simulation) is an upper bound too, below 1, and is shown as one ("≤ x")."""
    values = adjust([m.value for m in raw], method)
    deciding = deciding_tests([m.value for m in raw], method) if raw else []
    units = ["pvalue_bound" if raw[d].unit == "pvalue_bound" and v < 1 else "pvalue" for d, v in zip(deciding, values)]
    return Family(name, method, tuple(raw),
                  tuple(Metric(f"{m.key}_adj", v, u) for m, v, u in zip(raw, values, units)))


def multiplicity_rule(method: str, alpha: float) -> Sentence:
    """How the report controls multiple testing, as printed in its methods appendix."""
    return sentence(
        "Multiple tests: each primary comparison listed in the Summary of findings is one test at "
        f"α = {alpha:g}. Every other test belongs to a family that asks one question several times (per corruption, "
        f"per class, per variant, per training-set size); a family's p-values are adjusted together by "
        f"{METHODS[method]}, both the raw and the adjusted p are printed, and the verdict is decided by the adjusted "
        "one.")
