"""The ImageFolder layout reportgen reads (root/train/<class>/<image>, root/test/<class>/<image>), checked torch-free.

`check_layout` is cheap and needs no torch, so commands call it on --data-dir before they import the
training stack (seconds to minutes on a busy machine); `scan_image_folder` lists the images for decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.errors import DataError

if TYPE_CHECKING:
    from reportgen.config import DataConfig

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SPLITS = ("train", "test")


def check_data_source(cfg: "DataConfig") -> None:
    """For data.dataset folder, `check_layout` of data.dir; the sample and CIFAR-10's download need no check."""
    if cfg.dataset == "folder":
        check_layout(Path(cfg.dir).expanduser())


def check_layout(root: Path) -> None:
    """Refuse, in one DataError line, a data folder that is missing, an archive, or lacks train/ or test/."""
    if not root.is_dir():
        raise DataError(_not_a_folder(root))
    for split in SPLITS:
        if not (root / split).is_dir():
            raise DataError(f"data folder {root} has no {split}/ folder; expected {split}/<class>/<image> files")


def scan_image_folder(root: Path) -> tuple[list[Path], list[str]]:
    """All image files under root/{train,test}/<class>/, and the class names (sorted folder names)."""
    check_layout(root)
    split_classes = {}
    for split in SPLITS:
        folder = root / split
        split_classes[split] = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if not split_classes[split]:
            raise DataError(f"{folder} holds no class folders; expected {split}/<class>/<image> files")
    if split_classes["train"] != split_classes["test"]:
        raise DataError(f"the class folders of {root}/train and {root}/test differ; both need the same classes")
    classes = split_classes["train"]
    files = [
        p for split in SPLITS for c in classes
        for p in sorted((root / split / c).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return files, classes


def _not_a_folder(root: Path) -> str:
    """Why `root` cannot be a data folder; for a tar archive (cifar10-jpeg.tar.gz), the commands to unpack it."""
    name = root.name.lower()
    if not (root.is_file() and name.endswith((".tar.gz", ".tgz", ".tar"))):
        return f"data folder {root} does not exist; pass a folder that holds train/ and test/"
    folder = f"data/{root.name.split('.')[0]}"
    flags = "-xf" if name.endswith(".tar") else "-xzf"
    return (f"data folder {root} is an archive, not a folder: unpack it first with mkdir -p {folder} && "
            f"tar {flags} {root} -C {folder}, then pass --data-dir {folder}")
