"""Section "Setup and reproducibility": the environment and one row per run."""

from __future__ import annotations

import json

from reportgen.bundle import write_json, write_manifest
from reportgen.report.contents import read_contents
from reportgen.report.sections.setup import Setup
from tests.bundle_factory import make_bundle
from tests.section_helpers import contents, numbers, tables


def test_environment_and_runs(tmp_path):
    environment, runs = tables(numbers(Setup(), contents(tmp_path / "b", seeds=(1, 2))))
    assert "dataset fingerprint (sha256)" in [row[0] for row in environment.rows]
    assert [(row[0], row[1]) for row in runs.rows] == [("CNN", "1"), ("CNN", "2"), ("ViT", "1"), ("ViT", "2")]


def test_the_reused_status_is_explained_only_where_a_run_has_it(tmp_path):
    trained = tables(numbers(Setup(), contents(tmp_path / "t")))[1]
    assert trained.caption == "Runs in this bundle."
    root = make_bundle(tmp_path / "r")
    path = next((root / "runs" / "cnn").glob("seed-*/run.json"))
    write_json(path, {**json.loads(path.read_text()), "status": "reused"})
    write_manifest(root)
    reused = tables(numbers(Setup(), read_contents(root)))[1]
    assert 'status "reused": not retrained by the build' in reused.caption
