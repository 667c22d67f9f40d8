"""Section "Generalisation": the clean gap (eval mode, no augmentation) with its interval, the family of gap tests,
the overfitting verdict on the clean gap, the claim "vit-overfits", and no verdict where no clean gap is recorded."""

from __future__ import annotations

import json

import pytest

from reportgen.config import ReportConfig
from reportgen.errors import BundleError
from reportgen.report.contents import read_contents
from reportgen.report.multiplicity import holm
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.sections.generalisation import Generalisation, gap_tests, generalisation_rule, vit_overfits_claim
from tests.bundle_factory import make_bundle
from tests.section_helpers import contents, facts, numbers, tables, text

VIT_WIDER = {"cnn": 0.02, "vit": 0.15}  # clean gaps: training accuracy minus validation accuracy
CNN_WIDER = {"cnn": 0.15, "vit": 0.02}
THREE = (1, 2, 3)


def claim(report):
    (found,) = Generalisation().verdict(report).claims
    return found


def test_a_bundle_without_clean_accuracy_gets_the_running_gap_and_no_verdict(tmp_path):
    report = contents(tmp_path / "old", seeds=THREE)
    items = numbers(Generalisation(), report)
    assert "the gap is not measured cleanly here" in text(items) and "draws no verdict" in text(items)
    assert "By the overfitting rule" not in text(items) and "clean gap is larger" not in text(items)
    header = tables(items)[0].header
    assert header[1] == "running train acc." and "overfits" not in header
    assert Generalisation().verdict(report) is None  # no Conclusion sentence, no summary row, no claim


def test_one_seed_describes_the_run_and_names_the_seeds_that_would_test_it(tmp_path):
    ahead = contents(tmp_path / "a", clean_gaps=VIT_WIDER)
    behind = contents(tmp_path / "b", clean_gaps=CNN_WIDER)
    said_ahead, said_behind = facts(numbers(Generalisation(), ahead)), facts(numbers(Generalisation(), behind))
    assert "In this run, the ViT's clean gap is larger than the CNN's by " in said_ahead
    assert "In this run, the CNN's clean gap is larger than the ViT's by " in said_behind
    for said in (said_ahead, said_behind):
        assert "runs at several seeds (--seeds 42,43,44) would test it" in said
    assert claim(ahead).status == claim(behind).status == INCONCLUSIVE  # one seed tests no architecture
    assert claim(ahead).evidence.text.startswith("one seed: in this run the ViT's clean gap minus the CNN's is 13.")
    (row,) = Generalisation().verdict(ahead).rows
    # the raw p is at the floor of the bootstrap's resamples: its adjusted p is a bound ("≤")
    assert row.verdict.text.startswith("ViT larger in this run (adjusted p ≤ ") and not row.primary


def test_the_claim_flips_with_the_clean_gaps_over_seeds(tmp_path):
    supported = claim(contents(tmp_path / "s", seeds=THREE, clean_gaps=VIT_WIDER))
    assert supported.status == SUPPORTED and "is within the overfitting rule" in supported.evidence.text
    reversed_ = claim(contents(tmp_path / "r", seeds=THREE, clean_gaps=CNN_WIDER))
    assert reversed_.status == CONTRADICTED and "the CNN's gap is the larger" in reversed_.evidence.text
    both = claim(contents(tmp_path / "b", seeds=THREE, clean_gaps={"cnn": 0.09, "vit": 0.25}))
    assert both.status == CONTRADICTED and "the CNN overfits too by the rule" in both.evidence.text
    equal = contents(tmp_path / "e", seeds=THREE, clean_gaps={"cnn": 0.05, "vit": 0.05})
    assert claim(equal).status == INCONCLUSIVE and claim(equal).evidence.text.endswith("not significant")
    assert "not significantly: neither model is shown to generalise better" in facts(numbers(Generalisation(), equal))
    (row,) = Generalisation().verdict(equal).rows
    assert row.verdict.text.startswith("no difference shown (adjusted p = ")


def test_the_overfitting_rule_judges_the_clean_gap_not_the_running_one(tmp_path):
    # Running gaps (augmented batches, dropout on) of 1 and 20 points, clean gaps the other way round.
    report = contents(tmp_path / "a", train_gaps={"cnn": 0.01, "vit": 0.20}, clean_gaps={"cnn": 0.20, "vit": -0.02})
    cnn, vit = report.facts["cnn"].training, report.facts["vit"].training
    assert cnn.overfits and not vit.overfits
    assert Generalisation().verdict(report).findings[0].text == \
        "By the overfitting rule on the clean gap and its interval, the CNN overfits; the ViT does not overfit."
    flipped = contents(tmp_path / "b", train_gaps={"cnn": 0.20, "vit": 0.01}, clean_gaps={"cnn": -0.02, "vit": 0.20})
    assert not flipped.facts["cnn"].training.overfits and flipped.facts["vit"].training.overfits
    row = {r[0]: r for r in tables(numbers(Generalisation(), report))[0].rows}
    assert row["CNN"][-1] == "yes" and row["CNN"][-2].text == "1.00"  # the running gap shown, not judged


def test_the_gap_is_measured_against_the_held_out_validation_split(tmp_path):
    report = contents(tmp_path / "h", val_size=300, clean_gaps=VIT_WIDER)
    run = report.runs["cnn"][0]
    recorded = run.info["validation"]
    clean = report.facts["cnn"].training.clean
    assert clean.val_acc.mean.value == pytest.approx(100 * recorded["correct"].count("1") / 300)
    assert clean.val_correct.shape == (1, 300)
    (table,) = tables(numbers(Generalisation(), report))
    assert "validation on the held-out validation split" in table.caption
    assert "clean training accuracy is measured on a class-proportional draw of 1,000 training images" in facts(
        numbers(Generalisation(), report))


def test_the_family_adjusts_each_gap_and_the_difference_together(tmp_path):
    report = contents(tmp_path / "f", seeds=THREE, clean_gaps={"cnn": 0.01, "vit": 0.04})
    tests = gap_tests(report)
    raw = [t.p for t in tests.tests]
    assert [tests.adjusted(t).value for t in tests.tests] == pytest.approx(holm(raw))
    assert [tests.adjusted(t).key for t in tests.tests] == ["cnn.clean_gap.p_adj", "vit.clean_gap.p_adj",
                                                           "compare.clean_gap.p_adj"]
    for gap, m in zip(tests.gaps, report.models):  # each gap's interval holds its estimate, the mean over seeds
        assert gap.low <= gap.estimate <= gap.high
        assert gap.estimate == pytest.approx(m.training.clean.gap.mean.value)
    assert gap_tests(report).difference == tests.difference  # deterministic (report.bootstrap_seed)
    table = tables(numbers(Generalisation(), report))[0]
    assert table.rows[0][5].text == f"{tests.gaps[0].metric('p').text} / {tests.adjusted(tests.gaps[0]).text}"


def test_a_malformed_clean_record_is_refused(tmp_path):
    root = make_bundle(tmp_path / "bad", clean_gaps=VIT_WIDER)
    path = root / "runs" / "cnn" / "seed-42" / "run.json"
    info = json.loads(path.read_text())
    info["clean_train"]["correct"] = info["clean_train"]["correct"][:-1] + "x"
    path.write_text(json.dumps(info))
    with pytest.raises(BundleError, match="'clean_train' must hold 'images' and a 'correct' text"):
        read_contents(root)


def test_a_gap_whose_interval_spans_the_limit_leaves_overfitting_undecided(tmp_path):
    # 5 points on about 100 validation images: the interval reaches well below and above the 5-point limit
    report = contents(tmp_path / "u", clean_gaps={"cnn": 0.05, "vit": 0.20})
    tests = gap_tests(report)
    assert tests.gaps[0].low < 5 < tests.gaps[0].high and tests.gaps[1].low > 5
    assert Generalisation().verdict(report).findings[0].text == (
        "By the overfitting rule on the clean gap and its interval, whether the CNN overfits is undecided: its clean "
        "gap's interval spans the 5-point limit; the ViT overfits.")
    row = {r[0]: r for r in tables(numbers(Generalisation(), report))[0].rows}
    assert row["CNN"][-1] == "undecided" and row["ViT"][-1] == "yes"


def test_one_model_gets_its_gap_and_no_comparison(tmp_path):
    report = contents(tmp_path / "one", models=("cnn",), clean_gaps={"cnn": -0.02})
    said = text(numbers(Generalisation(), report))
    assert "By the overfitting rule, on the clean gap and its interval, the CNN does not overfit." in said
    assert "ViT" not in said and gap_tests(report).difference is None
    assert Generalisation().verdict(report) is None


def test_the_rule_text_follows_the_config():
    rules = ReportConfig(alpha=0.01)
    assert "adjusted p < 0.01" in generalisation_rule(rules).text
    assert "adjusted p < 0.05" in generalisation_rule(ReportConfig()).text


def test_the_overfitting_claim_waits_for_the_cnn_s_interval_to_clear_the_limit(tmp_path):
    undecided = contents(tmp_path / "u", seeds=(1, 2, 3), clean_gaps={"cnn": 0.05, "vit": 0.20})
    claim = vit_overfits_claim(gap_tests(undecided), undecided.rules)
    assert claim.status == "inconclusive" and "whether the CNN overfits is undecided" in claim.evidence.text
    little = contents(tmp_path / "l", seeds=(1, 2, 3), clean_gaps={"cnn": -0.02, "vit": 0.20})
    assert vit_overfits_claim(gap_tests(little), little.rules).status == "supported"
