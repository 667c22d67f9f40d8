"""A bundle that changes while it is read: a run folder swapped for a link to another folder after the scan is
refused, never followed (reportgen.bundle_files.BundleRoot opens every file through the folder scanned)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import reportgen.data
import reportgen.evaluate
import reportgen.image_folder
import reportgen.report
from reportgen.bundle import Bundle
from reportgen.cli import main
from reportgen.errors import BundleError
from tests.bundle_factory import make_bundle
from tests.conftest import tiny_config, tiny_data
from tests.test_evaluate import evaluated_bundle, stand_in_report

RUN = "runs/cnn/seed-42"


def swap_for_link(root, name, tmp_path):
    """Move the folder `name` out of the bundle and leave a symbolic link to it in its place."""
    outside = tmp_path / "outside" / name
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(root / name, outside)
    (root / name).symlink_to(outside, target_is_directory=True)


def test_a_run_folder_swapped_for_a_link_after_the_scan_is_not_followed(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",), num_classes=3, test_size=60)
    bundle = Bundle(root)  # scanned: no link yet
    swap_for_link(root, RUN, tmp_path)
    with pytest.raises(BundleError, match=f"{RUN} is a symbolic link or not a folder"):
        bundle.runs("cnn")
    with pytest.raises(BundleError, match=f"{RUN} is a symbolic link or not a folder"):
        bundle.visuals("cnn", 42)


def test_a_file_read_through_a_link_in_place_of_the_bundle_folder_itself_is_refused(tmp_path):
    root = make_bundle(tmp_path / "b", models=("cnn",), num_classes=3, test_size=60)
    bundle = Bundle(root)
    shutil.move(root, tmp_path / "elsewhere")
    (tmp_path / "b").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    bundle.dataset()  # read through the folder opened at the scan, the one that moved: not through the new link
    with pytest.raises(BundleError, match="is a symbolic link"):
        Bundle(root)


def test_verify_deep_refuses_a_run_folder_swapped_for_a_link_before_the_weights_are_read(tmp_path, monkeypatch):
    """Between the checks of the bundle and the re-prediction, the run folder becomes a link to a folder outside:
    the weights there are never loaded, and verify fails in one line that names the link."""
    data = tiny_data()
    monkeypatch.setattr(reportgen.evaluate, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    root = evaluated_bundle(tmp_path / "b", tiny_config(), data)

    def load_data_then_swap(config):  # the point between the scan and the weights' read
        swap_for_link(root, RUN, tmp_path)
        return data

    monkeypatch.setattr(reportgen.data, "load_data", load_data_then_swap)
    monkeypatch.setattr(reportgen.image_folder, "check_data_source", lambda cfg: None)
    result = CliRunner().invoke(main, ["verify", "--deep", str(root)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    failures = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1, result.output
    assert "deep: cnn seed 42: weights.pt loads" in failures[0]
    assert f"{RUN} is a symbolic link or not a folder" in failures[0]
