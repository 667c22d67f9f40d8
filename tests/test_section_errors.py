"""Section "Errors": confused pairs and the within-group share of errors against its chance baseline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reportgen.report.kernel import Metric, item_metrics
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.errors import (
    Errors,
    chance_within_group_share,
    confused_pairs,
    confusion_sentences,
    errors_claim,
    within_group_p,
    within_group_share,
)
from tests.analysis_factory import AnalysisOptions
from tests.bundle_factory import CIFAR10_CLASSES
from tests.section_helpers import build, contents, figures, numbers, text


def _cifar_confusion(errors: dict[tuple[str, str], int], correct: int = 50) -> np.ndarray:
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    cm = np.eye(10, dtype=np.int64) * correct
    for (true, pred), count in errors.items():
        cm[index[true], index[pred]] = count
    return cm


def test_confused_pairs_combine_both_directions():
    cm = np.array([[10, 3, 1], [4, 10, 0], [2, 5, 10]])
    pairs = confused_pairs(cm, ["a", "b", "c"], top=2)
    assert [(p.first, p.second, p.count) for p in pairs] == [("a", "b", 7), ("b", "c", 5)]
    assert pairs[0].share_pct == pytest.approx(100 * 7 / 15)


def test_within_group_share_on_a_hand_made_confusion():
    cm = _cifar_confusion({("cat", "dog"): 6, ("dog", "cat"): 4, ("truck", "automobile"): 5, ("bird", "airplane"): 5})
    assert within_group_share(cm, CIFAR10_CLASSES) == pytest.approx(75.0)
    assert within_group_share(np.ones((3, 3)), ["x", "y", "z"]) is None
    assert chance_within_group_share(np.ones((3, 3)), ["x", "y", "z"]) is None


def test_chance_share_of_errors_spread_evenly_is_the_unweighted_baseline():
    errors = {(true, pred): 1 for true in CIFAR10_CLASSES for pred in CIFAR10_CLASSES if true != pred}
    assert chance_within_group_share(_cifar_confusion(errors), CIFAR10_CLASSES) == \
        pytest.approx(100 * (6 * 5 + 4 * 3) / 90)


def test_chance_share_is_weighted_by_where_the_errors_fall():
    vehicles_only = _cifar_confusion({("truck", "cat"): 4, ("ship", "airplane"): 2})
    animals_only = _cifar_confusion({("cat", "dog"): 10, ("bird", "airplane"): 5})
    mixed = _cifar_confusion({("cat", "dog"): 6, ("truck", "automobile"): 3, ("bird", "airplane"): 1})
    assert chance_within_group_share(vehicles_only, CIFAR10_CLASSES) == pytest.approx(100 * 3 / 9)
    assert chance_within_group_share(animals_only, CIFAR10_CLASSES) == pytest.approx(100 * 5 / 9)
    assert chance_within_group_share(mixed, CIFAR10_CLASSES) == pytest.approx(100 * (7 * 5 / 9 + 3 * 3 / 9) / 10)
    assert chance_within_group_share(_cifar_confusion({}), CIFAR10_CLASSES) is None  # no errors


def test_each_model_gets_its_own_error_weighted_baseline(tmp_path):
    report = contents(tmp_path / "b")
    for key in ("cnn", "vit"):
        facts = report.facts[key]
        _, groups = confusion_sentences(facts, [])
        (chance,) = [m for m in groups.metrics if m.key.endswith("within_group_chance_pct")]
        assert chance == Metric(f"{key}.confusion.within_group_chance_pct",
                                chance_within_group_share(facts.confusion, CIFAR10_CLASSES), "percent")
    skewed = replace(report.facts["cnn"], confusion=_cifar_confusion({("truck", "cat"): 4, ("ship", "dog"): 6}))
    _, groups = confusion_sentences(skewed, [])
    assert "Of its errors, 0.00% stay within a group, against 33.33% expected" in groups.text


def test_the_groups_are_defined_once_and_only_for_cifar_classes(tmp_path):
    cifar = text(numbers(Errors(), contents(tmp_path / "a")))
    assert cifar.count("animals (bird, cat, deer, dog, frog, horse)") == 1
    assert cifar.count("stay within a group") == 2
    other = text(numbers(Errors(), contents(tmp_path / "b", num_classes=4)))
    assert "group" not in other and "most frequent confusions" in other


def test_several_seeds_are_summed(tmp_path):
    assert "summed over 3 seeds" in text(numbers(Errors(), contents(tmp_path / "b", seeds=(1, 2, 3))))


def _with_confusion(m, errors: dict[tuple[str, str], int]):
    return replace(m, confusion=_cifar_confusion(errors), class_names=list(CIFAR10_CLASSES))


CAT_DOG = {("cat", "dog"): 30, ("dog", "cat"): 20, ("truck", "automobile"): 5}
SHIP_PLANE = {("ship", "airplane"): 30, ("airplane", "ship"): 20, ("cat", "dog"): 5}


def test_the_original_claim_on_errors_flips_with_the_evidence(tmp_path):
    cnn, vit = contents(tmp_path / "b", seeds=(1, 2)).models
    both_cat_dog = [_with_confusion(cnn, CAT_DOG), _with_confusion(vit, CAT_DOG)]
    assert errors_claim(both_cat_dog, [1, 1]).status == SUPPORTED
    assert errors_claim(both_cat_dog, [1, -1]).status == CONTRADICTED
    assert errors_claim(both_cat_dog, [1, 0]).status == INCONCLUSIVE  # not shown for one model: not a support
    other_top = errors_claim([_with_confusion(cnn, CAT_DOG), _with_confusion(vit, SHIP_PLANE)], [1, 1])
    assert other_top.status == INCONCLUSIVE and "ViT: airplane ↔ ship" in other_top.evidence.text


def test_with_one_seed_the_errors_claim_describes_the_run_and_decides_nothing(tmp_path):
    cnn, vit = contents(tmp_path / "b").models
    for directions in ([1, 1], [1, -1]):
        finding = errors_claim([_with_confusion(cnn, CAT_DOG), _with_confusion(vit, CAT_DOG)], directions)
        assert finding.status == INCONCLUSIVE
        said = finding.evidence.text
        assert said.startswith("one seed: in this run ") and "--seeds 42,43,44" in said


def test_the_within_group_test_tells_errors_within_groups_from_chance(tmp_path):
    report = contents(tmp_path / "b")
    cnn = report.models[0]
    runs = report.runs["cnn"][:1]
    assert within_group_p(_with_confusion(cnn, CAT_DOG), runs) < 0.001  # 50 of 55 within, chance about half
    spread = {("cat", "truck"): 10, ("cat", "dog"): 5, ("ship", "frog"): 10, ("deer", "horse"): 5}
    assert within_group_p(_with_confusion(cnn, spread), runs) > 0.05


def test_the_verdict_names_the_main_confusions_and_says_in_this_run_with_one_seed(tmp_path):
    one = Errors().verdict(contents(tmp_path / "a"))
    (finding,) = one.findings
    assert finding.text.startswith("Errors: the most frequent confusion is, for both models: ")
    assert "In this run" in finding.text and "adjusted p" in finding.text and "raw p" in finding.text
    assert [c.claim for c in one.claims] == ["errors-within-groups"]
    several = Errors().verdict(contents(tmp_path / "b", seeds=(1, 2, 3)))
    assert "In this run" not in several.findings[0].text
    assert not Errors().verdict(contents(tmp_path / "c", num_classes=4)).claims  # no CIFAR-10 groups: no claim


def test_examples_of_the_confusions_come_from_the_images_the_bundle_holds(tmp_path):
    held = build(Errors(), contents(tmp_path / "a", analyses=AnalysisOptions(("explanations",))))
    assert [f.key for f in figures(held)] == ["confused_examples"]
    assert "true → predicted" in figures(held)[0].caption.text
    none = numbers(Errors(), contents(tmp_path / "b"))
    assert not figures(none) and "cannot be shown" in text(none) and "analysis.explanations" in text(none)


def test_one_main_confusion_shared_by_both_models_is_named_once(tmp_path):
    report = contents(tmp_path / "a")
    report.facts = {"cnn": _with_confusion(report.facts["cnn"], CAT_DOG),
                    "vit": _with_confusion(report.facts["vit"], CAT_DOG)}
    shared = Errors().verdict(report).findings[0].text
    report.facts["vit"] = _with_confusion(report.facts["vit"], SHIP_PLANE)
    report.verdicts.clear()
    differ = Errors().verdict(report).findings[0].text
    assert shared.startswith("Errors: the most frequent confusion is, for both models: cat ↔ dog.")
    assert differ.startswith("Errors: the most frequent confusion is, for the CNN: cat ↔ dog; for the ViT: "
                             "airplane ↔ ship.")


def test_the_section_shows_the_within_group_test_the_conclusion_states(tmp_path):
    report = contents(tmp_path / "b")
    shown = {m.key for m in item_metrics(numbers(Errors(), report))}
    stated = {m.key for finding in Errors().verdict(report).findings for m in finding.metrics
              if m.key.endswith(("within_group.p", "within_group.p_adj"))}
    assert len(stated) == 4 and stated <= shown  # raw and adjusted p of both models
    assert "cross between the groups (against chance: raw p" in text(numbers(Errors(), report))
