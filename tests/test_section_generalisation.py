"""Section "Generalisation": gaps, the overfitting verdict, and "generalises better" only when tested."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from scipy.stats import ttest_ind, ttest_rel

from reportgen.config import ReportConfig
from reportgen.report.sections.generalisation import (
    Generalisation,
    generalisation_lead,
    generalisation_rule,
    generalisation_sentence,
    generalisation_significance,
    overfit_gap,
)
from tests.section_helpers import SWAPPED, contents, numbers, text, with_gaps


def test_one_seed_never_says_generalises_better(tmp_path):
    ahead = text(numbers(Generalisation(), contents(tmp_path / "a")))
    behind = text(numbers(Generalisation(), contents(tmp_path / "b", **SWAPPED)))
    assert "The CNN's final train–validation accuracy gap, 2.00 points, is smaller than the ViT's, 12.00 points" \
        in ahead
    assert "The ViT's final train–validation accuracy gap, 1.00 points, is smaller than the CNN's, 15.00 points" \
        in behind
    for t in (ahead, behind):
        assert "a single run per model cannot tell whether the difference is significant" in t
        assert "generalises better:" not in t and "so neither model is shown to generalise better." in t


def test_the_verdict_flips_over_seeds(tmp_path):
    ahead = text(numbers(Generalisation(), contents(tmp_path / "a", seeds=(1, 2, 3))))
    behind = text(numbers(Generalisation(), contents(tmp_path / "b", seeds=(1, 2, 3), **SWAPPED)))
    claim = "By the final train–validation accuracy gap, the {} generalises better: {} ± 0.00 points against {} ± 0.00"
    assert claim.format("CNN", "2.00", "12.00") + " points for the ViT" in ahead
    assert claim.format("ViT", "1.00", "15.00") + " points for the CNN" in behind
    assert ", a significant difference (paired t-test over seeds, p " in ahead


def test_generalisation_needs_a_significant_ttest_over_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3))
    cnn, vit = report.facts["cnn"], report.facts["vit"]
    noisy_cnn, noisy_vit = with_gaps(cnn, (2.0, 5.0, 1.0)), with_gaps(vit, (3.0, 2.0, 6.0))
    sig = generalisation_significance(noisy_cnn, noisy_vit, 0.05)
    expected = ttest_rel([2.0, 5.0, 1.0], [3.0, 2.0, 6.0])
    assert sig.ttest.paired and (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert sig.lead.winner is noisy_cnn and not sig.significant
    sentence = generalisation_sentence(noisy_cnn, noisy_vit, 0.05).text
    assert sentence.startswith("The CNN's final train–validation accuracy gap, 2.67 ± 2.08 points, is smaller than "
                               "the ViT's, 3.67 ± 2.08 points (mean ± standard deviation over 3 seeds), but the "
                               "difference is not significant (paired t-test over seeds, p = ")
    clear_cnn, clear_vit = with_gaps(cnn, (2.0, 2.4, 1.9)), with_gaps(vit, (6.0, 7.5, 6.8))
    assert generalisation_significance(clear_cnn, clear_vit, 0.05).significant
    for a, b in ((clear_cnn, clear_vit), (clear_vit, clear_cnn)):  # the order of the models does not matter
        assert generalisation_sentence(a, b, 0.05).text.startswith(
            "By the final train–validation accuracy gap, the CNN generalises better")
    assert not generalisation_significance(clear_cnn, clear_vit, 1e-12).significant  # report.alpha decides


def test_welch_for_different_seeds_and_no_test_for_one_run(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3))
    cnn, vit = report.facts["cnn"], report.facts["vit"]
    a, b = with_gaps(cnn, (2.0, 2.4, 1.9)), with_gaps(vit, (6.0, 7.5), seeds=(1, 3))
    sig = generalisation_significance(a, b, 0.05)
    expected = ttest_ind([2.0, 2.4, 1.9], [6.0, 7.5], equal_var=False)
    assert not sig.ttest.paired and (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    one = with_gaps(vit, (40.0,), seeds=(1,))  # a huge difference, but one run of the ViT: no test
    assert generalisation_significance(a, one, 0.05).ttest is None
    assert "but with a single run of the ViT the difference cannot be tested" in \
        generalisation_sentence(a, one, 0.05).text


def test_negative_gaps_count_as_no_gap(tmp_path):
    report = contents(tmp_path / "b", train_gaps={"cnn": -0.03, "vit": -0.01})
    cnn, vit = report.facts["cnn"], report.facts["vit"]
    assert generalisation_lead(cnn, vit) is None
    assert generalisation_sentence(cnn, vit, 0.05).text.startswith("Neither model ends with a training accuracy")
    one_positive = contents(tmp_path / "c", train_gaps={"cnn": 0.02, "vit": -0.04})
    assert generalisation_lead(one_positive.facts["cnn"], one_positive.facts["vit"]).winner.key == "vit"


def test_overfit_gap_clips_each_seed_before_averaging():
    # Validation above training in one seed must not cancel the others' gaps (the gap t-test clips per seed too).
    facts = SimpleNamespace(key="cnn", training=SimpleNamespace(acc_gap=SimpleNamespace(values=[-30.0, 9.0, 9.0])))
    assert overfit_gap(facts).value == pytest.approx(6.0)


def test_rules_are_stated_and_the_comparison_needs_two_models(tmp_path):
    both = text(numbers(Generalisation(), contents(tmp_path / "a")))
    assert "Rule used in this report: a model overfits" in both and "Rule used for the generalisation" in both
    single = text(numbers(Generalisation(), contents(tmp_path / "b", models=("cnn",))))
    assert "Rule used for the generalisation" not in single and "ViT" not in single
    assert "By the rule, it does not overfit." in single


def test_the_rule_text_follows_the_config():
    rules = ReportConfig(alpha=0.01, overfit_acc_gap_points=3.0, overfit_val_loss_rise_pct=20.0,
                         val_loss_milestone=0.8, val_acc_milestone=0.6, plateau_points=1.0)
    assert "p < 0.01" in generalisation_rule(rules).text
