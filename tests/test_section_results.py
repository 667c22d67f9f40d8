"""Section "Results": per model its headline, per-class table, curves and confusion matrix."""

from __future__ import annotations

from PIL import Image

from reportgen.report.sections.results import Results
from tests.section_helpers import build, contents, figures, numbers, tables, text


def test_one_subsection_per_model_with_its_figures(tmp_path):
    report = contents(tmp_path / "b")
    items = build(Results(), report)
    assert [s.title for s in items] == ["CNN", "ViT"]
    drawn = {f.key: f for f in figures(items)}
    assert set(drawn) == {"curves_cnn", "confusion_cnn", "curves_vit", "confusion_vit"}
    for figure in drawn.values():
        with Image.open(report.root / figure.src) as image:
            assert image.format == "PNG" and image.width > 300


def test_one_seed_reads_without_plus_minus_and_several_with_it(tmp_path):
    assert "±" not in text(numbers(Results(), contents(tmp_path / "a")))
    several = numbers(Results(), contents(tmp_path / "b", seeds=(1, 2, 3)))
    assert "±" in text(several) and "over 3 seeds" in text(several)
    assert tables(several)[0].caption == "CNN: per-class metrics, mean over 3 seeds."


def test_curves_with_several_seeds_differ_from_one_seed(tmp_path):
    one = build(Results(), contents(tmp_path / "a"))
    three = build(Results(), contents(tmp_path / "b", seeds=(1, 2, 3)))
    src = {f.key: f.src for f in figures(one)}
    assert (tmp_path / "a" / src["curves_cnn"]).read_bytes() != \
        (tmp_path / "b" / {f.key: f.src for f in figures(three)}["curves_cnn"]).read_bytes()


def test_hostile_class_names_are_drawn_as_literal_text(tmp_path):
    items = build(Results(), contents(tmp_path / "b", class_names=["$x^2$", "a_b", "<c>"], num_classes=3))
    assert len(figures(items)) == 4  # mathtext would fail on unbalanced "$"; parse_math is off
