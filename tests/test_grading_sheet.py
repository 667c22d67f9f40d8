"""grading.sheet: grades.html escapes everything from bundles, is valid HTML with short cells, shows each flag as a
short label and each caveat once; the sheet is never written into a graded bundle."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen.errors import ReportgenError
from reportgen.grading import REPRODUCTION, grade_bundles
from reportgen.grading.rows import SHORT_LABEL
from reportgen.grading.sheet import LONG_TEXT, columns
from tests.grading_helpers import grade, make_class_of_four, submission
from tests.markup import markup_names

VOID = {"meta", "br", "wbr", "img", "hr", "input", "link"}


class SheetParser(HTMLParser):
    """Checks that every element is closed in order, and collects the text of each table cell and flag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.cells: list[str] = []  # the text of each <td>
        self.flags: list[str] = []  # the text of each flag (<li> in a cell)
        self.titles: list[str] = []

    def handle_starttag(self, tag, attrs):
        if "title" in dict(attrs):
            self.titles.append(dict(attrs)["title"])
        if tag in VOID:
            return
        self.open.append(tag)
        if tag == "td":
            self.cells.append("")
        if tag == "li" and "td" in self.open:
            self.flags.append("")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data):
        if "td" in self.open:
            self.cells[-1] += data
            if "li" in self.open:
                self.flags[-1] += data


def parsed_sheet(path) -> SheetParser:
    parser = SheetParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_the_html_sheet_escapes_everything_from_bundles(tmp_path):
    root = submission(tmp_path / "<img src=x onerror=alert(1)>", 1, models=("cnn",),
                      config_overrides={"train.strategy": "<script>alert(2)</script>"})
    grade([root], tmp_path / "out")
    sheet = (tmp_path / "out" / "grades.html").read_text()
    assert "<img src=x" not in sheet and "<script>alert" not in sheet
    assert "&lt;img src=x onerror=alert(1)&gt;" in sheet and "&lt;script&gt;alert(2)&lt;/script&gt;" in sheet
    assert sheet.count("<script>") == 1  # the sorting script, and nothing else


def test_flags_are_short_labels_and_each_caveat_is_given_once(tmp_path):
    paths = make_class_of_four(tmp_path)
    rows = grade(paths, tmp_path / "out")
    sheet = (tmp_path / "out" / "grades.html").read_text()
    parser = parsed_sheet(tmp_path / "out" / "grades.html")
    assert len(parser.flags) == sum(len(row["flags"]) for row in rows.values()) >= 8
    assert all(len(flag) <= SHORT_LABEL + 2 for flag in parser.flags), parser.flags  # + a caveat's number
    assert "copy? cnn weights = eve1" in parser.flags  # the label, then caveat 1's number
    assert any(flag.startswith("copy? vit predictions ≈ mallory") for flag in parser.flags)
    assert any(flag.startswith("unsupported: report.html: numbers equal") for flag in parser.flags)
    # the caveat of six flags (the identical weights of alice's and eve's CNN and ViT, of bob's and mallory's CNN)
    # once, in the legend
    assert sum(REPRODUCTION in flag for row in rows.values() for flag in row["flags"]) == 6
    assert sheet.count(REPRODUCTION) == 1 and 'id="caveat-1"' in sheet
    assert sheet.count('href="#caveat-1"') == 6
    # each flag's full text (without the caveat) is its tooltip
    assert next(f for f in rows["bob"]["flags"] if "nearly identical" in f) in parser.titles


def test_the_sheet_is_valid_html_without_overlong_cells(tmp_path):
    paths = make_class_of_four(tmp_path)
    (tmp_path / "absent").mkdir()
    rows = grade([*paths, tmp_path / "absent"], tmp_path / "out")
    assert len(rows["mallory"]["verify_failure"]) > LONG_TEXT  # a long failure, cut in the table
    parser = parsed_sheet(tmp_path / "out" / "grades.html")
    assert not parser.errors and parser.open == [], (parser.errors, parser.open)
    assert len(parser.cells) == 5 * len(columns([]))
    overlong = [cell for cell in parser.cells if len(cell.strip()) > max(LONG_TEXT, 4 * (SHORT_LABEL + 2))]
    assert not overlong
    assert rows["mallory"]["verify_failure"] in parser.titles  # in full, as the cut cell's tooltip
    sheet = (tmp_path / "out" / "grades.html").read_text()
    assert 'class="sheet"' in sheet and "overflow: auto" in sheet  # scrolls sideways rather than squeeze


def test_the_sheet_is_not_written_into_a_graded_bundle(tmp_path):
    root = submission(tmp_path / "a", 1, models=("cnn",))
    with pytest.raises(ReportgenError, match="inside the graded bundle"):
        grade_bundles([root], root / "grades", progress=False)
    assert not (root / "grades").exists()



def test_no_element_or_attribute_of_the_sheet_comes_from_a_folder_name(tmp_path):
    honest = submission(tmp_path / "honest", 1, models=("cnn",))
    grade([honest], tmp_path / "plain")
    hostile = submission(tmp_path / 'x" onmouseover="alert(1)" data-x="<b>', 2, models=("cnn",))
    grade([honest, hostile], tmp_path / "out")
    plain, hostile = (markup_names((tmp_path / name / "grades.html").read_text(encoding="utf-8"))
                      for name in ("plain", "out"))
    assert hostile == plain  # the same elements and attributes: none came from the name


def test_the_csv_sheet_neutralises_cells_a_spreadsheet_would_evaluate(tmp_path, monkeypatch):
    submission(tmp_path / "=HYPERLINK(A1)", 1, models=("cnn",))
    monkeypatch.chdir(tmp_path)  # graded by a relative path, as `reportgen grade *` names it
    grade([Path("=HYPERLINK(A1)")], tmp_path / "out")
    text = (tmp_path / "out" / "grades.csv").read_text()
    assert "'=HYPERLINK(A1)" in text
    assert ",=HYPERLINK" not in text and "\n=HYPERLINK" not in text


def test_a_submission_that_links_to_another_bundle_is_not_graded_as_verified(tmp_path):
    alice = submission(tmp_path / "alice", 1, models=("cnn",))
    (tmp_path / "mallory").symlink_to(alice)
    rows = grade([alice, tmp_path / "mallory"], tmp_path / "out")
    assert rows["alice"]["verified"] is True
    assert rows["mallory"]["verified"] is not True and "symbolic link" in rows["mallory"]["verify_failure"]
