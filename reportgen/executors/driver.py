"""The driver's loop over the runs it submitted: progress (queued / running / done / failed, time left), the
run that failed after its retries, and cancelling everything on Ctrl-C or SIGTERM.

Every executor hands back one `Task` per submitted run; this loop polls them (a few times a second: the
states come from the executor and from the run store's worker.json) and reports a line whenever a count
changes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from reportgen.errors import ReportgenError
from reportgen.executors.records import attempts

if TYPE_CHECKING:
    from reportgen.executors.task import RunResult, RunSpec

POLL_S = 0.5
STATES = ("queued", "running", "done", "failed")


class Task(Protocol):
    """One submitted run, as an executor tracks it."""

    spec: RunSpec
    submitted: float  # time.time() at submission

    def finished(self) -> bool: ...
    def outcome(self) -> RunResult: ...  # raises the run's error where it failed
    def cancel(self) -> None: ...
    def log_path(self) -> Path: ...


class RunFailed(ReportgenError):
    """A run failed after its retries: the build stops; the runs that finished stay in the run store."""


def state_of(task: Task) -> str:
    """queued, running (a worker recorded an attempt since it was submitted), done or failed."""
    if task.finished():
        try:
            task.outcome()
        except Exception:  # noqa: BLE001 - any error of a run is its failure
            return "failed"
        return "done"
    started = any(a["started"] >= task.submitted - 1 for a in attempts(Path(task.spec.run_dir)))
    return "running" if started else "queued"


def wait_for(tasks: Sequence[Task], log: Callable[[str], None],
             time_left: Callable[[list[RunResult]], str | None]) -> list[RunResult]:
    """Every task's result, in order; a progress line whenever the counts change.

    `time_left(results so far)` estimates the rest. A failed run raises RunFailed naming the run and its log,
    once the other runs have finished (so that they are stored); Ctrl-C (KeyboardInterrupt) cancels every task
    still going. Either way the finished runs stay in the run store.
    """
    shown = None
    try:
        while True:
            states = [state_of(task) for task in tasks]
            counts = {state: states.count(state) for state in STATES}
            if counts != shown:
                done = [task.outcome() for task, state in zip(tasks, states) if state == "done"]
                left = time_left(done) if counts["done"] < len(tasks) else None
                log(", ".join(f"{counts[s]} {s}" for s in STATES) + (f"; about {left} left" if left else ""))
                shown = counts
            if counts["done"] + counts["failed"] == len(tasks):  # the others finish first: they stay stored
                if counts["failed"]:
                    raise failure(tasks[states.index("failed")])
                return [task.outcome() for task in tasks]
            time.sleep(POLL_S)
    except BaseException:
        for task in tasks:
            if not task.finished():
                task.cancel()
        raise


def failure(task: Task) -> RunFailed:
    """The one line of a run that failed after its retries: the run, its error, where its log is."""
    try:
        task.outcome()
        error = "unknown error"
    except Exception as raised:  # noqa: BLE001 - named in the message
        exc = getattr(raised, "cause", None) or raised  # Ray wraps the run's own error in a RayTaskError
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}".rstrip(": ")
    return RunFailed(f"{task.spec.label} failed ({error[:300]}); its log: {task.log_path()}; the runs that finished "
                     "are kept in the run store, and the same command trains what is left")

