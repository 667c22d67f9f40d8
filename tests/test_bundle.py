"""Reading a stranger's bundle: every way a forger can break one ends in one BundleError line, never a
traceback, and nothing is read or written outside the bundle. One test (or more) per category."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from reportgen import bundle_checks, bundle_files
from reportgen.bundle import Bundle, is_inside_path, write_manifest
from reportgen.cli import main
from reportgen.errors import BundleError
from tests.bundle_factory import VariantSpec, make_bundle

RUN = "runs/cnn/seed-42"


@pytest.fixture
def root(tmp_path):
    return make_bundle(tmp_path / "b", models=("cnn",), num_classes=3, test_size=60)


def read_everything(root) -> None:
    """What render, verify and compare read of a bundle."""
    bundle = Bundle(root)
    bundle.manifest_differences()
    bundle.config(), bundle.environment(), bundle.dataset(), bundle.samples()
    for model in bundle.models():
        for run in bundle.runs(model):
            bundle.visuals(model, run.seed)
    bundle.architectures()


def refused(root, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        read_everything(root)


def one_line_refusal(*args) -> str:
    """Run the CLI and check that it refused in one line, without a traceback; return the line."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


def rewrite_predictions(root, edit) -> None:
    path = root / RUN / "predictions.csv"
    rows = [line.split(",") for line in path.read_text().splitlines()]
    edit(rows)
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    write_manifest(root)  # a forger rewrites the checksums too


def test_an_intact_bundle_reads(root):
    read_everything(root)


# ---------------------------------------------------------------- files that are not regular files


def test_a_symlink_to_a_file_outside_is_refused_before_anything_is_read(root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    (root / RUN / "metrics.json").unlink()
    (root / RUN / "metrics.json").symlink_to(secret)
    line = one_line_refusal("verify", root)
    assert "runs/cnn/seed-42/metrics.json is a symbolic link" in line
    one_line_refusal("render", root, "--no-pdf")
    assert not (root / "report.html").exists()  # refused before writing


def test_a_symlinked_folder_is_refused(root, tmp_path):
    (root / "figures").symlink_to(tmp_path)
    refused(root, "figures is a symbolic link")


def test_a_fifo_is_refused_without_blocking(root):
    os.mkfifo(root / "extra.csv")  # reading it would block for ever
    line = one_line_refusal("verify", root)
    assert "extra.csv is not a regular file" in line


def test_a_file_opened_through_a_swapped_in_link_is_refused(root, tmp_path):
    """Even when a link appears after the folder was scanned, files are opened without following links."""
    bundle = Bundle(root)
    (root / "dataset.json").unlink()
    (root / "dataset.json").symlink_to(tmp_path)
    with pytest.raises(BundleError, match="cannot be opened as a regular file"):
        bundle.dataset()


# ---------------------------------------------------------------- manifest entries outside the bundle


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/passwd", "runs/../../x", "a//b", ""])
def test_a_manifest_entry_outside_the_bundle_is_refused(root, name):
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"][name] = "0" * 64
    path.write_text(json.dumps(manifest))
    line = one_line_refusal("verify", root)
    assert "is not a path inside the bundle" in line


def test_inside_paths():
    assert is_inside_path("runs/cnn/seed-42/run.json")
    assert not any(is_inside_path(p) for p in ("../x", "/x", "a/../b", "a\\b", "a/./b", None, 3))


def test_a_manifest_checksum_that_is_not_a_sha256_is_refused(root):
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["config.yaml"] = "<script>"
    path.write_text(json.dumps(manifest))
    refused(root, "not a sha256")


# ---------------------------------------------------------------- arrays that need pickle


@pytest.mark.parametrize("name", [f"{RUN}/visuals.npz", "samples.npz"])
def test_an_npz_array_that_needs_pickle_is_refused_and_never_unpickled(root, name, tmp_path):
    marker = tmp_path / "unpickled"
    np.savez(root / name, stage_1=np.array([Exploit(marker)], dtype=object))
    write_manifest(root)
    refused(root, "needs pickle")
    assert not marker.exists()


class Exploit:
    """Unpickling this would create a file: proof that code from the bundle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_npz_that_would_unpack_beyond_its_cap_is_refused(root, monkeypatch):
    monkeypatch.setattr(bundle_checks, "NPZ_UNPACKED_CAP", 1000)
    np.savez_compressed(root / RUN / "visuals.npz", stage_1=np.zeros((1, 100, 100), dtype=np.float32))
    refused(root, "would unpack to")


def test_an_npz_that_is_not_a_zip_is_refused(root):
    (root / "samples.npz").write_bytes(b"PK\x03\x04 but not really")
    refused(root, "not a valid .npz")


# ---------------------------------------------------------------- non-finite and out-of-range values


@pytest.mark.parametrize("column, value, match", [
    (3, "nan", "not a finite number"),
    (3, "inf", "not a finite number"),
    (1, "3", "label that is not a class id"),
    (2, "-1", "pred that is not a class id"),
    (2, "0.5", "pred that is not a class id"),
    (3, "1.5", "probability outside"),
    (0, "7", "in order"),
])
def test_out_of_range_predictions_are_refused(root, column, value, match):
    def edit(rows):
        rows[1][column] = value

    rewrite_predictions(root, edit)
    refused(root, match)


def test_probabilities_that_do_not_sum_to_one_are_refused(root):
    def edit(rows):
        rows[1][3:] = ["0.2", "0.2", "0.2"]

    rewrite_predictions(root, edit)
    line = one_line_refusal("render", root, "--no-pdf")
    assert "does not sum to 1" in line


def test_predictions_with_another_number_of_classes_are_refused(root):
    rewrite_predictions(root, lambda rows: [row.pop() for row in rows])
    refused(root, "must have the columns index,label,pred,p_0..p_2")


@pytest.mark.parametrize("file, edit, match", [
    ("metrics.json", lambda m: m.update(accuracy=1.5), "no 'accuracy' between 0 and 1"),
    ("metrics.json", lambda m: m["per_class"].pop(), "one 'per_class' entry per class"),
    ("metrics.json", lambda m: m["confusion"][0].__setitem__(0, -1), "confusion"),
    ("run.json", lambda r: r.update(seed=7), "at seed 42, as its folder says"),
    ("run.json", lambda r: r.update(origin="imported"), "known origins are trained, evaluated"),
    ("run.json", lambda r: r.pop("epochs"), "a trained run without"),
])
def test_out_of_range_json_values_are_refused(root, file, edit, match):
    path = root / RUN / file
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    refused(root, match)


def test_an_npy_header_declaring_more_than_its_member_holds_is_refused_unallocated(root):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 42,)})
    with zipfile.ZipFile(root / "samples.npz", "w") as archive:  # 32 TiB declared, 64 bytes held
        archive.writestr("images.npy", header.getvalue() + b"\0" * 64)
    write_manifest(root)
    refused(root, "declares an array of 35,184,372,088,832 bytes in images.npy")


def test_json_with_nan_is_refused(root):
    path = root / RUN / "metrics.json"
    path.write_text(path.read_text().replace('"accuracy": 0.', '"accuracy": NaN, "x": 0.', 1))
    refused(root, "NaN is not a finite number")


def test_json_with_a_duplicated_key_is_refused(root):
    path = root / RUN / "metrics.json"
    path.write_text(path.read_text().replace('"accuracy": ', '"accuracy": 0.99, "accuracy": ', 1))
    refused(root, "'accuracy' appears twice")


@pytest.mark.parametrize("text, match", [
    ("models: &m [cnn]\nextra: *m\n", "uses a YAML alias"),
    ("models: [cnn]\nmodels: [vit]\n", "'models' twice"),
])
def test_a_config_with_aliases_or_a_duplicated_key_is_refused(root, text, match):
    (root / "config.yaml").write_text(text)
    with pytest.raises(BundleError, match=match):
        Bundle(root).config()


def test_a_history_with_an_accuracy_above_one_is_refused(root):
    path = root / RUN / "history.csv"
    rows = path.read_text().splitlines()
    fields = rows[1].split(",")
    fields[2] = "1.7"
    rows[1] = ",".join(fields)
    path.write_text("\n".join(rows) + "\n")
    refused(root, "accuracy outside")


def test_attention_weights_outside_zero_one_are_refused(tmp_path):
    root = make_bundle(tmp_path / "v", models=("vit",), num_classes=3, test_size=60)
    path = root / "runs/vit/seed-42/visuals.npz"
    np.savez(path, cls_attention=np.full((2, 8, 8), 3.0, dtype=np.float32))
    refused(root, "attention weights outside")


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.update(test=s["test"][:0], test_labels=s["test_labels"][:0]), "no valid 'test'"),
    (lambda s: s.update(test_labels=s["test_labels"][:1]), "'test' images but 1 'test_labels'"),
], ids=["empty", "lengths"])
def test_samples_that_are_empty_or_unmatched_are_refused(root, edit, match):
    samples = dict(np.load(root / "samples.npz"))
    edit(samples)
    np.savez(root / "samples.npz", **samples)
    refused(root, match)


def test_empty_visuals_are_refused(root):
    np.savez(root / RUN / "visuals.npz", stage_1=np.zeros((4, 0, 8), dtype=np.float32))
    refused(root, "not a non-empty, finite float array")


def test_samples_with_a_label_outside_the_classes_are_refused(root):
    samples = dict(np.load(root / "samples.npz"))
    samples["test_labels"] = samples["test_labels"] + 5
    np.savez(root / "samples.npz", **samples)
    refused(root, "no valid 'test_labels'")


# ---------------------------------------------------------------- oversized files


def test_an_oversized_file_is_refused_unread(root):
    with open(root / RUN / "predictions.csv", "r+b") as f:
        f.truncate(65 * bundle_files.MiB)  # sparse: over the 64 MiB cap of a .csv, without writing it
    line = one_line_refusal("verify", root)
    assert "65.0 MiB, over the 64 MiB" in line


def test_too_many_files_are_refused(root, monkeypatch):
    monkeypatch.setattr(bundle_files, "MAX_FILES", 5)
    refused(root, "more than 5 files")


def test_too_many_bytes_are_refused(root, monkeypatch):
    monkeypatch.setattr(bundle_files, "MAX_BUNDLE_SIZE", 10_000)
    refused(root, "or 0.00953674 MiB")


# ---------------------------------------------------------------- malformed JSON, CSV and YAML


@pytest.mark.parametrize("name, content, match", [
    ("dataset.json", b'{"classes": [', "not valid JSON"),
    ("environment.json", b"[1, 2]", "must hold a JSON object"),
    ("manifest.json", b"\xff\xfe not text", "not UTF-8 text"),
    ("manifest.json", b"[" * 100_000, "not valid JSON"),
    ("config.yaml", b"train: [unclosed", "not a valid reportgen config"),
    ("config.yaml", b"train:\n  epochs: many\n", "not a valid reportgen config"),
    (f"{RUN}/predictions.csv", b"index,label,pred,p_0,p_1,p_2\n0,0,0,1,0\n", "row that has not 6 values"),
    (f"{RUN}/predictions.csv", b"index,label,pred,p_0,p_1,p_2\n0,zero,0,1,0,0\n", "not a number"),
    (f"{RUN}/history.csv", b"", "is empty"),
])
def test_malformed_files_are_one_line_refusals(root, name, content, match):
    (root / name).write_bytes(content)
    if name != "manifest.json":
        write_manifest(root)
    line = one_line_refusal("render", root, "--no-pdf")
    assert match in line


@pytest.mark.parametrize("name", ["runs/cnn/seed-x/run.json", "runs/cnn/seed-042/run.json", "runs/cnn/notes.txt"])
def test_a_run_folder_that_is_not_a_seed_is_refused(root, name):
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text("{}")
    refused(root, "is not where a bundle keeps its runs")


def test_a_trained_run_without_history_is_refused(root):
    (root / RUN / "history.csv").unlink()
    write_manifest(root)
    refused(root, "history.csv is missing")


def test_an_evaluated_run_reads_without_history(tmp_path):
    root = make_bundle(tmp_path / "e", models=("cnn",), origin="evaluated")
    (run,) = Bundle(root).runs("cnn")
    assert run.origin == "evaluated" and run.history is None
    (run.path / "history.csv").write_text("epoch\n1\n")  # an evaluated run has no training history
    refused(root, "says was evaluated, not trained")


@pytest.mark.parametrize("name", ["manifest.json", "config.yaml", "environment.json", "dataset.json",
                                  "architectures.json", "samples.npz", f"{RUN}/run.json", f"{RUN}/metrics.json",
                                  f"{RUN}/predictions.csv", f"{RUN}/history.csv", f"{RUN}/visuals.npz"])
@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff", b"[]", b"{}", b"null"])
def test_any_broken_file_never_ends_a_reading_command_in_a_traceback(root, tmp_path, name, content):
    """verify either copes (`{}` is a valid config.yaml or environment.json) or refuses in one line; render,
    which reads every file, refuses every other case. (compare and grade read through the same Bundle.)"""
    (root / name).write_bytes(content)
    if name != "manifest.json":
        write_manifest(root)
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if "error: " in result.output:
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    if (name, content) not in {("config.yaml", b"{}"), ("environment.json", b"{}")}:
        one_line_refusal("render", root, "--no-pdf")


def test_reading_never_writes_into_or_outside_the_bundle(root, tmp_path):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    read_everything(root)
    with zipfile.ZipFile(root / "samples.npz") as archive:  # the arrays really were read
        assert "test.npy" in archive.namelist()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_folder_that_is_no_bundle_is_told_so_before_anything_in_it_is_read(tmp_path):
    (tmp_path / "notes.txt").write_text("not a bundle")
    (tmp_path / "link").symlink_to("/etc/hostname")
    with pytest.raises(BundleError, match="has no manifest.json: it is not a complete reportgen bundle"):
        Bundle(tmp_path)


@pytest.fixture
def study(tmp_path):
    return make_bundle(tmp_path / "study", variants={
        "no-augment": VariantSpec({"augment.enabled": False}, {"cnn": 0.8, "vit": 0.6})})


def test_a_variant_s_runs_read_like_the_base_runs(study):
    bundle = Bundle(study)
    assert bundle.variants() == ["no-augment"]
    (run,) = bundle.runs("vit", "no-augment")
    assert (run.variant, run.seed, run.label) == ("no-augment", 42, "no-augment: vit seed 42")
    assert run.path == study / "variants" / "no-augment" / "vit" / "seed-42"
    assert np.array_equal(run.labels, bundle.runs("vit")[0].labels)


@pytest.mark.parametrize("name, match", [
    ("variants/other/cnn/seed-42/run.json", "belongs to no variant of config.yaml"),
    ("variants/no-augment/cnn/seed-x/run.json", "variants/no-augment/<model>/seed-<number>/"),
    ("variants/no-augment/cnn/notes.txt", "is not where a bundle keeps its runs"),
])
def test_a_variant_folder_out_of_place_is_a_one_line_refusal(study, name, match):
    (study / name).parent.mkdir(parents=True, exist_ok=True)
    (study / name).write_text("{}")
    write_manifest(study)
    assert match in one_line_refusal("render", study, "--no-pdf")


def test_a_variant_without_a_model_s_runs_is_a_one_line_refusal(study):
    shutil.rmtree(study / "variants" / "no-augment" / "vit")
    write_manifest(study)
    assert "has no runs of model 'vit' in variant 'no-augment'" in one_line_refusal("render", study, "--no-pdf")


# ---------------------------------------------------------------- what an output folder may replace


def test_an_output_folder_of_someone_elses_files_is_never_replaced(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("months of work")
    with pytest.raises(BundleError, match="not a reportgen bundle"):
        bundle_files.staging_dir(out)
    staged = tmp_path / ".staged"
    staged.mkdir()
    with pytest.raises(BundleError, match="not a reportgen bundle"):
        bundle_files.publish(staged, out)  # checked again when the bundle is ready
    assert (out / "chapter1.tex").read_text() == "months of work"


def test_an_empty_folder_or_a_bundle_may_be_replaced(tmp_path, root):
    (tmp_path / "empty").mkdir()
    for final in (tmp_path / "empty", root, tmp_path / "new"):
        staged = bundle_files.staging_dir(final)
        (staged / "marker").write_text("new")
        bundle_files.publish(staged, final)
        assert (final / "marker").read_text() == "new"


def test_build_refuses_an_output_folder_that_is_not_a_bundle_before_training(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    line = one_line_refusal("build", "--preset", "quick", "--epochs", "1", "--out", out, "--runs-dir", tmp_path / "r")
    assert "not a reportgen bundle" in line and "choose another --out" in line
    assert (out / "todo.txt").read_text() == "keep me" and not (tmp_path / "r").exists()


def test_a_bundle_that_is_a_symbolic_link_is_refused(root, tmp_path):
    link = tmp_path / "copied-submission"
    link.symlink_to(root)
    with pytest.raises(BundleError, match="is a symbolic link to"):
        Bundle(link)


def test_a_file_with_several_hard_links_is_refused(root, tmp_path):
    os.link(root / RUN / "metrics.json", tmp_path / "elsewhere.json")
    refused(root, "has 2 hard links")


def test_json_is_written_to_a_new_file_never_through_a_hard_link(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    inside = tmp_path / "bundle" / "summary.json"
    inside.parent.mkdir()
    os.link(outside, inside)
    bundle_files.write_json(inside, {"a": 1})
    assert outside.read_text() == "{}" and bundle_files.read_json(inside) == {"a": 1}
