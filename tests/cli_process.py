"""Helpers to drive a real `reportgen build` process: tiny CNN on the bundled sample, unbuffered output."""

import os
import subprocess
import sys
import time

# The build-time analyses off: the tests that drive a build process are about training, signals and locks,
# and the analyses would be most of their time (tests/test_e2e.py runs a whole build with them).
NO_ANALYSES = [arg for name in ("efficiency", "robustness", "explanations")
               for arg in ("--set", f"analysis.{name}=false")]

# On the CPU even where a GPU is visible; one thread, which a busy 2-core machine runs faster.
TINY_BUILD = [
    sys.executable, "-m", "reportgen.cli", "build", "--preset", "quick", "--device", "cpu", "--set", "models=[cnn]",
    "--set", "cnn.channels=[4]", "--set", "cnn.hidden_dim=8", "--set", "report.pdf=false",
    "--set", "train.num_threads=1", *NO_ANALYSES,
]


def start_build(tmp_path, out: str, *args: str) -> subprocess.Popen:
    """A `reportgen build` of the tiny CNN writing tmp_path/out, with the run store tmp_path/runs."""
    command = [*TINY_BUILD, "--out", str(tmp_path / out), "--runs-dir", str(tmp_path / "runs"), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_until(process: subprocess.Popen, needle: str, timeout: float = 180) -> list[str]:
    """stdout lines up to and including the first one holding `needle` (fails if the process ends first)."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the build ended before printing {needle!r}: {lines} {process.stderr.read()[-2000:]}")
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} within {timeout} s: {lines}")
