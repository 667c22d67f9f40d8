"""The docs follow the code: every config field documented, the generated reference current, the sections
registry table equal to the registry, every relative link alive, the README short. Torch-free and fast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reportgen import configdoc
from tests.torch_free import assert_runs_without_torch

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200


def test_every_config_field_has_a_docstring():
    assert configdoc.config_dataclasses(), "no config dataclasses found in reportgen/config.py"
    missing = configdoc.undocumented()
    assert not missing, (f"config fields without an attribute docstring (a string literal on the line after the "
                         f"field, in reportgen/config.py): {', '.join(missing)}")


def test_configuration_reference_is_current():
    page = DOCS / "configuration-reference.md"
    assert page.is_file(), "docs/configuration-reference.md is missing: run `make docs`"
    assert page.read_text() == configdoc.render(), (
        "docs/configuration-reference.md differs from what reportgen/config.py's fields give now: run `make docs` "
        "(python -m reportgen.configdoc > docs/configuration-reference.md) and commit the page")


def test_configuration_reference_lists_every_key():
    from reportgen.config import Config
    from reportgen.mappings import flatten

    page = (DOCS / "configuration-reference.md").read_text()
    for key in flatten(Config().to_dict()):
        assert f"| `{key}` |" in page, key


def test_configdoc_runs_without_torch():
    assert_runs_without_torch("""
        from reportgen import configdoc
        assert configdoc.render()
    """)


def _registry_rows() -> list[tuple[str, str]]:
    """(section cell, key) of the rows of docs/sections.md's "The registry (report order)" table, in order."""
    text = (DOCS / "sections.md").read_text()
    match = re.search(r"^## The registry \(report order\)\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, 'docs/sections.md has no "## The registry (report order)" section'
    rows = []
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= {"-", " "} or cells[0] == "section":
            continue
        rows.append((cells[0], cells[1].strip("`")))
    return rows


def _registry_expected() -> list[tuple[str, str]]:
    """The same rows as the registry gives them: groups marked (group), their children with a leading ·,
    appendices marked (appendix)."""
    from reportgen.report.section import Group
    from reportgen.report.sections import SECTIONS

    rows = []
    for section in SECTIONS:
        if isinstance(section, Group):
            rows.append((f"{section.title} (group)", section.key))
            rows += [(f"· {child.title}", child.key) for child in section.children]
        elif section.appendix:
            rows.append((f"{section.title} (appendix)", section.key))
        else:
            rows.append((section.title, section.key))
    return rows


def test_sections_registry_table_matches_the_registry():
    documented, registry = _registry_rows(), _registry_expected()
    assert documented == registry, (
        "docs/sections.md's registry table differs from reportgen.report.sections.SECTIONS (title and key per row, "
        "in order; a group's title ends in ' (group)', its children start with '· ', an appendix's ends in "
        "' (appendix)'):\n" + "\n".join(f"  docs: {d!r:60} registry: {r!r}" for d, r in
                                        zip(documented + [None] * len(registry), registry + [None] * len(documented))
                                        if d != r))


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    body = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *$", body, re.M)}


def _links(page: Path) -> list[str]:
    body = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    body = re.sub(r"`[^`\n]*`", "", body)  # inline code is not a link
    return re.findall(r"\[[^\]\n]*\]\(([^)\s]+)\)", body)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file})")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {'; '.join(broken)}"


def test_readme_is_short():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, (f"README.md has {lines} lines, at most {README_MAX_LINES}: move detail into "
                                       "a page under docs/ and link it")
