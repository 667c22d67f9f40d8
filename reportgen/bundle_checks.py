"""The checks of reading a results bundle: every file a reader uses is parsed here and its values validated.

A stranger's bundle is untrusted input. Each `checked_*` / `read_*` function parses one kind of
file (manifest, environment, dataset, architectures, run.json, metrics, predictions, history,
samples, visuals) from the bytes, or the JSON value, that reportgen.bundle.Bundle read (and hashed)
once, and refuses, in one BundleError line naming the file and the problem, what the report or
verify could not use: non-finite numbers, labels or predictions outside the classes, probabilities
outside [0, 1] or rows not summing to 1, .npz arrays that would need pickle or unpack too large.
reportgen.bundle.Bundle calls them as it reads.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from reportgen.bundle_files import HISTORY_COLUMNS, ORIGINS, MiB, decode_text, is_inside_path
from reportgen.errors import BundleError, one_line

NPZ_UNPACKED_CAP = 256 * MiB  # an .npz is a zip archive: what its arrays may take once unpacked
PROBABILITY_SUM_TOLERANCE = 1e-3  # rows are written with 6 decimals: K rounding errors of 5e-7 at most
# The most classes a bundle may have: CIFAR-100's. Every class is a row of several tables and a cell of the
# confusion figure; a thousand make rendering draw for minutes.
MAX_CLASSES = 100
MAX_CLASS_NAME = 100  # characters: CIFAR-100's longest name has 13
# The most a bundle may hold of what multiplies the work of rendering and verifying it (the worst case measured in
# docs/bundle.md): CIFAR-10's and CIFAR-100's test sets hold 10,000 images; the study preset runs 3 seeds, 9
# variants, and 800 epochs in its longest variant.
MAX_TEST_IMAGES = 10_000
MAX_SEEDS = 10  # per model, of the base config or of one variant
MAX_VARIANTS = 10
MAX_EPOCHS = 5_000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _refuse(path: Path, problem: str) -> NoReturn:
    raise BundleError(f"bundle file {path} {problem}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_positive(value: Any) -> bool:
    return _is_number(value) and value > 0


def _is_fraction(value: Any) -> bool:
    return _is_number(value) and 0.0 <= value <= 1.0


def _object(value: Any, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        _refuse(path, "must hold a JSON object")
    return value


def checked_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    files = _object(manifest, path).get("files")
    if not isinstance(files, dict):
        _refuse(path, "has no 'files' object of checksums")
    for name, digest in files.items():
        if not is_inside_path(name):
            _refuse(path, f"lists {name!r}, which is not a path inside the bundle (absolute, or with '..')")
        if not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest)):
            _refuse(path, f"records {str(digest)[:80]!r} for {name}, which is not a sha256 in hex")
    return manifest


def checked_environment(env: Any, path: Path) -> dict[str, Any]:
    env = _object(env, path)
    if "num_threads" in env and not _is_count(env["num_threads"]):
        _refuse(path, "has a 'num_threads' that is not a whole number")
    return env


def checked_dataset(dataset: Any, path: Path) -> dict[str, Any]:
    dataset = _object(dataset, path)
    classes = dataset.get("classes")
    if not (isinstance(classes, list) and 0 < len(classes) <= MAX_CLASSES
            and all(isinstance(c, str) and c for c in classes) and len(set(classes)) == len(classes)):
        _refuse(path, f"must list 1 to {MAX_CLASSES} distinct class names under 'classes'")
    odd = next((c for c in classes if len(c) > MAX_CLASS_NAME or one_line(c) != c), None)
    if odd is not None:  # a line break ends a LaTeX table's paragraph; an override disguises the names after it
        _refuse(path, f"has the class name {one_line(odd[:MAX_CLASS_NAME])!r}: a class name is one line of at most "
                      f"{MAX_CLASS_NAME} printable characters")
    for key in ("train_size", "test_size"):
        if not _is_count(dataset.get(key)):
            _refuse(path, f"has no whole number '{key}'")
    if not isinstance(dataset.get("fingerprint"), str):
        _refuse(path, "has no 'fingerprint' text")
    return dataset


def checked_architectures(architectures: Any, path: Path, models: list[str]) -> dict[str, Any]:
    architectures = _object(architectures, path)
    for model in models:
        spec = architectures.get(model)
        layers = spec.get("layers") if isinstance(spec, dict) else None
        if not (isinstance(spec, dict) and isinstance(spec.get("display_name"), str)
                and _is_count(spec.get("parameters")) and isinstance(layers, list)):
            _refuse(path, f"has no valid entry for model '{model}' (display_name, parameters, layers)")
        for layer in layers:
            shape = layer.get("output_shape") if isinstance(layer, dict) else None
            if not (isinstance(layer, dict) and isinstance(layer.get("name"), str)
                    and isinstance(layer.get("type"), str) and _is_count(layer.get("parameters"))
                    and (shape is None or (isinstance(shape, list) and all(_is_count(d) for d in shape)))):
                _refuse(path, f"has a layer of '{model}' without name, type, parameters and output_shape")
    return architectures


def checked_run_info(info: Any, path: Path, model: str, seed: int) -> dict[str, Any]:
    info = _object(info, path)
    if info.get("model") != model or info.get("seed") != seed or isinstance(info.get("seed"), bool):
        _refuse(path, f"must be model '{model}' at seed {seed}, as its folder says")
    if not isinstance(info.get("display_name"), str):
        _refuse(path, "has no 'display_name' text")
    origin = info.get("origin", "trained")
    if origin not in ORIGINS:
        _refuse(path, f"has origin {str(origin)[:40]!r}; known origins are {', '.join(ORIGINS)}")
    if origin == "trained" and not (_is_count(info.get("epochs")) and info["epochs"] > 0
                                    and _is_positive(info.get("train_time_s"))):
        _refuse(path, "is a trained run without a positive whole 'epochs' and a positive 'train_time_s' of seconds "
                      "(training takes time: a zero is no measurement)")
    if info.get("steady_epoch_time_s") is not None and not _is_positive(info["steady_epoch_time_s"]):
        _refuse(path, "has a 'steady_epoch_time_s' that is not a positive number of seconds (or null)")
    if origin == "evaluated" and not (isinstance(info.get("weights_sha256"), str)
                                      and SHA256_HEX.fullmatch(info["weights_sha256"])
                                      and isinstance(info.get("weights_source"), str)):
        _refuse(path, "is an evaluated run without 'weights_sha256' (hex) and 'weights_source'")
    return info


def checked_metrics(metrics: Any, path: Path, classes: list[str]) -> dict[str, Any]:
    """metrics.json as reportgen.evaluation.compute_metrics writes it, for these classes."""
    metrics = _object(metrics, path)
    macro, per_class, confusion = metrics.get("macro"), metrics.get("per_class"), metrics.get("confusion")
    k = len(classes)
    if not _is_fraction(metrics.get("accuracy")):
        _refuse(path, "has no 'accuracy' between 0 and 1")
    if not (isinstance(macro, dict) and all(_is_fraction(macro.get(f)) for f in ("precision", "recall", "f1"))):
        _refuse(path, "has no 'macro' precision, recall and f1 between 0 and 1")
    if not (isinstance(per_class, list) and len(per_class) == k and all(
            isinstance(row, dict) and isinstance(row.get("class"), str) and _is_count(row.get("support"))
            and all(_is_fraction(row.get(f)) for f in ("precision", "recall", "f1", "accuracy"))
            for row in per_class)):
        _refuse(path, f"must hold one 'per_class' entry per class ({k}), with fractions between 0 and 1")
    if not (isinstance(confusion, list) and len(confusion) == k and all(
            isinstance(row, list) and len(row) == k and all(_is_count(v) for v in row) for row in confusion)):
        _refuse(path, f"must hold a {k}x{k} 'confusion' matrix of counts")
    return metrics


def _read_csv(data: bytes, path: Path) -> tuple[list[str], np.ndarray]:
    """(header, finite float values (rows, columns)) of the bytes of a numeric CSV file of the bundle."""
    text = decode_text(data, path)
    lines = text.splitlines()
    if not lines:
        _refuse(path, "is empty")
    header = lines[0].split(",")  # numbers and plain column names only: no quoting to parse
    values = np.empty((0, len(header)))
    if any(lines[1:]):
        try:  # numpy's C parser: three times as fast as splitting in Python, for a class of bundles
            values = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2, comments=None)
        except ValueError:  # ragged rows, or a field that is not a number
            values = None
    if values is None or values.shape[1] != len(header):
        _refuse(path, f"holds a value that is not a number, or a row that has not {len(header)} values")
    if not np.isfinite(values).all():
        _refuse(path, "holds a value that is not a finite number (nan or inf)")
    return header, values


def _is_whole(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def read_predictions(data: bytes, path: Path, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, preds, probs) of predictions.csv's bytes, refusing what the classes and probabilities rule out."""
    header, values = _read_csv(data, path)
    expected = ["index", "label", "pred", *[f"p_{i}" for i in range(k)]]
    if header != expected:
        _refuse(path, f"must have the columns index,label,pred,p_0..p_{k - 1} (one per class of dataset.json)")
    if not len(values):
        _refuse(path, "holds no predictions")
    if len(values) > MAX_TEST_IMAGES:
        _refuse(path, f"holds {len(values):,} test images, over the {MAX_TEST_IMAGES:,} reportgen reads")
    index, labels, preds, probs = values[:, 0], values[:, 1], values[:, 2], values[:, 3:]
    if not np.array_equal(index, np.arange(len(values))):
        _refuse(path, "must list the test images in order, index 0, 1, 2, ...")
    for name, column in (("label", labels), ("pred", preds)):
        if not (_is_whole(column) and column.min() >= 0 and column.max() < k):
            _refuse(path, f"has a {name} that is not a class id from 0 to {k - 1}")
    if probs.min() < 0 or probs.max() > 1:
        _refuse(path, "has a probability outside [0, 1]")
    worst = float(np.abs(probs.sum(axis=1) - 1).max())
    if worst > PROBABILITY_SUM_TOLERANCE:
        _refuse(path, f"has a row of probabilities that does not sum to 1 (off by {worst:.4g})")
    return labels.astype(np.int64), preds.astype(np.int64), probs


def read_history(data: bytes, path: Path) -> dict[str, np.ndarray]:
    """history.csv's bytes of a trained run (an evaluated run has none: reportgen.bundle refuses one)."""
    header, values = _read_csv(data, path)
    if header != list(HISTORY_COLUMNS):
        _refuse(path, f"must have the columns {','.join(HISTORY_COLUMNS)}")
    history = {name: values[:, i] for i, name in enumerate(header)}
    if not len(values) or not np.array_equal(history["epoch"], np.arange(1, len(values) + 1)):
        _refuse(path, "must hold one row per epoch, numbered from 1")
    if len(values) > MAX_EPOCHS:
        _refuse(path, f"holds {len(values):,} epochs, over the {MAX_EPOCHS:,} reportgen reads")
    if not all(_all_fractions(history[c]) for c in ("train_acc", "val_acc")):
        _refuse(path, "has an accuracy outside [0, 1]")
    if min(float(history[c].min()) for c in ("train_loss", "val_loss", "lr")) < 0:
        _refuse(path, "has a negative loss or learning rate")
    if float(history["epoch_time_s"].min()) <= 0:  # speeds are images per second: a zero time is no measurement
        _refuse(path, "has an epoch time that is not a positive number of seconds")
    return history


def _all_fractions(values: np.ndarray) -> bool:
    return bool(values.size == 0 or (values.min() >= 0 and values.max() <= 1))


def declared_array_bytes(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The bytes that the .npy header of `member` says its array takes (shape times item size), read from the
    header alone: numpy allocates that much before it reads the data."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version not in readers:  # 3.0 is for non-Latin-1 field names, which reportgen never writes
            raise ValueError(f"an .npy format version {version} that reportgen does not read")
        shape, _, dtype = readers[version](f)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def load_npz(data: bytes, path: Path) -> dict[str, np.ndarray]:
    """The arrays of the bytes of the .npz file `path`, never unpickling: object arrays are refused, and so is a
    zip that would unpack to more than NPZ_UNPACKED_CAP or an array whose header declares more bytes than its
    member holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            if unpacked > NPZ_UNPACKED_CAP:
                _refuse(path, f"would unpack to {unpacked / MiB:.0f} MiB, over the {NPZ_UNPACKED_CAP / MiB:g} MiB "
                              "that reportgen reads")
            for member in members:
                declared = declared_array_bytes(archive, member)
                if declared > member.file_size:
                    _refuse(path, f"declares an array of {declared:,} bytes in {member.filename}, which holds "
                                  f"{member.file_size:,}: it is not a file numpy wrote")
        # allow_pickle=False: a bundle from a stranger must never execute code when opened.
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            _refuse(path, "holds an array that needs pickle (an object array): reportgen never unpickles "
                          "a bundle's data")
        _refuse(path, f"is not a valid .npz archive ({str(exc)[:120]})")
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, NotImplementedError):
        _refuse(path, "is not a valid .npz archive of arrays")


def _is_image_array(array: np.ndarray, batched: bool) -> bool:
    """uint8 images, channels first, none of the sizes zero (an empty array leaves a figure nothing to draw)."""
    return (array.dtype == np.uint8 and array.ndim == (4 if batched else 3) and array.shape[-3] == 3
            and array.size > 0)


def _is_label_array(array: np.ndarray, k: int, scalar: bool) -> bool:
    return (np.issubdtype(array.dtype, np.integer) and array.ndim == (0 if scalar else 1)
            and bool(array.size == 0 or (array.min() >= 0 and array.max() < k)))


def checked_samples(data: bytes, path: Path, k: int) -> dict[str, np.ndarray]:
    samples = load_npz(data, path)
    checks = {
        "train_augmented": lambda a: _is_image_array(a, batched=True),
        "test": lambda a: _is_image_array(a, batched=True),
        "focus_image": lambda a: _is_image_array(a, batched=False),
        "train_labels": lambda a: _is_label_array(a, k, scalar=False),
        "test_labels": lambda a: _is_label_array(a, k, scalar=False),
        "focus_label": lambda a: _is_label_array(a, k, scalar=True),
        "focus_index": lambda a: _is_label_array(a, np.iinfo(np.int64).max, scalar=True),
    }
    for name, ok in checks.items():
        if name not in samples or not ok(samples[name]):
            _refuse(path, f"has no valid '{name}' (see docs/bundle.md: uint8 images, class ids within the classes)")
    for images, labels in (("train_augmented", "train_labels"), ("test", "test_labels")):
        if len(samples[images]) != len(samples[labels]):
            _refuse(path, f"has {len(samples[images])} '{images}' images but {len(samples[labels])} '{labels}'")
    return samples


def checked_visuals(data: bytes, path: Path) -> dict[str, np.ndarray]:
    visuals = load_npz(data, path)
    for name, array in visuals.items():
        if not (np.issubdtype(array.dtype, np.floating) and array.ndim == 3 and array.size > 0
                and np.isfinite(array).all()):
            _refuse(path, f"has '{name}', which is not a non-empty, finite float array (channels or heads, height, "
                          "width)")
    if "cls_attention" in visuals and not _all_fractions(visuals["cls_attention"]):
        _refuse(path, "has attention weights outside [0, 1]")
    return visuals
