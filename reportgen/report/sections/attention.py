"""Section "Attention maps": the last layer's CLS attention of models that expose it (visuals.npz
``cls_attention``, heads x G x G), on the focus image of the first seed, with how concentrated it is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.common import ONE_IMAGE_SCOPE, first_seed_clause
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Table,
    model_key,
    sentence,
)
from reportgen.report.plots import IMAGE_EXTENT, bare, focus_title, hwc
from reportgen.report.section import FigureDrawer, Section, per_model

ATTENTION = "cls_attention"


def top_patch_count(rules: ReportConfig, patches: int) -> int:
    """How many patches make up the top `report.top_patch_fraction` of `patches` (rounded up, at least one)."""
    return max(1, math.ceil(rules.top_patch_fraction * patches))


def top_share_label(rules: ReportConfig, patches: int) -> str:
    """What the attention top share measures, e.g. "share of attention on the top 10% of patches (7 of 64)"."""
    return (f"share of attention on the top {rules.top_patch_fraction:.0%} of patches "
            f"({top_patch_count(rules, patches)} of {patches})")


@dataclass(frozen=True)
class AttentionStats:
    """Concentration of one CLS attention map over the patches."""

    model: str
    label: str  # "1".."H" for heads, "mean" for the mean over heads
    entropy: float  # Shannon entropy / log(N): 1 for uniform attention, 0 for a single patch
    top_share_pct: float  # percent of attention mass on the top_patches most attended patches
    top_patches: int
    patches: int

    @property
    def _prefix(self) -> str:
        return "visual.mean" if self.label == "mean" else f"visual.head{self.label}"

    @property
    def entropy_metric(self) -> Metric:
        return Metric(model_key(self.model, f"{self._prefix}.entropy"), self.entropy, "fraction")

    @property
    def top_share_metric(self) -> Metric:
        return Metric(model_key(self.model, f"{self._prefix}.top_share_pct"), self.top_share_pct, "percent")


def attention_concentration(model: str, attention: np.ndarray, label: str, rules: ReportConfig) -> AttentionStats:
    """Concentration of one G x G map, renormalised over patches (the CLS-to-CLS weight is not in it)."""
    p = np.asarray(attention, dtype=np.float64).ravel()
    p = p / p.sum()
    n = p.size
    nonzero = p[p > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / math.log(n)) if n > 1 else 0.0
    top = top_patch_count(rules, n)
    return AttentionStats(model, label, entropy, float(100 * np.sort(p)[-top:].sum()), top, n)


def attention_stats(model: str, cls_attention: np.ndarray, rules: ReportConfig) -> list[AttentionStats]:
    """Per-head stats of a (heads, G, G) attention array, then the stats of the mean over heads."""
    heads = [attention_concentration(model, a, str(h), rules) for h, a in enumerate(cls_attention, start=1)]
    return heads + [attention_concentration(model, cls_attention.mean(axis=0), "mean", rules)]


def attention_sentences(m: ModelFacts, stats: Sequence[AttentionStats], rules: ReportConfig) -> list[Sentence]:
    """Concentration of the mean CLS attention (each head's is the table's: no sentence repeats it)."""
    mean = stats[-1]
    patches, top = mean.patches, mean.top_patches
    return [sentence(
        "In the last layer, the CLS token's attention over the ", Metric(model_key(m.key, "visual.patches"), patches,
                                                                         "count"),
        " patches, averaged over heads, has a normalised entropy of ", mean.entropy_metric,
        f" (1 would be uniform, 0 a single patch), and the {top} most attended patches (the top "
        f"{rules.top_patch_fraction:.0%} of the {patches}, rounded up) hold ", mean.top_share_metric,
        f"% of its attention (uniform attention would give {100 * top / patches:.2f}%).")]


def attention_table(m: ModelFacts, stats: Sequence[AttentionStats], rules: ReportConfig) -> Table:
    """Normalised entropy and top-patch share of each head's CLS attention, and of the head-averaged map (not the
    mean of the heads' values: the entropy of an average is not the average of entropies)."""
    rows: list[list[Cell]] = [
        ["head-averaged map" if s.label == "mean" else f"head {s.label}", s.entropy_metric,
         sentence(s.top_share_metric, "%")]
        for s in stats
    ]
    return Table(["attention map", "normalised entropy", top_share_label(rules, stats[-1].patches)], rows,
                 caption=f"Concentration of the {m.name}'s last-layer CLS attention on the focus image"
                         f"{first_seed_clause(m.seeds)}.")


def draw_attention(image: np.ndarray, cls_attention: np.ndarray, title: str) -> plt.Figure:
    """The focus image, then each head's CLS attention and the mean over heads, overlaid (jet, alpha 0.5).

    Each G x G map is stretched over the 32 x 32 image through imshow's extent, with bilinear
    display interpolation, as the original study's upsampled overlay.
    """
    maps = [(f"head {h}", a) for h, a in enumerate(cls_attention, start=1)]
    maps.append(("head-averaged", cls_attention.mean(axis=0)))
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(1.15 * (len(maps) + 1), 1.45), squeeze=False)
    axes[0, 0].imshow(hwc(image), extent=IMAGE_EXTENT)
    axes[0, 0].set_title(title, fontsize=6.5)
    for ax, (name, attention) in zip(axes[0, 1:], maps):
        ax.imshow(hwc(image), extent=IMAGE_EXTENT)
        ax.imshow(attention, cmap="jet", alpha=0.5, extent=IMAGE_EXTENT, interpolation="bilinear")
        ax.set_title(name, fontsize=6.5)
    for ax in axes[0]:
        bare(ax)
    fig.tight_layout(pad=0.2, w_pad=0.3)
    return fig


def models_with_attention(contents: ReportContents) -> list[ModelFacts]:
    """The models whose visual probes hold a CLS attention map."""
    return [m for m in contents.models if ATTENTION in contents.visuals(m.key)]


class Attention(Section):
    key = "attention"
    title = "Attention maps"
    descriptive = True

    def applies(self, contents: ReportContents) -> bool:
        return bool(models_with_attention(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        rules = contents.rules

        def body(m: ModelFacts) -> list[Item]:
            attention = contents.visuals(m.key)[ATTENTION]
            stats = attention_stats(m.key, attention, rules)
            figure = figures.draw(f"attention_{m.key}", lambda: draw_attention(
                contents.samples["focus_image"], attention, focus_title(contents.focus_text)),
                f"{m.name} last-layer CLS attention on {contents.focus_text}: each head, then the mean over heads, "
                f"overlaid on the image{first_seed_clause(m.seeds)}.{ONE_IMAGE_SCOPE}")
            return [figure, Paragraph(attention_sentences(m, stats, rules)), attention_table(m, stats, rules)]

        return per_model(models_with_attention(contents), "attention", body)
