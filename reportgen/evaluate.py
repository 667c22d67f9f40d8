"""A complete bundle and its report from weights trained elsewhere (`reportgen evaluate`).

A student who trained in the seed notebook has weights but no bundle. `evaluate` loads each model's
state dict as reportgen.weights does (``torch.load(weights_only=True)``: a file that would need code
to load is refused, never run), strictly into the architecture the config describes, predicts the
test set and writes the bundle with the build's writers (reportgen.assembly), published atomically
as a build is. What differs is that the runs were evaluated, not trained: run.json says
``"origin": "evaluated"`` with the sha256 and name of the weights file (copied into the bundle byte
for byte as weights.pt), and there is no history.csv, so the report leaves out what needs a training history,
and says that it does not know which images the weights were trained on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from reportgen.architectures import display_name
from reportgen.assembly import (
    check_against_data,
    render_and_publish,
    write_shared_files,
    write_test_results,
    write_visuals,
)
from reportgen.bundle_files import check_replaceable, run_folder, staging_dir, write_json
from reportgen.config import Config
from reportgen.data import ImageData, load_data, training_data
from reportgen.models import count_parameters, create_model
from reportgen.runtime import Runtime
from reportgen.weights import fit_state_dict, read_weights_file, state_dict_from_bytes


@dataclass
class EvaluatedRun:
    """What `evaluate` found for one model's weights."""

    model: str
    seed: int
    accuracy: float
    weights_sha256: str


def evaluate(weights: dict[str, Path], config: Config, runtime: Runtime, out: Path,
             log: Callable[[str], None] = print) -> list[EvaluatedRun]:
    """Evaluate each model's weights file on the configured test set on `runtime` and publish the bundle at `out`.

    `weights` maps model keys to state-dict files; the config's models become those models. Every file
    is checked to be a plain state dict before the data is loaded, and to fit its architecture before
    anything is written. The runs take the seed train.seeds[0] (the config keeps only that one), as the
    bundle layout needs one; evaluate cannot know how the weights were trained.
    """
    check_replaceable(out)  # before the weights and the data are read, not only when the bundle is published
    config = dataclasses.replace(config, models=list(weights),
                                 train=dataclasses.replace(config.train, seeds=config.train.seeds[:1]))
    raw = {model: read_weights_file(path) for model, path in weights.items()}
    states = {model: state_dict_from_bytes(raw[model], str(weights[model])) for model in weights}
    # The splits the config describes, as a build of it would hold them, so that dataset.json (and verify --deep)
    # name the same images; the weights may have been trained on others, which the report says it cannot know.
    data = training_data(load_data(config.data), config.data)
    models = {}
    for name, state in states.items():
        models[name] = create_model(name, config, len(data.classes))
        fit_state_dict(models[name], state, str(weights[name]), f"the {display_name(name)} of the config")
    check_against_data(config, data)
    staged = staging_dir(out)
    try:
        write_shared_files(staged, config, data, runtime, models)
        runs = [_write_run(staged, name, model, config, data, raw[name], weights[name].name, runtime, log)
                for name, model in models.items()]
        render_and_publish(staged, out, config.report.pdf, log)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return runs


def _write_run(staged: Path, name: str, model: torch.nn.Module, config: Config, data: ImageData, raw: bytes,
               source: str, runtime: Runtime, log: Callable[[str], None]) -> EvaluatedRun:
    (seed,) = config.train.seeds
    log(f"{display_name(name)}: evaluating {source} on {runtime.device} ({runtime.precision})")
    folder = staged / run_folder(name, seed)
    metrics = write_test_results(folder, model, config, data, runtime)
    (folder / "weights.pt").write_bytes(raw)  # the very file given: its checksum is the one run.json states
    digest = hashlib.sha256(raw).hexdigest()
    write_json(folder / "run.json", {
        "model": name,
        "display_name": display_name(name),
        "seed": seed,
        "parameters": count_parameters(model),
        "origin": "evaluated",
        "status": "evaluated",
        "status_reason": "weights trained elsewhere, evaluated by reportgen evaluate",
        "weights_sha256": digest,
        "weights_source": source,
        "device": runtime.device,
        "precision": runtime.precision,
    })
    write_visuals(folder, model, config, data, runtime)
    return EvaluatedRun(name, seed, metrics["accuracy"], digest)
