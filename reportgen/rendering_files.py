"""What `reportgen render` writes into a bundle: checked before the work, staged, and published within the bound.

A rendering (reportgen.report.render) draws its figures, report, summary.json and tables into a hidden folder
inside the bundle (`render_staging`); `publish_rendered` moves them into place only when the bundle with them
stays within MAX_BUNDLE_SIZE (reportgen.bundle_files, which owns the bound: read at each call), so that every
reportgen command still reads it; else nothing is moved. Nothing here imports torch.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from reportgen import bundle_files
from reportgen.bundle_files import (
    MANIFEST,
    RENDERED_FILES,
    RENDERED_FOLDERS,
    MiB,
    bundle_sizes,
    is_clutter,
    manifest_size,
)
from reportgen.errors import BundleError


def check_render_outputs(root: Path) -> None:
    """Refuse, before anything is written, a bundle where what render writes cannot be written: a report file or
    the manifest that is a folder or a link, figures/ or tables/ that is not a folder, or a folder inside them."""
    for name in (*RENDERED_FILES, MANIFEST):
        path = root / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise BundleError(f"{path} is not a regular file (a folder or a link), and render writes that file: "
                              "remove it, then render again")
    for name in RENDERED_FOLDERS:
        folder = root / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise BundleError(f"{folder} is not a folder, and render writes its files there: remove it, then "
                              "render again")
        entries = os.scandir(folder) if folder.is_dir() else []
        inner = next((e.name for e in entries if not is_clutter(Path(e.name)) and not e.is_file(
            follow_symlinks=False)), None)
        if inner is not None:
            raise BundleError(f"{folder / inner} is not a regular file (a folder or a link), and render writes "
                              f"only files into {name}/: remove it, then render again")


@contextmanager
def render_staging(root: Path) -> Iterator[Path]:
    """A fresh hidden folder inside the bundle `root` to render into (hidden: never part of the bundle, and on
    its file system, so that `publish_rendered` moves files by renaming them); removed at the end."""
    staged = root / f".render-{uuid.uuid4().hex[:8]}"
    staged.mkdir()
    try:
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def publish_rendered(staged: Path, root: Path, is_output: Callable[[str], bool]) -> list[str]:
    """Move every file rendered into `staged` to the same place in the bundle `root`, each renamed over the old
    one, and remove the files of an earlier rendering that this one did not write (`is_output`: whether a bundle
    file is one that rendering writes); return the names moved in.

    Refused first, in one BundleError line with nothing changed, when a folder on the way is a link or a file
    to replace is a folder, and when the bundle would then hold more than MAX_BUNDLE_SIZE with its new manifest:
    no reportgen command would read it again.
    """
    new = {path.relative_to(staged).as_posix(): path.stat().st_size
           for path in sorted(staged.rglob("*")) if path.is_file()}
    for name in new:
        target = root / name
        if any((root / folder).is_symlink() for folder in PurePosixPath(name).parents if str(folder) != "."):
            raise BundleError(f"{target.parent} is a symbolic link, and render writes {target.name} into it: "
                              "remove the link, then render again")
        if target.is_dir() and not target.is_symlink():
            raise BundleError(f"{target} is a folder, where render writes a file: remove it, then render again")
    present = bundle_sizes(root)
    stale = [name for name in present if is_output(name) and name not in new]
    kept = {name: size for name, size in present.items() if name not in new and name not in stale and name != MANIFEST}
    total = sum(kept.values()) + sum(new.values()) + manifest_size(sorted({*kept, *new}))
    bound = bundle_files.MAX_BUNDLE_SIZE
    if total > bound:
        raise BundleError(f"{root}: rendering would make the bundle {total / MiB:,.1f} MiB (its report, figures and "
                          f"tables {sum(new.values()) / MiB:,.1f} MiB), over the {bound / MiB:g} MiB that reportgen "
                          "reads; nothing was written: render it with --no-pdf, or rebuild it smaller")
    for name in new:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / name, root / name)
    for name in stale:
        (root / name).unlink()
    return list(new)
