"""Section "Conclusion": the verdict follows the results, their significance and the overfitting rule, and
states each experiment's verdict as its section does."""

from __future__ import annotations

import ast
from pathlib import Path

from reportgen.report import sections as registry
from reportgen.report.kernel import sentence
from reportgen.report.section import Group, Section, SummaryRow, Verdict
from reportgen.report.sections import conclusion
from reportgen.report.sections.augmentation import augmentation_off_variants, reliance_sentence
from reportgen.report.sections.conclusion import Conclusion
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.section_helpers import (
    HAIR,
    STUDY,
    STUDY_VARIANTS,
    SWAPPED,
    contents,
    numbers,
    sentences,
    swapped_models,
)


def _verdicts(report):
    return [s.text for s in sentences(numbers(Conclusion(), report))]


# Clean gaps whose intervals lie clear of the 5-point limit on the synthetic bundle's images (the overfitting rule
# reads the gap with its interval)
CLEAN_GAPS = {"cnn": -0.02, "vit": 0.15}


def test_the_verdict_flips_with_the_results(tmp_path):
    ahead = _verdicts(contents(tmp_path / "a", clean_gaps=CLEAN_GAPS))
    behind = _verdicts(contents(tmp_path / "b", **SWAPPED, clean_gaps={"cnn": 0.15, "vit": -0.02}))
    assert ahead[0].startswith("In this run the CNN is the more accurate model")
    assert "the CNN does not overfit; the ViT overfits" in ahead[1]
    assert behind[0].startswith("In this run the ViT is the more accurate model")
    assert "the CNN overfits; the ViT does not overfit" in behind[1]


def test_wall_clock_epoch_times_decide_no_speed_verdict(tmp_path):
    # Issue 22: the sequential training runs were not interleaved, so their epoch times are no evidence of speed
    # (two builds of one config had concluded opposite trade-offs); speed verdicts come from the cost section only.
    verdicts = " ".join(_verdicts(contents(tmp_path / "b", epoch_times={"cnn": 5.0, "vit": 1.0})))
    assert "faster" not in verdicts and "training cost" not in verdicts


def test_no_win_without_significance(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", **HAIR))
    assert verdicts[0].startswith("In this run neither model is shown to be more accurate")
    assert "wins" not in verdicts[1]


def test_one_model_and_the_scale_caveat(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", models=("cnn",)))
    assert verdicts[0].startswith("The CNN reached") and "ViT" not in " ".join(verdicts)
    assert verdicts[-1].startswith("These conclusions describe a reduced-scale run")
    full = _verdicts(contents(tmp_path / "c", epochs=80, train_size=50_000, test_size=100))
    assert not any("reduced-scale" in v for v in full)


def test_negative_gaps_mean_neither_overfits(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", clean_gaps={"cnn": -0.03, "vit": -0.01}))
    assert "By the overfitting rule on the clean gap and its interval, neither model overfits." in verdicts
    # Without a clean gap (bundles before it was measured), no overfitting verdict at all.
    assert not any("overfit" in v for v in _verdicts(contents(tmp_path / "c", train_gaps={"cnn": -0.03, "vit": 0.2})))


def test_a_study_s_conclusion_states_each_experiment_s_verdict_as_its_section_does(tmp_path):
    report = contents(tmp_path / "study", **STUDY)
    verdicts = _verdicts(report)
    experiments = [v for v in verdicts if v.startswith(("Augmentation: ", "Data: ", "Training length", "Recipe "))]
    assert [v.split(":")[0] for v in experiments] == ["Augmentation", "Data"] + 2 * [
        "Training length (not tested, no longer-training variant)"] + ["Recipe modern"]
    variant = augmentation_off_variants(report)[0]
    assert experiments[0] == "Augmentation: " + reliance_sentence(report, variant).text
    assert "In this run the ViT's drop is" in experiments[0]  # one seed: a description of the run, no reliance
    assert experiments[3] == ("Training length (not tested, no longer-training variant): by the plateau rule, the "
                              "ViT's validation accuracy was still improving at its final epoch, 12.")
    assert "In this run the gap (CNN minus ViT) is 6.50 points with the modern recipe against 12.83" in experiments[4]


def test_a_study_s_verdicts_flip_with_its_results(tmp_path):
    flipped = {name: swapped_models(spec) for name, spec in STUDY_VARIANTS.items()}
    mirrored = {"accuracies": {"cnn": 0.72, "vit": 0.85}, "train_gaps": {"cnn": 0.12, "vit": 0.02}}
    verdicts = _verdicts(contents(tmp_path / "study", seeds=(1, 2, 3), **{
        **STUDY, **mirrored, "variants": flipped, "curves": {"cnn": "rising", "vit": "flat"}}))
    assert any("the CNN relies on augmentation more" in v for v in verdicts)  # three seeds: a test over seeds
    assert any(v.startswith("Training length (not tested, no longer-training variant): by the plateau rule, the "
                            "CNN's validation accuracy was still improving") for v in verdicts)


def test_a_plain_build_s_conclusion_has_only_the_training_length_verdict(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "plain"))
    assert sum(v.startswith("Training length (not tested") for v in verdicts) == 2  # one per trained model
    assert not any(v.startswith(("Augmentation: ", "Data: ", "Recipe ")) for v in verdicts)


class Toy(Section):
    """A section that concludes something, to show that the Conclusion asks the registry, not a list of sections."""

    key, title = "toy", "Toy"

    def __init__(self, applies: bool = True):
        self._applies = applies

    def applies(self, contents):
        return self._applies

    def build(self, contents, figures):
        return []

    def verdict(self, contents):
        return Verdict((sentence("Toy: a finding."),), (sentence("Toy: a caveat."),))


def test_the_verdicts_come_from_the_registry_in_its_order(tmp_path, monkeypatch):
    report = contents(tmp_path / "b")
    before = _verdicts(report)
    assert before[-1].startswith("These conclusions describe a reduced-scale run")  # the one caveat here
    sections = registry.SECTIONS
    lead = len(next(s for s in sections if s.key == "analysis").verdict(report).findings)  # the accuracy's chapter
    monkeypatch.setattr(registry, "SECTIONS", (Toy(), *sections, Toy(applies=False)))
    assert _verdicts(report) == [*before[:lead], "Toy: a finding.", *before[lead:-1], "Toy: a caveat.", before[-1]]
    monkeypatch.setattr(registry, "SECTIONS", (*sections, Toy()))
    assert _verdicts(report) == [*before[:-1], "Toy: a finding.", before[-1], "Toy: a caveat."]


def test_the_verdicts_holding_a_primary_comparison_lead(tmp_path, monkeypatch):
    report = contents(tmp_path / "b")
    before = _verdicts(report)
    assert before[0].startswith("In this run the CNN is the more accurate model")  # before Results' per-class line
    primary = SummaryRow("toy", (), "", "", "", primary=True)
    toy = Toy()
    monkeypatch.setattr(toy, "verdict", lambda contents: Verdict((sentence("Toy: primary."),), rows=(primary,)))
    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, toy))
    after = _verdicts(report)
    assert after.index("Toy: primary.") < after.index(next(v for v in before if v.startswith("Per class")))


def test_a_group_s_caveats_close_its_own_findings(tmp_path, monkeypatch):
    report = contents(tmp_path / "b")
    before = _verdicts(report)
    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, Group("toys", "Toys", [Toy(), Toy()])))
    assert _verdicts(report) == [*before[:-1], "Toy: a finding.", "Toy: a finding.", "Toy: a caveat.",
                                 "Toy: a caveat.", before[-1]]


def test_the_conclusion_imports_no_section():
    tree = ast.parse(Path(conclusion.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not [name for name in imported if name.startswith("reportgen.report.sections.")]


def test_the_one_seed_caveats_of_several_sections_are_stated_once(tmp_path):
    one = _verdicts(contents(tmp_path / "a", analyses=AnalysisOptions(ANALYSES)))
    several = _verdicts(contents(tmp_path / "b", seeds=(1, 2), analyses=AnalysisOptions(ANALYSES)))
    notes = [v for v in one if v.startswith("With one seed, ")]
    assert notes == ["With one seed, the calibration, robustness and faithfulness comparisons describe this run's "
                     "weights (the bootstrap resamples test images only); trained with several seeds (e.g. --seeds "
                     "42,43,44) they would test the models, with the seed-to-seed spread in the interval."]
    assert not any(v.startswith("With one seed") for v in several)
    # after every finding it qualifies, the last of them the explanations'
    assert one.index(notes[0]) > max(i for i, v in enumerate(one) if v.startswith(("Explanations:", "Calibration:",
                                                                                   "Robustness:")))
