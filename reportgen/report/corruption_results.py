"""The corruption suite's results of a bundle, torch-free: from robustness.npz to accuracies and paired tests.

`suite` reads one model's robustness.npz files (one per seed: predictions on every corrupted copy
of the same test images) into a `Suite`; its accuracies (`suite_metrics`) are what the report shows
and what `reportgen verify` recomputes.

Two measures. Absolute: accuracy over the corrupted copies, compared by `clustered_mcnemar` (McNemar's
exact test over images, each image a cluster of its copies); it mostly restates the clean accuracy
gap. Relative (`kept`): on the images a model classifies correctly when clean, the share of their
corrupted copies it still classifies correctly; two models are compared on the images both classify
correctly when clean (`relative_test`, a hierarchical bootstrap over seeds and images), so that the
clean gap does not enter the comparison. The scopes compared (`tested_scopes`) never repeat one set of
corruptions: a family of one corruption is that corruption.

Shapes: seeds, C corruptions, S severities, N images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.stats import binomtest

from reportgen.errors import BundleError
from reportgen.report.kernel import Metric, Stat, compare_key, model_key, stat
from reportgen.report.stats import BootstrapTest, hierarchical_bootstrap


@dataclass(frozen=True)
class Suite:
    """One model's predictions on the corruption suite, over its seeds: which copies it classified correctly."""

    key: str  # model key
    name: str  # display name
    seeds: tuple[int, ...]
    corruptions: tuple[str, ...]
    families: tuple[str, ...]  # per corruption
    severities: tuple[int, ...]
    indices: np.ndarray = field(repr=False)  # (N,) test-set index of each image
    right: np.ndarray = field(repr=False)  # (seeds, C, S, N) bool: corrupted copy classified correctly
    clean_right: np.ndarray = field(repr=False)  # (seeds, N) bool
    seed: int = 0  # analysis.seed: which images, and the noises

    def percent(self, name: str, per_seed: np.ndarray, unit: str = "percent") -> Stat:
        return stat(model_key(self.key, f"robustness.{name}"), unit, 100 * per_seed)

    @property
    def clean(self) -> Stat:
        """Accuracy on the suite's images, uncorrupted."""
        return self.percent("clean_acc", self.clean_right.mean(axis=1))

    @property
    def mean_corruption(self) -> Stat:
        """Mean corruption accuracy: accuracy over every corruption and severity."""
        return self.percent("mca", self.right.mean(axis=(1, 2, 3)))

    @property
    def relative(self) -> Stat:
        """Relative robustness per seed, percent: of the images classified correctly when clean, the share of their
        corrupted copies still classified correctly."""
        return self.percent("relative", kept(self.clean_right, per_image(self.right)))

    def scope_relative(self, scope: str) -> Metric:
        """Relative robustness on one scope's copies, pooled over the seeds, percent."""
        share = per_image(self.right[:, self.cells(scope)])
        return Metric(model_key(self.key, f"robustness.{scope}.relative"), 100 * float(kept(
            self.clean_right.ravel()[None], share.ravel()[None])[0]), "percent")

    @property
    def images(self) -> Metric:
        return Metric(model_key(self.key, "robustness.images"), len(self.indices), "count")

    @property
    def the(self) -> str:
        return f"the {self.name}"

    def scope_accuracy(self, scope: str) -> Metric:
        """Accuracy over the corrupted copies of one scope ("corruption.<name>", "family.<name>"), all seeds."""
        accuracy = 100 * float(self.right[:, self.cells(scope)].mean())
        return Metric(model_key(self.key, f"robustness.{scope}.acc"), accuracy, "percent")

    def cells(self, scope: str) -> np.ndarray:
        """Which corruptions belong to a scope: "overall", "family.<f>" or "corruption.<c>" -> (C,) bool."""
        kind, _, name = scope.partition(".")
        if kind == "overall":
            return np.ones(len(self.corruptions), dtype=bool)
        return np.array(self.families if kind == "family" else self.corruptions) == name

    @property
    def family_names(self) -> list[str]:
        """The families of the suite's corruptions, in suite order."""
        return list(dict.fromkeys(self.families))

    @property
    def scopes(self) -> list[str]:
        """Every scope a comparison is made on: overall, each family, each corruption."""
        return (["overall"] + [f"family.{f}" for f in self.family_names]
                + [f"corruption.{c}" for c in self.corruptions])

    @property
    def cell_accuracy(self) -> np.ndarray:
        """(C, S) accuracy in percent, mean over seeds: the heatmap."""
        return 100 * self.right.mean(axis=(0, 3))


def per_image(right: np.ndarray) -> np.ndarray:
    """(seeds, C, S, N) correctness -> (seeds, N): the share of each image's corrupted copies classified correctly."""
    return right.reshape(len(right), -1, right.shape[-1]).mean(axis=1)


def kept(clean_right: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Per seed, the share of corrupted copies classified correctly on the images classified correctly when clean:
    (seeds, N) clean correctness and per-image corrupted share -> (seeds,), 0 where no image is right clean."""
    right = clean_right.sum(axis=-1)
    return np.divide((clean_right * corrupted).sum(axis=-1), right, out=np.zeros(len(right)), where=right > 0)


def suite(key: str, name: str, seeds: Sequence[int], records: Sequence[dict[str, np.ndarray]]) -> Suite:
    """A model's Suite from its seeds' robustness.npz contents (all on the same images and corruptions)."""
    first = records[0]
    for r in records[1:]:
        if not (np.array_equal(r["indices"], first["indices"]) and np.array_equal(r["corruptions"],
                                                                                   first["corruptions"])):
            raise BundleError(f"the robustness.npz files of model '{key}' were computed on different images or "
                              "corruptions")
    return Suite(key, name, tuple(seeds), tuple(str(c) for c in first["corruptions"]),
                 tuple(str(f) for f in first["families"]), tuple(int(s) for s in first["severities"]),
                 first["indices"], np.stack([r["preds"] == r["labels"] for r in records]),
                 np.stack([r["clean_preds"] == r["labels"] for r in records]), int(first.get("seed", 0)))


def suite_metrics(s: Suite) -> list[Metric]:
    """Every per-model robustness number the report shows, computed from the stored predictions (for verify)."""
    stats = [s.clean, s.mean_corruption, s.relative]
    per_stat = [m for st in stats for m in (st.mean, st.std) if m is not None]
    scopes = [scope for scope in s.scopes if scope != "overall"]
    return per_stat + [s.scope_accuracy(scope) for scope in scopes] + [s.scope_relative(scope) for scope in scopes]


def tested_scopes(s: Suite) -> tuple[list[str], list[str]]:
    """The families and the corruptions that a comparison tests, as scopes: a family only when it has several
    corruptions and not all of them (else it is one corruption, or the overall comparison), the corruptions only
    when there are several (else the one corruption is the overall comparison)."""
    corruptions = [f"corruption.{c}" for c in s.corruptions] if len(s.corruptions) > 1 else []
    families = [f"family.{f}" for f in s.family_names if 1 < int(s.cells(f"family.{f}").sum()) < len(s.corruptions)]
    return families, corruptions


# ---------------------------------------------------------------- two models


@dataclass(frozen=True)
class PairedTest:
    """McNemar's exact test of two models on one scope's corrupted copies of the same images (`clustered_mcnemar`)."""

    scope: str  # "overall", "family.<f>", "corruption.<c>"
    b: int  # images on which the first model classifies more of the scope's copies correctly
    c: int  # images on which the second does
    p: float
    diff_pts: float  # first minus second accuracy over the scope's copies, points
    alpha: float

    def metric(self, name: str) -> Metric:
        unit = {"b": "count", "c": "count", "p": "pvalue", "diff_pts": "points"}[name]
        return Metric(compare_key(f"robustness.{self.scope}.{name}"), getattr(self, name), unit)

    @property
    def direction(self) -> int:
        """1: the first model is ahead, -1: the second, 0: neither (as shown, to 2 decimals)."""
        return 0 if self.metric("diff_pts").text in ("0.00", "-0.00") else int(np.sign(self.diff_pts))

    @property
    def significant(self) -> bool:
        """p < alpha, with the images' majority on the side of the model that is ahead."""
        return self.p < self.alpha and self.direction != 0 and int(np.sign(self.b - self.c)) == self.direction


def clustered_mcnemar(first_right: np.ndarray, second_right: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test over images, each image a cluster of its corrupted copies: (b, c, two-sided p).

    Arrays (..., N): whether each copy of each image is classified correctly. An image counts for
    the first model (b) when it classifies more of the image's copies correctly, for the second (c)
    when the second does; ties drop out; then the binomial test of b in b + c at 1/2. With one copy
    per image this is McNemar's exact test (reportgen.report.stats.mcnemar_test); counting images,
    not copies, keeps the copies of one image, which are not independent, from inflating the evidence.
    """
    n = first_right.shape[-1]
    d = first_right.reshape(-1, n).sum(axis=0).astype(np.int64) - second_right.reshape(-1, n).sum(axis=0)
    b, c = int((d > 0).sum()), int((d < 0).sum())
    return b, c, float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0


def paired_runs(first: Suite, second: Suite) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two models' correctness arrays restricted to the seeds both ran, in the same order."""
    common = [s for s in first.seeds if s in second.seeds]
    fi = [first.seeds.index(s) for s in common]
    si = [second.seeds.index(s) for s in common]
    return first.right[fi], second.right[si], first.clean_right[fi], second.clean_right[si]


def paired_test(first: Suite, second: Suite, scope: str, alpha: float) -> PairedTest:
    """McNemar's exact test of one scope (see `clustered_mcnemar`), over every seed both models ran."""
    fr, sr, _, _ = paired_runs(first, second)
    cells = first.cells(scope)
    b, c, p = clustered_mcnemar(fr[:, cells], sr[:, cells])
    return PairedTest(scope, b, c, p, 100 * float(fr[:, cells].mean() - sr[:, cells].mean()), alpha)


def comparable(first: Suite, second: Suite) -> bool:
    """Whether two suites share images, corruptions and at least one seed, so that they can be paired."""
    return (np.array_equal(first.indices, second.indices) and first.corruptions == second.corruptions
            and any(s in second.seeds for s in first.seeds))


def relative_test(first: Suite, second: Suite, scope: str, seed: int, resamples: int, level: float) -> BootstrapTest:
    """The first model's relative robustness minus the second's on one scope, in points, on the images both
    classify correctly when clean (per seed), by the hierarchical bootstrap over their common seeds and the images.

    Sides (seeds, N): each model's per-image share of the scope's copies kept, masked to the images both get right
    clean, and that mask: the contrast is the difference of the two kept shares over the same images.
    """
    fr, sr, fc, sc = paired_runs(first, second)
    cells = first.cells(scope)
    both = (fc & sc).astype(float)  # (seeds, N)
    sides = [both * per_image(fr[:, cells]), both * per_image(sr[:, cells]), both]
    return hierarchical_bootstrap(compare_key(f"robustness.{scope}.relative"), sides,
                                  lambda m: (m[0] - m[1]) / m[2] if m[2] > 0 else 0.0, seed, resamples, level)


def both_right_share(first: Suite, second: Suite, scope: str) -> tuple[Metric, Metric]:
    """Each model's share of the scope's copies kept on the images both classify correctly when clean (percent)."""
    fr, sr, fc, sc = paired_runs(first, second)
    cells, both = first.cells(scope), fc & sc
    first_kept, second_kept = (100 * float(kept(both.ravel()[None], per_image(r[:, cells]).ravel()[None])[0])
                               for r in (fr, sr))
    return (Metric(model_key(first.key, f"robustness.{scope}.kept_both"), first_kept, "percent"),
            Metric(model_key(second.key, f"robustness.{scope}.kept_both"), second_kept, "percent"))


def paired_metrics(first: Suite, second: Suite, alpha: float) -> list[Metric]:
    """The absolute comparison's numbers the report shows for two models (b, c, p and difference, overall)."""
    return [paired_test(first, second, "overall", alpha).metric(name) for name in ("b", "c", "p", "diff_pts")]
