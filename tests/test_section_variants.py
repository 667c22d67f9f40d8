"""Section "Experiments at a glance": every variant against the base config, model by model, by the accuracy rule;
and the shared experiments helpers (recognising a variant by what it changes, describing its changes)."""

from __future__ import annotations

import pytest

from reportgen.config import TrainConfig
from reportgen.report.experiments import describe_changes, versus_base
from reportgen.report.kernel import Metric, Sentence
from reportgen.report.sections.augmentation import augmentation_off_variants
from reportgen.report.sections.recipe import recipe_variants
from reportgen.report.sections.variants import Variants
from tests.bundle_factory import VariantSpec
from tests.section_helpers import STUDY, contents, metric_keys, numbers, tables, text

SAME = VariantSpec({"train.weight_decay": 0.1}, {"cnn": 0.85, "vit": 0.72})  # the base accuracies: no change


def _cell(cell) -> str:
    return cell.text if isinstance(cell, (Metric, Sentence)) else cell


def test_applies_only_with_variants(tmp_path):
    assert not Variants().applies(contents(tmp_path / "none"))
    assert Variants().applies(contents(tmp_path / "one", variants={"wd": SAME}))


def test_the_introduction_counts_variants_and_seeds(tmp_path):
    one = text(numbers(Variants(), contents(tmp_path / "one", variants={"wd": SAME})))
    assert one == ("Besides the base config, this build trained 1 variant of it, each changing only the keys listed "
                   "below; every variant trained every model at the base config's seeds (1 seed per model) and was "
                   "tested on the same test images. A change is tested by the accuracy rule (Accuracy section: "
                   "McNemar's exact test on the one seed's predictions); the comparisons of the table are one family "
                   "of secondary tests, whose deciding p-values are adjusted together by Holm's step-down method "
                   "(family-wise error rate), and a verdict is decided by the adjusted one. Every model ran with one "
                   "seed: the experiments' intervals and tests measure how the test images were sampled, not how much "
                   "a run varies from seed to seed, so each result describes this run and no claim about a model or a "
                   "treatment is made from it; --seeds 42,43,44 tests each difference over seeds and test images (a "
                   "hierarchical bootstrap).")
    study = text(numbers(Variants(), contents(tmp_path / "study", seeds=(1, 2, 3), **STUDY)))
    assert study.startswith("Besides the base config, this build trained 5 variants of it,")
    assert "at the base config's seeds (3 seeds per model)" in study
    assert "a t-test over seeds and the hierarchical bootstrap over seeds and test images" in study
    assert "Every model ran with one seed" not in study  # the one-seed caveat goes with one seed only
    bh = text(numbers(Variants(), contents(tmp_path / "bh", variants={"wd": SAME},
                                           config_overrides={"report.multiplicity": "bh"})))
    assert "adjusted together by Benjamini-Hochberg" in bh and "Holm" not in bh


def test_one_row_per_variant_against_the_base_config(tmp_path):
    report = contents(tmp_path / "b", **STUDY)
    (table,) = tables(numbers(Variants(), report))
    assert table.header == ["variant", "changes", "CNN accuracy", "vs base (points)", "p / adjusted p", "CNN verdict",
                            "ViT accuracy", "vs base (points)", "p / adjusted p", "ViT verdict"]
    rows = [[_cell(c) for c in row] for row in table.rows]
    scope = "significant in this run"
    assert rows[0] == ["base config", "—", "85.50%", "", "", "", "72.67%", "", "", ""]
    assert [row[:4] + [row[5], row[7], row[9]] for row in rows[1:]] == [
        ["no-augment", "no training augmentation", "79.83%", "-5.67", scope, "-16.83", scope],
        ["d10", "0.1 of the training images", "59.83%", "-25.67", scope, "-33.00", scope],
        ["d25", "0.25 of the training images", "69.33%", "-16.17", scope, "-22.83", scope],
        ["d50", "0.5 of the training images", "79.83%", "-5.67", scope, "-11.33", scope],
        ["modern", "TrivialAugment, label smoothing 0.1", "87.83%", "2.33", "not " + scope, "8.67", scope],
    ]
    # The difference is the variant's accuracy minus the base config's, under the variant's keys.
    no_augment = table.rows[1]
    assert no_augment[2].metrics[0].key == "variant.no-augment.cnn.accuracy.mean"
    assert no_augment[3].key == "variant.no-augment.cnn.vs_base.seed_diff_pts.mean"
    assert no_augment[3].value == pytest.approx(no_augment[2].metrics[0].value - 85.5)
    # The p cell prints the raw p and the Holm-adjusted one (10 comparisons: never smaller than the raw).
    raw, adjusted = no_augment[4].metrics
    assert raw.key == "variant.no-augment.cnn.vs_base.mcnemar.seed42.p"
    assert adjusted.key == raw.key + "_adj" and adjusted.value >= raw.value


def test_an_unchanged_accuracy_is_not_significant_and_flips_with_the_numbers(tmp_path):
    better = VariantSpec({"train.weight_decay": 0.1}, {"cnn": 0.92, "vit": 0.80})
    worse = VariantSpec({"train.weight_decay": 0.1}, {"cnn": 0.78, "vit": 0.64})
    verdicts = {}
    for name, spec in (("same", SAME), ("better", better), ("worse", worse)):
        (table,) = tables(numbers(Variants(), contents(tmp_path / name, variants={"wd": spec}, seeds=(1, 2, 3))))
        row = table.rows[1]
        verdicts[name] = [(row[3].value > 0, row[5]), (row[7].value > 0, row[9])]
    assert all(verdict == "not significant" for _, verdict in verdicts["same"])
    assert verdicts["better"] == [(True, "significant"), (True, "significant")]
    assert verdicts["worse"] == [(False, "significant"), (False, "significant")]


def test_a_raw_win_is_removed_by_the_adjustment_within_the_family(tmp_path):
    """Two raw p-values just under α: alone each is significant, adjusted together (Holm) neither is."""
    first = VariantSpec({"train.weight_decay": 0.1}, {"cnn": 0.892, "vit": 0.72})  # raw p 0.038 (under "wd3")
    second = VariantSpec({"train.weight_decay": 0.2}, {"cnn": 0.895, "vit": 0.72})  # raw p 0.027 (under "wd4")
    single = tables(numbers(Variants(), contents(tmp_path / "one", models=("cnn",), variants={"wd3": first})))[0]
    (raw,) = single.rows[1][4].metrics  # a family of one is no family: its raw p alone decides
    assert raw.value < 0.05
    assert single.rows[1][5] == "significant in this run"
    pair = {"wd3": first, "wd4": second}
    (table,) = tables(numbers(Variants(), contents(tmp_path / "two", models=("cnn",), variants=pair)))
    for row in table.rows[1:]:
        raw, adjusted = row[4].metrics
        assert raw.value < 0.05 <= adjusted.value and row[5] == "not significant in this run"


def test_several_seeds_show_the_spread_and_pair_the_seeds(tmp_path):
    report = contents(tmp_path / "b", seeds=(1, 2, 3), **STUDY)
    (table,) = tables(numbers(Variants(), report))
    cell = table.rows[1][2]
    assert [m.key for m in cell.metrics] == ["variant.no-augment.cnn.accuracy.mean",
                                             "variant.no-augment.cnn.accuracy.std"]
    assert " ± " in cell.text
    sig = versus_base(report, report.variants["no-augment"], "vit")
    assert sig.ttest is not None and sig.ttest.paired and [m.seed for m in sig.mcnemar] == [1, 2, 3]
    assert sig.bootstrap is not None and sig.deciding_p.key == "variant.no-augment.vit.vs_base.boot.p"
    assert metric_keys(numbers(Variants(), report)) == {"variant.count", "cnn.seeds"}


def test_one_model_has_its_columns_only(tmp_path):
    (table,) = tables(numbers(Variants(), contents(tmp_path / "b", models=("vit",), **STUDY)))
    assert table.header == ["variant", "changes", "ViT accuracy", "vs base (points)", "p / adjusted p", "ViT verdict"]
    assert [row[0] for row in table.rows] == ["base config", "no-augment", "d10", "d25", "d50", "modern"]


def test_a_variant_is_recognised_by_what_it_changes_not_by_its_name(tmp_path):
    lr = TrainConfig().lr
    report = contents(tmp_path / "b", variants={
        "no-augment": VariantSpec({"augment.enabled": False, "train.lr": 5e-4}, {"cnn": 0.8, "vit": 0.6}),
        "plain": VariantSpec({"augment.enabled": False, "train.lr": lr}, {"cnn": 0.8, "vit": 0.6}),  # lr: the base's
        "modern": VariantSpec({"train.lr": 5e-4, "train.label_smoothing": 0.1}, {"cnn": 0.8, "vit": 0.6}),
        "smooth": VariantSpec({"train.label_smoothing": 0.1}, {"cnn": 0.8, "vit": 0.6}),
    })
    assert report.variants["plain"].changes == {"augment.enabled": False}
    assert [v.name for v in augmentation_off_variants(report)] == ["plain"]
    assert [v.name for v in recipe_variants(report)] == ["smooth"]


@pytest.mark.parametrize("changes, words", [
    ({"train.label_smoothing": 0.1, "augment.policy": "trivialaugment"}, "label smoothing 0.1, TrivialAugment"),
    ({"augment.policy": "randaugment"}, "RandAugment"),
    ({"augment.policy": "none"}, "no augmentation policy"),
    ({"augment.mixup_alpha": 0.8, "augment.cutmix_alpha": 1.0}, "MixUp α = 0.8, CutMix α = 1"),
    ({"train.warmup_epochs": 1}, "a linear learning-rate warm-up over 1 epoch"),
    ({"train.warmup_epochs": 5}, "a linear learning-rate warm-up over 5 epochs"),
    ({"augment.enabled": False, "data.train_fraction": 0.25}, "no training augmentation, 0.25 of the training images"),
    ({"train.epochs": 30, "cnn.channels": [32, 64]}, "30 epochs, cnn.channels = [32, 64]"),
])
def test_changes_are_described_in_words(changes, words):
    assert describe_changes(changes) == words
