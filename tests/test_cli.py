"""CLI: help and version, and one-line errors with the right exit code for a user's mistakes."""

import pytest
from click.testing import CliRunner

from reportgen import __version__
from reportgen.cli import main
from tests.torch_free import assert_runs_without_torch


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("command", ["build", "render", "verify", "compare", "bench"])
def test_every_command_explains_itself_with_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"reportgen {command}" in result.output


@pytest.mark.parametrize("args, needle", [
    (["build", "--set", "train.lrr=0.1"], "unknown config key 'train.lrr'"),
    (["build", "--epochs", "-1"], "'train.epochs'"),
    (["build", "--set", "models=[cnn, resnet]"], "unknown model 'resnet'"),
    (["build", "--set", "vit.num_heads=3"], "'vit.num_heads'"),
    (["build", "--set", "epochs"], "section.key=value"),
    (["build", "--seeds", "1,x"], "--seeds"),
    (["build", "--seed", "1", "--seeds", "1,2"], "either --seed or --seeds"),
    (["build", "--config", "missing.yaml"], "does not exist"),
])
def test_config_mistakes_exit_2_with_one_line_before_any_work(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "artifacts").exists()  # refused before any work


def test_missing_data_dir_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("build", "--data-dir", str(tmp_path / "nowhere"), "--epochs", "1")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: data folder")
    assert "Traceback" not in result.output
    assert not list((tmp_path / "artifacts").glob("*")) if (tmp_path / "artifacts").exists() else True


def test_cuda_requested_without_a_gpu_is_refused(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    result = invoke("build", "--device", "cuda", "--preset", "quick")
    assert result.exit_code == 2 and "no CUDA GPU" in result.output


@pytest.mark.parametrize("make, needle", [
    (lambda p: p, "is not a folder"),
    (lambda p: p.mkdir() or p, "not a complete reportgen bundle"),
])
def test_render_refuses_what_is_not_a_bundle(tmp_path, make, needle):
    path = make(tmp_path / "b")
    result = invoke("render", str(path))
    assert result.exit_code == 1 and needle in result.output and "Traceback" not in result.output


def test_compare_writes_one_report_of_two_bundles(tmp_path):
    from tests.bundle_factory import make_bundle

    a, b = make_bundle(tmp_path / "a"), make_bundle(tmp_path / "b", config_overrides={"train": {"lr": 0.01}})
    result = invoke("compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--no-pdf")
    assert result.exit_code == 0, result.output
    assert "train.lr" in (tmp_path / "cmp" / "compare.html").read_text()


def test_compare_refuses_an_incomplete_bundle_in_one_line(tmp_path):
    (tmp_path / "half").mkdir()
    result = invoke("compare", str(tmp_path / "half"), str(tmp_path / "half"), "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 1 and result.output.startswith("error: ") and "Traceback" not in result.output


def test_render_and_compare_refuse_edited_results_and_keep_the_bundle(tmp_path):
    from tests.bundle_factory import make_bundle

    root, other = make_bundle(tmp_path / "b"), make_bundle(tmp_path / "c")
    metrics = root / "runs/cnn/seed-42/metrics.json"
    metrics.write_text(metrics.read_text().replace('"accuracy": 0.', '"accuracy": 0.9', 1))
    manifest = (root / "manifest.json").read_text()
    for args in (["render", str(root), "--no-pdf"],
                 ["compare", str(other), str(root), "--out", str(tmp_path / "cmp"), "--no-pdf"]):
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        assert "runs/cnn/seed-42/metrics.json changed since the bundle was built" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert (root / "manifest.json").read_text() == manifest  # the edit was not laundered into the manifest
    assert not (tmp_path / "cmp").exists()


def test_render_redraws_figures_keeps_the_build_time_and_drops_a_stale_pdf(tmp_path):
    from reportgen.bundle import write_manifest
    from tests.bundle_factory import BUILT, make_bundle

    root = make_bundle(tmp_path / "b")
    assert invoke("render", str(root), "--no-pdf").exit_code == 0
    (root / "report.pdf").write_bytes(b"%PDF-1.7 from an earlier rendering")
    next((root / "figures").glob("*.svg")).unlink()  # rendered files may differ: render redraws them
    write_manifest(root)
    (root / ".DS_Store").write_bytes(b"Finder")  # clutter a file browser leaves is not a bundle file
    (root / "runs/cnn/seed-42/._metrics.json").write_bytes(b"AppleDouble")
    result = invoke("render", str(root), "--no-pdf")
    assert result.exit_code == 0, result.output
    assert "removed" in result.output and not (root / "report.pdf").exists()
    assert f"results bundle created {BUILT}" in (root / "report.html").read_text()
    assert invoke("verify", str(root)).exit_code == 0


def test_compare_of_one_bundle_twice_suggests_labels(tmp_path):
    from tests.bundle_factory import make_bundle

    root = make_bundle(tmp_path / "a", models=("cnn",))
    result = invoke("compare", str(root), str(root), "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 1 and "the labels must differ" in result.output
    assert "--label before --label after" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_data_dir_that_is_an_archive_says_how_to_unpack_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"\x1f\x8b not unpacked")
    result = invoke("build", "--data-dir", "cifar10-jpeg.tar.gz", "--epochs", "1")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == (
        "error: data folder cifar10-jpeg.tar.gz is an archive, not a folder: unpack it first with mkdir -p "
        "data/cifar10-jpeg && tar -xzf cifar10-jpeg.tar.gz -C data/cifar10-jpeg, then pass --data-dir "
        "data/cifar10-jpeg")


@pytest.mark.parametrize("args, needle", [
    (["build", "--data-dir", "nowhere", "--epochs", "1"], "error: data folder nowhere does not exist"),
    (["build", "--data-dir", "cifar10-jpeg.tar.gz"], "is an archive, not a folder"),
    (["evaluate", "--weights", "cnn=missing.pt", "--preset", "quick"], "error: weights file missing.pt does not exist"),
    (["bench", "--data-dir", "nowhere"], "error: data folder nowhere does not exist"),
])
def test_a_wrong_path_is_told_before_torch_is_imported(args, needle, tmp_path):
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"\x1f\x8b not unpacked")
    assert_runs_without_torch(f"""
        import os, sys
        from click.testing import CliRunner
        from reportgen.cli import main
        os.chdir({str(tmp_path)!r})
        result = CliRunner().invoke(main, {args!r})
        assert result.exit_code in (1, 2) and {needle!r} in result.output, result.output
    """)


def test_an_interruption_before_the_first_epoch_does_not_promise_a_resume(tmp_path, monkeypatch):
    from reportgen.training import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted(0)

    monkeypatch.setattr("reportgen.executors.task.fit", interrupted)
    monkeypatch.chdir(tmp_path)
    result = invoke("build", "--preset", "quick", "--device", "cpu", "--set", "models=[cnn]",
                    "--set", "cnn.channels=[4]", "--set", "cnn.hidden_dim=8", "--set", "report.pdf=false",
                    "--set", "analysis.efficiency=false", "--set", "analysis.robustness=false",
                    "--set", "analysis.explanations=false", "--no-progress")
    assert result.exit_code == 130
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("interrupted (Ctrl-C): nothing was published; kept in artifacts/runs: 0 completed runs, "
                           "CNN seed 42 before its first epoch ended (nothing of it)"), line
    assert line.endswith("nothing to resume yet: the same command starts again from the first epoch"), line
