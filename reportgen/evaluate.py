"""`reportgen evaluate`: a complete bundle and its report from weights trained elsewhere.

A student who trained in the seed notebook has weights but no bundle. `evaluate` loads each
model's state dict with ``torch.load(weights_only=True)`` (a file that would need code to load is
refused, never run), strictly into the architecture the config describes, predicts the test set
and writes the bundle with build.py's writers, published atomically as a build is. What differs
is that the runs were evaluated, not trained: run.json says ``"origin": "evaluated"`` with the
sha256 and name of the weights file (copied into the bundle byte for byte as weights.pt), and
there is no history.csv, so the report leaves out what needs a training history.

`state_dict_from_bytes` and `fit_state_dict` are also how `reportgen verify --deep` loads a
bundle's weights; every way a file can fail to be the right state dict is one WeightsError line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from reportgen.build import _check_against_data, architecture_entry, render_and_publish, write_shared_files
from reportgen.bundle import staging_dir, write_json, write_predictions
from reportgen.config import KNOWN_MODELS, Config
from reportgen.data import ImageData, load_data
from reportgen.errors import ConfigError, WeightsError
from reportgen.evaluation import compute_metrics, predict, probe_visuals
from reportgen.models import MODEL_REGISTRY, count_parameters, create_model
from reportgen.training import resolve_device, resolve_precision

SAVE_HINT = "save one with torch.save(model.state_dict(), FILE)"


@dataclass
class EvaluatedRun:
    """What `evaluate` found for one model's weights."""

    model: str
    seed: int
    accuracy: float
    weights_sha256: str


def parse_weights(texts: Sequence[str]) -> dict[str, Path]:
    """``--weights MODEL=FILE`` options -> {model: file}, in the registry's model order; ConfigError (exit 2)."""
    weights: dict[str, Path] = {}
    for text in texts:
        model, sep, file = text.partition("=")
        if not sep or not file:
            raise ConfigError(f"--weights takes MODEL=FILE, e.g. --weights cnn=cnn.pt; got '{text}'")
        if model not in KNOWN_MODELS:
            raise ConfigError(f"--weights names unknown model '{model}': known models are {', '.join(KNOWN_MODELS)}")
        if model in weights:
            raise ConfigError(f"--weights gives model '{model}' twice: one weights file per model")
        weights[model] = Path(file)
    if not weights:
        raise ConfigError("evaluate needs at least one --weights MODEL=FILE, e.g. --weights cnn=cnn.pt")
    return {model: weights[model] for model in KNOWN_MODELS if model in weights}


def state_dict_from_bytes(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """The plain state dict in `raw` (a torch.save file), loaded with weights_only=True on the CPU.

    Anything else is one WeightsError line: a file that would need code to unpickle (a whole model
    saved with torch.save(model)), a file that is no torch file at all, or an object that is not a
    mapping of parameter names to tensors (a training checkpoint, say).
    """
    try:
        with warnings.catch_warnings():  # e.g. on an unusual pickle protocol: the refusal below says enough
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch.load raises many types for a file it cannot read; all mean the same here
        needed = re.search(r"Unsupported global: GLOBAL ([\w.]{1,120})", str(exc))
        if needed:
            raise WeightsError(f"{source} is not a plain state dict: loading it would run code named in the file "
                               f"({needed.group(1)}), which torch.load(weights_only=True) refuses; "
                               f"{SAVE_HINT}") from None
        raise WeightsError(f"{source} is not a state dict that torch.load(weights_only=True) can read: not a file "
                           f"of tensors saved by torch.save; {SAVE_HINT}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{source} holds a {type(state).__name__}, not a state dict; {SAVE_HINT}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        raise WeightsError(f"{source} is a training checkpoint, not a state dict: save the model's own "
                           f"state dict instead ({SAVE_HINT})")
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source} holds entry {str(name)[:60]!r}, which is not a named tensor: it is not a "
                               f"plain state dict; {SAVE_HINT}")
    return state


def _shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def fit_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str, what: str) -> None:
    """Load `state` into `model` strictly, or say in one WeightsError line where it first does not fit.

    `what` names the model in the message ("the CNN of the config"). Checked in the model's own
    parameter order: a missing parameter, one of another shape, then an unexpected one; and
    non-finite values, which would make every prediction meaningless.
    """
    expected = model.state_dict()
    hint = "pass the config the weights were trained with (--config or --set)"
    for name, tensor in expected.items():
        if name not in state:
            raise WeightsError(f"{source} does not fit {what}: it has no parameter '{name}' (expected shape "
                               f"{_shape(tensor)}); {hint}")
        if state[name].shape != tensor.shape:
            raise WeightsError(f"{source} does not fit {what}: parameter '{name}' has shape {_shape(state[name])} "
                               f"in the file, {what} has {_shape(tensor)}; {hint}")
    unexpected = [name for name in state if name not in expected]
    if unexpected:
        raise WeightsError(f"{source} does not fit {what}: unexpected parameter '{unexpected[0]}' "
                           f"(shape {_shape(state[unexpected[0]])}); {hint}")
    broken = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if broken:
        raise WeightsError(f"{source}: parameter '{broken[0]}' holds NaN or infinite values")
    model.load_state_dict(state, strict=True)


def evaluate(weights: dict[str, Path], config: Config, out: Path,
             log: Callable[[str], None] = print) -> list[EvaluatedRun]:
    """Evaluate each model's weights file on the configured test set and publish the bundle at `out`.

    `weights` maps model keys to state-dict files (see `parse_weights`); the config's models become
    those models. Every file is checked to be a plain state dict before the data is loaded, and to
    fit its architecture before anything is written. The runs take the seed train.seeds[0] (the
    config keeps only that one), as the bundle layout needs one; evaluate cannot know how the
    weights were trained.
    """
    config = dataclasses.replace(config, models=list(weights),
                                 train=dataclasses.replace(config.train, seeds=config.train.seeds[:1]))
    raw = {model: _read_weights_file(path) for model, path in weights.items()}
    states = {model: state_dict_from_bytes(raw[model], str(weights[model])) for model in weights}
    device = resolve_device(config.train.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device' is cuda but no CUDA GPU is visible; use --device cpu or auto")
    precision = resolve_precision(config.train.precision, device)
    data = load_data(config.data)
    models = {}
    for name, state in states.items():
        models[name] = create_model(name, config, len(data.classes))
        fit_state_dict(models[name], state, str(weights[name]), f"the {MODEL_REGISTRY[name][0]} of the config")
    _check_against_data(config, data)
    staged = staging_dir(out)
    try:
        runs = _assemble(config, data, models, raw, weights, staged, device, precision, log)
        render_and_publish(staged, out, config.report.pdf, log)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return runs


def _read_weights_file(path: Path) -> bytes:
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (or is not a file)")
    return path.read_bytes()


def _assemble(config: Config, data: ImageData, models: dict[str, torch.nn.Module], raw: dict[str, bytes],
              weights: dict[str, Path], staged: Path, device: str, precision: str,
              log: Callable[[str], None]) -> list[EvaluatedRun]:
    write_shared_files(staged, config, data, device, precision)
    write_json(staged / "architectures.json", {name: architecture_entry(name, m) for name, m in models.items()})
    (seed,) = config.train.seeds
    runs = []
    for name, model in models.items():
        log(f"{MODEL_REGISTRY[name][0]}: evaluating {weights[name].name} on {device} ({precision})")
        folder = staged / "runs" / name / f"seed-{seed}"
        runs.append(_write_run(folder, name, model.to(device), seed, config, data, raw[name], weights[name].name,
                               device, precision))
    return runs


def _write_run(folder: Path, name: str, model: torch.nn.Module, seed: int, config: Config, data: ImageData,
               raw: bytes, source: str, device: str, precision: str) -> EvaluatedRun:
    probs = predict(model, data.test_x, config.data.mean, config.data.std, config.train.batch_size, precision)
    preds = probs.argmax(axis=1)
    labels = data.test_y.numpy()
    metrics = compute_metrics(labels, preds, data.classes)
    folder.mkdir(parents=True)
    write_json(folder / "metrics.json", metrics)
    write_predictions(folder / "predictions.csv", labels, preds, probs)
    (folder / "weights.pt").write_bytes(raw)  # the very file given: its checksum is the one run.json states
    digest = hashlib.sha256(raw).hexdigest()
    write_json(folder / "run.json", {
        "model": name,
        "display_name": MODEL_REGISTRY[name][0],
        "seed": seed,
        "parameters": count_parameters(model),
        "origin": "evaluated",
        "status": "evaluated",
        "status_reason": "weights trained elsewhere, evaluated by reportgen evaluate",
        "weights_sha256": digest,
        "weights_source": source,
        "device": device,
        "precision": precision,
    })
    visuals = probe_visuals(model, data.test_x[config.report.sample_index], config.data.mean, config.data.std,
                            precision)
    np.savez(folder / "visuals.npz", **visuals)
    return EvaluatedRun(name, seed, metrics["accuracy"], digest)
