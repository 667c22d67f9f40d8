"""Bundles and edits shared by the verification tests (tests/test_verification_*.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from reportgen.bundle import write_manifest
from reportgen.report import render_report
from reportgen.verification import verify_bundle
from tests.bundle_factory import VariantSpec, make_bundle
from tests.test_evaluate import stand_in_report

STUDY_VARIANTS = {
    "no-augment": VariantSpec({"augment.enabled": False}, {"cnn": 0.8, "vit": 0.6}),
    "longer": VariantSpec({"train.epochs": 8}, {"cnn": 0.86, "vit": 0.75}),
}
NUMBERS_CHECK = "report.html: numbers equal those recomputed from the predictions and probabilities"


def rendered_bundle(root: Path, **options) -> Path:
    """A bundle_factory bundle with its real report (no PDF) and its manifest."""
    make_bundle(root, **options)
    render_report(root, pdf=False)
    write_manifest(root)
    return root


def render_stand_in(root: Path) -> None:
    stand_in_report(root)
    write_manifest(root)


def failed(root) -> list[str]:
    return [c.name for c in verify_bundle(root) if not c.ok]


def show_in_report(root: Path, key: str, text: str, within: str = "") -> None:
    """Make report.html show `text` as the first number of data-metric `key` (after the element of HTML id
    `within`, when given: a section's or subsection's key), and rewrite the manifest to match."""
    html = root / "report.html"
    page = html.read_text()
    after = page.index(f'id="{within}"') if within else 0
    start = page.index(">", page.index(f'data-metric="{key}"', after)) + 1
    html.write_text(page[:start] + text + page[page.index("<", start):])
    write_manifest(root)


def copy_of(template: Path, root: Path) -> Path:
    """A fresh copy of a rendered bundle at `root`, for a test to edit (rendering once per module saves seconds)."""
    shutil.copytree(template, root)
    return root

