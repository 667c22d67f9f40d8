"""The report's figures, drawn from a results bundle only (matplotlib Agg + seaborn, no torch).

Each figure is its own small PNG in ``<bundle>/figures/``, sized to read well at A4 width:

* ``samples``: one augmented training image and one test image per class (samples.npz holds
  uint8 pixels, so nothing is denormalised);
* ``curves_<model>``: loss and accuracy, train vs validation, per epoch; with several seeds the
  mean line and a shaded min-max band;
* ``confusion_<model>``: the confusion matrix summed over all seeds (one seed: that seed's);
* ``feature_maps`` (CNN): one row per stage, the focus image then the first channels;
* ``attention`` (ViT): the focus image, then each head's last-layer CLS attention and their mean
  overlaid on it.

Visuals (feature maps, attention) are those of the first seed, as stored in its visuals.npz.

`draw_comparison_figures` draws the figures of ``reportgen compare``: per model, validation accuracy
and loss per epoch with one line per bundle (mean over seeds, min-max band), in the same style.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever written to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from reportgen.bundle import Bundle, atomic_output  # noqa: E402
from reportgen.narrative import stack_curves, stage_maps, summed_confusion  # noqa: E402

DPI = 120
IMAGE_EXTENT = (0, 32, 32, 0)  # image and attention share these axes, so the overlay lines up
STYLE = {
    "font.size": 7.5,
    "axes.titlesize": 7.5,
    "axes.labelsize": 7.5,
    "legend.fontsize": 7,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.parse_math": False,  # class names come from strangers' bundles: "$" must stay literal
}
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#d62728"
BUNDLE_COLOURS = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab10").colors]  # per compared bundle

History = Mapping[str, np.ndarray]  # one run's history.csv: column -> values per epoch


def _save(fig: plt.Figure, path: Path) -> Path:
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=DPI, bbox_inches="tight", pad_inches=0.03)
    finally:
        plt.close(fig)
    return path


def _hwc(image: np.ndarray) -> np.ndarray:
    """(3, H, W) uint8 -> (H, W, 3) for imshow."""
    return np.transpose(image, (1, 2, 0))


def _bare(ax: plt.Axes) -> None:
    """No ticks or frame, but keep the y label (unlike axis('off'))."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def draw_samples(samples: dict[str, np.ndarray], class_names: Sequence[str], path: Path) -> Path:
    """One row of augmented training images and one of test images, titled by class."""
    rows = (("augmented train", "train_augmented", "train_labels"), ("test", "test", "test_labels"))
    k = len(samples["test"])
    fig, axes = plt.subplots(2, k, figsize=(max(0.72 * k, 3.0), 1.75), squeeze=False)
    for r, (label, images, labels) in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(_hwc(samples[images][c]))
            ax.set_title(class_names[int(samples[labels][c])], fontsize=6.5, pad=2)
            _bare(ax)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout(pad=0.2, w_pad=0.2, h_pad=0.4)
    return _save(fig, path)


def _plot_band(ax: plt.Axes, curves: np.ndarray, colour: str, label: str) -> None:
    """Mean over seeds as a line; with several seeds, the min-max range shaded around it."""
    epochs = np.arange(1, curves.shape[1] + 1)
    ax.plot(epochs, curves.mean(axis=0), color=colour, label=label, lw=1.3,
            marker="o" if len(epochs) <= 20 else None, ms=2.5)
    if len(curves) > 1:
        ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2, lw=0)


def _per_epoch_axes(ax: plt.Axes, ylabel: str, title: str) -> None:
    """Epochs on x (whole numbers), a light grid, labels and title."""
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, lw=0.4, alpha=0.5)


def draw_curves(histories: Sequence[History], name: str, path: Path) -> Path:
    """Loss and accuracy (in %) per epoch, train vs validation, for one model's seeds."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(6.6, 2.3))
    band = f" (mean, min–max over {len(histories)} seeds)" if len(histories) > 1 else ""
    panels = ((loss_ax, "loss", 1.0, "cross-entropy loss"), (acc_ax, "acc", 100.0, "accuracy (%)"))
    for ax, column, scale, ylabel in panels:
        _plot_band(ax, scale * stack_curves(histories, f"train_{column}"), TRAIN_COLOUR, "train")
        _plot_band(ax, scale * stack_curves(histories, f"val_{column}"), VAL_COLOUR, "validation (test split)")
        _per_epoch_axes(ax, ylabel, f"{name} {ylabel.split(' (')[0]}{band}")
    acc_ax.legend(frameon=False)
    fig.tight_layout(pad=0.3)
    return _save(fig, path)


def draw_overlaid_curves(histories: Mapping[str, Sequence[History]], colours: Mapping[str, str], name: str,
                         path: Path) -> Path:
    """Validation accuracy (in %) and loss per epoch of one model, one line per bundle label, in its colour.

    Each line is the mean over that bundle's seeds, with the min-max band when it has several.
    """
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(6.6, 2.5))
    panels = ((acc_ax, "val_acc", 100.0, "validation accuracy (%)"), (loss_ax, "val_loss", 1.0, "validation loss"))
    for ax, column, scale, ylabel in panels:
        for label, runs in histories.items():
            _plot_band(ax, scale * stack_curves(runs, column), colours[label], label)
        _per_epoch_axes(ax, ylabel, f"{name} {ylabel.split(' (')[0]}")
    acc_ax.legend(frameon=False)
    fig.tight_layout(pad=0.3)
    return _save(fig, path)


def draw_confusion(confusion: np.ndarray, class_names: Sequence[str], title: str, path: Path) -> Path:
    """Annotated heatmap of integer counts; rows true class, columns predicted class."""
    k = len(class_names)
    side = min(max(2.6, 0.36 * k + 1.2), 6.5)
    fig, ax = plt.subplots(figsize=(side + 0.5, side))
    sns.heatmap(np.asarray(confusion, dtype=np.int64), annot=True, fmt="d", cmap="Blues", cbar=False,
                square=True, linewidths=0.3, linecolor="white", xticklabels=class_names,
                yticklabels=class_names, annot_kws={"fontsize": 6 if k <= 12 else 4.5}, ax=ax)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    ax.tick_params(length=0)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    plt.setp(ax.get_yticklabels(), rotation=0)
    fig.tight_layout(pad=0.3)
    return _save(fig, path)


def _focus_title(focus_index: int, focus_class: str) -> str:
    return f"test image {focus_index}\n({focus_class})"


def draw_feature_maps(image: np.ndarray, maps: Sequence[np.ndarray], channels: int, focus_title: str,
                      path: Path) -> Path:
    """One row per CNN stage: the focus image, then its first `channels` feature maps (inferno)."""
    shown = min(channels, min(m.shape[0] for m in maps))
    fig, axes = plt.subplots(len(maps), shown + 1, figsize=(1.05 * (shown + 1), 1.1 * len(maps)), squeeze=False)
    for s, fmap in enumerate(maps):
        axes[s, 0].imshow(_hwc(image))
        axes[s, 0].set_ylabel(f"stage {s + 1}\n{fmap.shape[0]}×{fmap.shape[1]}×{fmap.shape[2]}", fontsize=6.5)
        for c in range(shown):
            axes[s, c + 1].imshow(fmap[c], cmap="inferno")
            if s == 0:
                axes[s, c + 1].set_title(f"channel {c + 1}", fontsize=6.5)
        for ax in axes[s]:
            _bare(ax)
    axes[0, 0].set_title(focus_title, fontsize=6.5)
    fig.tight_layout(pad=0.2, w_pad=0.3, h_pad=0.3)
    return _save(fig, path)


def draw_attention(image: np.ndarray, cls_attention: np.ndarray, focus_title: str, path: Path) -> Path:
    """The focus image, then each head's CLS attention and the mean over heads, overlaid (jet, alpha 0.5).

    Each G x G map is stretched over the 32 x 32 image through imshow's extent, with bilinear
    display interpolation, as the seed's upsampled overlay.
    """
    maps = [(f"head {h}", a) for h, a in enumerate(cls_attention, start=1)]
    maps.append(("mean of heads", cls_attention.mean(axis=0)))
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(1.15 * (len(maps) + 1), 1.45), squeeze=False)
    axes[0, 0].imshow(_hwc(image), extent=IMAGE_EXTENT)
    axes[0, 0].set_title(focus_title, fontsize=6.5)
    for ax, (title, attention) in zip(axes[0, 1:], maps):
        ax.imshow(_hwc(image), extent=IMAGE_EXTENT)
        ax.imshow(attention, cmap="jet", alpha=0.5, extent=IMAGE_EXTENT, interpolation="bilinear")
        ax.set_title(title, fontsize=6.5)
    for ax in axes[0]:
        _bare(ax)
    fig.tight_layout(pad=0.2, w_pad=0.3)
    return _save(fig, path)


def draw_figures(bundle: Bundle, out_dir: Path) -> dict[str, str]:
    """Draw every figure of `bundle` into `out_dir` (normally ``<bundle>/figures``).

    Returns figure key -> path relative to the bundle root (e.g. "figures/curves_cnn.png"), the
    form the report's HTML links them by.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    config = bundle.config()
    class_names = bundle.dataset()["classes"]
    samples = bundle.samples()
    focus_title = _focus_title(int(samples["focus_index"]), class_names[int(samples["focus_label"])])
    paths: dict[str, Path] = {}
    with plt.rc_context(STYLE):
        paths["samples"] = draw_samples(samples, class_names, out_dir / "samples.png")
        for model in bundle.models():
            runs = bundle.runs(model)
            name = runs[0].display_name
            paths[f"curves_{model}"] = draw_curves([r.history for r in runs], name, out_dir / f"curves_{model}.png")
            paths[f"confusion_{model}"] = draw_confusion(summed_confusion(runs), class_names,
                                                         f"{name} confusion matrix", out_dir / f"confusion_{model}.png")
            visuals = bundle.visuals(model, runs[0].seed)
            if model == "cnn":
                paths["feature_maps"] = draw_feature_maps(samples["focus_image"], stage_maps(visuals),
                                                          config.report.feature_channels, focus_title,
                                                          out_dir / "feature_maps.png")
            elif model == "vit":
                paths["attention"] = draw_attention(samples["focus_image"], visuals["cls_attention"], focus_title,
                                                    out_dir / "attention.png")
    return _relative(paths, bundle.root)


def draw_comparison_figures(curves: Mapping[str, tuple[str, Mapping[str, Sequence[History]]]], labels: Sequence[str],
                            out_dir: Path) -> dict[str, str]:
    """Draw ``curves_<model>.png`` into `out_dir` for each model key -> (display name, {bundle label: histories}).

    `labels` are all bundles' labels in order: a bundle keeps its colour in every figure, also where
    a model is missing from other bundles. Returns figure key -> path relative to the parent of
    `out_dir` (where compare.html links them from).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    colours = {label: BUNDLE_COLOURS[i % len(BUNDLE_COLOURS)] for i, label in enumerate(labels)}
    with plt.rc_context(STYLE):
        paths = {f"curves_{model}": draw_overlaid_curves(histories, colours, name, out_dir / f"curves_{model}.png")
                 for model, (name, histories) in curves.items()}
    return _relative(paths, out_dir.parent)


def _relative(paths: Mapping[str, Path], root: Path) -> dict[str, str]:
    """Figure key -> path relative to `root` with "/" separators, as the HTML links it."""
    return {key: os.path.relpath(path, root).replace(os.sep, "/") for key, path in paths.items()}
