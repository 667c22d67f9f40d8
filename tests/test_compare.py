"""`reportgen compare`: bundles, config differences, deltas, curves, significance, escaping, refusals, no torch."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from reportgen.bundle import Bundle, read_json, write_json, write_manifest
from reportgen.compare import compare_bundles, config_differences, load_compared, model_summary
from reportgen.errors import BundleError, ReportgenError
from reportgen.mappings import flatten
from reportgen.verification import read_report_metrics
from tests.bundle_factory import make_bundle
from tests.markup import markup_names
from tests.torch_free import assert_runs_without_torch

SVG_START = b"<?xml"  # figures are vector SVG
AFTER = dict(accuracies={"cnn": 0.80, "vit": 0.81}, epoch_times={"cnn": 2.5, "vit": 1.5},
             train_gaps={"cnn": 0.05, "vit": 0.03}, config_overrides={"train.lr": 5e-4})


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, Path, list[Path]]:
    """A two-seed bundle, the same study after a learning-rate change (ViT better, CNN worse), and their comparison."""
    root = tmp_path_factory.mktemp("compare")
    before = make_bundle(root / "before", seeds=(1, 2))
    after = make_bundle(root / "after", seeds=(1, 2), **AFTER)
    return before, after, root / "out", compare_bundles([before, after], root / "out")


def shown(out: Path) -> dict[str, str]:
    """data-metric key -> displayed text of compare.html, checking that a key always shows the same text."""
    pairs = read_report_metrics(out / "compare.html")
    texts: dict[str, set[str]] = {}
    for key, text in pairs:
        texts.setdefault(key, set()).add(text)
    assert {key: t for key, t in texts.items() if len(t) > 1} == {}
    return dict(pairs)


def text_of(out: Path) -> str:
    """compare.html as the reader sees it: tags removed, entities decoded, whitespace collapsed."""
    markup = (out / "compare.html").read_text()
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", markup)))


def _mean(bundle: Path, model: str, value) -> float:
    return float(np.mean([value(run) for run in Bundle(bundle).runs(model)]))


def test_writes_html_pdf_and_overlaid_curves(pair):
    _, _, out, written = pair
    assert written == [out.resolve() / "compare.html", out.resolve() / "compare.pdf"]
    assert (out / "compare.pdf").read_bytes()[:5] == b"%PDF-"
    html = (out / "compare.html").read_text()
    for model in ("cnn", "vit"):
        assert (out / "figures" / f"curves_{model}.svg").read_bytes()[:5] == SVG_START
        assert f'src="figures/curves_{model}.svg"' in html
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_no_element_or_attribute_of_the_comparison_comes_from_a_label(pair, tmp_path):
    before, after, out, _ = pair
    hostile = ['x" onmouseover="alert(1)', "<script>alert(2)</script>"]
    compare_bundles([before, after], tmp_path / "hostile", pdf=False, labels=hostile)
    page = (tmp_path / "hostile" / "compare.html").read_text()
    assert markup_names(page) == markup_names((out / "compare.html").read_text())
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_config_differences_list_exactly_the_changed_key(pair):
    before, after, out, _ = pair
    configs = [flatten(Bundle(b).config().to_dict()) for b in (before, after)]
    assert config_differences(configs) == ["train.lr"]
    metrics = shown(out)
    assert [key for key in metrics if ".config." in key] == ["b1.config.train.lr", "b2.config.train.lr"]
    assert (metrics["b1.config.train.lr"], metrics["b2.config.train.lr"]) == ("0.001", "0.0005")


def test_flatten_and_differences_on_plain_data():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {"a.b": 1, "a.c.d": [1, 2], "e": None}
    assert config_differences([{"x": 1, "y": [1, 2]}, {"x": 1, "y": [1, 3], "z": 0}]) == ["y", "z"]


def test_deltas_equal_hand_computed_values(pair):
    before, after, out, _ = pair
    metrics = shown(out)

    def accuracy(run):
        return 100 * run.metrics["accuracy"]

    def epoch_time(run):
        return run.info["train_time_s"] / len(run.history["epoch"])

    def gap(run):
        return 100 * (run.history["train_acc"][-1] - run.history["val_acc"][-1])

    for model in ("cnn", "vit"):
        def delta(value):
            return _mean(after, model, value) - _mean(before, model, value)

        assert metrics[f"b2.delta.{model}.accuracy"] == f"{delta(accuracy):.2f}"
        assert metrics[f"b2.delta.{model}.macro_f1"] == f"{delta(lambda r: r.metrics['macro']['f1']):.4f}"
        assert metrics[f"b2.delta.{model}.train_time_s"] == f"{delta(lambda r: r.info['train_time_s']):.2f}"
        assert metrics[f"b2.delta.{model}.epoch_time_s"] == f"{delta(epoch_time):.2f}"
        assert metrics[f"b2.delta.{model}.acc_gap_pts"] == f"{delta(gap):.2f}"
        assert metrics[f"b2.{model}.accuracy.mean"] == f"{_mean(after, model, accuracy):.2f}"
        f1_delta = delta(lambda r: r.metrics["per_class"][3]["f1"])
        assert metrics[f"b2.delta.{model}.class3.f1"] == f"{f1_delta:.4f}"  # a "+" sign is outside the span
    vit_factor = _mean(before, "vit", epoch_time) / _mean(after, "vit", epoch_time)
    assert metrics["b2.vit.epoch_time_factor"] == f"{vit_factor:.2f}"


def test_summary_follows_the_results_and_their_significance(pair):
    _, _, out, _ = pair
    text = text_of(out)
    assert re.search(r"Against before, after's ViT is [\d.]+ points more accurate", text)
    assert re.search(r"Against before, after's CNN is [\d.]+ points less accurate", text)
    assert "× faster per epoch" in text and "× slower per epoch" in text
    assert "the difference is significant (paired t-test over seeds" in text


def test_a_hair_of_difference_is_not_called_a_gain(tmp_path):
    before = make_bundle(tmp_path / "before", models=("vit",), accuracies={"vit": 0.800})
    after = make_bundle(tmp_path / "after", models=("vit",), accuracies={"vit": 0.805})
    compare_bundles([before, after], tmp_path / "out", pdf=False)
    text = text_of(tmp_path / "out")
    assert re.search(r"Against before, after's ViT scores [\d.]+ points higher", text)
    assert "a difference that is not significant (McNemar p = " in text
    assert "more accurate (" not in text


def test_bundles_with_different_data_are_not_tested(tmp_path):
    before = make_bundle(tmp_path / "before", models=("cnn",))
    after = make_bundle(tmp_path / "after", models=("cnn",), accuracies={"cnn": 0.95})
    dataset = read_json(after / "dataset.json")
    write_json(after / "dataset.json", {**dataset, "fingerprint": "f" * 64})
    write_manifest(after)
    compare_bundles([before, after], tmp_path / "out", pdf=False)
    text = text_of(tmp_path / "out")
    assert "did not all use the same data" in text
    assert "the bundles used different test data, so no significance test applies" in text


def test_bundle_text_is_escaped(tmp_path):
    hostile = "<script>alert(1)</script>"
    names = [hostile, "b&c", "x"]
    bundles = [make_bundle(tmp_path / name, models=("cnn",), num_classes=3, class_names=names) for name in "ab"]
    compare_bundles(bundles, tmp_path / "out", pdf=False, labels=["<b>first</b>", "B&B"])
    markup = (tmp_path / "out" / "compare.html").read_text()
    assert "<script" not in markup and "<b>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup and "b&amp;c" in markup
    assert "&lt;b&gt;first&lt;/b&gt;" in markup and "B&amp;B" in markup


def test_a_bundle_without_manifest_is_refused(tmp_path):
    complete = make_bundle(tmp_path / "complete", models=("cnn",))
    partial = make_bundle(tmp_path / "partial", models=("cnn",))
    (partial / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json"):
        compare_bundles([complete, partial], tmp_path / "out", pdf=False)
    assert not (tmp_path / "out" / "compare.html").exists()


@pytest.mark.parametrize("count, labels, message", [
    (1, None, "at least two bundles"), (2, ["a"], "1 label for 2 bundles"), (2, ["a", "a"], "labels must differ"),
])
def test_arguments_are_checked(tmp_path, count, labels, message):
    bundles = [make_bundle(tmp_path / f"b{i}", models=("cnn",)) for i in range(count)]
    with pytest.raises(ReportgenError, match=message):
        compare_bundles(bundles, tmp_path / "out", pdf=False, labels=labels)


@pytest.mark.parametrize("inside", [".", "comparison"])
def test_the_output_folder_may_not_be_in_a_bundle(tmp_path, inside):
    bundles = [make_bundle(tmp_path / name, models=("cnn",)) for name in "ab"]
    with pytest.raises(ReportgenError, match="inside a compared bundle"):
        compare_bundles(bundles, bundles[1] / inside, pdf=False)
    assert not (bundles[1] / "comparison").exists()


def test_three_bundles_with_a_model_missing_from_one(tmp_path):
    first = make_bundle(tmp_path / "a", models=("cnn",))
    second = make_bundle(tmp_path / "b", config_overrides={"vit.depth": 4})
    third = make_bundle(tmp_path / "c", accuracies={"cnn": 0.9, "vit": 0.8})
    compare_bundles([first, second, third], tmp_path / "out", pdf=False)
    metrics = shown(tmp_path / "out")
    assert {"b1.cnn.accuracy.mean", "b2.delta.cnn.accuracy", "b3.delta.cnn.accuracy"} <= set(metrics)
    # The ViT's reference is the first bundle holding it, the second.
    assert "b3.delta.vit.accuracy" in metrics and "b2.delta.vit.accuracy" not in metrics
    assert not [key for key in metrics if key.startswith("b1.vit.")]
    text = text_of(tmp_path / "out")
    assert "Against b, c's ViT" in text and "Against a, c's CNN" in text
    assert (tmp_path / "out" / "figures" / "curves_vit.svg").is_file()


def test_same_folder_names_are_told_apart_by_their_paths(tmp_path):
    bundles = [make_bundle(tmp_path / side / "quick", models=("cnn",)) for side in ("left", "right")]
    compare_bundles(bundles, tmp_path / "out", pdf=False)
    assert f"Against {bundles[0]}, {bundles[1]}'s CNN" in text_of(tmp_path / "out")


def test_compare_never_imports_torch(tmp_path):
    bundles = [make_bundle(tmp_path / name) for name in "ab"]
    assert_runs_without_torch(f"""
        from pathlib import Path
        from reportgen.compare import compare_bundles
        compare_bundles([Path({str(bundles[0])!r}), Path({str(bundles[1])!r})], Path({str(tmp_path / "out")!r}))
    """)
    assert (tmp_path / "out" / "compare.pdf").is_file()


def test_runs_shared_by_two_bundles_are_named_as_such(tmp_path):
    a = make_bundle(tmp_path / "a")
    b = make_bundle(tmp_path / "b", accuracies={"cnn": 0.85, "vit": 0.70})  # the CNN as in a, the ViT retrained
    summaries = {model: [s.text for s in model_summary(load_compared([a, b]), model)] for model in ("cnn", "vit")}
    assert "hold identical CNN runs" in summaries["cnn"][0]
    assert not any("identical" in text for text in summaries["vit"])


def test_speed_is_compared_in_the_steady_state_when_both_bundles_recorded_it(tmp_path):
    from tests.test_section_speed import _record_steady_state

    a, b = make_bundle(tmp_path / "a"), make_bundle(tmp_path / "b")  # the same mean epoch times
    _record_steady_state(a, {"cnn": 2.0, "vit": 3.0}, warmup=1.0)
    _record_steady_state(b, {"cnn": 1.0, "vit": 3.0}, warmup=1.0)
    summary = " ".join(s.text for s in model_summary(load_compared([a, b]), "cnn"))
    assert "It trains 2.00× faster per epoch in the steady state (1.00 s against 2.00 s)" in summary
    _record_steady_state(a, {"vit": 3.0}, warmup=1.0)  # the reference's CNN keeps its steady state
    plain = make_bundle(tmp_path / "c")
    mixed = " ".join(s.text for s in model_summary(load_compared([a, plain]), "cnn"))
    assert "on average over all epochs, one-off warm-up included," in mixed  # the same measure for both
