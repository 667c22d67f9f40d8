"""Done criterion of the load-proof cost claims: two builds of one config, one on the machine as it is and one under a
competing CPU load that the test starts itself, give the same verdicts, except a cost verdict withheld as "machine
busy" in the busy build, which says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

import reportgen.build as build_module
from reportgen.machine_load import machine_cpu_seconds
from reportgen.report.contents import read_contents
from reportgen.report.original_study import INCONCLUSIVE
from reportgen.report.registry import registry
from reportgen.report.section import conclude
from reportgen.runtime import resolve_runtime
from tests.conftest import tiny_config, tiny_data

BUSY_LOOPS = 2  # one per core of a 2-core machine: whatever the test's own threads, other processes use > 1 core
COST_ROWS = {"Training step time (ms)", "Inference throughput (images/s)"}
WITHHELD = "machine busy: no verdict"

pytestmark = pytest.mark.skipif(machine_cpu_seconds() is None, reason="needs Linux /proc/stat to measure the load")


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    monkeypatch.setattr(build_module, "load_data", lambda cfg: tiny_data())


def config():
    c = tiny_config(epochs=1, num_threads=1)  # one thread: the same arithmetic, busy or not
    c.analysis.efficiency = True
    c.analysis.timing_blocks, c.analysis.timing_repeats, c.analysis.timing_warmup = 6, 5, 1
    return c


def built(tmp_path, name: str):
    """The verdicts of a fresh build (its own run store, so it trains and times afresh): Summary rows, the original
    study's claims, and the Conclusion's findings."""
    c = config()
    build_module.build(c, resolve_runtime(c), tmp_path / name, tmp_path / f"runs-{name}", progress=False,
                       log=lambda message: None)
    gathered = conclude(registry(), read_contents(tmp_path / name))
    return ({r.measure: r.verdict.text for r in gathered.rows}, {c.claim: c.status for c in gathered.claims},
            [f.text for f in gathered.findings], (tmp_path / name / "report.html").read_text())


def busy_loops() -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BUSY_LOOPS)]


def test_a_competing_load_withholds_the_cost_verdicts_and_changes_no_other(tmp_path):
    as_is = built(tmp_path, "as-is")
    loops = busy_loops()
    try:
        busy = built(tmp_path, "busy")
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    (rows, claims, findings, _), (busy_rows, busy_claims, busy_findings, busy_html) = as_is, busy
    assert "No speed verdict: the machine was busy during the timings" in busy_html
    assert all(busy_rows[m] == WITHHELD for m in COST_ROWS)
    assert busy_claims["cnn-trains-faster"] == INCONCLUSIVE
    # Every other verdict is the same. The as-is build may itself have run on a busy machine (a shared CI
    # runner): then its cost verdicts are withheld too, which is the same verdict.
    assert {m: v for m, v in rows.items() if m not in COST_ROWS} == \
        {m: v for m, v in busy_rows.items() if m not in COST_ROWS}
    assert {k: v for k, v in claims.items() if k != "cnn-trains-faster"} == \
        {k: v for k, v in busy_claims.items() if k != "cnn-trains-faster"}
    assert [f for f in findings if not f.startswith("Speed")] == [f for f in busy_findings if not f.startswith("Speed")]
    assert any(f.startswith("Speed: no verdict, because the machine was busy") for f in busy_findings)
