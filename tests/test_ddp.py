"""DDP: two CPU processes train one model; test-set metrics count every image exactly once, and the validation
pass is rank 0's model's (the CNN's BatchNorm statistics included); rank 0's decisions (here --force over an
interrupted run) reach the other process; a SIGTERM to either process stops both cleanly and the next build
resumes; impossible setups are refused."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reportgen.config_loading import load_config
from reportgen.errors import ConfigError
from tests.cli_process import NO_ANALYSES

# The build-time analyses off: these tests are about the processes' training and decisions.
DDP_BUILD = [
    sys.executable, "-m", "reportgen.cli", "build", "--preset", "quick", "--device", "cpu", "--set", "vit.depth=1",
    "--set", "train.batch_size=512", "--set", "train.devices=2", "--set", "train.strategy=ddp",
    "--set", "report.pdf=false", "--set", "train.num_threads=1", *NO_ANALYSES, "--no-progress",
]


def ddp_build(tmp_path, *args, **popen):
    command = [*DDP_BUILD, "--out", str(tmp_path / "bundle"), "--runs-dir", str(tmp_path / "runs"), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=env, **popen)


# The CNN small (it keeps its BatchNorm layers), and its batches small enough for several checks of a stop per epoch.
TINY_CNN = ["--set", "cnn.channels=[4,8]", "--set", "cnn.hidden_dim=8"]


@pytest.mark.e2e  # two build processes
def test_two_process_ddp_build_counts_each_test_image_once(tmp_path):
    # Validated on the test split (data.val_fraction 0): the validation and test passes then see the same images.
    process = ddp_build(tmp_path, "--epochs", "1", "--set", "models=[cnn,vit]", *TINY_CNN,
                        "--set", "data.val_fraction=0")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    for model in ("cnn", "vit"):
        run = tmp_path / "bundle" / "runs" / model / "seed-42"
        history = np.genfromtxt(run / "history.csv", delimiter=",", names=True)
        metrics = json.loads((run / "metrics.json").read_text())
        # The last epoch's validation pass (sharded over 2 processes, sums all-reduced) saw the same weights,
        # BatchNorm statistics and images as rank 0's test pass: equal only if no image was dropped or counted
        # twice and the other process validated on rank 0's statistics (reportgen.ddp_sync says why it does).
        assert float(history["val_acc"]) == metrics["accuracy"], model
        # The loss shows what an accuracy hides: rank 0's probabilities (6 decimals in predictions.csv) give the
        # validation loss to about 2e-7; the other process validating on its own BatchNorm statistics (DDP without
        # broadcast_buffers) moved it by 4e-6 here.
        predictions = np.genfromtxt(run / "predictions.csv", delimiter=",", names=True)
        probs = np.stack([predictions[f"p_{k}"] for k in range(10)], axis=1)
        test_loss = -np.log(probs[np.arange(len(probs)), predictions["label"].astype(int)]).mean()
        assert float(history["val_loss"]) == pytest.approx(test_loss, abs=1e-6), model
        assert sum(metrics["confusion"][i][j] for i in range(10) for j in range(10)) == 1000
    assert stdout.count("wrote ") == 1  # only rank 0 reports


def other_rank(launcher: int, timeout: float = 60) -> int:
    """The pid of the DDP process that Lightning started from `launcher` (LOCAL_RANK 1 in its environment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                environ = (stat.parent / "environ").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
            if parent == launcher and b"LOCAL_RANK=1" in environ:
                return int(stat.parent.name)
        time.sleep(0.2)
    raise AssertionError(f"no DDP process of rank 1 under {launcher}")


@pytest.mark.e2e  # two DDP builds of two processes each, the first stopped by SIGTERM
@pytest.mark.parametrize("target", ["launcher", "other rank"])
def test_sigterm_to_either_process_stops_both_cleanly_and_the_next_build_resumes(tmp_path, target):
    args = ["--epochs", "3", "--set", "models=[cnn]", *TINY_CNN, "--set", "train.batch_size=64"]
    first = ddp_build(tmp_path, *args, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((tmp_path / "runs").glob("cnn-*/checkpoints/last.ckpt")):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-2000:]
            time.sleep(0.2)
        os.kill(first.pid if target == "launcher" else other_rank(first.pid), signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)  # a process left waiting for the other would hang here
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    # Rank 0 says SIGTERM and exits 143 whichever process got it: every process stopped at the same step.
    assert first.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-2000:]
    message = stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"interrupted \(SIGTERM\): nothing was published; kept in \S+runs: 0 completed runs, "
                        r"CNN seed 42 after epoch [12] of 3; run the same command again to resume from the last "
                        r"completed epoch", message), message

    second = ddp_build(tmp_path, *args)
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr[-2000:]
    assert "CNN seed 42: training on cpu (resumed an interrupted run from its last completed epoch)" in stdout
    history = np.genfromtxt(tmp_path / "bundle/runs/cnn/seed-42/history.csv", delimiter=",", names=True)
    assert list(history["epoch"]) == [1, 2, 3]


@pytest.mark.e2e  # two DDP builds of two processes each, the first interrupted
def test_force_over_an_interrupted_later_run_retrains_it_on_every_process(tmp_path):
    # Interrupt the ViT (the build's second run) once its first epoch is checkpointed.
    args = ["--epochs", "2", "--set", "models=[cnn,vit]", "--set", "cnn.channels=[4]", "--set", "cnn.hidden_dim=8"]
    first = ddp_build(tmp_path, *args, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "runs").glob("vit-*/checkpoints/last.ckpt")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-2000:]
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr[-2000:]
    assert "ViT seed 42 after epoch" in stderr
    # Rank 0 deletes the ViT's checkpoint: if the other process resumed from it alone, they would train
    # different numbers of epochs and wait for each other forever.
    second = ddp_build(tmp_path, *args, "--force")
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr[-2000:]
    assert "vit seed 42: trained" in stdout and "resumed" not in stdout
    history = np.genfromtxt(tmp_path / "bundle/runs/vit/seed-42/history.csv", delimiter=",", names=True)
    assert list(history["epoch"]) == [1, 2]


@pytest.mark.parametrize("overrides, needle", [
    ({"train.devices": 3, "train.batch_size": 1024}, "must divide evenly over the 3 processes"),
    ({"train.devices": 2, "train.num_nodes": 3, "train.batch_size": 1000}, "6 processes"),
    ({"train.strategy": "ddp_spawn"}, "loses the training history"),
    ({"train.strategy": "ddp_fork"}, "cannot re-initialise CUDA"),
    ({"train.strategy": "ddp_notebook"}, "'ddp_notebook'"),
])
def test_impossible_multi_process_setups_are_refused_in_one_line(overrides, needle):
    with pytest.raises(ConfigError, match=needle) as refused:
        load_config("seed", None, overrides)
    assert "\n" not in str(refused.value)


def test_a_global_batch_that_divides_is_accepted():
    config = load_config("seed", None, {"train.devices": 4, "train.num_nodes": 2, "train.strategy": "ddp"})
    assert config.train.batch_size == 1024
