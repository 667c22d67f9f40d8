"""The results bundle on disk: its layout, atomic writing, manifest, and torch-free, hardened reading.

Stages hand over through the bundle, never through globals: training writes runs into it, figures
and the report read it back. docs/bundle.md describes the layout. Nothing here imports torch, so
`reportgen render` and `reportgen verify` work on machines without it.

Bundles come from strangers (submissions to grade, runs to review), so `Bundle` reads one as
untrusted input. Opening it walks the folder once and refuses links, devices, fifos and sockets,
files over their size cap (SIZE_CAPS) and more than MAX_FILES files; every file is then opened
without following links. Nothing is unpickled (.npz arrays that would need pickle are refused),
manifest entries must be paths inside the bundle, and every value the report or verify uses is
checked on reading: finite numbers, labels and predictions within the classes, probabilities in
[0, 1] whose rows sum to 1. Whatever fails is one BundleError line naming the file and the problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator, NoReturn

import numpy as np

from reportgen import __version__
from reportgen.config import Config, config_from_dict
from reportgen.errors import BundleError, ConfigError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
RENDERED_FILES = ("report.html", "report.pdf")  # with figures/: what `reportgen render` rewrites
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
ORIGINS = ("trained", "evaluated")  # run.json "origin"; absent means trained (bundles of reportgen 0.2.0)

MiB = 1 << 20
# The largest file of each kind a bundle may hold, by suffix. Generous for real bundles (the seed
# protocol's predictions.csv is about 1 MiB, each weights.pt about 5 MiB: a model 800 times larger
# still fits; report.pdf a few MiB) and small enough that a hostile bundle cannot exhaust memory or
# time: a larger file is refused unread.
SIZE_CAPS = {".json": 8 * MiB, ".yaml": 1 * MiB, ".csv": 64 * MiB, ".npz": 64 * MiB, ".pt": 4096 * MiB,
             ".html": 32 * MiB, ".pdf": 128 * MiB, ".png": 16 * MiB}
OTHER_FILE_CAP = 16 * MiB  # any other suffix
MAX_FILES = 10_000  # a real bundle holds a few dozen
MAX_BUNDLE_SIZE = 8192 * MiB  # all files together: hashing them must end within seconds
NPZ_UNPACKED_CAP = 256 * MiB  # an .npz is a zip archive: what its arrays may take once unpacked
PROBABILITY_SUM_TOLERANCE = 1e-3  # rows are written with 6 decimals: K rounding errors of 5e-7 at most
MAX_CLASSES = 1000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (a regular file within its size cap; links are not followed)."""
    digest = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; move it onto `path` only if the block succeeds.

    The temporary name keeps the suffix, so writers that infer the format from it still work.
    """
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there when the block failed


def write_json(path: Path, data: Any) -> None:
    """Write JSON with a stable layout (sorted keys would scramble tables; keep insertion order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def size_cap(name: str) -> int:
    """The largest size in bytes a bundle file called `name` may have (SIZE_CAPS by suffix)."""
    return SIZE_CAPS.get(PurePosixPath(name).suffix.lower(), OTHER_FILE_CAP)


def open_regular(path: Path) -> BinaryIO:
    """Open a file for reading as a bundle reads one: never through a symbolic link, never blocking on a
    fifo, and only a regular file within its size cap; BundleError otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BundleError(f"bundle file {path} is missing") from None
    except OSError as exc:  # ELOOP: the last component is a symbolic link
        raise BundleError(f"bundle file {path} cannot be opened as a regular file ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BundleError(f"bundle file {path} is not a regular file: a bundle holds regular files only")
    if info.st_size > size_cap(path.name):
        os.close(fd)
        raise BundleError(_oversized(path, info.st_size))
    return os.fdopen(fd, "rb")


def _oversized(path: Path | str, size: int) -> str:
    cap = size_cap(str(path))
    return (f"bundle file {path} is {size / MiB:.1f} MiB, over the {cap / MiB:g} MiB that reportgen reads for a "
            f"{PurePosixPath(str(path)).suffix or 'file'}: it is not a file reportgen writes")


def read_bytes(path: Path) -> bytes:
    """A bundle file's bytes (see open_regular)."""
    with open_regular(path) as f:
        return f.read()


def read_text(path: Path) -> str:
    """A bundle file as UTF-8 text (see open_regular)."""
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"bundle file {path} is not UTF-8 text") from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a finite number")


def read_json(path: Path) -> Any:
    """Read a JSON file of a bundle, as a BundleError if it is missing, broken or holds NaN or Infinity."""
    try:
        return json.loads(read_text(path), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"bundle file {path} is not valid JSON: {str(exc).splitlines()[0][:200]}") from None


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Write per-epoch history rows as CSV with HISTORY_COLUMNS."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in HISTORY_COLUMNS})


def write_predictions(path: Path, labels: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> None:
    """Write test predictions as CSV: index,label,pred,p_0..p_{K-1}."""
    k = probs.shape[1]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "label", "pred", *[f"p_{i}" for i in range(k)]])
        for i, (y, p, row) in enumerate(zip(labels, preds, probs)):
            writer.writerow([i, int(y), int(p), *[f"{v:.6f}" for v in row]])


def write_manifest(root: Path) -> None:
    """Checksum every file of the bundle into manifest.json; written last, it marks completeness."""
    files = {name: sha256_file(path) for name, path in _bundle_files(root).items()}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "reportgen_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }
    write_json(root / MANIFEST, manifest)


OS_CLUTTER = {"Thumbs.db", "desktop.ini"}  # with hidden files: what file browsers and editors drop into folders


def is_rendered(name: str) -> bool:
    """Whether a bundle file (posix path relative to the bundle) is drawn from the results, not a result itself."""
    return name in RENDERED_FILES or name.startswith("figures/")


def _is_clutter(relative: Path) -> bool:
    """Hidden files (.DS_Store, ._x, editor locks) and OS clutter: never read, so never part of the results."""
    return any(part.startswith(".") for part in relative.parts) or relative.name in OS_CLUTTER


def scan_bundle(root: Path) -> dict[str, Path]:
    """Every file under `root` but clutter, by posix path relative to it, sorted.

    Refuses (BundleError) what would make a reader leave the bundle, block or run without end:
    symbolic links, devices, fifos and sockets, a file over its size cap, more than MAX_FILES files
    or MAX_BUNDLE_SIZE bytes.
    Hidden folders are clutter and are not entered.
    """
    files: dict[str, Path] = {}
    total = 0
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise BundleError(f"cannot list {folder}: {exc.strerror}") from None
        for entry in entries:
            relative = Path(entry.path).relative_to(root)
            if _is_clutter(relative):
                continue
            name = relative.as_posix()
            if entry.is_symlink():
                raise BundleError(f"{root}: {name} is a symbolic link; a bundle holds regular files only, "
                                  "so that reading it never leaves the bundle")
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
                continue
            if not entry.is_file(follow_symlinks=False):
                raise BundleError(f"{root}: {name} is not a regular file (a device, fifo or socket); "
                                  "a bundle holds regular files only")
            size = entry.stat(follow_symlinks=False).st_size
            if size > size_cap(name):
                raise BundleError(_oversized(root / name, size))
            files[name] = Path(entry.path)
            total += size
            if len(files) > MAX_FILES or total > MAX_BUNDLE_SIZE:
                raise BundleError(f"{root} holds more than {MAX_FILES:,} files or {MAX_BUNDLE_SIZE / MiB:g} MiB: "
                                  "it is not a reportgen bundle")
    return dict(sorted(files.items()))


def _bundle_files(root: Path) -> dict[str, Path]:
    """Every file of the bundle but the manifest and clutter, by posix path relative to the root."""
    return {name: path for name, path in scan_bundle(root).items() if name != MANIFEST}


def is_inside_path(name: Any) -> bool:
    """Whether `name` is a relative posix path that stays inside the folder it is relative to."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and all(part not in ("", ".", "..") for part in name.split("/"))


def staging_dir(final: Path) -> Path:
    """A fresh sibling folder to build into; publish() renames it into place when it is complete."""
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def publish(staged: Path, final: Path) -> None:
    """Replace `final` by the complete bundle in `staged`, never leaving a half-written `final`.

    The old bundle is moved aside first and deleted only once the new one is in place.
    """
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        final.rename(old)
    staged.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class RunData:
    """One model at one seed, as read back from the bundle: trained by reportgen, or evaluated from weights."""

    model: str
    seed: int
    path: Path
    info: dict[str, Any]
    history: dict[str, np.ndarray] | None  # column -> values per epoch; None for an evaluated run
    metrics: dict[str, Any]
    labels: np.ndarray  # (N,) true class of each test image
    preds: np.ndarray  # (N,) predicted class
    probs: np.ndarray  # (N, K) class probabilities

    @property
    def display_name(self) -> str:
        return self.info["display_name"]

    @property
    def origin(self) -> str:
        """"trained" (by reportgen build) or "evaluated" (weights trained elsewhere, by reportgen evaluate)."""
        return self.info.get("origin", "trained")


class Bundle:
    """Read-only access to a results bundle, without torch; every value is checked as it is read."""

    def __init__(self, root: Path | str, require_complete: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise BundleError(f"{self.root} is not a folder: pass the folder that `reportgen build` wrote")
        self._files = scan_bundle(self.root)
        self._cache: dict[Any, Any] = {}
        if require_complete and MANIFEST not in self._files:
            raise BundleError(f"{self.root} has no {MANIFEST}: it is not a complete reportgen bundle; pass a "
                              "folder that `reportgen build` wrote (a build writes the manifest last)")
        if MANIFEST in self._files:
            version = self.manifest().get("schema_version")
            if version != SCHEMA_VERSION:
                raise BundleError(f"{self.root} has bundle schema version {version!r}; this reportgen "
                                  f"reads version {SCHEMA_VERSION}")

    def _cached(self, key: Any, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        return self._cached("manifest", lambda: _checked_manifest(read_json(path), path))

    def read_text(self, name: str) -> str:
        """The bundle file `name` (posix path relative to the bundle) as text, read as every bundle file is."""
        if not is_inside_path(name):
            raise BundleError(f"{name!r} is not a path inside the bundle {self.root}")
        return read_text(self.root / name)

    def sha256(self, name: str) -> str:
        """The sha256 of the bundle file `name` as it is on disk now (computed once per Bundle)."""
        return self._cached(("sha256", name), lambda: sha256_file(self.root / name))

    def manifest_differences(self) -> tuple[list[str], list[str], list[str]]:
        """Files (missing, added, changed) against the manifest: listed but absent, present but
        unlisted, and present with another sha256. Relative posix paths, sorted; hidden files and OS
        clutter (.DS_Store, Thumbs.db) are not bundle files."""
        listed = self.manifest()["files"]
        present = _bundle_files(self.root)
        missing = sorted(set(listed) - set(present))
        added = sorted(set(present) - set(listed))
        changed = sorted(name for name in set(listed) & set(present) if self.sha256(name) != listed[name])
        return missing, added, changed

    def require_intact_results(self) -> None:
        """Refuse a bundle whose results differ from its manifest, before anything is drawn from them.

        Only the rendered files (report, figures) may differ: render rewrites them. Rendering or
        comparing edited results would publish numbers that nobody computed, under a fresh manifest.
        """
        missing, added, changed = self.manifest_differences()
        edited = [name for name in missing + added + changed if not is_rendered(name)]
        if edited:
            shown = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
            raise BundleError(f"{self.root}: {shown} changed since the bundle was built (not as {MANIFEST} "
                              f"records them); `reportgen verify {self.root}` shows the details, or rebuild it")

    def built(self) -> str:
        """When `reportgen build` wrote the results (rendering again does not change it)."""
        return str(self.environment().get("created", "not recorded"))

    def config(self) -> Config:
        return self._cached("config", self._read_config)

    def _read_config(self) -> Config:
        import yaml

        path = self.root / "config.yaml"
        try:
            return config_from_dict(yaml.safe_load(read_text(path)))
        except (ConfigError, yaml.YAMLError, RecursionError) as exc:
            raise BundleError(f"{path} is not a valid reportgen config: {str(exc).splitlines()[0][:200]}") from None

    def environment(self) -> dict[str, Any]:
        return self._cached("environment", lambda: _checked_environment(self.root / "environment.json"))

    def dataset(self) -> dict[str, Any]:
        return self._cached("dataset", lambda: _checked_dataset(self.root / "dataset.json"))

    def architectures(self) -> dict[str, Any]:
        return self._cached("architectures", lambda: _checked_architectures(
            self.root / "architectures.json", self.models()))

    def samples(self) -> dict[str, np.ndarray]:
        return self._cached("samples", lambda: _checked_samples(
            self.root / "samples.npz", len(self.dataset()["classes"])))

    def models(self) -> list[str]:
        """Model keys in config order, those with runs in the bundle."""
        return [m for m in self.config().models if any(name.startswith(f"runs/{m}/") for name in self._files)]

    def seeds(self, model: str) -> list[int]:
        """The seeds of `model`'s run folders (runs/<model>/seed-<seed>/), sorted."""
        seeds = set()
        for name in self._files:
            parts = name.split("/")
            if parts[:2] != ["runs", model]:
                continue
            match = re.fullmatch(r"seed-(0|[1-9][0-9]{0,8})", parts[2]) if len(parts) >= 4 else None
            if match is None:
                raise BundleError(f"{self.root}: {name} is not where a bundle keeps its runs "
                                  "(runs/<model>/seed-<number>/...)")
            seeds.add(int(match.group(1)))
        return sorted(seeds)

    def runs(self, model: str) -> list[RunData]:
        """Every seed's run of `model`, sorted by seed (read once per Bundle)."""
        return self._cached(("runs", model), lambda: self._read_runs(model))

    def _read_runs(self, model: str) -> list[RunData]:
        seeds = self.seeds(model)
        if not seeds:
            raise BundleError(f"bundle {self.root} has no runs of model '{model}'")
        return [self._read_run(model, self.root / "runs" / model / f"seed-{seed}") for seed in seeds]

    def visuals(self, model: str, seed: int) -> dict[str, np.ndarray]:
        return self._cached(("visuals", model, seed), lambda: _checked_visuals(
            self.root / "runs" / model / f"seed-{seed}" / "visuals.npz"))

    def _read_run(self, model: str, folder: Path) -> RunData:
        seed = int(folder.name.removeprefix("seed-"))  # a folder name that seeds() accepted
        info = _checked_run_info(read_json(folder / "run.json"), folder / "run.json", model, seed)
        classes = self.dataset()["classes"]
        labels, preds, probs = _read_predictions(folder / "predictions.csv", len(classes))
        return RunData(
            model=model,
            seed=seed,
            path=folder,
            info=info,
            history=_read_history(folder / "history.csv", info.get("origin", "trained")),
            metrics=_checked_metrics(read_json(folder / "metrics.json"), folder / "metrics.json", classes),
            labels=labels,
            preds=preds,
            probs=probs,
        )


# ---------------------------------------------------------------- checks on reading


def _refuse(path: Path, problem: str) -> NoReturn:
    raise BundleError(f"bundle file {path} {problem}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_fraction(value: Any) -> bool:
    return _is_number(value) and 0.0 <= value <= 1.0


def _object(value: Any, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        _refuse(path, "must hold a JSON object")
    return value


def _checked_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    files = _object(manifest, path).get("files")
    if not isinstance(files, dict):
        _refuse(path, "has no 'files' object of checksums")
    for name, digest in files.items():
        if not is_inside_path(name):
            _refuse(path, f"lists {name!r}, which is not a path inside the bundle (absolute, or with '..')")
        if not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest)):
            _refuse(path, f"records {str(digest)[:80]!r} for {name}, which is not a sha256 in hex")
    return manifest


def _checked_environment(path: Path) -> dict[str, Any]:
    env = _object(read_json(path), path)
    if "num_threads" in env and not _is_count(env["num_threads"]):
        _refuse(path, "has a 'num_threads' that is not a whole number")
    return env


def _checked_dataset(path: Path) -> dict[str, Any]:
    dataset = _object(read_json(path), path)
    classes = dataset.get("classes")
    if not (isinstance(classes, list) and 0 < len(classes) <= MAX_CLASSES
            and all(isinstance(c, str) and c for c in classes) and len(set(classes)) == len(classes)):
        _refuse(path, f"must list 1 to {MAX_CLASSES} distinct class names under 'classes'")
    for key in ("train_size", "test_size"):
        if not _is_count(dataset.get(key)):
            _refuse(path, f"has no whole number '{key}'")
    if not isinstance(dataset.get("fingerprint"), str):
        _refuse(path, "has no 'fingerprint' text")
    return dataset


def _checked_architectures(path: Path, models: list[str]) -> dict[str, Any]:
    architectures = _object(read_json(path), path)
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


def _checked_run_info(info: Any, path: Path, model: str, seed: int) -> dict[str, Any]:
    info = _object(info, path)
    if info.get("model") != model or info.get("seed") != seed or isinstance(info.get("seed"), bool):
        _refuse(path, f"must be model '{model}' at seed {seed}, as its folder says")
    if not isinstance(info.get("display_name"), str):
        _refuse(path, "has no 'display_name' text")
    origin = info.get("origin", "trained")
    if origin not in ORIGINS:
        _refuse(path, f"has origin {str(origin)[:40]!r}; known origins are {', '.join(ORIGINS)}")
    if origin == "trained" and not (_is_count(info.get("epochs")) and info["epochs"] > 0
                                    and _is_number(info.get("train_time_s")) and info["train_time_s"] >= 0):
        _refuse(path, "is a trained run without a positive whole 'epochs' and a 'train_time_s' of seconds")
    if origin == "evaluated" and not (isinstance(info.get("weights_sha256"), str)
                                      and SHA256_HEX.fullmatch(info["weights_sha256"])
                                      and isinstance(info.get("weights_source"), str)):
        _refuse(path, "is an evaluated run without 'weights_sha256' (hex) and 'weights_source'")
    return info


def _checked_metrics(metrics: Any, path: Path, classes: list[str]) -> dict[str, Any]:
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


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """(header, finite float values (rows, columns)) of a numeric CSV file of the bundle."""
    text = read_text(path)
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


def _read_predictions(path: Path, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, preds, probs) of predictions.csv, refusing what the classes and probabilities rule out."""
    header, values = _read_csv(path)
    expected = ["index", "label", "pred", *[f"p_{i}" for i in range(k)]]
    if header != expected:
        _refuse(path, f"must have the columns index,label,pred,p_0..p_{k - 1} (one per class of dataset.json)")
    if not len(values):
        _refuse(path, "holds no predictions")
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


def _read_history(path: Path, origin: str) -> dict[str, np.ndarray] | None:
    """history.csv of a trained run; None for an evaluated run, which has no training history."""
    if origin == "evaluated":
        if path.exists() or path.is_symlink():
            _refuse(path, "is the history of a run that run.json says was evaluated, not trained")
        return None
    header, values = _read_csv(path)
    if header != list(HISTORY_COLUMNS):
        _refuse(path, f"must have the columns {','.join(HISTORY_COLUMNS)}")
    history = {name: values[:, i] for i, name in enumerate(header)}
    if not len(values) or not np.array_equal(history["epoch"], np.arange(1, len(values) + 1)):
        _refuse(path, "must hold one row per epoch, numbered from 1")
    if not all(_all_fractions(history[c]) for c in ("train_acc", "val_acc")):
        _refuse(path, "has an accuracy outside [0, 1]")
    if min(float(history[c].min()) for c in ("train_loss", "val_loss", "lr", "epoch_time_s")) < 0:
        _refuse(path, "has a negative loss, learning rate or epoch time")
    return history


def _all_fractions(values: np.ndarray) -> bool:
    return bool(values.size == 0 or (values.min() >= 0 and values.max() <= 1))


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, never unpickling: object arrays are refused, and so is a zip that
    would unpack to more than NPZ_UNPACKED_CAP."""
    data = read_bytes(path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > NPZ_UNPACKED_CAP:
            _refuse(path, f"would unpack to {unpacked / MiB:.0f} MiB, over the {NPZ_UNPACKED_CAP / MiB:g} MiB "
                          "that reportgen reads")
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
    return array.dtype == np.uint8 and array.ndim == (4 if batched else 3) and array.shape[-3] == 3


def _is_label_array(array: np.ndarray, k: int, scalar: bool) -> bool:
    return (np.issubdtype(array.dtype, np.integer) and array.ndim == (0 if scalar else 1)
            and bool(array.size == 0 or (array.min() >= 0 and array.max() < k)))


def _checked_samples(path: Path, k: int) -> dict[str, np.ndarray]:
    samples = _load_npz(path)
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
    return samples


def _checked_visuals(path: Path) -> dict[str, np.ndarray]:
    visuals = _load_npz(path)
    for name, array in visuals.items():
        if not (np.issubdtype(array.dtype, np.floating) and array.ndim == 3 and np.isfinite(array).all()):
            _refuse(path, f"has '{name}', which is not a finite float array (channels or heads, height, width)")
    if "cls_attention" in visuals and not _all_fractions(visuals["cls_attention"]):
        _refuse(path, "has attention weights outside [0, 1]")
    return visuals
