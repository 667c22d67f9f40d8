"""Every figure is drawn from a bundle as a valid PNG, for one or two models and one or several seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.bundle import Bundle
from reportgen.figures import atomic_output, draw_comparison_figures, draw_curves, draw_figures
from tests.bundle_factory import make_bundle

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TWO_MODEL_KEYS = {"samples", "curves_cnn", "confusion_cnn", "feature_maps", "curves_vit", "confusion_vit", "attention"}


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 50


@pytest.fixture(scope="module")
def two_models(tmp_path_factory) -> Bundle:
    return Bundle(make_bundle(tmp_path_factory.mktemp("figures") / "b", seeds=(7, 8)))


def test_draw_figures_writes_every_figure_as_png(two_models):
    figures = draw_figures(two_models, two_models.root / "figures")
    assert set(figures) == TWO_MODEL_KEYS
    for key, relative in figures.items():
        assert relative == f"figures/{Path(relative).name}"
        assert_png(two_models.root / relative)
    assert not [p for p in (two_models.root / "figures").iterdir() if ".tmp-" in p.name]


def test_single_model_bundle_draws_only_its_figures(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b", models=("vit",)))
    assert set(draw_figures(bundle, tmp_path / "b" / "figures")) == {"samples", "curves_vit", "confusion_vit",
                                                                    "attention"}


def test_hostile_class_names_are_drawn_as_literal_text(tmp_path):
    names = ["$\\frac{a}{$", "<script>alert(1)</script>", "c_d^e"]
    bundle = Bundle(make_bundle(tmp_path / "b", models=("cnn",), num_classes=3, class_names=names))
    for relative in draw_figures(bundle, tmp_path / "b" / "figures").values():
        assert_png(tmp_path / "b" / relative)


def test_curves_with_several_seeds_differ_from_one_seed(tmp_path):
    def history(shift: float) -> dict[str, np.ndarray]:
        epochs = np.arange(1, 6, dtype=float)
        return {"train_loss": 2 / epochs + shift, "val_loss": 2.2 / epochs + shift,
                "train_acc": 1 - 1 / (epochs + 1) - shift, "val_acc": 0.9 - 1 / (epochs + 1) - shift}

    one = draw_curves([history(0.0)], "CNN", tmp_path / "one.png")
    band = draw_curves([history(0.0), history(0.05)], "CNN", tmp_path / "band.png")
    assert_png(one)
    assert_png(band)
    assert one.read_bytes() != band.read_bytes()


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("drawing failed")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_comparison_figures_overlay_one_line_per_bundle(two_models, tmp_path):
    histories = [run.history for run in two_models.runs("vit")]
    curves = {"vit": ("ViT", {"before": histories, "after $x^2$": histories[:1]})}
    figures = draw_comparison_figures(curves, ["before", "after $x^2$"], tmp_path / "out" / "figures")
    assert figures == {"curves_vit": "figures/curves_vit.png"}
    assert_png(tmp_path / "out" / "figures" / "curves_vit.png")
