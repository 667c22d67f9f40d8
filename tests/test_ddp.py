"""DDP: two CPU processes train one model; test-set metrics count every image exactly once."""

import json
import subprocess
import sys

import numpy as np


def test_two_process_ddp_build_counts_each_test_image_once(tmp_path):
    out = tmp_path / "bundle"
    command = [
        sys.executable, "-m", "reportgen.cli", "build", "--preset", "quick", "--epochs", "1",
        "--set", "models=[vit]", "--set", "vit.depth=1", "--set", "train.batch_size=512",
        "--set", "train.devices=2", "--set", "train.strategy=ddp", "--set", "report.pdf=false",
        "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--no-progress",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run = out / "runs" / "vit" / "seed-42"
    history = np.genfromtxt(run / "history.csv", delimiter=",", names=True)
    metrics = json.loads((run / "metrics.json").read_text())
    # The last epoch's validation pass (sharded over 2 processes, sums all-reduced) saw the same
    # weights and images as rank 0's test pass: equal only if no image was dropped or counted twice.
    assert float(history["val_acc"]) == metrics["accuracy"]
    assert sum(metrics["confusion"][i][j] for i in range(10) for j in range(10)) == 1000
    assert result.stdout.count("wrote ") == 1  # only rank 0 reports
