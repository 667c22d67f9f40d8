"""The report: a registry of analysis sections rendered from a results bundle into HTML and PDF (no torch).

Layout: `kernel` (numbers, sentences, tables, figures), `stats` (significance tests, bootstrap),
`rules` (the rules several sections share, and their printed text), `contents` (the bundle read
once, and the facts several sections share), `section` (what a section is, its verdict, numbering),
`sections/` (one module per analysis, with its own rules, and the registry), `plots` (shared figure
style), `render` (HTML, PDF, `render_bundle` for `reportgen render`). Names are imported lazily, so that
importing the kernel stays light.
"""

from __future__ import annotations

from typing import Any

_RENDER_NAMES = ("render_bundle", "render_report", "render_html", "write_documents", "figures_folder", "html_to_pdf",
                 "resolve_inside", "template_environment", "REPORT_HTML", "REPORT_PDF")


def __getattr__(name: str) -> Any:
    if name in _RENDER_NAMES:
        from reportgen.report import render as module

        return getattr(module, name)
    raise AttributeError(f"module 'reportgen.report' has no attribute {name!r}")
