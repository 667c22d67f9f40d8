"""Section "Architectures": each model's description comes from its registry entry, its table from the bundle."""

from __future__ import annotations

from reportgen.architectures import ARCHITECTURES
from reportgen.report.sections.architectures import Architectures
from tests.section_helpers import contents, metric_keys, numbers, tables, text


def test_each_model_is_described_by_its_registry_entry(tmp_path):
    report = contents(tmp_path / "b", config_overrides={"vit.depth": 8})
    items = numbers(Architectures(), report)
    assert [s.title for s in items] == ["CNN", "ViT"]
    assert "8 pre-norm encoder layers" in text(items)
    assert {"config.cnn.channels.2", "config.vit.depth", "dataset.num_classes"} <= metric_keys(items)
    assert tables(items)[0].footer[0][-1].key == "cnn.parameters"


def test_a_model_without_a_registry_entry_keeps_its_table(tmp_path, monkeypatch):
    monkeypatch.delitem(ARCHITECTURES, "vit")
    items = numbers(Architectures(), contents(tmp_path / "b"))
    assert "pre-norm" not in text(items) and len(tables(items)) == 2
