"""What the run store records of the workers that train a run: each attempt (worker.json) and its output (train.log).

The driver reads worker.json to tell a queued run from a running one, whichever executor started it, and a
failed run's one line names its train.log. Written by the worker, whole, by rename (the store may be shared).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

WORKER_RECORD = "worker.json"  # each attempt at a run: where it ran and whether it resumed
WORKER_LOG = "train.log"  # a worker's output while it trains a run (the driver's own runs print to the console)


def record_attempt(run_dir: Path, resumed: bool) -> None:
    """Add this attempt to the run's worker.json (written whole, by rename: the driver reads it to see it running)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / WORKER_RECORD
    attempts = json.loads(path.read_text())["attempts"] if path.is_file() else []
    attempts.append({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "resumed": resumed})
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"attempts": attempts}, indent=1))
    os.replace(tmp, path)


def attempts(run_dir: Path) -> list[dict]:
    """The attempts recorded in a run's worker.json ([] before a worker started it)."""
    path = Path(run_dir) / WORKER_RECORD
    try:
        return json.loads(path.read_text())["attempts"]
    except (OSError, ValueError, KeyError):
        return []


def run_log(run_dir: str | Path) -> Path:
    """The run's own log in the run store (what its worker printed, and its traceback where it failed)."""
    return Path(run_dir) / WORKER_LOG
