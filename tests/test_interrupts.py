"""Ctrl-C and SIGTERM on a real `reportgen build`: one line saying what was kept, exit 130 / 143, no
bundle, and a run store the next build resumes from."""

import re
import signal

import pytest

from tests.cli_process import read_until, start_build

pytestmark = pytest.mark.e2e  # real build processes, stopped by signals and run again


@pytest.mark.parametrize("signum, exit_code, name", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_the_build_in_one_line_and_the_next_build_resumes(tmp_path, signum, exit_code, name):
    build = start_build(tmp_path, "bundle", "--epochs", "4")
    read_until(build, "CNN seed 42 epoch 1/4:")  # written as epoch 2 starts: epoch 1 is checkpointed
    build.send_signal(signum)
    _, stderr = build.communicate(timeout=120)
    assert build.returncode == exit_code, stderr[-2000:]
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"interrupted \({name}\): nothing was published; kept in \S+runs: 0 completed runs, "
                        r"CNN seed 42 after epoch [1-3] of 4; run the same command again to resume from the last "
                        r"completed epoch", message), message
    assert not (tmp_path / "bundle").exists() and list((tmp_path / "runs").glob("cnn-*/checkpoints/last.ckpt"))

    again = start_build(tmp_path, "bundle", "--epochs", "4", "--no-progress")
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-2000:]
    assert "CNN seed 42: training on cpu (resumed an interrupted run from its last completed epoch)" in stdout
    assert (tmp_path / "bundle" / "report.html").is_file()
