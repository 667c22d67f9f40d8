"""End to end: the `reportgen` command as a user runs it, on the bundled sample of real CIFAR-10.

One build (tiny models, one epoch) is shared by the tests of this module: the report's numbers must
equal those recomputed from the bundle's predictions, verify must pass, and a rebuild must reuse.
"""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from pypdf import PdfReader

from tests.report_checks import check_report_against_predictions

pytestmark = pytest.mark.e2e  # the `reportgen` command line as a user runs it: real processes and whole builds

TINY = ["--set", "cnn.channels=[8, 16]", "--set", "vit.depth=1", "--set", "vit.embed_dim=32",
        "--set", "vit.mlp_dim=64", "--set", "train.batch_size=256"]


def reportgen(*args, cwd):
    """Run the installed command line, as a user would."""
    return subprocess.run([sys.executable, "-m", "reportgen.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def build_in_new_folder(tmp_path_factory, name: str, preset: str, *args: str):
    """`reportgen build --preset <preset> ...` run from a fresh folder: (that folder, the bundle, the result)."""
    workdir = tmp_path_factory.mktemp(name)
    result = reportgen("build", "--preset", preset, *args, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, workdir / "artifacts" / preset, result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_in_new_folder(tmp_path_factory, "user", "quick", "--epochs", "1", *TINY, "--no-progress")


def test_build_reports_what_it_did_and_writes_html_and_pdf(built):
    _, bundle, result = built
    assert "CNN seed 42: training on cpu" in result.stdout
    assert "wrote artifacts/quick/report.html and artifacts/quick/report.pdf" in result.stdout
    assert len(PdfReader(bundle / "report.pdf").pages) > 3


def test_report_numbers_equal_those_recomputed_from_predictions(built):
    _, root, _ = built
    assert check_report_against_predictions(root) == 2 * 10 * 3  # 2 models x 10 classes x precision, recall, F1


def test_verify_passes_on_the_fresh_bundle(built):
    workdir, _, _ = built
    result = reportgen("verify", "artifacts/quick", cwd=workdir)
    assert result.returncode == 0, result.stdout
    assert "0 failed" in result.stdout


def test_verify_catches_a_raised_metric_an_edited_prediction_and_a_swapped_figure(built, tmp_path):
    _, root, _ = built
    cases = {
        "metric": lambda b: _edit(b / "runs/cnn/seed-42/metrics.json", '"accuracy": 0.', '"accuracy": 0.9'),
        "prediction": lambda b: _flip_a_prediction(b / "runs/vit/seed-42/predictions.csv"),
        "figure": lambda b: shutil.copyfile(b / "figures" / "curves_vit.svg", b / "figures" / "curves_cnn.svg"),
    }
    for name, tamper in cases.items():
        copy = tmp_path / name
        shutil.copytree(root, copy)
        tamper(copy)
        result = reportgen("verify", str(copy), cwd=tmp_path)
        assert result.returncode == 1, (name, result.stdout)
        assert "FAIL" in result.stdout


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _flip_a_prediction(path):
    rows = path.read_text().splitlines()
    fields = rows[1].split(",")
    fields[2] = str((int(fields[2]) + 1) % 10)
    rows[1] = ",".join(fields)
    path.write_text("\n".join(rows) + "\n")


def test_rebuild_with_a_report_change_reuses_both_models(built):
    workdir, root, _ = built
    result = reportgen("build", "--preset", "quick", "--epochs", "1", *TINY, "--set", "report.title=Second look",
                       "--set", "report.pdf=false", "--no-progress", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CNN seed 42: reused" in result.stdout and "ViT seed 42: reused" in result.stdout
    assert "training on" not in result.stdout
    assert "Second look" in (root / "report.html").read_text()


def test_render_redraws_the_report_from_the_bundle(built):
    workdir, root, _ = built
    (root / "report.html").unlink()
    result = reportgen("render", "artifacts/quick", "--no-pdf", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (root / "report.html").is_file()
    assert reportgen("verify", "artifacts/quick", cwd=workdir).returncode == 0


def test_predictions_file_has_the_documented_columns(built):
    _, root, _ = built
    header = (root / "runs/cnn/seed-42/predictions.csv").read_text().splitlines()[0]
    assert header == "index,label,pred," + ",".join(f"p_{i}" for i in range(10))
    probs = np.loadtxt(root / "runs/cnn/seed-42/predictions.csv", delimiter=",", skiprows=1)[:, 3:]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)


# The study on the sample with tiny models: 3 epochs (the modern recipe warms up over 2), and the build-time
# analyses off (the quick build above covers them), so that every experiment section is exercised in a minute.
STUDY = ["--epochs", "3", *TINY, "--set", "analysis.efficiency=false", "--set", "analysis.robustness=false",
         "--set", "analysis.explanations=false", "--no-progress"]
EXPERIMENTS = ("variants", "augmentation", "data-efficiency", "training-length", "recipe")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_in_new_folder(tmp_path_factory, "student", "quick-study", *STUDY)


def test_a_study_trains_every_variant_and_reports_every_experiment(study):
    workdir, root, result = study
    assert "[1/18] base config, CNN seed 42: 18 runs left to train" in result.stdout  # 8 variants and the base
    assert "[3/18] variant no-augment, CNN seed 42: 16 runs left to train, about " in result.stdout
    assert "modern: ViT seed 42: training on cpu" in result.stdout
    html = (root / "report.html").read_text()
    for key in EXPERIMENTS:
        assert f'id="{key}"' in html, key
    assert (root / "report.pdf").is_file()
    verified = reportgen("verify", "artifacts/quick-study", cwd=workdir)
    assert verified.returncode == 0 and "0 failed" in verified.stdout, verified.stdout[-3000:]


def test_adding_a_variant_to_a_finished_study_trains_only_it_and_compare_reads_both(study):
    workdir, root, _ = study
    grown = reportgen("build", "--preset", "quick-study", *STUDY, "--set", "variants.data-75.data.train_fraction=0.75",
                      "--out", "artifacts/grown", cwd=workdir)
    assert grown.returncode == 0, grown.stderr[-3000:]
    trained = [line for line in grown.stdout.splitlines() if "training on" in line]
    assert trained == ["data-75: CNN seed 42: training on cpu (no stored run matches this config)",
                       "data-75: ViT seed 42: training on cpu (no stored run matches this config)"]
    assert grown.stdout.count(": reused (") == 18
    compared = reportgen("compare", "artifacts/quick-study", "artifacts/grown", "--no-pdf", cwd=workdir)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert (workdir / "artifacts" / "compare" / "compare.html").is_file()
