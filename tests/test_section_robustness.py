"""Section "Robustness to corrupted images": the verdicts flip with the predictions and need McNemar's test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reportgen.errors import BundleError
from reportgen.report.corruption_results import clustered_mcnemar, paired_metrics, suite, suite_metrics
from reportgen.report.evidence import bootstrap_p_parts
from reportgen.report.kernel import Callout, Metric, Sentence, sentence
from reportgen.report.multiplicity import family
from reportgen.report.sections.robustness import Robustness, scopes_sentence, suites
from reportgen.report.stats import BootstrapTest, mcnemar_test
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.section_helpers import contents, figures, numbers, sentences, tables, text


def section_text(tmp_path, name="b", seeds=(42,), accuracies=None, **options) -> str:
    """What the section says, without its rule."""
    bundle = {"accuracies": accuracies} if accuracies else {}
    report = contents(tmp_path / name, seeds=seeds, analyses=AnalysisOptions(ANALYSES, **options), **bundle)
    return text(item for item in numbers(Robustness(), report) if not isinstance(item, Callout))


# Clean accuracies of 95% (CNN) and 60% (ViT): keeping 65% against 85% of the copies of their clean-correct images
# leaves the CNN ahead in absolute accuracy under corruption while the ViT is the more robust by the relative measure.
APART = {"cnn": 0.95, "vit": 0.60}
RELATIVE_VIT = {"cnn": 0.65, "vit": 0.85}
RELATIVE_CNN = {"cnn": 0.90, "vit": 0.60}


def test_more_robust_is_decided_by_the_relative_measure_both_ways(tmp_path):
    vit = section_text(tmp_path, "a", accuracies=APART, kept=RELATIVE_VIT)
    cnn = section_text(tmp_path, "b", accuracies=APART, kept=RELATIVE_CNN)
    assert "The ViT is more robust in this run: on the images both classify correctly when clean, the CNN keeps" in vit
    # while the CNN is ahead in absolute accuracy under corruption: the table's "all corruptions" row (no sentence
    # repeats it when the models are compared; one model's sentence says it)
    report = contents(tmp_path / "t", accuracies=APART, analyses=AnalysisOptions(ANALYSES, kept=RELATIVE_VIT))
    overall = next(row for row in tables(numbers(Robustness(), report))[0].footer if row[0] == "all corruptions")
    assert [cell.text for cell in overall[2:4]] == ["61.50%", "51.50%"]
    assert "mean corruption accuracy is" not in vit
    one = contents(tmp_path / "o", models=("vit",), analyses=AnalysisOptions(ANALYSES))
    assert "The ViT's mean corruption accuracy is" in text(numbers(Robustness(), one))
    assert "this mostly restates the clean gap, so it is not what decides robustness here" in vit
    assert "The CNN is more robust in this run" in cnn and "The ViT is more robust" not in cnn


def test_the_overall_relative_comparison_is_a_primary_summary_row(tmp_path):
    report = contents(tmp_path / "b", accuracies=APART, analyses=AnalysisOptions(ANALYSES, kept=RELATIVE_VIT))
    primary, absolute = Robustness().verdict(report).rows
    assert primary.primary and not absolute.primary
    assert primary.verdict.text.startswith("ViT more robust in this run (p ≤ ")  # no resample crossed 0
    assert absolute.values[0].text == "61.50" and absolute.values[1].text == "51.50"
    relative, absolute_finding = Robustness().verdict(report).findings
    assert relative.text.startswith("Robustness: the ViT is more robust in this run")
    # the Conclusion also says which model is more accurate under corruption, so the relative verdict is not read alone
    assert absolute_finding.text == ("In absolute terms neither model is shown to be more accurate on the corrupted "
                                     "images in this run (61.50% against 51.50%).")
    further = contents(tmp_path / "f", accuracies={"cnn": 0.95, "vit": 0.40},
                       analyses=AnalysisOptions(ANALYSES, kept=RELATIVE_VIT))
    assert Robustness().verdict(further).findings[1].text == (
        "In absolute terms the CNN is more accurate on the corrupted images in this run (61.50% against 35.50%), "
        "which mostly restates the clean gap.")


@pytest.mark.parametrize("seeds", [(42,), (1, 2)])
def test_a_difference_that_is_not_significant_is_not_a_win(tmp_path, seeds):
    hair = section_text(tmp_path, "b", seeds=seeds, kept={"cnn": 0.7, "vit": 0.7})
    assert "is more robust" not in hair and "he CNN keeps significantly" not in hair
    assert "he ViT keeps significantly" not in hair
    assert "Neither model is shown to be more robust" in hair
    assert "neither model keeps significantly more under any corruption" in hair


def test_with_several_seeds_the_test_includes_them_and_with_one_it_says_so(tmp_path):
    one = section_text(tmp_path, "a", accuracies=APART, kept=RELATIVE_VIT)
    two = section_text(tmp_path, "b", seeds=(1, 2), accuracies=APART, kept=RELATIVE_VIT)
    assert "bootstrap over test images, one seed" in one and "With one seed" not in one  # the Conclusion says it
    assert "bootstrap over seeds and test images" in two and "With one seed" not in two
    one_verdict = Robustness().verdict(contents(tmp_path / "c", accuracies=APART,
                                                analyses=AnalysisOptions(ANALYSES, kept=RELATIVE_VIT)))
    assert one_verdict.caveats[0].text.startswith("With one seed, the robustness comparisons describe")
    # the per-family and per-corruption verdicts say what the overall one says of their scope
    assert "relative robustness adjusted over the 10 corruptions in this run: " in one
    assert "relative robustness adjusted over the 10 corruptions: " in two
    assert "The ViT is more robust:" in two


def test_the_lone_weather_corruption_is_not_tested_twice(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    c = Robustness.comparison(report, suites(report))
    assert "family.weather" not in c.tests and "corruption.brightness" in c.tests
    assert sorted(s for s in c.tests if s.startswith("family.")) == ["family.blur", "family.digital", "family.noise"]
    assert c.corruptions.name == "the 10 corruptions" and len(c.corruptions.raw) == 10
    assert c.corruptions.adjusted[0].key == "compare.robustness.corruption.gaussian_noise.relative.p_adj"


def with_corruption_ps(c, ps: dict[str, float], method: str = "holm"):
    """The comparison `c` with the given raw p-values of its corruption tests (the CNN ahead in every one)."""
    tests = {s: replace(t, p=ps.get(s, 0.6), estimate=1.0) for s, t in c.tests.items()}
    scopes = [s for s in tests if s.startswith("corruption.")]
    return replace(c, tests=tests, corruptions=family(c.corruptions.name, [tests[s].metric("p") for s in scopes],
                                                      method))


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_an_adjustment_removes_a_raw_win_and_a_strong_one_stays(tmp_path, method):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    c = Robustness.comparison(report, suites(report))
    scopes = [s for s in c.tests if s.startswith("corruption.")]
    weak = with_corruption_ps(c, {"corruption.contrast": 0.01}, method)  # 10 x 0.01 = 0.1 after adjustment
    said = scopes_sentence(weak, scopes, weak.corruptions, "corruption").text
    assert weak.tests["corruption.contrast"].p < 0.05 and not weak.decided("corruption.contrast")
    assert "neither model keeps significantly more under any corruption" in said
    assert "1 raw p-value below the level (contrast) does not survive the adjustment" in said
    two = with_corruption_ps(c, {"corruption.contrast": 0.01, "corruption.saturate": 0.02}, method)
    said = scopes_sentence(two, scopes, two.corruptions, "corruption").text
    assert "2 raw p-values below the level (contrast, saturate) do not survive the adjustment" in said
    strong = with_corruption_ps(c, {"corruption.contrast": 0.001}, method)  # 10 x 0.001 = 0.01
    said = scopes_sentence(strong, scopes, strong.corruptions, "corruption").text
    assert "the CNN keeps significantly more under contrast" in said and "do not survive" not in said


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
    kept = [100 * np.mean((r["preds"] == r["labels"])[..., r["clean_preds"] == r["labels"]]) for r in records]
    assert shown["cnn.robustness.relative.mean"] == pytest.approx(np.mean(kept))
    assert shown["cnn.robustness.mca.std"] == pytest.approx(np.std(per_seed, ddof=1))
    contrast = [list(r["corruptions"]).index("contrast") for r in records][0]
    assert shown["cnn.robustness.corruption.contrast.acc"] == pytest.approx(
        100 * np.mean([r["preds"][contrast] == r["labels"] for r in records]))


def test_one_model_gets_its_numbers_heatmap_and_table(tmp_path):
    items = numbers(Robustness(), contents(tmp_path / "b", models=("vit",), analyses=AnalysisOptions(ANALYSES)))
    said = text(item for item in items if not isinstance(item, Callout))
    assert said.startswith("The ViT's mean corruption accuracy is 45.00% against")
    assert "more robust" not in said
    assert tables(items)[0].header == ["corruption", "family", "ViT accuracy", "ViT kept"]
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
    assert not {m.key for m in expected} - set(shown)


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


def test_a_bootstrap_p_at_its_floor_reads_as_a_bound():
    at_floor = BootstrapTest("k", 1.0, 0.5, 1.5, 2 / 1001, 0.95, 1, 1000, "points")
    above = BootstrapTest("k", 1.0, -0.5, 1.5, 0.2, 0.95, 1, 1000, "points")
    assert sentence(bootstrap_p_parts(at_floor)).text.startswith("p ≤ ")
    assert sentence(bootstrap_p_parts(above)).text == "p = 0.2000"
