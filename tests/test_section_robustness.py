"""Section "Robustness to corrupted images": the verdicts flip with the predictions and need McNemar's test."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.errors import BundleError
from reportgen.report.corruption_results import clustered_mcnemar, paired_metrics, suite, suite_metrics
from reportgen.report.kernel import Callout, Metric, Sentence
from reportgen.report.sections.robustness import Robustness, suites
from reportgen.report.stats import mcnemar_test
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.section_helpers import contents, figures, numbers, sentences, tables, text

SWAPPED = {"cnn": 0.45, "vit": 0.60}
HAIR = {"cnn": 0.50, "vit": 0.50}


def section_text(tmp_path, name="b", seeds=(42,), **options) -> str:
    """What the section says, without its rule."""
    report = contents(tmp_path / name, seeds=seeds, analyses=AnalysisOptions(ANALYSES, **options))
    return text(item for item in numbers(Robustness(), report) if not isinstance(item, Callout))


def test_the_more_robust_model_flips_with_the_predictions(tmp_path):
    default = section_text(tmp_path, "a")
    swapped = section_text(tmp_path, "b", corrupted=SWAPPED)
    assert "The CNN is more robust: a mean corruption accuracy of 60.00% against 45.00% for the ViT" in default
    assert "15.00 points ahead (McNemar's exact test over the images: " in default
    assert "The ViT is more robust: a mean corruption accuracy of 60.00% against 45.00% for the CNN" in swapped


@pytest.mark.parametrize("seeds", [(42,), (1, 2)])
def test_a_difference_that_is_not_significant_is_not_a_win(tmp_path, seeds):
    hair = section_text(tmp_path, "b", seeds=seeds, corrupted=HAIR)
    assert "is more robust" not in hair and "significantly more accurate" not in hair
    assert "equally accurate on the corrupted images" in hair or "so neither model is shown to be more robust" in hair
    assert "neither model is shown to be more accurate under noise" in hair


def test_families_and_corruptions_follow_their_own_predictions(tmp_path):
    mixed = section_text(tmp_path, "b", per_corruption={("vit", "contrast"): 0.9, ("vit", "brightness"): 0.6,
                                                         ("vit", "saturate"): 0.9, ("vit", "pixelate"): 0.9,
                                                         ("vit", "jpeg_compression"): 0.9})
    assert "the CNN is significantly more accurate under noise (15.00 points, p < 0.0001) and blur" in mixed
    assert "the ViT is significantly more accurate under digital (-30.00 points, p < 0.0001)" in mixed
    assert "neither model is shown to be more accurate under weather (0.00 points" in mixed
    assert ("Corruption by corruption, the CNN is significantly more accurate under 5 of the 10 (gaussian noise, "
            "shot noise, impulse noise, defocus blur, gaussian blur); the ViT is significantly more accurate under 4 "
            "of the 10 (contrast, saturate, jpeg compression, pixelate); neither model is shown to be more accurate "
            "under 1 of the 10 (brightness).") in mixed


def test_the_relative_drop_is_compared_by_its_bootstrap_interval(tmp_path):
    similar = section_text(tmp_path, "a")  # drops of 29.8% and 29.6%
    smaller = section_text(tmp_path, "b", corrupted={"cnn": 0.80, "vit": 0.35})  # the CNN keeps most of its 85.5%
    assert "which includes 0), so neither model is shown to lose less of its clean accuracy" in similar
    assert "Relative to its clean accuracy, the CNN loses less under corruption" in smaller
    assert "which excludes 0)." in smaller


def test_with_one_copy_per_image_the_clustered_test_is_mcnemars():
    rng = np.random.default_rng(0)
    labels, first, second = rng.integers(0, 3, 200), rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert clustered_mcnemar(first == labels, second == labels) == mcnemar_test(labels, first, second)


def test_the_clustered_test_counts_images_not_copies():
    first = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)  # 3 copies (rows) of 3 images (columns)
    second = np.array([[0, 1, 1], [0, 0, 1], [0, 1, 1]], dtype=bool)
    # image 0: 3 copies right against 0, for the first; image 1: 2 against 2, a tie; image 2: 0 against 3
    assert clustered_mcnemar(first, second) == (1, 1, 1.0)
    assert mcnemar_test(np.ones(9), first.ravel(), second.ravel())[:2] == (4, 4)  # copy by copy: 8 discordant


def test_every_accuracy_follows_from_the_stored_predictions(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2), analyses=AnalysisOptions(ANALYSES))
    records = report.analysis("cnn", "robustness.npz", {})
    shown = {m.key: m.value for m in suite_metrics(suite("cnn", "CNN", (1, 2), records))}
    per_seed = [100 * np.mean(r["preds"] == r["labels"]) for r in records]
    assert shown["cnn.robustness.mca.mean"] == pytest.approx(np.mean(per_seed))
    assert shown["cnn.robustness.mca.std"] == pytest.approx(np.std(per_seed, ddof=1))
    contrast = [list(r["corruptions"]).index("contrast") for r in records][0]
    assert shown["cnn.robustness.corruption.contrast.acc"] == pytest.approx(
        100 * np.mean([r["preds"][contrast] == r["labels"] for r in records]))
    clean = [100 * np.mean(r["clean_preds"] == r["labels"]) for r in records]
    assert shown["cnn.robustness.relative_drop_pct.mean"] == pytest.approx(
        np.mean([(c - p) / c * 100 for c, p in zip(clean, per_seed)]))


def test_one_model_gets_its_numbers_heatmap_and_table(tmp_path):
    items = numbers(Robustness(), contents(tmp_path / "b", models=("vit",), analyses=AnalysisOptions(ANALYSES)))
    said = text(item for item in items if not isinstance(item, Callout))
    assert said.startswith("The ViT's mean corruption accuracy is 45.00% against")
    assert "more robust" not in said
    assert tables(items)[0].header == ["corruption", "family", "ViT accuracy"]
    assert [f.key for f in figures(items)] == ["robustness"]


def test_applies_when_the_bundle_holds_the_suites_predictions(tmp_path):
    assert Robustness().applies(contents(tmp_path / "a", analyses=AnalysisOptions(("robustness",))))
    assert not Robustness().applies(contents(tmp_path / "b"))
    assert [s.key for s in suites(contents(tmp_path / "c", analyses=AnalysisOptions(("robustness",))))] == [
        "cnn", "vit"]


def test_a_robustness_file_without_its_predictions_is_refused_in_one_line(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(("robustness",)))
    path = report.runs["vit"][0].path / "robustness.npz"
    kept = dict(np.load(path))
    del kept["preds"]
    np.savez(path, **kept)
    with pytest.raises(BundleError, match="robustness.npz lacks preds"):
        suites(report)


def shown_metrics(items) -> dict[str, str]:
    """Every number the section shows, by key, as printed (sentences and table cells)."""
    cells = [c for t in tables(items) for row in t.rows + t.footer for c in row]
    parts = [p for s in sentences(items) for p in s.parts] + [p for c in cells for p in (
        c.parts if isinstance(c, Sentence) else (c,))]
    return {p.key: p.text for p in parts if isinstance(p, Metric)}


def test_what_verify_recomputes_is_what_the_section_shows(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2), analyses=AnalysisOptions(ANALYSES))
    first, second = suites(report)
    shown = shown_metrics(numbers(Robustness(), report))
    expected = suite_metrics(first) + suite_metrics(second) + paired_metrics(first, second, report.rules.alpha)
    assert all(shown[m.key] == m.text for m in expected if m.key in shown)
    missing = {m.key for m in expected} - set(shown)
    assert missing and all(key.endswith((".b", ".c")) for key in missing)  # b and c are printed for overall only


def test_the_rule_states_the_suite_that_ran(tmp_path):
    items = numbers(Robustness(), contents(tmp_path / "b", analyses=AnalysisOptions(("robustness",))))
    rule = text(item for item in items if isinstance(item, Callout))
    assert rule.startswith("Rule used for robustness: the suite corrupts 200 test images (drawn at random with seed 0")
    assert "with 10 corruptions at 5 severities each, with the CIFAR-10-C constants" in rule


@pytest.mark.parametrize("change, problem", [
    (lambda a: a.update(preds=a["preds"][:, :3]), r"preds has shape \(10, 3, 200\), not \(C, S, N\)"),
    (lambda a: a.update(preds=a["preds"].astype(float)), "preds holds float64 values, not int ones"),
    (lambda a: a.update(labels=a["labels"][:50]), r"labels has shape \(50,\), not \(N,\)"),
])
def test_arrays_of_the_wrong_kind_or_shape_are_refused_in_one_line(tmp_path, change, problem):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(("robustness",)))
    path = report.runs["cnn"][0].path / "robustness.npz"
    arrays = dict(np.load(path))
    change(arrays)
    np.savez(path, **arrays)
    with pytest.raises(BundleError, match=problem):
        suites(report)
