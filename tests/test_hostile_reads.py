"""A bundle file that changes between two reads, and a render that would push a bundle over MAX_BUNDLE_SIZE.

A file served as one content to the hash and as another to the parser (a FUSE folder, or a student's process
swapping it) is simulated by wrapping reportgen.bundle_files.open_regular, through which every bundle file is
opened: after its first open, a file reads as a forgery. A Bundle opens each file it checks once, so the verdict is
about the very bytes it reports; a file hashed before it is parsed (render's integrity check, the weights) is
refused in one line when its second read differs.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from click.testing import CliRunner

import reportgen.bundle_files
import reportgen.data
import reportgen.evaluate
import reportgen.image_folder
import reportgen.report
from reportgen.bundle_files import bundle_sizes, manifest_size
from reportgen.cli import main
from reportgen.report.render import is_output
from tests.analysis_factory import AnalysisOptions
from tests.conftest import tiny_config, tiny_data
from tests.grading_helpers import submission
from tests.test_evaluate import evaluated_bundle, stand_in_report
from tests.test_hostile_refusals import one_line, snapshot
from tests.verification_helpers import copy_of, rendered_bundle

PREDICTIONS = "runs/cnn/seed-42/predictions.csv"


def forged_predictions(text: str) -> bytes:
    """predictions.csv with every prediction made right: a forged, perfect accuracy."""
    lines = text.splitlines()
    rows = [line.split(",") for line in lines[1:]]
    return "\n".join([lines[0], *(",".join([r[0], r[1], r[1], *r[3:]]) for r in rows)]).encode() + b"\n"


def swap_after_first_open(monkeypatch, root, name: str, forged: bytes) -> Counter:
    """Make the bundle file `name` read as `forged` from its second open on; return the count of opens by name."""
    opens: Counter = Counter()
    real = reportgen.bundle_files.open_regular
    target = (root / name).resolve()

    def open_regular(path):
        key = path.resolve().relative_to(root.resolve()).as_posix() if path.resolve().is_relative_to(
            root.resolve()) else str(path)
        opens[key] += 1
        if path.resolve() == target and opens[key] > 1:
            real(path).close()  # the checks on opening still apply
            return io.BytesIO(forged)
        return real(path)

    monkeypatch.setattr(reportgen.bundle_files, "open_regular", open_regular)
    return opens


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return submission(tmp_path_factory.mktemp("template") / "b", 1, models=("cnn",), num_classes=3, test_size=60)


def test_grade_reports_the_predictions_it_verified_each_file_opened_once(template, tmp_path, monkeypatch):
    root = copy_of(template, tmp_path / "b")
    honest = json.loads((root / "runs/cnn/seed-42/metrics.json").read_text())["accuracy"]
    opens = swap_after_first_open(monkeypatch, root, PREDICTIONS, forged_predictions((root / PREDICTIONS).read_text()))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["grade", str(root), "--out", str(tmp_path / "g"), "--no-progress"])
    assert result.exit_code == 0 and result.exception is None, result.output
    (row,) = json.loads((tmp_path / "g" / "grades.json").read_text())["rows"]
    # The checksum and the accuracy are of the same bytes: verified, at the honest accuracy (the forgery's is 100 %).
    assert row["verified"] and row["cnn_accuracy"] == round(100 * honest, 2) < 100, row
    bundle_opens = {name: n for name, n in opens.items() if not name.startswith("/")}
    assert bundle_opens and set(bundle_opens.values()) == {1}, bundle_opens
    assert {p: b for p, b in snapshot(tmp_path).items() if tmp_path / "g" not in p.parents} == before


def test_verify_opens_each_file_of_a_bundle_with_analyses_once(tmp_path, monkeypatch):
    """Every file verify checks, the analysis files that several sections read included, is opened once: its
    checksum is of the bytes checked."""
    root = rendered_bundle(tmp_path / "b", models=("cnn", "vit"), num_classes=3, test_size=60,
                           analyses=AnalysisOptions(analyses=("efficiency",)))
    opens = swap_after_first_open(monkeypatch, root, PREDICTIONS, b"never read")
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exit_code == 0, result.output
    assert "timings.json" in opens and "runs/vit/seed-42/efficiency.json" in opens
    assert set(opens) >= set(json.loads((root / "manifest.json").read_text())["files"])
    assert set(opens.values()) == {1}, opens


def test_render_refuses_a_file_that_differs_from_the_bytes_it_hashed(tmp_path, monkeypatch):
    """render checks the results against the manifest first (hashing them), then reads them to draw: a file that
    reads otherwise the second time is refused, in one line, before anything is written."""
    root = rendered_bundle(tmp_path / "b", models=("cnn",), num_classes=3, test_size=60)
    before = snapshot(tmp_path)
    swap_after_first_open(monkeypatch, root, PREDICTIONS, forged_predictions((root / PREDICTIONS).read_text()))
    line = one_line("render", root, "--no-pdf")
    assert f"{PREDICTIONS} changed while reportgen read it" in line, line
    assert snapshot(tmp_path) == before and not list(root.glob(".render-*"))


def test_verify_deep_loads_the_weights_it_hashed_or_fails_in_one_check(tmp_path, monkeypatch):
    data = tiny_data()
    monkeypatch.setattr(reportgen.evaluate, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    root = evaluated_bundle(tmp_path / "b", tiny_config(), data)
    monkeypatch.setattr(reportgen.data, "load_data", lambda config: data)
    monkeypatch.setattr(reportgen.image_folder, "check_data_source", lambda cfg: None)
    weights = "runs/cnn/seed-42/weights.pt"
    swap_after_first_open(monkeypatch, root, weights, b"another student's weights")
    result = CliRunner().invoke(main, ["verify", "--deep", str(root)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    failures = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1 and "deep: cnn seed 42: weights.pt loads" in failures[0], result.output
    assert f"{weights} changed while reportgen read it" in failures[0]


def remove_rendering(root):
    """Delete the report, figures and tables of a bundle: the results alone stay, still intact."""
    for name in [name for name in bundle_sizes(root) if is_output(name)]:
        (root / name).unlink()


def test_render_that_would_push_the_bundle_over_its_size_bound_is_refused(tmp_path, monkeypatch):
    """With the bound set to the size the bundle has once rendered, render writes it; one byte less, render
    refuses in one line and leaves the bundle as it was (the new manifest counted too, to the byte)."""
    root = rendered_bundle(tmp_path / "b", models=("cnn",), num_classes=3, test_size=60)
    sizes = bundle_sizes(root)
    results = sorted(name for name in sizes if name != "manifest.json")
    assert sizes["manifest.json"] == manifest_size(results)  # the manifest's size follows from the names
    after = sum(sizes.values())
    remove_rendering(root)
    monkeypatch.setattr(reportgen.bundle_files, "MAX_BUNDLE_SIZE", after - 1)
    before = snapshot(tmp_path)
    line = one_line("render", root, "--no-pdf")
    assert f"rendering would make the bundle {after / 2 ** 20:,.1f} MiB" in line and "nothing was written" in line
    assert snapshot(tmp_path) == before and not list(root.glob(".render-*"))
    monkeypatch.setattr(reportgen.bundle_files, "MAX_BUNDLE_SIZE", after)
    result = CliRunner().invoke(main, ["render", str(root), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert sum(bundle_sizes(root).values()) == after and sorted(bundle_sizes(root)) == sorted(sizes)
