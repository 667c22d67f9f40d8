"""verify: each check passes on an intact bundle and fails on the edit it is meant to catch."""

import json

import pytest

from reportgen.bundle import write_manifest
from reportgen.errors import BundleError
from reportgen.report import render_report
from reportgen.verify import verify_bundle
from tests.bundle_factory import make_bundle


@pytest.fixture
def bundle(tmp_path):
    root = make_bundle(tmp_path / "b")
    render_report(root, pdf=False)
    write_manifest(root)
    return root


def failed(root):
    return [c.name for c in verify_bundle(root) if not c.ok]


def test_an_intact_bundle_passes_every_check(bundle):
    assert failed(bundle) == []


def test_a_consistently_forged_metric_is_still_caught_by_recomputation(bundle):
    path = bundle / "runs" / "cnn" / "seed-42" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] += 0.05
    path.write_text(json.dumps(metrics))
    write_manifest(bundle)  # the forger also rewrites the checksums
    assert failed(bundle) == ["cnn seed 42: metrics.json recomputed from predictions.csv"]


def test_a_number_edited_in_the_html_is_caught(bundle):
    html = bundle / "report.html"
    text = html.read_text()
    marker = 'data-metric="vit.seed42.accuracy" data-unit="percent">'
    start = text.index(marker) + len(marker)
    end = text.index("<", start)
    html.write_text(text[:start] + "99.99" + text[end:])
    write_manifest(bundle)
    assert failed(bundle) == ["report.html: numbers equal those recomputed from the predictions"]


def test_added_and_missing_files_are_caught(bundle):
    (bundle / "extra.txt").write_text("x")
    (bundle / "samples.npz").unlink()
    names = failed(bundle)
    assert "manifest: no file added" in names and "manifest: no file missing" in names


def test_a_truncated_history_is_caught(bundle):
    path = bundle / "runs" / "vit" / "seed-42" / "history.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    write_manifest(bundle)
    names = failed(bundle)
    assert "vit seed 42: history has every epoch" in names
    assert "vit seed 42: training time is the sum of epoch times" in names


def test_a_folder_without_manifest_is_refused(tmp_path):
    root = make_bundle(tmp_path / "b")
    (root / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest"):
        verify_bundle(root)


def test_another_schema_version_is_refused(bundle):
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema version 99"):
        verify_bundle(bundle)
