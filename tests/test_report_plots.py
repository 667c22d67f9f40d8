"""Shared plotting helpers: atomic SVG writes and the drawer that hands figures to sections."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from reportgen.report.plots import focus_title, save_figure
from reportgen.report.section import FigureDrawer


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "figure.svg"
    target.write_bytes(b"old")
    fig = plt.figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("drawing failed")))
    with pytest.raises(RuntimeError):
        save_figure(fig, target)
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_the_drawer_writes_svgs_and_links_them_relative(tmp_path):
    drawer = FigureDrawer(tmp_path / "figures", tmp_path)
    figure = drawer.draw("line", lambda: plt.subplots()[0], "A caption.", "50%")
    assert (figure.key, figure.src, figure.width) == ("line", "figures/line.svg", "50%")
    assert b"<svg" in (tmp_path / figure.src).read_bytes()[:400]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["line.svg"]


def test_a_figure_is_vector_and_the_same_bytes_each_time(tmp_path):
    def draw() -> plt.Figure:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0], label="a line")
        ax.imshow([[0, 1], [1, 0]])  # a raster part: embedded in the SVG
        return fig

    first, second = ((tmp_path / f.src).read_bytes() for f in
                     (FigureDrawer(tmp_path / name, tmp_path).draw("f", draw, "") for name in ("a", "b")))
    assert first == second  # fixed ids and no date: a re-render of the same bundle draws the same file
    assert b"<path" in first and b"data:image/png;base64" in first


def test_focus_title_breaks_before_the_class():
    assert focus_title("test image 1234 (automobile)") == "test image 1234\n(automobile)"
