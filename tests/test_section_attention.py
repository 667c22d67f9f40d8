"""Section "Attention maps": how concentrated the CLS attention is, worded from the report config."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from reportgen.config import ReportConfig
from reportgen.report.sections.attention import (
    Attention,
    attention_concentration,
    attention_sentences,
    attention_stats,
    top_patch_count,
    top_share_label,
)
from tests.section_helpers import contents, figures, numbers, sentences, tables, text


def test_concentration_of_uniform_and_single_patch_maps():
    uniform = attention_concentration("vit", np.full((8, 8), 0.01), "1", ReportConfig())
    assert uniform.entropy == pytest.approx(1.0)
    assert uniform.top_share_pct == pytest.approx(100 * math.ceil(6.4) / 64)
    spike = np.zeros((8, 8))
    spike[2, 3] = 0.4
    single = attention_concentration("vit", spike, "2", ReportConfig())
    assert single.entropy == pytest.approx(0.0) and single.top_share_pct == pytest.approx(100.0)


def test_prose_names_the_top_share_of_patches(tmp_path):
    items = numbers(Attention(), contents(tmp_path / "b"))
    assert "the 7 most attended patches (the top 10% of the 64, rounded up) hold " in text(items)
    assert "head 1" not in " ".join(s.text for s in sentences(items))  # each head is the table's, said once
    assert tables(items)[0].header[2] == "share of attention on the top 10% of patches (7 of 64)"
    assert [f.key for f in figures(items)] == ["attention_vit"]


def test_wording_follows_the_fraction_and_the_grid():
    rules = ReportConfig(top_patch_fraction=0.25)
    stats = attention_stats("vit", np.random.default_rng(0).random((2, 4, 4)), rules)  # 16 patches: the top 4
    assert (stats[-1].top_patches, stats[-1].patches) == (4, 16)
    wording = " ".join(s.text for s in attention_sentences(SimpleNamespace(key="vit"), stats, rules))
    assert "the 4 most attended patches (the top 25% of the 16, rounded up)" in wording


def test_applies_by_what_the_probes_hold(tmp_path):
    assert Attention().applies(contents(tmp_path / "a"))
    assert not Attention().applies(contents(tmp_path / "b", models=("cnn",)))


def test_top_share_follows_the_fraction_and_the_grid():
    assert top_patch_count(ReportConfig(), 64) == 7
    assert top_share_label(ReportConfig(top_patch_fraction=0.25), 16) == \
        "share of attention on the top 25% of patches (4 of 16)"
