"""Section "What the models look at": faithfulness verdicts flip with the deletion curves and need a test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reportgen.report.kernel import Callout
from reportgen.report.sections.explanations import Explanations, against_random, beats_random, explained, random_family
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.section_helpers import build, contents, figures, numbers, tables, text


def section(tmp_path, name="b", seeds=(42,), models=("cnn", "vit"), **options):
    return numbers(Explanations(), contents(tmp_path / name, seeds=seeds, models=models,
                                          analyses=AnalysisOptions(ANALYSES, **options)))


def said(items) -> str:
    """What the section says, without its rule."""
    return text(item for item in items if not isinstance(item, Callout))


def test_the_more_faithful_explanation_flips_with_the_curves(tmp_path):
    default = said(section(tmp_path, "a"))
    swapped = said(section(tmp_path, "b", deletion_rates={"cnn": 2.0, "vit": 4.0}))
    assert ("The CNN's Grad-CAM is more faithful than the ViT's attention rollout in this run: a gap over random "
            "orders") in default
    assert "(mean per-image difference 0." in default
    assert "Holm-adjusted over the between-model comparisons p" in default
    assert "The ViT's attention rollout is more faithful than the CNN's Grad-CAM in this run" in swapped
    # occlusion is one method for both models: a larger gap says how local the evidence is, not "more faithful"
    assert "The CNN's occlusion map has the larger gap over random orders in this run" in default
    assert "The ViT's occlusion map has the larger gap over random orders in this run" in swapped
    assert "more local evidence, not an easier model to explain" in default
    assert "occlusion map is more faithful" not in default


def test_with_several_seeds_the_comparison_is_a_test_of_the_models(tmp_path):
    one, several = said(section(tmp_path, "a")), said(section(tmp_path, "b", seeds=(1, 2)))
    assert "The CNN's Grad-CAM is more faithful than the ViT's attention rollout: a gap" in several
    assert "bootstrap over seeds and test images" in several and "With one seed" not in several
    assert "bootstrap over test images, one seed" in one and "With one seed" not in one  # the Conclusion says it
    caveats = Explanations().verdict(contents(tmp_path / "c", analyses=AnalysisOptions(ANALYSES))).caveats
    assert caveats[-1].text.startswith("With one seed, the faithfulness comparisons describe")


def rows(tmp_path, name, **options):
    report = contents(tmp_path / name, analyses=AnalysisOptions(ANALYSES, **options))
    return Explanations().verdict(report).rows


def test_the_summary_rows_are_secondary_and_flip_with_the_curves(tmp_path):
    default, same = rows(tmp_path, "a"), rows(tmp_path, "b", deletion_rates={"cnn": 3.0, "vit": 3.0})
    assert [r.measure for r in default] == [
        "Faithfulness, own methods (Grad-CAM, attention rollout): deletion gap over random orders",
        "Faithfulness, one method (occlusion): deletion gap over random orders"]
    assert not any(r.primary for r in default)
    assert default[0].verdict.text.startswith("CNN more faithful in this run (adjusted p")
    assert same[0].verdict.text.startswith("no difference shown in this run (adjusted p")
    assert default[0].interval.text.startswith("[")


@pytest.mark.parametrize("seeds", [(42,), (1, 2)])
def test_a_difference_that_is_not_significant_is_not_a_win(tmp_path, seeds):
    same = said(section(tmp_path, "b", seeds=seeds, deletion_rates={"cnn": 3.0, "vit": 3.0}))
    assert "is more faithful than" not in same
    assert "so neither explanation is shown to be more faithful" in same


def test_a_map_no_better_than_random_is_said_to_be_so(tmp_path):
    flat = said(section(tmp_path, "b", deletion_rates={"cnn": 0.0, "vit": 3.0}))  # the CNN's curve never falls
    default = said(section(tmp_path, "a"))
    # the ViT's own method and its occlusion fall; neither of the CNN's does
    assert "significantly sooner than occluding at random in this run for the ViT's attention rollout and the ViT's " \
        "occlusion map; the CNN's Grad-CAM and the CNN's occlusion map are not shown to be more faithful than a " \
        "random order in this run" in flat
    assert "significantly sooner than occluding at random in this run for the CNN's Grad-CAM, the ViT's attention " \
        "rollout, the CNN's occlusion map and the ViT's occlusion map (" in default
    assert "not shown to be more faithful than a random order" not in default


def test_the_areas_are_the_trapezoids_of_the_stored_curves(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2), analyses=AnalysisOptions(ANALYSES))
    records = report.analysis("vit", "explanations.npz", {})
    (_, vit) = explained(report)
    norm = lambda c: c / np.maximum(c[:, :1], 1e-6)  # noqa: E731  p(t) / p(0)
    areas = [np.trapezoid(norm(r["deletion"]), r["fractions"], axis=1) for r in records]
    assert vit.area == pytest.approx(np.mean(areas, axis=0))
    assert vit.mean("gap", vit.gap).value == pytest.approx(
        np.mean([np.trapezoid(norm(r["random_deletion"]), r["fractions"], axis=1) for r in records])
        - np.mean(areas))


def test_no_difference_at_all_is_no_evidence(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    (cnn, _) = explained(report)
    flat = replace(cnn, seed_gaps=np.zeros_like(cnn.seed_gaps))
    test = against_random(flat, report.rules)
    assert test.p == 1.0 and not beats_random(test, 0.05, random_family([flat], report.rules))


def test_against_random_orders_the_seed_to_seed_spread_enters_the_test(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2), analyses=AnalysisOptions(ANALYSES))
    (cnn, _) = explained(report)
    images = cnn.seed_gaps.shape[1]
    wobble = np.linspace(-0.01, 0.01, images)
    # every image's gap averaged over the seeds is +0.025, but one seed's map beats random and the other's loses
    split = replace(cnn, seed_gaps=np.stack([0.3 + wobble, -0.25 + wobble]))
    steady = replace(cnn, seed_gaps=np.stack([0.03 + wobble, 0.02 + wobble]))
    for case, expected in ((split, False), (steady, True)):
        test = against_random(case, report.rules)
        assert test.over_seeds and test.estimate == pytest.approx(0.025)
        assert beats_random(test, 0.05, random_family([case], report.rules)) is expected
    assert "sooner than occluding at random for the CNN's" in said(section(tmp_path, "c", seeds=(1, 2)))
    assert "sooner than occluding at random in this run for the CNN's" in said(section(tmp_path, "d"))


def test_both_models_are_drawn_on_the_same_images(tmp_path):
    items = section(tmp_path, "b")
    assert [f.key for f in figures(items)] == ["explanations", "deletion"]
    assert [row[:2] for row in tables(items)[0].rows] == [["CNN", "Grad-CAM"], ["ViT", "attention rollout"],
                                                          ["CNN", "occlusion"], ["ViT", "occlusion"]]
    rule = text(item for item in items if isinstance(item, Callout))
    assert "(20 images, the same for every model)" in rule and "8 × 8 grid of 4 × 4-pixel patches" in rule


def test_one_model_gets_its_own_measurement_only(tmp_path):
    one = said(section(tmp_path, "b", models=("vit",)))
    assert one.startswith("Occluding the most salient patches first lowers the true class's probability "
                          "significantly sooner than occluding at random in this run for the ViT's attention rollout "
                          "and the ViT's occlusion map (")
    assert "more faithful than" not in one.replace("more faithful than a random order", "")


def test_applies_when_the_bundle_holds_explanations(tmp_path):
    assert Explanations().applies(contents(tmp_path / "a", analyses=AnalysisOptions(("explanations",))))
    assert not Explanations().applies(contents(tmp_path / "b"))


def _rewrite(report, model, change):
    for run in report.runs[model]:
        path = run.path / "explanations.npz"
        arrays = dict(np.load(path))
        change(arrays)
        np.savez(path, **arrays)


def test_an_old_file_without_occlusion_renders_and_says_what_is_missing(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    for model in ("cnn", "vit"):
        _rewrite(report, model, lambda a: [a.pop("occlusion_saliency"), a.pop("occlusion_deletion")])
    items = numbers(Explanations(), report)
    assert [row[1] for row in tables(items)[0].rows] == ["Grad-CAM", "attention rollout"]
    assert "has no occlusion (written by reportgen 0.5 or earlier)" in text(items)
    verdict = Explanations().verdict(report)
    assert len(verdict.rows) == 1 and "adjusted" not in verdict.rows[0].verdict.text  # a family of one: raw p
    assert verdict.rows[0].verdict.text.startswith("CNN more faithful in this run (p")


def test_without_captum_the_methods_it_needs_are_skipped_in_one_line(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES))
    def no_captum(a):
        for name in ("occlusion_saliency", "occlusion_deletion", *(("saliency", "grid_saliency", "deletion")
                                                                  if a["method"] == "Grad-CAM" else ())):
            a.pop(name)
        a["skipped"] = np.array("captum not installed")
    for model in ("cnn", "vit"):
        _rewrite(report, model, no_captum)
    items = numbers(Explanations(), report)
    said = text(items)
    assert "CNN: Grad-CAM skipped: captum not installed." in said and "ViT: occlusion skipped: captum" in said
    assert [row[1] for row in tables(items)[0].rows] == ["attention rollout"]


def test_the_conclusion_reads_the_finding_after_its_label(tmp_path):
    report = contents(tmp_path / "b", analyses=AnalysisOptions(ANALYSES, deletion_rates={"cnn": 3.0, "vit": 3.0}))
    finding = Explanations().verdict(report).findings[0].text
    assert finding.startswith("Explanations: the CNN's Grad-CAM") or finding.startswith("Explanations: the ViT's")


def test_the_summary_calls_a_larger_occlusion_gap_more_local_evidence_not_more_faithful(tmp_path):
    by_measure = {r.measure: r for r in rows(tmp_path, "r")}
    own = next(r for m, r in by_measure.items() if m.startswith("Faithfulness, own methods"))
    occlusion = next(r for m, r in by_measure.items() if m.startswith("Faithfulness, one method (occlusion)"))
    assert own.verdict.text.startswith("CNN more faithful")
    assert occlusion.verdict.text.startswith("CNN larger gap (more local evidence)")


def test_the_deletion_legend_names_each_method_and_each_model_s_random_orders_once(tmp_path):
    report = contents(tmp_path / "d", analyses=AnalysisOptions(ANALYSES))
    (deletion,) = [f for f in figures(build(Explanations(), report)) if f.key == "deletion"]
    svg = (report.root / deletion.src).read_text()
    for label in ("CNN Grad-CAM, most salient first", "ViT attention rollout, most salient first",
                  "CNN occlusion, most salient first", "ViT occlusion, most salient first"):
        assert label in svg
    assert svg.count("CNN, random orders") == svg.count("ViT, random orders") == 1


def test_the_table_says_what_its_bootstrap_resampled(tmp_path):
    one = tables(section(tmp_path, "a"))[-1].caption
    several = tables(section(tmp_path, "b", seeds=(1, 2)))[-1].caption
    assert "bootstrap over the images (one seed)" in one and "over the seeds" not in one
    assert "hierarchical bootstrap over the seeds, then the images" in several
    assert "explained images and seeds" in several
