"""Section "Results": the headlines, one side-by-side per-class table with the per-class tests, curves and
confusion matrices."""

from __future__ import annotations

from reportgen.report.sections.results import Results, class_tests
from tests.section_helpers import SWAPPED, build, contents, figures, numbers, tables, text


def test_one_table_side_by_side_and_each_models_figures(tmp_path):
    report = contents(tmp_path / "b")
    items = build(Results(), report)
    (table,) = tables(items)
    assert table.header[:8] == ["class", "images", "CNN P", "CNN R", "CNN F1", "ViT P", "ViT R", "ViT F1"]
    assert not [h for h in table.header if "accuracy" in h]  # per-class recall is per-class accuracy: shown once
    drawn = {f.key: f for f in figures(items)}
    assert set(drawn) == {"curves_cnn", "curves_vit", "confusion"}  # the confusion matrices side by side
    for figure in drawn.values():
        assert (report.root / figure.src).read_bytes().lstrip().startswith(b"<?xml")  # vector, not a raster


def test_per_class_scores_are_percent_with_one_decimal(tmp_path):
    report = contents(tmp_path / "b")
    row = tables(numbers(Results(), report))[0].rows[0]
    precision = row[2]
    assert precision.key == "cnn.seed42.class0.precision_pct" and precision.unit == "percent1"
    assert precision.text == f"{100 * report.runs['cnn'][0].metrics['per_class'][0]['precision']:.1f}"
    assert row[1].text == "60"  # 600 test images over 10 classes


def test_one_seed_reads_without_plus_minus_and_several_use_the_mean_and_the_bootstrap(tmp_path):
    one = numbers(Results(), contents(tmp_path / "a"))
    assert "±" not in text(one) and "in this run" in text(one) and "McNemar" in tables(one)[0].caption
    several = numbers(Results(), contents(tmp_path / "b", seeds=(1, 2, 3)))
    assert "±" in text(several) and "over 3 seeds" in text(several) and "in this run" not in text(several)
    table = tables(several)[0]
    assert "mean over seeds" in table.caption and "hierarchical bootstrap" in table.caption
    assert table.rows[0][2].key == "cnn.mean.class0.precision_pct"


def test_the_class_tests_are_one_family_and_decide_by_the_adjusted_p(tmp_path):
    tests = class_tests(contents(tmp_path / "b", accuracies={"cnn": 0.95, "vit": 0.40}))
    assert [m.key for m in tests.tests.raw][:2] == ["compare.class0.p", "compare.class1.p"]
    assert all(adj.value >= raw.value for raw, adj in zip(tests.tests.raw, tests.tests.adjusted))
    assert tests.tests.adjusted[0].key == "compare.class0.p_adj" and tests.tests.name == "the 10 classes"


def test_the_per_class_verdict_flips_with_the_results(tmp_path):
    ahead = text(numbers(Results(), contents(tmp_path / "a", accuracies={"cnn": 0.95, "vit": 0.40})))
    assert "significantly higher for the CNN on airplane" in ahead and "for the ViT on" not in ahead
    behind = text(numbers(Results(), contents(tmp_path / "b", accuracies={"cnn": 0.40, "vit": 0.95})))
    assert "significantly higher for the ViT on airplane" in behind and "for the CNN on" not in behind
    close = text(numbers(Results(), contents(tmp_path / "c", accuracies={"cnn": 0.80, "vit": 0.795})))
    assert "no class's recall differs significantly" in close


def test_a_raw_p_below_alpha_is_not_a_difference_when_its_adjusted_p_is_not(tmp_path):
    report = contents(tmp_path / "b", **SWAPPED)
    tests = class_tests(report)
    alpha = report.rules.alpha
    borderline = [i for i, (raw, adj) in enumerate(zip(tests.tests.raw, tests.tests.adjusted))
                  if raw.value < alpha <= adj.value]
    assert borderline  # the swapped bundle has such a class
    said = text(numbers(Results(), report))
    assert report.class_names[borderline[0]] not in said.split("significantly higher for the ViT on ")[1].split("(")[0]


def test_one_model_gets_no_tests(tmp_path):
    items = numbers(Results(), contents(tmp_path / "b", models=("cnn",)))
    assert tables(items)[0].header == ["class", "images", "CNN P", "CNN R", "CNN F1"]
    assert "differs significantly" not in text(items)


def test_curves_with_several_seeds_differ_from_one_seed(tmp_path):
    one = build(Results(), contents(tmp_path / "a"))
    three = build(Results(), contents(tmp_path / "b", seeds=(1, 2, 3)))
    src = {f.key: f.src for f in figures(one)}
    assert (tmp_path / "a" / src["curves_cnn"]).read_bytes() != \
        (tmp_path / "b" / {f.key: f.src for f in figures(three)}["curves_cnn"]).read_bytes()


def test_hostile_class_names_are_drawn_as_literal_text(tmp_path):
    items = build(Results(), contents(tmp_path / "b", class_names=["$x^2$", "a_b", "<c>"], num_classes=3))
    assert len(figures(items)) == 3  # mathtext would fail on unbalanced "$"; parse_math is off


def test_the_verdict_states_the_per_class_differences_with_two_models(tmp_path):
    two = Results().verdict(contents(tmp_path / "a", accuracies={"cnn": 0.95, "vit": 0.40}))
    assert "significantly higher for the CNN" in two.findings[0].text
    one = Results().verdict(contents(tmp_path / "b", models=("cnn",)))
    assert one.findings[0].text.startswith("The CNN reached ")


def test_the_adjustment_method_is_named_as_in_the_rules(tmp_path):
    holm = tables(numbers(Results(), contents(tmp_path / "a")))[0].caption
    bh = tables(numbers(Results(), contents(tmp_path / "b", config_overrides={"report.multiplicity": "bh"})))[0].caption
    assert holm.endswith("adjusted within the family of the 10 classes (Holm).")
    assert bh.endswith("adjusted within the family of the 10 classes (Benjamini-Hochberg).")


def test_the_curves_name_the_split_that_validated(tmp_path):
    for folder, overrides, split, legend in (("t", {}, "the test split", b"validation (test split)"),
                                             ("h", {"val_size": 200}, "the held-out validation split",
                                              b"validation (held out)")):
        report = contents(tmp_path / folder, **overrides)
        curves = {f.key: f for f in figures(build(Results(), report))}["curves_cnn"]
        assert f"(validation on {split})" in str(curves.caption)
        assert legend in (report.root / curves.src).read_bytes()
