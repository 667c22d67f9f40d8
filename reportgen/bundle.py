"""The results bundle on disk: its layout, atomic writing, manifest, and torch-free reading.

Stages hand over through the bundle, never through globals: training writes runs into it, figures
and the report read it back. docs/bundle.md describes the layout. Nothing here imports torch, so
`reportgen render` and `reportgen verify` work on machines without it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from reportgen import __version__
from reportgen.config import Config, config_from_dict
from reportgen.errors import BundleError, ConfigError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
RENDERED_FILES = ("report.html", "report.pdf")  # with figures/: what `reportgen render` rewrites
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
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


def read_json(path: Path) -> Any:
    """Read a JSON file of a bundle, as a BundleError if it is missing or broken."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"bundle file {path} is missing") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle file {path} is not valid JSON: {exc}") from None


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


def _bundle_files(root: Path) -> dict[str, Path]:
    """Every file of the bundle but the manifest and clutter, by posix path relative to the root."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST and not _is_clutter(p.relative_to(root))}


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
    """One trained model at one seed, as read back from the bundle."""

    model: str
    seed: int
    path: Path
    info: dict[str, Any]
    history: dict[str, np.ndarray]  # column -> values per epoch
    metrics: dict[str, Any]
    labels: np.ndarray  # (N,) true class of each test image
    preds: np.ndarray  # (N,) predicted class
    probs: np.ndarray  # (N, K) class probabilities

    @property
    def display_name(self) -> str:
        return self.info["display_name"]


class Bundle:
    """Read-only access to a results bundle, without torch."""

    def __init__(self, root: Path | str, require_complete: bool = True):
        self.root = Path(root)
        if not self.root.is_dir():
            raise BundleError(f"{self.root} is not a folder: pass the folder that `reportgen build` wrote")
        if require_complete and not (self.root / MANIFEST).is_file():
            raise BundleError(f"{self.root} has no {MANIFEST}: it is not a complete reportgen bundle; pass a "
                              "folder that `reportgen build` wrote (a build writes the manifest last)")
        if (self.root / MANIFEST).is_file():
            version = self.manifest().get("schema_version")
            if version != SCHEMA_VERSION:
                raise BundleError(f"{self.root} has bundle schema version {version}; this reportgen "
                                  f"reads version {SCHEMA_VERSION}")

    def manifest(self) -> dict[str, Any]:
        return read_json(self.root / MANIFEST)

    def manifest_differences(self) -> tuple[list[str], list[str], list[str]]:
        """Files (missing, added, changed) against the manifest: listed but absent, present but
        unlisted, and present with another sha256. Relative posix paths, sorted; hidden files and OS
        clutter (.DS_Store, Thumbs.db) are not bundle files."""
        listed = self.manifest()["files"]
        present = _bundle_files(self.root)
        missing = sorted(set(listed) - set(present))
        added = sorted(set(present) - set(listed))
        changed = sorted(name for name in set(listed) & set(present) if sha256_file(present[name]) != listed[name])
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
        import yaml

        path = self.root / "config.yaml"
        if not path.is_file():
            raise BundleError(f"bundle file {path} is missing")
        try:
            return config_from_dict(yaml.safe_load(path.read_text()))
        except (ConfigError, yaml.YAMLError) as exc:
            raise BundleError(f"{path} is not a valid reportgen config: {exc}") from None

    def environment(self) -> dict[str, Any]:
        return read_json(self.root / "environment.json")

    def dataset(self) -> dict[str, Any]:
        return read_json(self.root / "dataset.json")

    def architectures(self) -> dict[str, Any]:
        return read_json(self.root / "architectures.json")

    def samples(self) -> dict[str, np.ndarray]:
        return _load_npz(self.root / "samples.npz")

    def models(self) -> list[str]:
        """Model keys in config order."""
        return [m for m in self.config().models if (self.root / "runs" / m).is_dir()]

    def runs(self, model: str) -> list[RunData]:
        """Every seed's run of `model`, sorted by seed."""
        folders = sorted((self.root / "runs" / model).glob("seed-*"), key=lambda p: int(p.name[5:]))
        if not folders:
            raise BundleError(f"bundle {self.root} has no runs of model '{model}'")
        return [self._read_run(model, folder) for folder in folders]

    def visuals(self, model: str, seed: int) -> dict[str, np.ndarray]:
        return _load_npz(self.root / "runs" / model / f"seed-{seed}" / "visuals.npz")

    def _read_run(self, model: str, folder: Path) -> RunData:
        info = read_json(folder / "run.json")
        predictions = _read_csv_columns(folder / "predictions.csv")
        prob_cols = sorted((c for c in predictions if c.startswith("p_")), key=lambda c: int(c[2:]))
        return RunData(
            model=model,
            seed=int(info["seed"]),
            path=folder,
            info=info,
            history=_read_csv_columns(folder / "history.csv"),
            metrics=read_json(folder / "metrics.json"),
            labels=predictions["label"].astype(np.int64),
            preds=predictions["pred"].astype(np.int64),
            probs=np.stack([predictions[c] for c in prob_cols], axis=1),
        )


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BundleError(f"bundle file {path} is missing")
    # allow_pickle=False: a bundle from a stranger must never execute code when opened.
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _read_csv_columns(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BundleError(f"bundle file {path} is missing")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise BundleError(f"bundle file {path} is empty")
    header, body = rows[0], rows[1:]
    try:
        values = np.array(body, dtype=np.float64).reshape(len(body), len(header))
    except ValueError:
        raise BundleError(f"bundle file {path} holds a value that is not a number") from None
    return {name: values[:, i] for i, name in enumerate(header)}
