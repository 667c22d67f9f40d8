"""report.summary: summary.json, every number of the report with its key, exact value, unit, printed text and section,
written by every render and verified against the report rebuilt from the predictions."""

import json

from reportgen.bundle import write_manifest
from reportgen.report.summary import SUMMARY_JSON, SUMMARY_SCHEMA_VERSION
from reportgen.verification import read_report_metrics, verify_bundle
from tests.verification_helpers import failed

SUMMARY_CHECK = "summary.json: every number of the report, as recomputed from the predictions and probabilities"


def summary(root) -> dict:
    return json.loads((root / SUMMARY_JSON).read_text())


def test_summary_holds_every_number_of_the_report_once(bundle):
    document = summary(bundle)
    assert document["schema_version"] == SUMMARY_SCHEMA_VERSION and document["reportgen_version"]
    entries = {e["key"]: e for e in document["metrics"]}
    assert len(entries) == len(document["metrics"])  # each key once
    shown = read_report_metrics(bundle / "report.html")
    assert {key for key, _ in shown} == set(entries)
    for key, text in shown:
        assert entries[key]["text"] == text
    assert set(entries["vit.seed42.accuracy"]) == {"key", "value", "unit", "text", "section"}


def test_values_are_exact_numbers_and_sections_are_the_registry_keys(bundle):
    entries = {e["key"]: e for e in summary(bundle)["metrics"]}
    accuracy = entries["cnn.seed42.accuracy"]
    assert isinstance(accuracy["value"], float) and accuracy["unit"] == "percent"
    assert accuracy["text"] == f"{accuracy['value']:.2f}"
    assert entries["run.seeds"]["section"] == "title" and isinstance(entries["run.seeds"]["value"], int)
    assert entries["compare.mcnemar.seed42.p"]["section"] == "accuracy"  # a chapter's child, not "analysis"
    sections = {e["section"] for e in entries.values()}
    assert {"title", "setup", "results", "accuracy"} <= sections and "analysis" not in sections


def test_summary_is_listed_in_the_manifest_and_verified(bundle):
    assert SUMMARY_JSON in json.loads((bundle / "manifest.json").read_text())["files"]
    (check,) = [c for c in verify_bundle(bundle) if c.name == SUMMARY_CHECK]
    assert check.ok and "numbers compared" in check.detail


def edit_summary(root, edit) -> None:
    document = summary(root)
    edit(document)
    (root / SUMMARY_JSON).write_text(json.dumps(document))
    write_manifest(root)  # a consistent forgery: only the numbers check can tell


def test_a_tampered_value_fails_verify(bundle):
    def forge(document):
        entry = next(e for e in document["metrics"] if e["key"] == "vit.seed42.accuracy")
        entry["value"] = 99.5

    edit_summary(bundle, forge)
    assert failed(bundle) == [SUMMARY_CHECK]
    (check,) = [c for c in verify_bundle(bundle) if c.name == SUMMARY_CHECK]
    assert "vit.seed42.accuracy: value 99.5" in check.detail


def test_a_tampered_text_unit_or_section_fails_verify(bundle):
    def forge(document):
        document["metrics"][0]["section"] = "results"
        document["metrics"][1]["text"] = "1,000"

    edit_summary(bundle, forge)
    assert failed(bundle) == [SUMMARY_CHECK]


def test_a_number_added_or_removed_fails_verify(bundle):
    edit_summary(bundle, lambda d: d["metrics"].append({"key": "cnn.bonus", "value": 1, "unit": "count",
                                                         "text": "1", "section": "results"}))
    assert failed(bundle) == [SUMMARY_CHECK]
    edit_summary(bundle, lambda d: d["metrics"].pop())
    edit_summary(bundle, lambda d: d["metrics"].pop())
    assert failed(bundle) == [SUMMARY_CHECK]


def test_a_broken_summary_fails_verify(bundle):
    (bundle / SUMMARY_JSON).write_text("{not json")
    write_manifest(bundle)
    assert failed(bundle) == [SUMMARY_CHECK]


def test_a_summary_removed_from_a_new_bundle_fails_verify(bundle):
    (bundle / SUMMARY_JSON).unlink()  # still listed in the manifest: not an old bundle
    assert failed(bundle) == ["manifest: no file missing", SUMMARY_CHECK]


def test_a_bundle_without_summary_says_it_is_older(bundle):
    (bundle / SUMMARY_JSON).unlink()
    write_manifest(bundle)
    (check,) = [c for c in verify_bundle(bundle) if c.name == SUMMARY_CHECK]
    assert check.ok and check.detail.startswith("not present (bundle older than")


def test_a_difference_that_is_the_same_at_every_seed_is_written_and_verified(tmp_path):
    # Without seed-to-seed jitter both models move together: the paired t over seeds is infinite, which JSON
    # cannot hold. It is written as null (its text "inf"), and the bundle still verifies.
    from tests.verification_helpers import rendered_bundle

    root = rendered_bundle(tmp_path / "b", seeds=(42, 43), seed_jitter=0.0)
    entries = {e["key"]: e for e in summary(root)["metrics"]}
    infinite = [e for e in entries.values() if e["value"] is None]
    assert infinite and all(e["text"] in ("inf", "-inf") for e in infinite)
    assert SUMMARY_CHECK not in failed(root)
