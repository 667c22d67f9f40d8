"""The results bundle on disk: its layout, atomic writing, manifest, and torch-free, hardened reading.

Stages hand over through the bundle, never through globals: training writes runs into it, figures
and the report read it back. docs/bundle.md describes the layout. Nothing here imports torch, so
`reportgen render` and `reportgen verify` work on machines without it.

Bundles come from strangers (submissions to grade, runs to review), so `Bundle` reads one as
untrusted input. Opening it opens its folder once (BundleRoot), walks it and refuses links, devices,
fifos and sockets, files over their size cap (SIZE_CAPS) and more than MAX_FILES files; every file is
then opened through that folder's handle, no folder or file on the way followed if it is a link.
Each file is read once per Bundle, and its sha256 and its parsed value both come from those bytes (`read_bytes`):
a file swapped between two reads is never verified as one content and reported as another. A file hashed before
it is parsed (a weights file, streamed through the hash) is read again only to be parsed, and refused if its
digest changed in between. Nothing is unpickled (.npz arrays that would need pickle are refused),
manifest entries must be paths inside the bundle, and every value the report or verify uses is
checked on reading: finite numbers, labels and predictions within the classes, probabilities in
[0, 1] whose rows sum to 1. Whatever fails is one BundleError line naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reportgen.bundle_checks import (
    MAX_SEEDS,
    MAX_VARIANTS,
    checked_architectures,
    checked_dataset,
    checked_environment,
    checked_manifest,
    checked_metrics,
    checked_run_info,
    checked_samples,
    checked_visuals,
    read_history,
    read_predictions,
)
from reportgen.bundle_files import (  # noqa: F401  (re-exported: callers write and read bundles through this module)
    MANIFEST,
    RUNS_FOLDER,
    SCHEMA_VERSION,
    SEED_PREFIX,
    VARIANTS_FOLDER,
    BundleRoot,
    atomic_output,
    bundle_file_paths,
    decode_text,
    is_inside_path,
    is_rendered,
    parse_json,
    publish,
    read_bytes,
    read_json,
    read_text,
    run_folder,
    run_scope,
    scan_bundle,
    sha256_file,
    staging_dir,
    write_history,
    write_json,
    write_manifest,
    write_predictions,
)
from reportgen.config import Config
from reportgen.config_loading import bundle_config_from_dict
from reportgen.errors import BundleError, ConfigError
from reportgen.plain_data import load_yaml


def name_list(names: Sequence[str], most: int = 10) -> str:
    """The first `most` of `names` joined by commas, then how many more: a manifest may list a hundred thousand."""
    return ", ".join(names[:most]) + (f" and {len(names) - most:,} more" if len(names) > most else "")


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
    variant: str | None = None  # the config variant the run belongs to; None: the base config

    @property
    def label(self) -> str:
        """How messages name the run: "cnn seed 42", "no-augment: cnn seed 42"."""
        return f"{self.variant + ': ' if self.variant else ''}{self.model} seed {self.seed}"

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
        if self.root.is_symlink():  # a submission that links to another student's bundle is not a bundle of its own
            raise BundleError(f"{self.root} is a symbolic link to {os.readlink(self.root)}: a bundle is read from its "
                              "own folder, not through a link; pass the folder itself")
        if not self.root.is_dir():
            raise BundleError(f"{self.root} is not a folder: pass the folder that `reportgen build` wrote")
        self._folder = BundleRoot(self.root)  # opened once: every file is read through it (reportgen.bundle_files)
        # Asked first, before any scan: a folder that is no bundle (a home folder, /etc) is told so in one line,
        # not refused for what lies in it, and is not walked.
        if require_complete and not (self.root / MANIFEST).is_file():
            raise BundleError(f"{self.root} has no {MANIFEST}: it is not a complete reportgen bundle; pass a "
                              "folder that `reportgen build` wrote (a build writes the manifest last)")
        self._files = scan_bundle(self.root)
        self._cache: dict[Any, Any] = {}
        self._digests: dict[str, str] = {}  # sha256 of each file read so far, by name: kept, unlike its bytes
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
        return self._cached("manifest", lambda: checked_manifest(self._json(MANIFEST), self.root / MANIFEST))

    def read_bytes(self, name: str) -> bytes:
        """The bytes of the bundle file `name` (posix path relative to the bundle), read as every bundle file is;
        its sha256 is taken from these very bytes (`sha256`). Not kept: a caller parses them, and the Bundle
        caches what it parsed. A file hashed before (streamed, `sha256`) whose bytes now differ is refused."""
        if not is_inside_path(name):
            raise BundleError(f"{name!r} is not a path inside the bundle {self.root}")
        data = read_bytes(self.root / name)
        digest = hashlib.sha256(data).hexdigest()
        earlier = self._digests.setdefault(name, digest)
        if earlier != digest:
            raise BundleError(f"bundle file {self.root / name} changed while reportgen read it (sha256 {earlier[:12]}… "
                              f"when hashed, {digest[:12]}… when read again): it is not checked as one content and "
                              "read as another; read the bundle once nothing writes to it")
        return data

    def read_text(self, name: str) -> str:
        """The bundle file `name` as UTF-8 text (see `read_bytes`)."""
        return decode_text(self.read_bytes(name), self.root / name)

    def _json(self, name: str) -> Any:
        return parse_json(self.read_bytes(name), self.root / name)

    def sha256(self, name: str) -> str:
        """The sha256 of the bundle file `name`: of the bytes this Bundle read (`read_bytes`), or, for a file not
        read yet, streamed from the file without keeping its bytes (a weights file can take 512 MiB)."""
        if name not in self._digests:
            self._digests[name] = sha256_file(self.root / name)
        return self._digests[name]

    def manifest_differences(self) -> tuple[list[str], list[str], list[str]]:
        """Files (missing, added, changed) against the manifest: listed but absent, present but
        unlisted, and present with another sha256. Relative posix paths, sorted; hidden files and OS
        clutter (.DS_Store, Thumbs.db) are not bundle files."""
        listed = self.manifest()["files"]
        present = bundle_file_paths(self.root)
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
            raise BundleError(f"{self.root}: {name_list(edited, 3)} changed since the bundle was built (not as "
                              f"{MANIFEST} records them); `reportgen verify {self.root}` shows the details, or "
                              "rebuild it")

    def built(self) -> str:
        """When `reportgen build` wrote the results (rendering again does not change it)."""
        return str(self.environment().get("created", "not recorded"))

    def config(self) -> Config:
        return self._cached("config", self._read_config)

    def _read_config(self) -> Config:
        import yaml

        path = self.root / "config.yaml"
        try:
            return bundle_config_from_dict(load_yaml(self.read_text("config.yaml")))
        except (ConfigError, yaml.YAMLError, RecursionError) as exc:
            raise BundleError(f"{path} is not a valid reportgen config: {str(exc).splitlines()[0][:200]}") from None

    def environment(self) -> dict[str, Any]:
        return self._cached("environment", lambda: checked_environment(
            self._json("environment.json"), self.root / "environment.json"))

    def dataset(self) -> dict[str, Any]:
        return self._cached("dataset", lambda: checked_dataset(self._json("dataset.json"), self.root / "dataset.json"))

    def architectures(self) -> dict[str, Any]:
        return self._cached("architectures", lambda: checked_architectures(
            self._json("architectures.json"), self.root / "architectures.json", self.models()))

    def samples(self) -> dict[str, np.ndarray]:
        return self._cached("samples", lambda: checked_samples(
            self.read_bytes("samples.npz"), self.root / "samples.npz", len(self.dataset()["classes"])))

    def models(self) -> list[str]:
        """Model keys in config order, those with runs in the bundle."""
        return [m for m in self.config().models
                if any(name.startswith(f"{RUNS_FOLDER}/{m}/") for name in self._files)]

    def variants(self) -> list[str]:
        """The config's variants (in config order) whose runs the bundle holds (variants/<name>/...)."""
        self._check_variant_folders()
        held = [v for v in self.config().variants
                if any(name.startswith(f"{VARIANTS_FOLDER}/{v}/") for name in self._files)]
        if len(held) > MAX_VARIANTS:
            raise BundleError(f"{self.root} holds the runs of {len(held)} config variants, over the {MAX_VARIANTS} "
                              "reportgen reads")
        return held

    def _check_variant_folders(self) -> None:
        named = set(self.config().variants)
        for name in self._files:
            parts = name.split("/")
            if parts[0] == VARIANTS_FOLDER and (len(parts) < 2 or parts[1] not in named):
                raise BundleError(f"{self.root}: {name} belongs to no variant of config.yaml (variants: "
                                  f"{', '.join(named) or 'none'})")

    def seeds(self, model: str, variant: str | None = None) -> list[int]:
        """The seeds of `model`'s run folders (runs/<model>/seed-<seed>/, or variants/<name>/<model>/...), sorted."""
        scope = list(run_scope(variant))
        seeds = set()
        for name in self._files:
            parts = name.split("/")
            if parts[:len(scope) + 1] != [*scope, model]:
                continue
            folder = parts[len(scope) + 1] if len(parts) > len(scope) + 2 else ""
            match = re.fullmatch(rf"{SEED_PREFIX}(0|[1-9][0-9]{{0,8}})", folder)
            if match is None:
                raise BundleError(f"{self.root}: {name} is not where a bundle keeps its runs "
                                  f"({'/'.join(scope)}/<model>/{SEED_PREFIX}<number>/...)")
            seeds.add(int(match.group(1)))
        if len(seeds) > MAX_SEEDS:
            raise BundleError(f"{self.root} holds {len(seeds)} seeds of {'/'.join((*scope, model))}, over the "
                              f"{MAX_SEEDS} reportgen reads")
        return sorted(seeds)

    def runs(self, model: str, variant: str | None = None) -> list[RunData]:
        """Every seed's run of `model` (of the base config, or of `variant`), sorted by seed (read once)."""
        return self._cached(("runs", model, variant), lambda: self._read_runs(model, variant))

    def _read_runs(self, model: str, variant: str | None) -> list[RunData]:
        seeds = self.seeds(model, variant)
        if not seeds:
            of = "" if variant is None else f" in variant '{variant}'"
            raise BundleError(f"bundle {self.root} has no runs of model '{model}'{of}")
        return [self._read_run(model, seed, variant) for seed in seeds]

    def visuals(self, model: str, seed: int) -> dict[str, np.ndarray]:
        name = f"{run_folder(model, seed)}/visuals.npz"
        return self._cached(("visuals", model, seed), lambda: checked_visuals(self.read_bytes(name), self.root / name))

    def _read_run(self, model: str, seed: int, variant: str | None = None) -> RunData:
        folder = run_folder(model, seed, variant)
        info = checked_run_info(self._json(f"{folder}/run.json"), self.root / folder / "run.json", model, seed)
        classes = self.dataset()["classes"]
        labels, preds, probs = read_predictions(self.read_bytes(f"{folder}/predictions.csv"),
                                                self.root / folder / "predictions.csv", len(classes))
        return RunData(
            model=model,
            seed=seed,
            path=self.root / folder,
            info=info,
            history=self._history(f"{folder}/history.csv", info.get("origin", "trained")),
            metrics=checked_metrics(self._json(f"{folder}/metrics.json"), self.root / folder / "metrics.json",
                                    classes),
            labels=labels,
            preds=preds,
            probs=probs,
            variant=variant,
        )

    def _history(self, name: str, origin: str) -> dict[str, np.ndarray] | None:
        """history.csv of a trained run; None for an evaluated run, which has no training history."""
        path = self.root / name
        if origin != "evaluated":
            return read_history(self.read_bytes(name), path)
        if path.exists() or path.is_symlink():
            raise BundleError(f"bundle file {path} is the history of a run that run.json says was evaluated, not "
                              "trained")
        return None
