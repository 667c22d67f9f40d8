"""The narrative's numbers are right and its sentences follow the results (they flip when results flip)."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import ttest_ind, ttest_rel

from reportgen import narrative as narrative_module
from reportgen.bundle import Bundle, write_manifest
from reportgen.narrative import (
    McNemar,
    Metric,
    Significance,
    Stat,
    TTest,
    accuracy_lead,
    accuracy_sentence,
    accuracy_significance,
    accuracy_ttest,
    attention_concentration,
    attention_sentences,
    attention_stats,
    build_narrative,
    chance_within_group_share,
    class_wins,
    confused_pairs,
    confusion_sentences,
    feature_stats,
    first_epoch_below,
    first_epoch_reaching,
    generalisation_gap,
    generalisation_lead,
    generalisation_sentence,
    generalisation_significance,
    is_overfitting,
    mcnemar_test,
    model_facts,
    overfit_gap,
    speed_lead,
    speed_sentence,
    top_share_label,
    within_group_share,
)
from reportgen.report import build_context, render_html
from tests.bundle_factory import CIFAR10_CLASSES, make_bundle

SWAPPED = dict(accuracies={"cnn": 0.62, "vit": 0.86}, epoch_times={"cnn": 4.0, "vit": 1.0},
               train_gaps={"cnn": 0.15, "vit": 0.01})
HAIR = dict(accuracies={"cnn": 0.800, "vit": 0.795})  # 3 of 600 test images apart


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Bundle]:
    """The default results (CNN ahead), the swapped results (ViT ahead), a 3-seed and a CNN-only bundle."""
    root = tmp_path_factory.mktemp("narrative")
    return {
        "cnn_ahead": Bundle(make_bundle(root / "cnn_ahead")),
        "vit_ahead": Bundle(make_bundle(root / "vit_ahead", **SWAPPED)),
        "seeds": Bundle(make_bundle(root / "seeds", seeds=(1, 2, 3))),
        "cnn_only": Bundle(make_bundle(root / "cnn_only", models=("cnn",))),
    }


def _cifar_confusion(errors: dict[tuple[str, str], int], correct: int = 50) -> np.ndarray:
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    cm = np.eye(10, dtype=np.int64) * correct
    for (true, pred), count in errors.items():
        cm[index[true], index[pred]] = count
    return cm


def test_stat_of_one_seed_has_no_std_and_no_plus_minus():
    stat = Stat("cnn.accuracy", "percent", (87.14,))
    assert stat.std is None
    assert "".join(p.text if isinstance(p, Metric) else p for p in stat.parts("%")) == "87.14%"


def test_stat_of_several_seeds_is_mean_and_sample_std():
    stat = Stat("cnn.accuracy", "percent", (80.0, 82.0, 84.0))
    assert stat.mean == Metric("cnn.accuracy.mean", 82.0, "percent")
    assert stat.std.value == pytest.approx(2.0)  # ddof=1
    assert stat.std.key == "cnn.accuracy.std"


def test_generalisation_gap_reads_the_final_epoch():
    history = {"train_acc": np.array([0.5, 0.9]), "val_acc": np.array([0.5, 0.8]),
               "train_loss": np.array([1.5, 0.3]), "val_loss": np.array([1.0, 1.1])}
    gap = generalisation_gap(history)
    assert gap.acc_gap_pts == pytest.approx(10.0)
    assert gap.loss_gap == pytest.approx(0.8)
    assert gap.val_loss_rise_pct == pytest.approx(10.0)


@pytest.mark.parametrize("acc_gap, rise, expected", [
    (5.0, 0.0, False), (5.01, 0.0, True), (0.0, 10.0, False), (0.0, 10.5, True), (-3.0, 2.0, False),
])
def test_overfitting_rule_thresholds(acc_gap, rise, expected):
    assert is_overfitting(acc_gap, rise) is expected


def test_first_epochs_are_one_based_and_none_when_never():
    val_loss = np.array([1.8, 1.2, 0.99, 0.7])
    val_acc = np.array([0.40, 0.69, 0.70, 0.75])
    assert first_epoch_below(val_loss, 1.0) == 3
    assert first_epoch_reaching(val_acc, 0.70) == 3
    assert first_epoch_below(val_loss, 0.5) is None
    assert first_epoch_reaching(val_acc, 0.9) is None


def test_confused_pairs_combine_both_directions():
    cm = np.array([[10, 3, 1],
                   [4, 10, 0],
                   [2, 5, 10]])
    pairs = confused_pairs(cm, ["a", "b", "c"], top=2)
    assert [(p.first, p.second, p.count) for p in pairs] == [("a", "b", 7), ("b", "c", 5)]
    assert pairs[0].share_pct == pytest.approx(100 * 7 / 15)


def test_within_group_share_on_a_hand_made_confusion():
    cm = _cifar_confusion({("cat", "dog"): 6, ("dog", "cat"): 4, ("truck", "automobile"): 5, ("bird", "airplane"): 5})
    assert within_group_share(cm, CIFAR10_CLASSES) == pytest.approx(75.0)


def test_within_group_share_is_skipped_for_other_class_names():
    assert within_group_share(np.ones((3, 3)), ["x", "y", "z"]) is None
    assert chance_within_group_share(np.ones((3, 3)), ["x", "y", "z"]) is None


def test_chance_within_group_share_of_errors_spread_evenly_over_true_classes():
    # the same number of errors on every true class: the unweighted 46.67% (ordered same-group pairs / 90)
    errors = {(true, pred): 1 for true in CIFAR10_CLASSES for pred in CIFAR10_CLASSES if true != pred}
    cm = _cifar_confusion(errors)
    assert chance_within_group_share(cm, CIFAR10_CLASSES) == pytest.approx(100 * (6 * 5 + 4 * 3) / 90)


def test_chance_within_group_share_is_weighted_by_where_the_errors_fall():
    # a wrong label drawn uniformly from the 9 other classes stays in a vehicle's group with probability 3/9,
    # in an animal's with 5/9; the baseline weights each true class by its errors, not the classes equally
    vehicles_only = _cifar_confusion({("truck", "cat"): 4, ("ship", "airplane"): 2})
    animals_only = _cifar_confusion({("cat", "dog"): 10, ("bird", "airplane"): 5})
    mixed = _cifar_confusion({("cat", "dog"): 6, ("truck", "automobile"): 3, ("bird", "airplane"): 1})
    assert chance_within_group_share(vehicles_only, CIFAR10_CLASSES) == pytest.approx(100 * 3 / 9)
    assert chance_within_group_share(animals_only, CIFAR10_CLASSES) == pytest.approx(100 * 5 / 9)
    assert chance_within_group_share(mixed, CIFAR10_CLASSES) == pytest.approx(100 * (7 * 5 / 9 + 3 * 3 / 9) / 10)
    assert chance_within_group_share(_cifar_confusion({}), CIFAR10_CLASSES) is None  # no errors


def test_group_sentence_states_each_model_s_own_error_weighted_baseline(bundles):
    bundle = bundles["cnn_ahead"]
    for key in ("cnn", "vit"):
        facts = model_facts(bundle, key)
        (_, groups) = confusion_sentences(facts)
        (chance,) = [p for p in groups.parts if isinstance(p, Metric) and p.key.endswith("within_group_chance_pct")]
        assert chance.key == f"{key}.confusion.within_group_chance_pct"
        assert chance.value == pytest.approx(chance_within_group_share(facts.confusion, CIFAR10_CLASSES))
    skewed = replace(model_facts(bundle, "cnn"), confusion=_cifar_confusion({("truck", "cat"): 4, ("ship", "dog"): 6}))
    (_, groups) = confusion_sentences(skewed)
    assert "Of its errors, 0.00% stay within a group" in groups.text
    assert "against 33.33% expected if each misclassified image's wrong label were drawn uniformly from the " \
           "other classes" in groups.text
    assert "at random" not in groups.text and "46.67" not in groups.text


def test_class_wins_lists_classes_and_ties():
    wins = class_wins(["a", "b", "c", "d"], [0.9, 0.5, 0.7, 0.33331], [0.8, 0.6, 0.7, 0.33334], "f1")
    assert wins.first == ("a",)
    assert wins.second == ("b",)
    assert wins.ties == ("c", "d")  # equal at the 4 displayed decimals


def test_attention_concentration_of_uniform_and_single_patch_maps():
    uniform = attention_concentration(np.full((8, 8), 0.01), "1")
    assert uniform.entropy == pytest.approx(1.0)
    assert uniform.top_share_pct == pytest.approx(100 * math.ceil(6.4) / 64)
    spike = np.zeros((8, 8))
    spike[2, 3] = 0.4
    single = attention_concentration(spike, "2")
    assert single.entropy == pytest.approx(0.0)
    assert single.top_share_pct == pytest.approx(100.0)


def test_feature_stats_measure_sparsity_and_mean():
    maps = [np.array([[[0.0, 2.0], [0.0, 2.0]]]), np.zeros((2, 1, 1))]
    first, second = feature_stats(maps)
    assert (first.stage, first.channels, first.height, first.width) == (1, 1, 2, 2)
    assert first.zero_pct == pytest.approx(50.0)
    assert first.mean_activation == pytest.approx(1.0)
    assert second.zero_pct == pytest.approx(100.0)


def test_model_facts_match_the_bundle(bundles):
    bundle = bundles["cnn_ahead"]
    cnn, vit = model_facts(bundle, "cnn"), model_facts(bundle, "vit")
    (cnn_run,), (vit_run,) = bundle.runs("cnn"), bundle.runs("vit")
    assert cnn.accuracy.mean.value == pytest.approx(100 * cnn_run.metrics["accuracy"])
    lead = accuracy_lead(cnn, vit)
    assert lead.winner is cnn
    assert lead.margin.value == pytest.approx(100 * (cnn_run.metrics["accuracy"] - vit_run.metrics["accuracy"]))
    speed = speed_lead(cnn, vit)
    assert speed.winner is cnn
    assert speed.margin.value == pytest.approx(vit_run.info["train_time_s"] / cnn_run.info["train_time_s"])
    epochs = len(cnn_run.history["epoch"])
    assert cnn.images_per_s.mean.value == pytest.approx(
        bundle.dataset()["train_size"] * epochs / cnn_run.info["train_time_s"])
    assert cnn.epoch_time.mean.value == pytest.approx(cnn_run.info["train_time_s"] / epochs)


def test_comparative_sentences_flip_with_the_results(bundles):
    ahead = build_narrative(bundles["cnn_ahead"])
    behind = build_narrative(bundles["vit_ahead"])
    assert ahead.accuracy[0].text.startswith("The CNN is more accurate")
    assert behind.accuracy[0].text.startswith("The ViT is more accurate")
    assert ahead.speed[0].text.startswith("The CNN trained faster")
    assert behind.speed[0].text.startswith("The ViT trained faster")
    # one seed per model: the smaller gap flips, but no model is said to generalise better (no test applies)
    assert ahead.generalisation[0].text.startswith("The CNN's final train–validation accuracy gap, 2.00 points, is "
                                                   "smaller than the ViT's, 12.00 points")
    assert behind.generalisation[0].text.startswith("The ViT's final train–validation accuracy gap, 1.00 points, is "
                                                    "smaller than the CNN's, 15.00 points")
    for text in (ahead.generalisation[0].text, behind.generalisation[0].text):
        assert "a single run per model cannot tell whether the difference is significant" in text
        assert text.endswith("so neither model is shown to generalise better.")
        assert "generalises better" not in text
    assert "the CNN does not overfit and the ViT overfits" in ahead.conclusion[2].text
    assert "the CNN overfits and the ViT does not overfit" in behind.conclusion[2].text
    assert "wins on both accuracy and training cost" in ahead.conclusion[1].text


def test_conclusion_names_a_trade_off_when_the_faster_model_is_less_accurate(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b", epoch_times={"cnn": 5.0, "vit": 1.0}))
    conclusion = build_narrative(bundle).conclusion
    assert conclusion[0].text.startswith("On this run the CNN is the more accurate model")
    assert "The ViT, however, trained 5.00× faster" in conclusion[1].text


def test_negative_gaps_count_as_no_gap(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "b", train_gaps={"cnn": -0.03, "vit": -0.01}))
    cnn, vit = model_facts(bundle, "cnn"), model_facts(bundle, "vit")
    assert generalisation_lead(cnn, vit) is None
    assert generalisation_sentence(cnn, vit).text.startswith("Neither model ends with a training accuracy above")
    assert "By the overfitting rule, neither model overfits." in build_narrative(bundle).conclusion[2].text
    one_positive = Bundle(make_bundle(tmp_path / "c", train_gaps={"cnn": 0.02, "vit": -0.04}))
    lead = generalisation_lead(model_facts(one_positive, "cnn"), model_facts(one_positive, "vit"))
    assert lead.winner.key == "vit"


def test_equal_results_read_as_ties(bundles):
    cnn = model_facts(bundles["cnn_ahead"], "cnn")
    runs = bundles["cnn_ahead"].runs("cnn")
    same = accuracy_significance(runs, runs)
    assert accuracy_lead(cnn, cnn) is None
    assert not same.significant
    assert accuracy_sentence(cnn, cnn, same).text.startswith("The CNN and the CNN are equally accurate")
    assert speed_sentence(cnn, cnn).text.startswith("The CNN and the CNN trained equally fast")


def test_one_seed_reads_without_plus_minus_and_several_seeds_with_it(bundles):
    single = build_narrative(bundles["cnn_ahead"])
    several = build_narrative(bundles["seeds"])
    assert "±" not in single.headlines["cnn"].text
    assert "± 0.00%" not in single.headlines["cnn"].text
    assert "±" in several.headlines["cnn"].text
    assert "over 3 seeds" in several.accuracy[0].text
    assert "summed over 3 seeds" in several.confusions["cnn"][0].text


def test_single_model_bundle_has_no_comparisons(bundles):
    narrative = build_narrative(bundles["cnn_only"])
    assert not narrative.comparative
    assert narrative.accuracy == [] and narrative.speed == []
    assert narrative.attention == []
    texts = " ".join(s.text for s in narrative.conclusion + narrative.generalisation)
    assert "ViT" not in texts
    assert narrative.conclusion[0].text.startswith("The CNN reached")


def test_milestones_say_never_when_the_curve_does_not_get_there(tmp_path):
    bundle = Bundle(make_bundle(tmp_path / "weak", accuracies={"cnn": 0.3, "vit": 0.85}, epochs=3))
    narrative = build_narrative(bundle)
    cnn_loss, cnn_acc = (s.text for s in narrative.milestones["cnn"])
    assert cnn_loss == "The CNN's validation loss never fell below 1.0 within its 3 epochs."
    assert cnn_acc == "Its validation accuracy never reached 70% within its 3 epochs."
    vit_acc = narrative.milestones["vit"][1].text
    assert vit_acc.startswith("Its validation accuracy first reached 70% at epoch ")


def test_group_sentence_only_for_cifar_class_names(tmp_path, bundles):
    other = Bundle(make_bundle(tmp_path / "other", num_classes=4))
    assert len(build_narrative(other).confusions["cnn"]) == 1
    cifar = build_narrative(bundles["cnn_ahead"]).confusions["cnn"]
    assert "stay within a group" in cifar[1].text


def test_scale_note_only_for_reduced_runs(bundles):
    note = build_narrative(bundles["cnn_ahead"]).scale_note
    assert note is not None and "trained for 5 epochs on 2,000 training images" in note.text


# ---------------------------------------------------------------- significance


def test_pvalues_show_four_significant_digits_or_a_floor():
    assert Metric("p", 0.5, "pvalue").text == "0.5000"
    assert Metric("p", 0.0123456, "pvalue").text == "0.01235"
    assert Metric("p", 0.00012345, "pvalue").text == "0.0001234"
    assert Metric("p", 3e-7, "pvalue").text == "< 0.0001"


def test_mcnemar_counts_and_p_match_a_hand_computation():
    labels = np.zeros(12, dtype=np.int64)
    first = np.array([0] * 8 + [1] + [0, 0] + [1])  # right on images 0-7 (only it), 9, 10 (both)
    second = np.array([1] * 8 + [0] + [0, 0] + [1])  # right on image 8 (only it), 9, 10 (both)
    b, c, p = mcnemar_test(labels, first, second)
    assert (b, c) == (8, 1)
    assert p == pytest.approx(2 * (1 + 9) / 2 ** 9)  # two-sided: 2 P(X <= 1), X ~ Binomial(9, 1/2)
    assert mcnemar_test(labels, first, first) == (0, 0, 1.0)


def test_mcnemar_of_a_bundle_counts_its_discordant_predictions(bundles):
    bundle = bundles["cnn_ahead"]
    (cnn,), (vit,) = bundle.runs("cnn"), bundle.runs("vit")
    b = sum(1 for y, p, q in zip(cnn.labels, cnn.preds, vit.preds) if p == y and q != y)
    c = sum(1 for y, p, q in zip(cnn.labels, cnn.preds, vit.preds) if p != y and q == y)
    (test,) = build_narrative(bundle).significance.mcnemar
    assert (test.seed, test.b, test.c) == (42, b, c)
    assert test.diff_pts == pytest.approx(100 * (cnn.metrics["accuracy"] - vit.metrics["accuracy"]))


def test_paired_ttest_over_seeds_equals_scipy(bundles):
    bundle = bundles["seeds"]
    cnn = [100 * r.metrics["accuracy"] for r in bundle.runs("cnn")]
    vit = [100 * r.metrics["accuracy"] for r in bundle.runs("vit")]
    sig = build_narrative(bundle).significance
    expected = ttest_rel(cnn, vit)
    assert sig.ttest.paired and sig.ttest.name == "paired t-test"
    assert (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert [m.seed for m in sig.mcnemar] == [1, 2, 3]
    assert sig.difference.std.value == pytest.approx(np.std(np.subtract(cnn, vit), ddof=1))


def test_welch_ttest_when_the_models_ran_different_seeds(tmp_path):
    root = make_bundle(tmp_path / "b", seeds=(1, 2, 3))
    shutil.rmtree(root / "runs" / "vit" / "seed-2")
    write_manifest(root)
    bundle = Bundle(root)
    cnn = [100 * r.metrics["accuracy"] for r in bundle.runs("cnn")]
    vit = [100 * r.metrics["accuracy"] for r in bundle.runs("vit")]
    sig = accuracy_significance(bundle.runs("cnn"), bundle.runs("vit"))
    expected = ttest_ind(cnn, vit, equal_var=False)
    assert not sig.ttest.paired and sig.ttest.name == "Welch's t-test"
    assert (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert [m.seed for m in sig.mcnemar] == [1, 3]  # McNemar pairs only the seeds both ran
    assert sig.difference.mean.value == pytest.approx(np.mean(cnn) - np.mean(vit))


def test_ttest_without_spread_reads_as_no_evidence_when_equal():
    assert accuracy_ttest([80.0, 81.0], [80.0, 81.0], paired=True) == (0.0, 1.0)
    t, p = accuracy_ttest([81.0, 82.0], [80.0, 81.0], paired=True)
    assert math.isinf(t) and p == 0.0


def _significance(mcnemar_p: list[float], ttest_p: float | None, b_minus_c: int = 10) -> Significance:
    tests = tuple(McNemar(f"compare.mcnemar.seed{s}", s, 50 + b_minus_c, 50, p, 1000) for s, p in enumerate(mcnemar_p))
    ttest = None if ttest_p is None else TTest("compare.ttest", True, 3.0, ttest_p)
    return Significance("compare", tests, ttest, Stat("compare.seed_diff_pts", "points",
                                                      tuple(m.diff_pts for m in tests)))


@pytest.mark.parametrize("mcnemar_p, ttest_p, expected", [
    ([0.01], None, True),  # one seed: McNemar alone
    ([0.2], None, False),
    ([0.01, 0.02, 0.3], 0.01, True),  # several seeds: the t-test and a majority of McNemar tests
    ([0.01, 0.2, 0.3], 0.01, False),  # the t-test alone does not suffice
    ([0.01, 0.02, 0.03], 0.2, False),  # nor the McNemar tests alone
    ([0.01, 0.02], 0.01, True),
    ([0.01, 0.2], 0.01, False),  # a tie is no majority
])
def test_significance_rule(mcnemar_p, ttest_p, expected):
    assert _significance(mcnemar_p, ttest_p).significant is expected


def test_mcnemar_against_the_model_ahead_does_not_count():
    sig = _significance([0.01], None)
    against = Significance("compare", tuple(McNemar(m.key, m.seed, m.c, m.b, m.p, m.images) for m in sig.mcnemar),
                           None, Stat("compare.seed_diff_pts", "points", (1.0,)))
    assert against.mcnemar_majority.value == 0 and not against.significant


@pytest.mark.parametrize("seeds", [(42,), (1, 2, 3)])
def test_sentences_flip_between_win_and_not_significant(tmp_path, seeds):
    far = build_narrative(Bundle(make_bundle(tmp_path / "far", seeds=seeds)))
    hair = build_narrative(Bundle(make_bundle(tmp_path / "hair", seeds=seeds, **HAIR)))
    assert far.significance.significant and not hair.significance.significant
    evidence = "McNemar p" if len(seeds) == 1 else "paired t-test over seeds, p"
    assert far.accuracy[0].text.startswith("The CNN is more accurate")
    assert f"the difference is significant ({evidence}" in far.accuracy[0].text
    assert hair.accuracy[0].text.startswith("The CNN's test accuracy")
    assert "but the difference is not significant (" in hair.accuracy[0].text
    assert hair.accuracy[0].text.endswith("so neither model is the more accurate on this evidence.")
    assert "more accurate:" not in hair.accuracy[0].text
    for wins in hair.accuracy[1:]:
        assert "do not show either model to be better" in wins.text
    assert far.conclusion[0].text.startswith("On this run the CNN is the more accurate model")
    assert hair.conclusion[0].text.startswith("On this run neither model is shown to be more accurate")
    assert "wins on both" in far.conclusion[1].text and "wins" not in hair.conclusion[1].text


# ---------------------------------------------------------------- generalisation, attention and throughput wording


def _with_gaps(facts, gaps: tuple[float, ...], seeds: tuple[int, ...] | None = None):
    """`facts` with the given per-seed final train-validation accuracy gaps (and seeds)."""
    seeds = facts.seeds if seeds is None else seeds
    return replace(facts, seeds=seeds, acc_gap=Stat(f"{facts.key}.acc_gap_pts", "points", gaps))


def test_generalisation_flips_with_the_results_over_seeds(tmp_path):
    ahead = build_narrative(Bundle(make_bundle(tmp_path / "ahead", seeds=(1, 2, 3))))
    behind = build_narrative(Bundle(make_bundle(tmp_path / "behind", seeds=(1, 2, 3), **SWAPPED)))
    claim = "By the final train–validation accuracy gap, the {} generalises better: {} ± 0.00 points against {} ± 0.00"
    assert ahead.generalisation[0].text.startswith(claim.format("CNN", "2.00", "12.00") + " points for the ViT")
    assert behind.generalisation[0].text.startswith(claim.format("ViT", "1.00", "15.00") + " points for the CNN")
    for n in (ahead, behind):
        assert ", a significant difference (paired t-test over seeds, p " in n.generalisation[0].text
        assert "compare.gap_ttest.p" in {p.key for p in n.generalisation[0].parts if isinstance(p, Metric)}


def test_generalisation_needs_a_significant_ttest_over_seeds(bundles):
    cnn, vit = model_facts(bundles["seeds"], "cnn"), model_facts(bundles["seeds"], "vit")
    noisy_cnn, noisy_vit = _with_gaps(cnn, (2.0, 5.0, 1.0)), _with_gaps(vit, (3.0, 2.0, 6.0))
    sig = generalisation_significance(noisy_cnn, noisy_vit)
    expected = ttest_rel([2.0, 5.0, 1.0], [3.0, 2.0, 6.0])
    assert sig.ttest.paired and (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    assert sig.lead.winner is noisy_cnn and not sig.significant
    text = generalisation_sentence(noisy_cnn, noisy_vit).text
    assert text.startswith("The CNN's final train–validation accuracy gap, 2.67 ± 2.08 points, is smaller than the "
                           "ViT's, 3.67 ± 2.08 points (mean ± standard deviation over 3 seeds), but the difference is "
                           "not significant (paired t-test over seeds, p = ")
    assert text.endswith("so neither model is shown to generalise better.") and "generalises better" not in text
    clear_cnn, clear_vit = _with_gaps(cnn, (2.0, 2.4, 1.9)), _with_gaps(vit, (6.0, 7.5, 6.8))
    assert generalisation_significance(clear_cnn, clear_vit).significant
    assert generalisation_sentence(clear_cnn, clear_vit).text.startswith(
        "By the final train–validation accuracy gap, the CNN generalises better")
    assert generalisation_sentence(clear_vit, clear_cnn).text.startswith(  # the order of the models does not matter
        "By the final train–validation accuracy gap, the CNN generalises better")


def test_generalisation_uses_welch_for_different_seeds_and_no_test_for_one_run(bundles):
    cnn, vit = model_facts(bundles["seeds"], "cnn"), model_facts(bundles["seeds"], "vit")
    a, b = _with_gaps(cnn, (2.0, 2.4, 1.9)), _with_gaps(vit, (6.0, 7.5), seeds=(1, 3))
    sig = generalisation_significance(a, b)
    expected = ttest_ind([2.0, 2.4, 1.9], [6.0, 7.5], equal_var=False)
    assert not sig.ttest.paired and sig.ttest.name == "Welch's t-test"
    assert (sig.ttest.t, sig.ttest.p) == pytest.approx((expected.statistic, expected.pvalue))
    one = _with_gaps(vit, (40.0,), seeds=(1,))  # a huge difference, but one run of the ViT: no test
    assert generalisation_significance(a, one).ttest is None and not generalisation_significance(a, one).significant
    assert "but with a single run of the ViT the difference cannot be tested" in generalisation_sentence(a, one).text


def test_generalisation_rule_is_stated_in_the_report(bundles):
    narrative = build_narrative(bundles["cnn_ahead"])
    assert narrative.generalisation_rule.text.startswith("Rule used for the generalisation comparison")
    assert "t-test over seeds of the gaps" in narrative.generalisation_rule.text
    assert build_narrative(bundles["cnn_only"]).generalisation_rule is None
    html = render_html(build_context(bundles["cnn_ahead"], {}))
    assert "Rule used for the generalisation comparison" in html


def test_attention_prose_names_the_top_share_of_patches_not_one_patch(bundles):
    narrative = build_narrative(bundles["cnn_ahead"])
    mean, heads = (s.text for s in narrative.attention_text)
    assert "the 7 most attended patches (the top 10% of the 64, rounded up) hold " in mean
    assert heads.count("% of its attention on the top 10% of patches, 7 of 64") == 2
    assert "top-patch" not in mean + heads
    assert narrative.top_share_label == "share of attention on the top 10% of patches (7 of 64)"


def test_attention_wording_follows_the_fraction_and_the_grid(monkeypatch):
    monkeypatch.setattr(narrative_module, "TOP_PATCH_FRACTION", 0.25)
    rng = np.random.default_rng(0)
    stats = attention_stats(rng.random((2, 4, 4)))  # 16 patches: the top 25% are 4
    assert (stats[-1].top_patches, stats[-1].patches) == (4, 16)
    assert top_share_label(16) == "share of attention on the top 25% of patches (4 of 16)"
    text = " ".join(s.text for s in attention_sentences(stats, 16))
    assert "the 4 most attended patches (the top 25% of the 16, rounded up)" in text
    assert "on the top 25% of patches, 4 of 16" in text


def test_attention_table_header_is_computed_not_hard_coded(bundles):
    html = render_html(build_context(bundles["cnn_ahead"], {"attention": "figures/attention.png"}))
    assert ">share of attention on the top 10% of patches (7 of 64)</th>" in html
    assert "mass on the top" not in html and "top-patch" not in html


def test_speed_prose_states_no_accuracy_per_second(bundles):
    speed = " ".join(s.text for s in build_narrative(bundles["cnn_ahead"]).speed)
    assert "The CNN processed 999.3 training images per second." in speed
    assert "per second of training" not in speed and "accuracy points" not in speed
    assert "efficiency_factor" not in {p.key for s in build_narrative(bundles["cnn_ahead"]).speed
                                       for p in s.parts if isinstance(p, Metric)}


def test_overfit_gap_clips_each_seed_before_averaging():
    # Validation above training in one seed must not cancel the others' gaps (the gap t-test clips per seed too).
    facts = SimpleNamespace(key="cnn", acc_gap=SimpleNamespace(values=[-30.0, 9.0, 9.0]))
    assert overfit_gap(facts).value == pytest.approx(6.0)
