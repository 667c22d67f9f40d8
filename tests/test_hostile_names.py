"""Submission folders named as a malicious student would name them, through the CLI: bytes that are not UTF-8, a
line break that forges a line of output, a right-to-left override that disguises a name, names too long to take a
suffix. Each grades (exit 0, every sheet written) or fails in one line, and nothing in the bundles changes."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from reportgen.bundle import write_manifest
from reportgen.cli import main
from reportgen.errors import one_line as shown
from tests.grading_helpers import submission
from tests.test_hostile_refusals import one_line, snapshot

HOSTILE_NAMES = {  # folder name -> how the sheet and every message show it
    os.fsdecode(b"bad\xff\xfename"): "bad\\xff\\xfename",
    "sub\nerror: every bundle verified": "sub\\nerror: every bundle verified",
    "rtl\u202egpj.exe": "rtl\\u202egpj.exe",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return submission(tmp_path_factory.mktemp("template") / "b", 1, models=("cnn",), num_classes=3, test_size=60)


def test_one_line_escapes_what_would_break_or_disguise_a_line_and_keeps_the_rest():
    assert {shown(name): name for name in HOSTILE_NAMES} == {v: k for k, v in HOSTILE_NAMES.items()}
    assert shown("café, naïve ünïcode") == "café, naïve ünïcode"
    assert shown("\x1b[2J\r") == "\\u001b[2J\\r"  # a terminal's escape sequence is shown, not obeyed


def test_grade_writes_every_sheet_for_hostile_folder_names_and_shows_them_escaped(template, tmp_path):
    paths = [shutil.copytree(template, tmp_path / "class" / name) for name in HOSTILE_NAMES]
    before = snapshot(tmp_path / "class")
    result = CliRunner().invoke(main, ["grade", *map(str, paths), "--out", str(tmp_path / "g"), "--gradescope",
                                       str(tmp_path / "gs"), "--no-progress"])
    assert result.exit_code == 0 and result.exception is None, result.output
    rows = json.loads((tmp_path / "g" / "grades.json").read_text(encoding="utf-8"))["rows"]
    assert [row["bundle"].rsplit("/", 1)[1] for row in rows] == list(HOSTILE_NAMES.values())
    assert all(row["verified"] for row in rows)
    csv = (tmp_path / "g" / "grades.csv").read_text(encoding="utf-8")
    assert "\u202e" not in csv and "\u202e" not in (tmp_path / "g" / "grades.html").read_text(encoding="utf-8")
    assert len(list((tmp_path / "gs").glob("*/results.json"))) == len(HOSTILE_NAMES)
    assert snapshot(tmp_path / "class") == before


def test_a_line_break_in_a_folder_name_cannot_forge_a_line_of_output(template, tmp_path):
    name = "sub\nerror: every bundle verified"
    root = shutil.copytree(template, tmp_path / name)
    (root / "runs/cnn/seed-42/metrics.json").unlink()
    before = snapshot(root)
    line = one_line("render", root, "--no-pdf")
    assert "sub\\nerror: every bundle verified" in line and "metrics.json" in line
    verified = CliRunner().invoke(main, ["verify", str(root)])
    assert verified.exit_code == 1, verified.output
    assert not [line for line in verified.output.splitlines() if line.startswith("error: every bundle verified")]
    assert snapshot(root) == before


def test_gradescope_folders_of_names_too_long_for_a_suffix_are_cut_and_kept_apart(template, tmp_path):
    """Two 255-character names that differ only in case: the second's "-2" would pass the file-name limit."""
    paths = [shutil.copytree(template, tmp_path / (letter * 255)) for letter in "Aa"]
    result = CliRunner().invoke(main, ["grade", *map(str, paths), "--out", str(tmp_path / "g"), "--gradescope",
                                       str(tmp_path / "gs"), "--no-progress"])
    assert result.exit_code == 0 and result.exception is None, result.output
    folders = sorted(p.parent.name for p in (tmp_path / "gs").glob("*/results.json"))
    assert folders == ["A" * 200, "a" * 200 + "-2"]


def test_compare_labels_a_folder_named_in_bytes_that_are_not_utf8_escaped(template, tmp_path):
    bad = shutil.copytree(template, tmp_path / os.fsdecode(b"bad\xff\xfename"))
    other = shutil.copytree(template, tmp_path / "other")
    result = CliRunner().invoke(main, ["compare", str(bad), str(other), "--out", str(tmp_path / "c"), "--no-pdf"])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "bad\\xff\\xfename" in (tmp_path / "c" / "compare.html").read_text(encoding="utf-8")


def test_compare_refuses_labels_that_look_the_same_in_one_line(template, tmp_path):
    """"café" composed and decomposed: two folders whose names a reader cannot tell apart."""
    paths = [shutil.copytree(template, tmp_path / name / "b") for name in ("caf\u00e9", "cafe\u0301")]
    assert "the labels must differ" in one_line("compare", *paths, "--out", tmp_path / "c", "--no-pdf")
    assert not (tmp_path / "c").exists()


LOOKALIKE_NAMES = {  # folder name -> how every grade output shows it
    "caf\u00e9": "caf\\u00e9",  # composed: NFC, but the same as the next under NFKC
    "cafe\u0301": "caf\\u0065\\u0301",  # decomposed: not NFC
    "caf\\u00e9": "caf\\u005cu00e9",  # plain ASCII that reads like the first one's code points
    "na\u00efve": "na\u00efve",  # NFC and like no other: shown as it is
}


def test_grade_shows_names_that_look_alike_as_code_points_and_flags_them(template, tmp_path):
    paths = [shutil.copytree(template, tmp_path / "class" / name) for name in LOOKALIKE_NAMES]
    gone = tmp_path / "class" / "gone\u0301"  # missing, and not NFC: the warning names it as the sheet does
    before = snapshot(tmp_path / "class")
    result = CliRunner().invoke(main, ["grade", *map(str, paths), str(gone), "--out", str(tmp_path / "g"),
                                       "--gradescope", str(tmp_path / "gs"), "--no-progress"])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert f"warning: {tmp_path}/class/gon\\u0065\\u0301 does not exist" in result.output, result.output
    shown = [*LOOKALIKE_NAMES.values(), "gon\\u0065\\u0301"]
    rows = json.loads((tmp_path / "g" / "grades.json").read_text(encoding="utf-8"))["rows"]
    assert [row["bundle"].rsplit("/", 1)[1] for row in rows] == shown
    assert [row["verified"] for row in rows] == [True] * 4 + [False]
    assert [sum("shown as" in flag for flag in row["flags"]) for row in rows[:4]] == [1, 1, 1, 0]
    assert "is not in Unicode NFC form" in rows[1]["flags"][0] and "NFKC" in rows[0]["flags"][0]
    csv = (tmp_path / "g" / "grades.csv").read_text(encoding="utf-8")
    html = (tmp_path / "g" / "grades.html").read_text(encoding="utf-8")
    for text in (csv, html):
        assert all(name in text for name in shown) and "\u0301" not in text and "caf\u00e9" not in text
    assert "name? " in html and "shown with its characters as code points" in html  # the flag and its legend
    outputs = [json.loads(p.read_text())["output"] for p in sorted((tmp_path / "gs").glob("*/results.json"))]
    assert sum("graded " + str(tmp_path / "class" / "caf\\u0065\\u0301") in out for out in outputs) == 1
    assert snapshot(tmp_path / "class") == before


@pytest.mark.parametrize("name", ["a\n\nb", "cat\u202egod", "x" * 101])
def test_a_class_name_that_is_not_one_short_printable_line_is_refused_in_one_line(template, tmp_path, name):
    root = shutil.copytree(template, tmp_path / "b")
    dataset = json.loads((root / "dataset.json").read_text())
    dataset["classes"][1] = name
    (root / "dataset.json").write_text(json.dumps(dataset))
    write_manifest(root)  # a forger rewrites the checksums too
    before = snapshot(root)
    assert "a class name is one line of at most 100 printable characters" in one_line("render", root, "--no-pdf")
    assert snapshot(root) == before


def test_a_name_that_is_only_not_nfc_is_shown_as_code_points_and_flags_nothing(template, tmp_path):
    path = shutil.copytree(template, tmp_path / "class" / "cafe\u0301")  # as macOS may write it: no other like it
    result = CliRunner().invoke(main, ["grade", str(path), "--out", str(tmp_path / "g"), "--no-progress"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "g" / "grades.json").read_text(encoding="utf-8"))["rows"]
    assert row["bundle"].endswith("caf\\u0065\\u0301") and row["flag_count"] == 0 and not row["flags"]
