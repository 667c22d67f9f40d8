"""Section "Accuracy": the accuracy statement flips with the results and with their significance."""

from __future__ import annotations

import pytest

from reportgen.report.sections.accuracy import (
    Accuracy,
    accuracy_lead,
    accuracy_sentence,
    class_wins,
    model_significance,
)
from reportgen.report.stats import accuracy_significance
from tests.section_helpers import HAIR, SWAPPED, contents, numbers, tables, text


def test_the_statement_flips_with_the_results(tmp_path):
    ahead = text(numbers(Accuracy(), contents(tmp_path / "a")))
    behind = text(numbers(Accuracy(), contents(tmp_path / "b", **SWAPPED)))
    assert ahead.startswith("Rule used for accuracy differences") and "The CNN is more accurate" in ahead
    assert "The ViT is more accurate" in behind


@pytest.mark.parametrize("seeds", [(42,), (1, 2, 3)])
def test_a_hair_of_difference_is_not_a_win(tmp_path, seeds):
    far = contents(tmp_path / "far", seeds=seeds)
    hair = contents(tmp_path / "hair", seeds=seeds, **HAIR)
    assert model_significance(far).significant and not model_significance(hair).significant
    far_text, hair_text = text(numbers(Accuracy(), far)), text(numbers(Accuracy(), hair))
    evidence = "McNemar p" if len(seeds) == 1 else "paired t-test over seeds, p"
    assert f"the difference is significant ({evidence}" in far_text
    assert "The CNN's test accuracy" in hair_text and "but the difference is not significant (" in hair_text
    assert "so neither model is the more accurate on this evidence." in hair_text
    assert "more accurate:" not in hair_text
    assert hair_text.count("do not show either model to be better") == 2  # both per-class statements


def test_equal_results_read_as_ties(tmp_path):
    report = contents(tmp_path / "b")
    cnn, runs = report.facts["cnn"], report.runs["cnn"]
    same = accuracy_significance(runs, runs, 0.05)
    assert accuracy_lead(cnn, cnn) is None and not same.significant
    assert accuracy_sentence(cnn, cnn, same).text.startswith("The CNN and the CNN are equally accurate")


def test_class_wins_lists_classes_and_ties():
    wins = class_wins(["a", "b", "c", "d"], [0.9, 0.5, 0.7, 0.33331], [0.8, 0.6, 0.7, 0.33334])
    assert wins.first == ("a",) and wins.second == ("b",)
    assert wins.ties == ("c", "d")  # equal at the 4 displayed decimals


def test_several_seeds_read_with_their_spread(tmp_path):
    assert "over 3 seeds" in text(numbers(Accuracy(), contents(tmp_path / "b", seeds=(1, 2, 3))))


def test_the_significance_table_ends_with_the_verdict_at_the_configured_level(tmp_path):
    strict = contents(tmp_path / "b", config_overrides={"report.alpha": 1e-300})
    (table,) = tables(numbers(Accuracy(), strict))
    assert table.footer[-1][0] == "verdict at α = 1e-300: not significant"
    assert "neither model is the more accurate" in text(numbers(Accuracy(), strict))


def test_one_model_states_its_headline(tmp_path):
    assert text(numbers(Accuracy(), contents(tmp_path / "b", models=("cnn",)))).startswith(
        "The CNN reached a test accuracy of")
