"""Section "Accuracy": the accuracy statement flips with the results, with their significance, and with the number
of seeds (one seed: "in this run", intervals over the test images, the seeds that would make it a test; several:
the hierarchical bootstrap over seeds and test images decides with McNemar and the t-test)."""

from __future__ import annotations

import pytest

from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.accuracy import (
    Accuracy,
    accuracy_lead,
    accuracy_sentence,
    class_wins,
    model_significance,
)
from reportgen.report.stats import accuracy_significance
from tests.section_helpers import HAIR, SWAPPED, contents, numbers, tables, text

THREE = (1, 2, 3)
# Two seeds give the CNN a 10-point lead, the third the ViT a 6-point one: McNemar is significant for the CNN in 2
# of 3 seeds, but over seeds the difference is not shown (a resample of the third seed twice reverses it).
DISAGREEING = dict(seeds=THREE, seed_accuracies={"cnn": (0.85, 0.84, 0.70), "vit": (0.75, 0.74, 0.76)})


def test_the_statement_flips_with_the_results(tmp_path):
    ahead = text(numbers(Accuracy(), contents(tmp_path / "a")))
    behind = text(numbers(Accuracy(), contents(tmp_path / "b", **SWAPPED)))
    assert ahead.startswith("Rule used for accuracy differences") and "In this run the CNN is more accurate" in ahead
    assert "In this run the ViT is more accurate" in behind
    over = text(numbers(Accuracy(), contents(tmp_path / "c", seeds=THREE)))
    over_behind = text(numbers(Accuracy(), contents(tmp_path / "d", seeds=THREE, **SWAPPED)))
    assert "The CNN is more accurate:" in over and "The ViT is more accurate:" in over_behind
    assert "In this run" not in over


@pytest.mark.parametrize("seeds", [(42,), THREE])
def test_a_hair_of_difference_is_not_a_win(tmp_path, seeds):
    far = contents(tmp_path / "far", seeds=seeds)
    hair = contents(tmp_path / "hair", seeds=seeds, **HAIR)
    assert model_significance(far).significant and not model_significance(hair).significant
    far_text, hair_text = text(numbers(Accuracy(), far)), text(numbers(Accuracy(), hair))
    if len(seeds) == 1:
        assert "the difference is significant on these test images (McNemar p" in far_text
        assert "but the difference is not significant in this run (McNemar p" in hair_text
    else:
        assert "the difference is significant (paired t-test over seeds, p" in far_text
        assert "hierarchical bootstrap over seeds and test images, p" in far_text
        assert "but the difference is not significant (paired t-test over seeds" in hair_text
    assert "The CNN's test accuracy" in hair_text
    assert "so neither model is the more accurate on this evidence." in hair_text
    assert "more accurate:" not in hair_text
    assert hair_text.count("do not show either model to be better") == 1  # the per-class statement, F1 and accuracy


def test_seed_variance_removes_a_lead_that_one_seed_shows(tmp_path):
    one = contents(tmp_path / "one", seeds=(1,), seed_accuracies={"cnn": (0.85,), "vit": (0.75,)})
    three = contents(tmp_path / "three", **DISAGREEING)
    sig_one, sig_three = model_significance(one), model_significance(three)
    assert sig_one.significant and not sig_one.over_seeds
    assert sig_three.over_seeds and sig_three.bootstrap.p >= 0.05 and not sig_three.significant
    assert int(sig_three.mcnemar_majority.value) == 2  # the per-seed tests alone would have called it
    assert "In this run the CNN is more accurate" in text(numbers(Accuracy(), one))
    said = text(numbers(Accuracy(), three))
    assert "but the difference is not significant (" in said and "more accurate:" not in said


def test_one_seed_is_described_with_intervals_and_the_seeds_that_would_test_it(tmp_path):
    report = contents(tmp_path / "b")
    items = numbers(Accuracy(), report)
    said = text(items)
    assert "95% intervals (bootstrap over the test images, the trained weights held fixed): the CNN " in said
    assert "train with --seeds 42,43,44 to test it over seeds" in said
    (table,) = tables(items)
    footer = [row[0] for row in table.footer]
    assert footer == ["verdict at α = 0.05: significant in this run"]  # no "mean ± std over seeds", no t-test
    assert "t-test" not in table.caption and "with one seed the verdict describes this run" in table.caption
    several = numbers(Accuracy(), contents(tmp_path / "c", seeds=THREE))
    (table,) = tables(several)
    assert [row[0] for row in table.footer][0] == "mean ± std over seeds"
    assert "then the t-test and the hierarchical bootstrap over seeds and test images" in table.caption
    assert "95% intervals (bootstrap over seeds and test images)" in text(several)
    assert "--seeds" not in text(several)


def test_the_summary_row_and_the_claim_need_seeds(tmp_path):
    one = Accuracy().verdict(contents(tmp_path / "one"))
    (row,) = one.rows
    (claim,) = one.claims
    assert row.primary and row.verdict.text == "CNN higher in this run"
    assert claim.status == INCONCLUSIVE and "one seed" in claim.evidence.text
    three = Accuracy().verdict(contents(tmp_path / "three", seeds=THREE))
    assert three.rows[0].verdict.text == "CNN higher" and three.claims[0].status == SUPPORTED
    swapped = Accuracy().verdict(contents(tmp_path / "swapped", seeds=THREE, **SWAPPED))
    assert swapped.rows[0].verdict.text == "ViT higher" and swapped.claims[0].status == CONTRADICTED
    shaky = Accuracy().verdict(contents(tmp_path / "shaky", **DISAGREEING))
    assert shaky.rows[0].verdict.text == "no difference shown" and shaky.claims[0].status == INCONCLUSIVE


def test_the_bootstrap_follows_the_report_settings(tmp_path):
    default = model_significance(contents(tmp_path / "a", seeds=THREE))
    other = model_significance(contents(tmp_path / "b", seeds=THREE,
                                        config_overrides={"report.bootstrap_resamples": 200}))
    assert default.bootstrap.resamples == 1000 and other.bootstrap.resamples == 200


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
    assert "over 3 seeds" in text(numbers(Accuracy(), contents(tmp_path / "b", seeds=THREE)))


def test_the_significance_table_ends_with_the_verdict_at_the_configured_level(tmp_path):
    strict = contents(tmp_path / "b", config_overrides={"report.alpha": 1e-300})
    (table,) = tables(numbers(Accuracy(), strict))
    assert table.footer[-1][0] == "verdict at α = 1e-300: not significant in this run"
    assert "neither model is the more accurate" in text(numbers(Accuracy(), strict))


def test_one_model_states_its_headline(tmp_path):
    assert text(numbers(Accuracy(), contents(tmp_path / "b", models=("cnn",)))).startswith(
        "The CNN reached a test accuracy of")


def test_per_class_counts_say_they_are_not_tests(tmp_path):
    said = text(numbers(Accuracy(), contents(tmp_path / "b", accuracies={"cnn": 0.95, "vit": 0.40})))
    assert "By per-class F1, the CNN scores higher in 10 of 10 classes and the ViT in 0" in said
    assert "(counts, not tests)." in said
