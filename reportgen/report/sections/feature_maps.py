"""Section "Feature maps": the stage-by-stage feature maps of models that expose them (visuals.npz
``stage_1..stage_S``), on the focus image of the first seed, with their sparsity and mean activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.report.common import first_seed_clause, limitation
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Sentence,
    Table,
    config_key,
    model_key,
    sentence,
)
from reportgen.report.plots import bare, focus_title, hwc
from reportgen.report.section import FigureDrawer, Section, per_model


def stage_maps(visuals: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The stage_1..stage_S feature maps in stage order (numeric, so stage_10 follows stage_9)."""
    keys = sorted((k for k in visuals if k.startswith("stage_")), key=lambda k: int(k.split("_")[1]))
    return [visuals[k] for k in keys]


@dataclass(frozen=True)
class StageStats:
    """Activation statistics of one stage's feature maps (C, H, W)."""

    model: str
    stage: int
    channels: int
    height: int
    width: int
    mean_activation: float
    zero_pct: float  # percent of activations that are exactly zero (ReLU outputs), i.e. sparsity

    @property
    def mean_metric(self) -> Metric:
        return Metric(model_key(self.model, f"visual.stage{self.stage}.mean_activation"), self.mean_activation,
                      "activation")

    @property
    def zero_metric(self) -> Metric:
        return Metric(model_key(self.model, f"visual.stage{self.stage}.zero_pct"), self.zero_pct, "percent")


def feature_stats(model: str, maps: Sequence[np.ndarray]) -> list[StageStats]:
    """Mean activation and sparsity of each stage's feature maps."""
    return [StageStats(model, s, m.shape[0], m.shape[1], m.shape[2], float(m.mean()), float(100 * (m <= 0).mean()))
            for s, m in enumerate(maps, start=1)]


def _trend(first: Metric, last: Metric) -> str:
    if first.text == last.text:
        return "stays at"
    return "rises" if last.value > first.value else "falls"


def feature_map_sentence(m: ModelFacts, stages: Sequence[StageStats]) -> Sentence:
    """How sparsity and mean activation change from the first to the last stage."""
    first, last = stages[0], stages[-1]
    if len(stages) == 1:
        return sentence("In its single stage, ", first.zero_metric, f"% of {m.the}'s activations on the focus image "
                        "are zero and the mean activation is ", first.mean_metric, ".")
    return sentence(
        "On the focus image, the share of zero activations (sparsity) ", _trend(first.zero_metric, last.zero_metric),
        " from ", first.zero_metric, f"% at stage {first.stage} to ", last.zero_metric, f"% at stage {last.stage}, "
        "and the mean activation ", _trend(first.mean_metric, last.mean_metric), " from ", first.mean_metric, " to ",
        last.mean_metric, f"; the spatial resolution shrinks from {first.height}×{first.width} to "
        f"{last.height}×{last.width}.")


def feature_table(m: ModelFacts, stages: Sequence[StageStats]) -> Table:
    """Shape, mean activation and sparsity of each stage on the focus image."""
    rows: list[list[Cell]] = [
        [f"stage {s.stage}", f"{s.channels} × {s.height} × {s.width}", s.mean_metric, sentence(s.zero_metric, "%")]
        for s in stages
    ]
    return Table(["stage", "channels × height × width", "mean activation", "zero activations"], rows,
                 caption=f"{m.name} feature maps of the focus image after each stage{first_seed_clause(m.seeds)}.")


def draw_feature_maps(image: np.ndarray, maps: Sequence[np.ndarray], channels: int, title: str) -> plt.Figure:
    """One row per stage: the focus image, then its first `channels` feature maps (inferno)."""
    shown = min(channels, min(m.shape[0] for m in maps))
    fig, axes = plt.subplots(len(maps), shown + 1, figsize=(1.05 * (shown + 1), 1.1 * len(maps)), squeeze=False)
    for s, fmap in enumerate(maps):
        axes[s, 0].imshow(hwc(image))
        axes[s, 0].set_ylabel(f"stage {s + 1}\n{fmap.shape[0]}×{fmap.shape[1]}×{fmap.shape[2]}", fontsize=6.5)
        for c in range(shown):
            axes[s, c + 1].imshow(fmap[c], cmap="inferno")
            if s == 0:
                axes[s, c + 1].set_title(f"channel {c + 1}", fontsize=6.5)
        for ax in axes[s]:
            bare(ax)
    axes[0, 0].set_title(title, fontsize=6.5)
    fig.tight_layout(pad=0.2, w_pad=0.3, h_pad=0.3)
    return fig


def models_with_stages(contents: ReportContents) -> list[ModelFacts]:
    """The models whose visual probes hold stage feature maps."""
    return [m for m in contents.models if stage_maps(contents.visuals(m.key))]


class FeatureMaps(Section):
    key = "feature-maps"
    title = "Feature maps"

    def applies(self, contents: ReportContents) -> bool:
        return bool(models_with_stages(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        channels = contents.config.report.feature_channels

        def body(m: ModelFacts) -> list[Item]:
            maps = stage_maps(contents.visuals(m.key))
            stages = feature_stats(m.key, maps)
            caption = sentence(f"{m.name} feature maps of {contents.focus_text} after each stage: the image, then the "
                               "first ", Metric(config_key("report.feature_channels"), channels, "count"),
                               f" channels of each stage{first_seed_clause(m.seeds)}.")
            figure = figures.draw(f"feature_maps_{m.key}", lambda: draw_feature_maps(
                contents.samples["focus_image"], maps, channels, focus_title(contents.focus_text)), caption, "66%")
            return [figure, Paragraph([feature_map_sentence(m, stages)]), feature_table(m, stages)]

        return per_model(models_with_stages(contents), "feature-maps", body) + [Paragraph([limitation(contents)])]
