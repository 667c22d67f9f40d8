"""The report's shared rules (accuracy significance, overfitting) come from the report config, are applied as printed,
and change without retraining. A rule that one section uses is tested with that section (tests/test_section_*.py)."""

from __future__ import annotations

import pytest

from reportgen.config import ReportConfig
from reportgen.config_loading import load_config
from reportgen.errors import ConfigError
from reportgen.report.rules import is_overfitting, overfitting_rule, significance_rule


@pytest.mark.parametrize("acc_gap, rise, expected", [
    (5.0, 0.0, False), (5.01, 0.0, True), (0.0, 10.0, False), (0.0, 10.5, True), (-3.0, 2.0, False),
])
def test_overfitting_rule_thresholds(acc_gap, rise, expected):
    assert is_overfitting(ReportConfig(), acc_gap, rise) is expected


def test_rule_texts_follow_the_config():
    rules = ReportConfig(alpha=0.01, overfit_acc_gap_points=3.0, overfit_val_loss_rise_pct=20.0,
                         val_loss_milestone=0.8, val_acc_milestone=0.6, plateau_points=1.0)
    assert "at α = 0.01" in significance_rule(rules).text and "0.05" not in significance_rule(rules).text
    assert "by more than 3 percentage points" in overfitting_rule(rules).text
    assert "more than 20% above" in overfitting_rule(rules).text
    assert is_overfitting(rules, 4.0, 0.0) and not is_overfitting(ReportConfig(), 4.0, 0.0)


@pytest.mark.parametrize("key, value", [("report.alpha", 0), ("report.alpha", 1.5),
                                        ("report.val_acc_milestone", 1.2), ("report.top_patch_fraction", 0),
                                        ("report.plateau_points", -1)])
def test_impossible_rules_are_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(overrides={key: value})
