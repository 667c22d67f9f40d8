"""Hostile bundles that used to end in a traceback: each is one line through the CLI, a non-zero exit, and nothing
written. A folder where render writes a file, all-zero timings, and evaluate's --out checked before any work."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import reportgen.evaluate
from reportgen.bundle import write_manifest
from reportgen.cli import main
from reportgen.errors import BundleError
from tests.analysis_factory import AnalysisOptions
from tests.conftest import tiny_config
from tests.verification_helpers import copy_of, rendered_bundle

RUN = "runs/cnn/seed-42"


def one_line(*args, exit_code: int = 1) -> str:
    """Run the CLI; check it ended in one `error:` line with `exit_code`, no traceback; return the line."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A rendered bundle with timings (efficiency.json, timings.json), as a build writes it (rendered once)."""
    return rendered_bundle(tmp_path_factory.mktemp("template") / "b", models=("cnn", "vit"), num_classes=3,
                           test_size=60, analyses=AnalysisOptions(analyses=("efficiency",)))


@pytest.fixture
def root(template, tmp_path):
    return copy_of(template, tmp_path / "b")


@pytest.mark.parametrize("name", ["report.html", "report.pdf", "summary.json", "manifest.json", "figures/a.svg",
                                  "tables/results.csv"])
def test_a_folder_where_render_writes_a_file_is_refused_before_anything_is_written(root, name):
    target = root / name
    if target.exists():
        target.unlink()
    target.mkdir(parents=True)
    before = snapshot(root)
    line = one_line("render", root, "--no-pdf")
    assert f"{name} is not a regular file (a folder or a link)" in line
    assert snapshot(root) == before


def test_figures_that_is_a_file_is_refused(root):
    shutil.rmtree(root / "figures")
    (root / "figures").write_text("not a folder")
    assert "figures is not a folder" in one_line("render", root, "--no-pdf")


def rewrite_json(path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def zero_run_times(root) -> None:
    for path in root.glob("runs/*/seed-*/run.json"):
        rewrite_json(path, lambda info: info.update(train_time_s=0.0))


def zero_epoch_times(root) -> None:
    for path in root.glob("runs/*/seed-*/history.csv"):
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0], *(line.rsplit(",", 1)[0] + ",0.0" for line in lines[1:])]) + "\n")


def zero_timings(root) -> None:
    rewrite_json(root / "timings.json", lambda t: t.update(
        {key: [[0.0] * len(row) for row in t[key]] for key in ("inference_s", "latency_s", "step_s")}))


def zero_batch(root) -> None:
    for path in root.glob("runs/*/seed-*/efficiency.json"):
        rewrite_json(path, lambda e: e.update(batch_size=0))


@pytest.mark.parametrize("edit, match", [
    (zero_run_times, "run.json is a trained run without a positive whole 'epochs' and a positive 'train_time_s'"),
    (zero_epoch_times, "history.csv has an epoch time that is not a positive number of seconds"),
    (zero_timings, "timings.json: inference_s holds a value that is not positive"),
    (zero_batch, "efficiency.json: batch_size holds a value that is not positive"),
])
def test_all_zero_timings_are_one_line_for_render_verify_and_grade(root, tmp_path, edit, match):
    edit(root)
    write_manifest(root)  # a forger rewrites the checksums too
    before = snapshot(root)
    assert match in one_line("render", root, "--no-pdf")
    verified = CliRunner().invoke(main, ["verify", str(root)])
    assert verified.exit_code == 1 and "Traceback" not in verified.output, verified.output
    assert match in verified.output
    result = CliRunner().invoke(main, ["grade", str(root), "--out", str(tmp_path / "grades"), "--no-progress"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    (row,) = json.loads((tmp_path / "grades" / "grades.json").read_text())["rows"]
    assert row["verified"] is False
    assert snapshot(root) == before


def test_evaluate_refuses_an_out_folder_of_other_files_before_reading_anything(tmp_path, monkeypatch):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("years of work")
    weights = tmp_path / "cnn.pt"
    weights.write_bytes(b"not even a torch file")  # refused only after --out: nothing is read before

    def fail(*args, **kwargs):
        raise AssertionError("the data was loaded before --out was checked")

    monkeypatch.setattr(reportgen.evaluate, "load_data", fail)
    with pytest.raises(BundleError, match="holds files and is not a reportgen bundle"):
        reportgen.evaluate.evaluate({"cnn": weights}, tiny_config(), None, out)
    line = one_line("evaluate", "--weights", f"cnn={weights}", "--preset", "quick", "--out", out)
    assert "holds files and is not a reportgen bundle" in line
    assert [p.name for p in out.iterdir()] == ["chapter1.tex"]
