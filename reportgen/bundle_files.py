"""The results bundle's files on disk: layout constants, atomic writing, the manifest, and opening files safely.

The low-level half of reportgen.bundle (which re-exports what callers use): writing a bundle
(atomic files, the manifest written last, staging and publishing) and the primitives every read
goes through for a stranger's bundle: a scan that refuses links, devices, fifos, sockets, files
over their size cap (SIZE_CAPS) and more than MAX_FILES files; files opened without following
links; JSON without NaN or Infinity. Nothing here imports torch.

A bundle's folder is opened once (BundleRoot: O_DIRECTORY | O_NOFOLLOW), and every file under it is
then opened relative to that handle one folder at a time, each with O_NOFOLLOW: a folder swapped for
a link after the scan is refused, never followed out of the bundle.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import shutil
import stat
import uuid
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

import numpy as np

from reportgen import __version__
from reportgen.errors import BundleError
from reportgen.plain_data import load_json

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
# With the files in RENDERED_FOLDERS: what `reportgen render` rewrites.
RENDERED_FILES = ("report.html", "report.pdf", "summary.json")
RENDERED_FOLDERS = ("figures", "tables")
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
ORIGINS = ("trained", "evaluated")  # run.json "origin"; absent means trained (bundles of reportgen 0.2.0)

# The bundle's run folders: runs/<model>/seed-<s>/ for the base config, variants/<name>/<model>/seed-<s>/ for a
# config variant. Every writer and reader spells them through these two functions.
RUNS_FOLDER, VARIANTS_FOLDER, SEED_PREFIX = "runs", "variants", "seed-"


def run_scope(variant: str | None = None) -> tuple[str, ...]:
    """The folder parts that hold the base config's runs, or a variant's: ("runs",) or ("variants", name)."""
    return (RUNS_FOLDER,) if variant is None else (VARIANTS_FOLDER, variant)


def run_folder(model: str, seed: int, variant: str | None = None) -> str:
    """Where a bundle keeps one run, relative to its root: runs/<model>/seed-<s> or variants/<v>/<model>/seed-<s>."""
    return "/".join((*run_scope(variant), model, f"{SEED_PREFIX}{seed}"))


MiB = 1 << 20
# The largest weights file reportgen reads, on disk and unpacked (reportgen.weights checks both): the original
# study's models take about 5 MiB, so a model a hundred times larger still fits, while a stranger's file cannot
# exhaust the grader's memory.
MAX_WEIGHTS_BYTES = 512 * MiB
# The largest file of each kind a bundle may hold, by suffix. Generous for real bundles (the seed
# protocol's predictions.csv is about 1 MiB, each weights.pt about 5 MiB: a model 100 times larger
# still fits; report.pdf a few MiB) and small enough that a hostile bundle cannot exhaust memory or
# time: a larger file is refused unread.
SIZE_CAPS = {".json": 8 * MiB, ".yaml": 1 * MiB, ".csv": 64 * MiB, ".npz": 64 * MiB, ".pt": MAX_WEIGHTS_BYTES,
             ".html": 32 * MiB, ".pdf": 128 * MiB, ".png": 16 * MiB}
OTHER_FILE_CAP = 16 * MiB  # any other suffix
MAX_FILES = 10_000  # files and folders: a real bundle holds a few dozen
MAX_DEPTH = 16  # folders within folders: a bundle nests 4 deep (variants/<v>/<model>/seed-<s>/)
MAX_BUNDLE_SIZE = 8192 * MiB  # all files together: hashing them must end within seconds


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
    if path.is_dir():  # os.replace cannot put a file there: say so before anything is written
        raise BundleError(f"{path} is a folder, where reportgen writes a file: remove it, or write elsewhere")
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there when the block failed


def json_text(data: Any) -> str:
    """JSON as reportgen writes it: a stable layout (sorted keys would scramble tables; keep insertion order)."""
    return json.dumps(data, indent=2) + "\n"


def write_json(path: Path, data: Any) -> None:
    """Write `json_text(data)` to a new file renamed into place: a file hard-linked from outside the bundle is
    replaced, never written through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json_text(data))


def size_cap(name: str) -> int:
    """The largest size in bytes a bundle file called `name` may have (SIZE_CAPS by suffix)."""
    return SIZE_CAPS.get(PurePosixPath(name).suffix.lower(), OTHER_FILE_CAP)


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | NOFOLLOW
FILE_FLAGS = os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # a fifo must not block the open
# The bundle folders open now, by their absolute and their resolved path: a file under one is opened through its
# handle. Weak: a folder is closed once the last Bundle reading it is gone.
_open_roots: weakref.WeakValueDictionary[str, BundleRoot] = weakref.WeakValueDictionary()


class BundleRoot:
    """A bundle's folder opened once, without following a link to it: every read of a file under it (open_regular,
    scan_bundle) goes through this handle, so the folder read is the folder scanned."""

    def __init__(self, root: Path):
        self.root = Path(root)
        try:
            self.fd = os.open(self.root, FOLDER_FLAGS)
        except OSError as exc:  # ELOOP: a link; ENOTDIR: a file
            raise BundleError(f"{self.root} cannot be opened as a bundle folder ({exc.strerror}): pass the folder "
                              "itself, not a link to it") from None
        weakref.finalize(self, os.close, self.fd)
        for key in {os.path.abspath(self.root), os.path.realpath(self.root)}:
            _open_roots[key] = self

    def open_relative(self, parts: tuple[str, ...], shown: Path) -> int:
        """A file descriptor of the file at `parts` under the root, each folder opened with O_NOFOLLOW."""
        folder, opened = self.fd, []
        try:
            for depth, part in enumerate(parts[:-1]):
                try:
                    folder = os.open(part, FOLDER_FLAGS, dir_fd=folder)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise  # FileNotFoundError: the file is missing
                    inner = "/".join(parts[:depth + 1])
                    raise BundleError(f"bundle file {shown} cannot be opened: {inner} is a symbolic link or not a "
                                      "folder (it changed after the bundle was scanned); a bundle holds regular "
                                      "files and folders only") from None
                opened.append(folder)
            return os.open(parts[-1], FILE_FLAGS, dir_fd=folder)
        finally:
            for fd in opened:
                os.close(fd)


def _root_of(path: Path) -> tuple[BundleRoot, tuple[str, ...]] | None:
    """The innermost open bundle folder that `path` lies under, and the path's parts below it; None outside."""
    absolute = os.path.abspath(path)
    inner = max((key for key in list(_open_roots.keys()) if absolute.startswith(key.rstrip(os.sep) + os.sep)),
                key=len, default=None)
    root = _open_roots.get(inner) if inner is not None else None
    if root is None:
        return None
    return root, tuple(PurePosixPath(os.path.relpath(absolute, inner)).parts)


def _open_file(path: Path) -> int:
    """A file descriptor of `path`, opened through its bundle's folder handle when a Bundle has it open."""
    anchored = _root_of(path)
    if anchored is None:  # a file of reportgen's own (a build's staging folder, the run store)
        return os.open(path, FILE_FLAGS)
    root, parts = anchored
    return root.open_relative(parts, path)


def open_regular(path: Path) -> BinaryIO:
    """Open a file for reading as a bundle reads one: never through a symbolic link (of the file or, under an
    open BundleRoot, of any folder on its way), never blocking on a fifo, and only a regular file within its size
    cap; BundleError otherwise."""
    try:
        fd = _open_file(path)
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
    if info.st_nlink > 1:  # the same file is also elsewhere (another student's bundle?): not this bundle's own
        os.close(fd)
        raise BundleError(f"bundle file {path} has {info.st_nlink} hard links: a bundle's files are its own; copy "
                          "the bundle (cp -r) rather than linking it")
    return os.fdopen(fd, "rb")


def _oversized(path: Path | str, size: int) -> str:
    cap = size_cap(str(path))
    return (f"bundle file {path} is {size / MiB:.1f} MiB, over the {cap / MiB:g} MiB that reportgen reads for a "
            f"{PurePosixPath(str(path)).suffix or 'file'}: it is not a file reportgen writes")


def read_bytes(path: Path) -> bytes:
    """A bundle file's bytes (see open_regular)."""
    with open_regular(path) as f:
        return f.read()


def decode_text(data: bytes, path: Path) -> str:
    """The bytes of the bundle file `path` as UTF-8 text; BundleError when they are not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"bundle file {path} is not UTF-8 text") from None


def parse_json(data: bytes, path: Path) -> Any:
    """The bytes of the JSON file `path` of a bundle, parsed; a BundleError if they are broken, hold NaN or Infinity
    or give a key twice in one object (reportgen.plain_data)."""
    try:
        return load_json(decode_text(data, path))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"bundle file {path} is not valid JSON: {str(exc).splitlines()[0][:200]}") from None


def read_text(path: Path) -> str:
    """A bundle file as UTF-8 text (see open_regular)."""
    return decode_text(read_bytes(path), path)


def read_json(path: Path) -> Any:
    """Read a JSON file of a bundle (see open_regular and parse_json): a BundleError if it is missing or broken."""
    return parse_json(read_bytes(path), path)


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
    write_json(root / MANIFEST, manifest_document({name: sha256_file(path)
                                                   for name, path in bundle_file_paths(root).items()}))


def manifest_document(files: dict[str, str]) -> dict[str, Any]:
    """manifest.json's content for `files` (name -> sha256 in hex)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "reportgen_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }


def manifest_size(names: list[str]) -> int:
    """The bytes of the manifest of a bundle holding the files `names`, before any is hashed: every sha256 takes
    64 hex digits and the timestamp a fixed width, so the size follows from the names alone."""
    return len(json_text(manifest_document({name: "0" * 64 for name in names})).encode())


OS_CLUTTER = {"Thumbs.db", "desktop.ini"}  # with hidden files: what file browsers and editors drop into folders


def is_rendered(name: str) -> bool:
    """Whether a bundle file (posix path relative to the bundle) is drawn from the results, not a result itself."""
    return name in RENDERED_FILES or name.startswith(tuple(f"{folder}/" for folder in RENDERED_FOLDERS))


def is_clutter(relative: Path) -> bool:
    """Hidden files (.DS_Store, ._x, editor locks) and OS clutter: never read, so never part of the results."""
    return any(part.startswith(".") for part in relative.parts) or relative.name in OS_CLUTTER


def scan_bundle(root: Path) -> dict[str, Path]:
    """Every file under `root` but clutter, by posix path relative to it, sorted.

    Refuses (BundleError) what would make a reader leave the bundle, block or run without end:
    symbolic links, devices, fifos and sockets, a file over its size cap, more than MAX_FILES files
    and folders, MAX_DEPTH nested folders or MAX_BUNDLE_SIZE bytes. The walk goes through the
    folder's handle (BundleRoot), each folder opened without following links.
    Hidden folders are clutter and are not entered.
    """
    return dict(sorted(_walk(root).files.items()))


def bundle_sizes(root: Path) -> dict[str, int]:
    """The size in bytes of every file under `root` but clutter, by posix path relative to it, scanned as
    `scan_bundle` scans (and refuses) a bundle."""
    return _walk(root).sizes


def _walk(root: Path) -> _Walk:
    anchor = _open_roots.get(os.path.abspath(root)) or BundleRoot(root)
    walk = _Walk(Path(root))
    walk.folder(anchor.fd, ())
    return walk


class _Walk:
    """One scan_bundle: the files found under `root`, their sizes, their bytes in all, and the entries (files and
    folders) counted."""

    def __init__(self, root: Path):
        self.root, self.files, self.sizes, self.total, self.entries = root, {}, {}, 0, 0

    def folder(self, fd: int, parts: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(fd))
        except OSError as exc:
            raise BundleError(f"cannot list {self.root.joinpath(*parts)}: {exc.strerror}") from None
        for entry in entries:
            relative = PurePosixPath(*parts, entry.name)
            if is_clutter(relative):
                continue
            name = relative.as_posix()
            if entry.is_symlink():
                raise BundleError(f"{self.root}: {name} is a symbolic link; a bundle holds regular files only, "
                                  "so that reading it never leaves the bundle")
            if entry.is_dir(follow_symlinks=False):
                self._add(0)
                self._subfolder(fd, (*parts, entry.name))
                continue
            if not entry.is_file(follow_symlinks=False):
                raise BundleError(f"{self.root}: {name} is not a regular file (a device, fifo or socket); "
                                  "a bundle holds regular files only")
            size = entry.stat(follow_symlinks=False).st_size
            if size > size_cap(name):
                raise BundleError(_oversized(self.root / name, size))
            self.files[name] = self.root / name
            self.sizes[name] = size
            self._add(size)

    def _subfolder(self, parent: int, parts: tuple[str, ...]) -> None:
        name = "/".join(parts)
        if len(parts) > MAX_DEPTH:
            raise BundleError(f"{self.root}: {name} lies {len(parts)} folders deep, more than the {MAX_DEPTH} "
                              "reportgen reads: it is not a reportgen bundle")
        try:
            fd = os.open(parts[-1], FOLDER_FLAGS, dir_fd=parent)
        except OSError as exc:  # ELOOP: swapped for a link since it was listed
            raise BundleError(f"{self.root}: {name} cannot be entered as a folder ({exc.strerror}); a bundle "
                              "holds regular files and folders only") from None
        try:
            self.folder(fd, parts)
        finally:
            os.close(fd)

    def _add(self, size: int) -> None:
        """Count one entry (a folder: size 0) and its bytes against the bounds."""
        self.entries += 1
        self.total += size
        if self.entries > MAX_FILES or self.total > MAX_BUNDLE_SIZE:
            raise BundleError(f"{self.root} holds more than {MAX_FILES:,} files and folders or "
                              f"{MAX_BUNDLE_SIZE / MiB:g} MiB: it is not a reportgen bundle")


def bundle_file_paths(root: Path) -> dict[str, Path]:
    """Every file of the bundle but the manifest and clutter, by posix path relative to the root."""
    return {name: path for name, path in scan_bundle(root).items() if name != MANIFEST}


def is_inside_path(name: Any) -> bool:
    """Whether `name` is a relative posix path that stays inside the folder it is relative to."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and all(part not in ("", ".", "..") for part in name.split("/"))


def check_replaceable(final: Path) -> None:
    """Refuse an output folder that reportgen may not replace: anything there but an empty folder or one of its
    own bundles (a manifest.json). A folder of someone's files is never deleted to make room for a bundle."""
    if final.is_symlink():
        raise BundleError(f"output {final} is a symbolic link: a bundle is written to a folder of its own; choose "
                          "another --out")
    if final.exists() and not final.is_dir():
        raise BundleError(f"output {final} exists and is not a folder: choose another --out")
    if final.is_dir() and not (final / "manifest.json").is_file() and any(final.iterdir()):
        raise BundleError(f"output {final} holds files and is not a reportgen bundle (no manifest.json), so it is "
                          "not replaced: choose another --out, or empty that folder")


def staging_dir(final: Path) -> Path:
    """A fresh sibling folder to build into, once `final` is known to be replaceable (check_replaceable); publish()
    renames it into place when it is complete."""
    check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def publish(staged: Path, final: Path) -> None:
    """Replace `final` by the complete bundle in `staged`, never leaving a half-written `final`.

    The old bundle is moved aside first and deleted only once the new one is in place; `final` is checked again
    (check_replaceable), since a long build gives time for its folder to change.
    """
    check_replaceable(final)
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        final.rename(old)
    staged.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
