"""Each analysis of a run, computed once and kept in the run store next to the run, then copied into the bundle.

An analysis result lives at ``<run_dir>/analysis/<name>-<key20>.<ext>``, where the key hashes the
run's own key, the analysis's name, its settings (the analysis.* fields it reads, and for timings the
machine) and the reportgen version. So switching an analysis on later computes only it, from the
stored weights; changing one analysis's settings recomputes only that one; a report.* change, which
no key contains, recomputes nothing. Results are written atomically: an interrupted build leaves no
half-written file that a later build would take for a result.

Every analysis is registered once, in reportgen.analyses (`ANALYSES`: its module, its file
in the bundle, that file's fields). Every analysis module has the same two functions:
``settings(config, device) -> dict`` (what its result depends on beyond the run) and
``compute(model, config, data, run) -> dict | None`` (its result: JSON data for a .json file, plain
arrays for an .npz; None when it does not apply to the model). A compute that also takes ``shared`` gets the
run store's `SharedArrays`: inputs that are the same for every run (the corruption suite's images), made once
per build, on every core, and kept at ``<runs>/shared/<name>-<key20>.npy`` under a key of what they are made
from, so that the second model, and every later build, reads them instead of making them again.
`analyse_run` is the build's one call per run: it runs every registered analysis that its analysis.<name>
switch turns on and copies its file into the run's bundle folder under its registered file name
(docs/bundle.md).

`time_base_runs` is the build's one call after every run is in the bundle: the build-level timings
(reportgen.analyses.TIMINGS), kept at ``<runs>/timings/timings-<key20>.json`` under a key of every base run
and the timing settings. Timings taken on a busy machine are not kept, so the next build measures again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn as nn

from reportgen import __version__
from reportgen.analyses import ANALYSES, TIMINGS
from reportgen.bundle_files import atomic_output, read_json, write_json
from reportgen.config import Config
from reportgen.data import ImageData
from reportgen.machine_load import is_busy
from reportgen.models import create_model
from reportgen.runtime import Runtime

SHARED_FOLDER = "shared"  # <runs>/shared/: arrays every run of a build uses alike
# Fewer cores than this make shared arrays one after another: on 2 cores, starting two interpreters (each imports
# numpy, scipy and Pillow, about 1 s) cost more than the second core gave back (docs/performance.md).
PARALLEL_MIN_CORES = 4


def analysis_key(run_key: str, name: str, settings: dict[str, Any]) -> str:
    """A hash of the run (or runs: their keys joined), the analysis and its settings, and the reportgen version."""
    identity = {"run": run_key, "analysis": name, "settings": settings, "reportgen": __version__}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def write_result(result: dict[str, Any], path: Path) -> None:
    """JSON or npz by the file's suffix; npz of plain arrays only, as the report reads it with allow_pickle=False."""
    if path.suffix == ".json":
        write_json(path, result)
    else:
        with open(path, "wb") as f:
            np.savez(f, **result)


def stored_result(model: nn.Module, config: Config, data: ImageData, run_dir: Path, name: str,
                  log: Callable[[str], None]) -> Path | None:
    """The stored result of analysis `name` for the run in `run_dir`, computed first if absent; None when the
    analysis does not apply to the run's model (recorded as ``<name>-<key20>.none``, so it is not retried)."""
    run = read_json(run_dir / "run.json")
    analysis = ANALYSES[name]
    module = analysis.load()
    key = analysis_key(run["key"], name, module.settings(config, run["device"]))
    path = run_dir / "analysis" / f"{name}-{key[:20]}{analysis.suffix}"
    absent = path.with_suffix(".none")
    label = f"{run['display_name']} seed {run['seed']}: {name}"
    if path.is_file() or absent.is_file():
        log(f"{label} reused (stored for this run and these settings)")
        return path if path.is_file() else None
    log(f"{label} computed on {run['device']}")
    takes_shared = "shared" in inspect.signature(module.compute).parameters
    shared = {"shared": SharedArrays(run_dir.parent)} if takes_shared else {}  # run_dir.parent: the run store
    result = module.compute(model.to(run["device"]), config, data, run, **shared)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(absent if result is None else path) as tmp:
        if result is None:
            tmp.write_text("this analysis does not apply to the run's model\n")
        else:
            write_result(result, tmp)
    return None if result is None else path


class SharedArrays:
    """Arrays every run of a build makes alike, each made once and kept at ``<runs>/shared/<name>-<key20>.npy``
    under a key of its identity (what it is made from) and the reportgen version; the missing ones are made in
    worker processes, one per core, where the machine has PARALLEL_MIN_CORES."""

    def __init__(self, runs_dir: Path):
        self.folder = runs_dir / SHARED_FOLDER

    def get(self, name: str, identities: list[dict[str, Any]], makers: list[Callable[[], np.ndarray]]
            ) -> list[np.ndarray]:
        """The array of each identity, made by its maker (picklable: a worker process calls it) where none is
        stored yet; read-only and memory-mapped, so that only what is read comes into memory."""
        paths = [self.folder / f"{name}-{analysis_key(SHARED_FOLDER, name, identity)[:20]}.npy"
                 for identity in identities]
        missing = [i for i, path in enumerate(paths) if not path.is_file()]
        self.folder.mkdir(parents=True, exist_ok=True)
        for i, array in zip(missing, made_in_parallel([makers[i] for i in missing])):
            with atomic_output(paths[i]) as tmp:  # a concurrent build writes the same bytes: the last rename wins
                np.save(tmp, array)
        return [np.load(path, mmap_mode="r") for path in paths]


def made_in_parallel(makers: list[Callable[[], Any]]) -> Iterator[Any]:
    """Each maker's result, in order: in one worker process per core (at most one per maker), or here, one after
    another, on a machine with fewer than PARALLEL_MIN_CORES cores."""
    workers = min(len(makers), os.cpu_count() or 1)
    if workers < PARALLEL_MIN_CORES:
        yield from (make() for make in makers)
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no torch or CUDA state inherited
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_call, makers)


def _call(make: Callable[[], Any]) -> Any:
    return make()


def analyse_run(model: nn.Module, config: Config, data: ImageData, run_dir: Path, target: Path,
                log: Callable[[str], None] = print) -> None:
    """Compute (or reuse) every switched-on analysis of the run in `run_dir`, whose trained weights `model` holds,
    and copy each result into the run's bundle folder `target`."""
    for name, analysis in ANALYSES.items():
        if getattr(config.analysis, name):
            path = stored_result(model, config, data, run_dir, name, log)
            if path is not None:
                shutil.copyfile(path, target / analysis.filename)


def time_base_runs(config: Config, runtime: Runtime, weights: dict[int, dict[str, Path]], classes: int,
                   run_keys: list[str], runs_dir: Path, target: Path, log: Callable[[str], None] = print) -> None:
    """The base models of every seed timed together (reportgen.analysis.timing), or their stored timings, as
    `target`/timings.json. `weights`: {seed: {model: its weights.pt}}, models in config order; `run_keys`: those
    runs' keys; `classes`: the models' output classes."""
    module = TIMINGS.load()
    key = analysis_key("+".join(sorted(run_keys)), TIMINGS.name, module.settings(config, runtime.device))
    stored = runs_dir / TIMINGS.name / f"{TIMINGS.name}-{key[:20]}{TIMINGS.suffix}"
    if stored.is_file():
        log("timings reused (stored for these runs and settings)")
        shutil.copyfile(stored, target / TIMINGS.filename)
        return
    log(f"timing the models interleaved on {runtime.device}, {config.analysis.timing_blocks} blocks a seed")
    result = module.compute(trained_models(config, weights, classes), config, runtime.device, runtime.precision, log)
    write_json(target / TIMINGS.filename, result)
    if not is_busy(result["other_load_cores"] or [None]):  # a busy machine's timings are measured again next time
        stored.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(stored) as tmp:
            write_json(tmp, result)


def trained_models(config: Config, weights: dict[int, dict[str, Path]], classes: int) -> dict[int, dict[str, Any]]:
    """{seed: {model: the nn.Module with its trained weights, on the CPU}} (the timing moves copies to the device)."""
    def loaded(name: str, file: Path) -> nn.Module:
        model = create_model(name, config, classes)
        model.load_state_dict(torch.load(file, weights_only=True, map_location="cpu"))
        return model

    return {seed: {name: loaded(name, file) for name, file in files.items()} for seed, files in weights.items()}
