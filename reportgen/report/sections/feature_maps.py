"""Section "Feature maps": the stage-by-stage feature maps of models that expose them (visuals.npz
``stage_1..stage_S``), on the focus image of the first seed, with their sparsity and mean activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from reportgen.report.common import ONE_IMAGE_SCOPE, first_seed_clause
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.kernel import (
    Item,
    Metric,
    Paragraph,
    Part,
    Sentence,
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


def course(values: Sequence[Metric], suffix: str = "") -> list[Part]:
    """How a per-stage quantity goes over the stages, every stage's value given (as printed, so that the words
    never disagree with the numbers): "stays at X", "falls from X at stage 1 to Y at stage 2", "rises stage by
    stage: ...", "is not monotonic over the stages: ..."."""
    if len({v.text for v in values}) == 1:
        return ["stays at ", values[0], f"{suffix} at every stage"]
    steps = [0 if a.text == b.text else int(np.sign(b.value - a.value)) for a, b in zip(values, values[1:])]
    direction = "rises" if values[-1].value > values[0].value else "falls"
    if len(values) == 2:
        return [f"{direction} from ", values[0], f"{suffix} at stage 1 to ", values[1], f"{suffix} at stage 2"]
    if all(step > 0 for step in steps) or all(step < 0 for step in steps):
        shape = f"{direction} stage by stage: "
    elif all(step >= 0 for step in steps) or all(step <= 0 for step in steps):
        shape = f"{direction} overall, level at some stage: "
    else:
        shape = "is not monotonic over the stages: "
    parts: list[Part] = [shape]
    for s, value in enumerate(values, start=1):
        parts += [", " if s > 1 else "", value, f"{suffix} at stage {s}"]
    return parts


def feature_map_sentence(m: ModelFacts, stages: Sequence[StageStats]) -> Sentence:
    """How sparsity and mean activation go over the stages (each stage where they are not monotonic)."""
    first, last = stages[0], stages[-1]
    if len(stages) == 1:
        return sentence("In its single stage, ", first.zero_metric, f"% of {m.the}'s activations on the focus image "
                        "are zero and the mean activation is ", first.mean_metric, ".")
    return sentence(
        "On the focus image, the share of zero activations (sparsity) ", course([s.zero_metric for s in stages], "%"),
        "; the mean activation ", course([s.mean_metric for s in stages]), f"; the spatial resolution shrinks from "
        f"{first.height}×{first.width} to {last.height}×{last.width}.")


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
    descriptive = True

    def applies(self, contents: ReportContents) -> bool:
        return bool(models_with_stages(contents))

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        channels = contents.config.report.feature_channels

        def body(m: ModelFacts) -> list[Item]:
            maps = stage_maps(contents.visuals(m.key))
            stages = feature_stats(m.key, maps)
            caption = sentence(f"{m.name} feature maps of {contents.focus_text} after each stage: the image, then the "
                               "first ", Metric(config_key("report.feature_channels"), channels, "count"),
                               f" channels of each stage{first_seed_clause(m.seeds)}.", ONE_IMAGE_SCOPE)
            figure = figures.draw(f"feature_maps_{m.key}", lambda: draw_feature_maps(
                contents.samples["focus_image"], maps, channels, focus_title(contents.focus_text)), caption, "51%")
            return [figure, Paragraph([feature_map_sentence(m, stages)])]  # every stage's numbers: no table

        return per_model(models_with_stages(contents), "feature-maps", body)
