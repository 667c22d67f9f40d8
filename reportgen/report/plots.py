"""Shared plotting helpers of the report's figures (matplotlib Agg + seaborn, no torch).

Each section draws its own figures (reportgen.report.sections.*) with these helpers, in one style
sized to read well at A4 width; `save_figure` writes an SVG (vector: lines and text stay sharp at any zoom and
in print; WeasyPrint lays SVG out natively) atomically, so a failed drawing never leaves half a file.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever written to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reportgen.bundle_files import atomic_output  # noqa: E402

FIGURE_SUFFIX = ".svg"
DPI = 200  # only for the raster parts of an SVG (imshow's images, embedded as PNG)
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
    "svg.hashsalt": "reportgen",  # fixed element ids: the same bundle draws the same SVG bytes
}
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#d62728"
SERIES_COLOURS = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab10").colors]  # per model or bundle


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write `fig` as an SVG at `path` atomically and close it (no date in its metadata: reproducible bytes)."""
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="svg", dpi=DPI, bbox_inches="tight", pad_inches=0.03, metadata={"Date": None})
    finally:
        plt.close(fig)
    return path


def hwc(image: np.ndarray) -> np.ndarray:
    """(3, H, W) uint8 -> (H, W, 3) for imshow."""
    return np.transpose(image, (1, 2, 0))


def bare(ax: plt.Axes) -> None:
    """No ticks or frame, but keep the y label (unlike axis('off'))."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_band(ax: plt.Axes, curves: np.ndarray, colour: str, label: str) -> None:
    """Mean over seeds (rows of `curves`, (seeds, epochs)) as a line; with several seeds, the min-max range shaded."""
    epochs = np.arange(1, curves.shape[1] + 1)
    ax.plot(epochs, curves.mean(axis=0), color=colour, label=label, lw=1.3,
            marker="o" if len(epochs) <= 20 else None, ms=2.5)
    if len(curves) > 1:
        ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), color=colour, alpha=0.2, lw=0)


def per_epoch_axes(ax: plt.Axes, ylabel: str, title: str) -> None:
    """Epochs on x (whole numbers), a light grid, labels and title."""
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, lw=0.4, alpha=0.5)


def focus_title(focus_text: str) -> str:
    """The focus image's panel title: "test image 1234\\n(automobile)"."""
    image, _, label = focus_text.partition(" (")
    return f"{image}\n({label}"
