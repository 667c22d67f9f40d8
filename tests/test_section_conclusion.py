"""Section "Conclusion": the verdict follows the results, their significance and the overfitting rule."""

from __future__ import annotations

from reportgen.report.sections.conclusion import Conclusion
from tests.section_helpers import HAIR, SWAPPED, build, contents, sentences


def _verdicts(report):
    return [s.text for s in sentences(build(Conclusion(), report))]


def test_the_verdict_flips_with_the_results(tmp_path):
    ahead, behind = _verdicts(contents(tmp_path / "a")), _verdicts(contents(tmp_path / "b", **SWAPPED))
    assert ahead[0].startswith("On this run the CNN is the more accurate model")
    assert "wins on both accuracy and training cost" in ahead[1]
    assert "the CNN does not overfit and the ViT overfits" in ahead[2]
    assert behind[0].startswith("On this run the ViT is the more accurate model")
    assert "the CNN overfits and the ViT does not overfit" in behind[2]


def test_a_trade_off_when_the_faster_model_is_less_accurate(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", epoch_times={"cnn": 5.0, "vit": 1.0}))
    assert "The ViT, however, trained 5.00× faster" in verdicts[1]


def test_no_win_without_significance(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", **HAIR))
    assert verdicts[0].startswith("On this run neither model is shown to be more accurate")
    assert "wins" not in verdicts[1]


def test_one_model_and_the_scale_caveat(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", models=("cnn",)))
    assert verdicts[0].startswith("The CNN reached") and "ViT" not in " ".join(verdicts)
    assert verdicts[-1].startswith("These conclusions describe a reduced-scale run")
    full = _verdicts(contents(tmp_path / "c", epochs=80, train_size=50_000, test_size=100))
    assert not any("reduced-scale" in v for v in full)


def test_negative_gaps_mean_neither_overfits(tmp_path):
    verdicts = _verdicts(contents(tmp_path / "b", train_gaps={"cnn": -0.03, "vit": -0.01}))
    assert "By the overfitting rule, neither model overfits." in verdicts
