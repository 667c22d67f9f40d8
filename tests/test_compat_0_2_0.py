"""Bundles written by reportgen 0.2.0 render with every number they showed, and still verify and compare.

Two fixtures in tests/fixtures/, both made with reportgen 0.2.0 (commit d105e7f) before the report
became a registry of sections:
* report_metrics_0.2.0.json: every (data-metric key, text) of the reports 0.2.0 rendered from
  bundle_factory bundles (the options stored with each) and of one comparison;
* bundle-0.2.0/: a real bundle that 0.2.0 built (`reportgen build --preset quick --seeds 1,2 --set
  train.epochs=2` with tiny models), with the report.html it rendered (its figures and PDF left out:
  they are rendered files).
The new renderer must show each of those keys with the same text; it may add numbers.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reportgen.compare import compare_bundles
from reportgen.report import render_bundle, render_report
from reportgen.verification import read_report_metrics, verify_bundle
from tests.bundle_factory import make_bundle

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = json.loads((FIXTURES / "report_metrics_0.2.0.json").read_text())


# Keys 0.2.0 showed that the report no longer shows, each with why (issue 22).
RETIRED = {
    # The t-test over seeds of the history's running train-validation gaps (augmented batches, dropout on): no clean
    # measure of generalisation, so the Generalisation section tests only the clean gap (compare.clean_gap.*), which
    # 0.2.0 bundles do not record; they get the running gaps, shown (their keys unchanged), with no test or verdict.
    "compare.gap_ttest.p",
}


def _pairs(metrics) -> set[tuple[str, str]]:
    return {(key, text) for key, text in metrics if key not in RETIRED}


# Why some keys changed: 0.2.0's per-class table (one per model) showed precision, recall, F1 and accuracy as
# fractions with 4 decimals, and the support. The Results section now shows one table with the models side by side,
# each score in percent with one decimal (on 100-image classes one image is a whole point), under new keys ending in
# "_pct" (a key never changes its unit); per-class accuracy, which equals recall, is shown once as recall, and the
# support is the class's image count, `dataset.class<i>.test_images`. A 0.2.0 per-class key that is no longer shown
# must have its replacement shown, with the same value.
PER_CLASS = re.compile(r"(?P<scope>\w+\.(?:seed\d+|mean))\.(?P<part>class(?P<i>\d+)|macro)\."
                       r"(?P<field>precision|recall|f1|accuracy|support)")


def _replacement(key: str) -> tuple[str, float] | None:
    """The key that now shows a 0.2.0 per-class key's number, and the factor from the old value to the new one."""
    match = PER_CLASS.fullmatch(key)
    if match is None:
        return None
    if match["field"] == "support":
        return f"dataset.class{match['i']}.test_images", 1.0
    field = "recall" if match["field"] == "accuracy" else match["field"]
    return f"{match['scope']}.{match['part']}.{field}_pct", 100.0


def _unexplained(golden: set[tuple[str, str]], shown: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The 0.2.0 (key, text) pairs not shown now, except per-class ones whose replacement shows the same number
    (to the display precision: 4 decimals of a fraction against 1 decimal of a percent)."""
    now = dict(shown)
    out = []
    for key, text in golden - shown:
        replaced = _replacement(key)
        if replaced is None or replaced[0] not in now:
            out.append((key, text))
            continue
        new_key, factor = replaced
        if abs(float(now[new_key].replace(",", "")) - factor * float(text)) > (0.06 if factor != 1 else 0):
            out.append((key, text))
    return out


@pytest.mark.parametrize("variant", [name for name in GOLDEN if name != "compare"])
def test_every_number_of_a_0_2_0_report_is_rendered_unchanged(tmp_path, variant):
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in GOLDEN[variant]["kwargs"].items()}
    root = make_bundle(tmp_path / variant, **options)
    render_report(root, pdf=False)
    assert not _unexplained(_pairs(GOLDEN[variant]["metrics"]), _pairs(read_report_metrics(root / "report.html")))


def test_every_number_of_a_0_2_0_comparison_is_rendered_unchanged(tmp_path):
    a = make_bundle(tmp_path / "cmp-a")
    b = make_bundle(tmp_path / "cmp-b", accuracies={"cnn": 0.80, "vit": 0.75}, config_overrides={"train.lr": 5e-4})
    compare_bundles([a, b], tmp_path / "out", pdf=False)
    assert not _pairs(GOLDEN["compare"]["metrics"]) - _pairs(read_report_metrics(tmp_path / "out" / "compare.html"))


@pytest.fixture()
def bundle_0_2_0(tmp_path) -> Path:
    root = tmp_path / "bundle-0.2.0"
    shutil.copytree(FIXTURES / "bundle-0.2.0", root)
    return root


def test_a_real_0_2_0_bundle_renders_its_numbers_unchanged_and_verifies(bundle_0_2_0):
    shown_by_0_2_0 = _pairs(read_report_metrics(bundle_0_2_0 / "report.html"))
    render_bundle(bundle_0_2_0)
    assert not _unexplained(shown_by_0_2_0, _pairs(read_report_metrics(bundle_0_2_0 / "report.html")))
    failed = [c for c in verify_bundle(bundle_0_2_0) if not c.ok]
    assert not failed
    assert (bundle_0_2_0 / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_a_real_0_2_0_bundle_compares_with_a_new_one(bundle_0_2_0, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(bundle_0_2_0, other)
    written = compare_bundles([bundle_0_2_0, other], tmp_path / "cmp", pdf=False)
    assert "identical CNN runs" in written[0].read_text()
