"""Shared plotting helpers: atomic PNG writes and the drawer that hands figures to sections."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from reportgen.report.plots import focus_title, save_figure
from reportgen.report.section import FigureDrawer


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    fig = plt.figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("drawing failed")))
    with pytest.raises(RuntimeError):
        save_figure(fig, target)
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_the_drawer_writes_pngs_links_them_relative_and_forgets_nothing(tmp_path):
    drawer = FigureDrawer(tmp_path / "figures", tmp_path)
    figure = drawer.draw("line", lambda: plt.subplots()[0], "A caption.", "50%")
    assert (figure.key, figure.src, figure.width) == ("line", "figures/line.png", "50%")
    with Image.open(tmp_path / figure.src) as image:
        assert image.format == "PNG"
    (tmp_path / "figures" / "stale.png").write_bytes(b"x")
    drawer.remove_undrawn()
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["line.png"]


def test_focus_title_breaks_before_the_class():
    assert focus_title("test image 1234 (automobile)") == "test image 1234\n(automobile)"
