"""The ImageFolder layout reportgen reads (root/train/<class>/<image>, root/test/<class>/<image>): checked, decoded.

`check_layout` is cheap and needs no torch, so commands call it on --data-dir before they import the
training stack (seconds to minutes on a busy machine); `scan_image_folder` lists the images for decoding.
Importing this module imports neither torch nor numpy: `decode_split` imports what it needs.

`decode_split` decodes a split on every core: chunks of files in a thread pool, JPEGs by torchvision's
libjpeg-turbo (`decode_jpeg` on a chunk at once, which releases the GIL; threads, not processes, so nothing
is pickled and no interpreter starts), other formats by Pillow. The pixels are Pillow's serial decode's, bit
for bit (tests/test_image_folder.py compares them on a JPEG and PNG tree and on the bundled sample), so the
decoded-image cache, keyed by the files alone, holds the same arrays whichever way they were decoded.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from reportgen.config import DataConfig

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
JPEG_EXTENSIONS = {".jpg", ".jpeg"}
SPLITS = ("train", "test")
IMAGE_SIZE = 32  # reportgen trains on 32x32 RGB images
# Files per decoding task: large enough that a task's overhead vanishes next to its ~512 decodes (~0.1 s on one
# core), small enough that the tasks spread evenly over 16 cores and the progress bar moves.
DECODE_CHUNK = 512


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


def decode_split(folder: Path, classes: list[str], workers: int | None = None,
                 progress: bool | None = None) -> tuple["np.ndarray", "np.ndarray"]:
    """The images of folder/<class>/ (class order, then file-name order), decoded on `workers` threads (default:
    every core): uint8 (N, 3, 32, 32), and each image's class index, int64 (N,).

    `progress`: a bar with images/s and time left on stderr; None shows it only on a terminal. A file that
    cannot be decoded, or is not 32x32, is one DataError naming it.
    """
    import numpy as np

    paths, labels = [], []
    for index, name in enumerate(classes):
        files = [p for p in sorted((folder / name).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        paths += files
        labels += [index] * len(files)
    if not paths:
        raise DataError(f"{folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    pixels = decode_images(paths, workers, progress, f"decoding {folder.name}/")  # (N, 32, 32, 3)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)), np.array(labels, dtype=np.int64)


def decode_images(paths: list[Path], workers: int | None = None, progress: bool | None = None,
                  label: str = "decoding") -> "np.ndarray":
    """32x32 image files -> uint8 (N, 32, 32, 3) RGB, in the order given, decoded in chunks on `workers` threads."""
    import numpy as np
    from tqdm.auto import tqdm

    out = np.empty((len(paths), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    starts = range(0, len(paths), DECODE_CHUNK)
    pool = ThreadPoolExecutor(max(1, min(workers or os.cpu_count() or 1, len(starts))))
    try:
        with tqdm(total=len(paths), desc=label, unit="image", disable=None if progress is None else not progress,
                  leave=False) as bar:
            tasks = {pool.submit(_decode_chunk, paths[start:start + DECODE_CHUNK]): start for start in starts}
            for task in as_completed(tasks):
                chunk = task.result()  # re-raises a chunk's DataError here
                out[tasks[task]:tasks[task] + len(chunk)] = chunk
                bar.update(len(chunk))
    finally:
        pool.shutdown(cancel_futures=True)  # after an error, the chunks not yet started are dropped
    return out


def _decode_chunk(paths: list[Path]) -> "np.ndarray":
    """One task: its files decoded, uint8 (n, 32, 32, 3); the JPEGs in one batched torchvision call."""
    import numpy as np

    pixels = [None] * len(paths)
    jpegs = [i for i, path in enumerate(paths) if path.suffix.lower() in JPEG_EXTENSIONS]
    for i, image in zip(jpegs, _decode_jpegs([paths[i] for i in jpegs])):
        pixels[i] = image
    for i, path in enumerate(paths):
        if pixels[i] is None:
            pixels[i] = _decode_with_pillow(path)
        _check_size(pixels[i], path)
    return np.stack(pixels)


def _decode_jpegs(paths: list[Path]) -> list["np.ndarray"]:
    """JPEG files -> (32, 32, 3) arrays by libjpeg-turbo (torchvision), as Pillow decodes them; one at a time with
    Pillow when the batch fails, so that the broken file is named."""
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg, read_file

    if not paths:
        return []
    try:
        with torch.inference_mode():
            decoded = decode_jpeg([read_file(str(p)) for p in paths], mode=ImageReadMode.RGB)  # each (3, H, W)
    except RuntimeError:
        return [_decode_with_pillow(p) for p in paths]
    return [image.permute(1, 2, 0).numpy() for image in decoded]


def _decode_with_pillow(path: Path) -> "np.ndarray":
    """One image file -> its RGB pixels (H, W, 3) by Pillow, or a DataError naming the file."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None


def _check_size(pixels: "np.ndarray", path: Path) -> None:
    if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise DataError(f"image {path} is {pixels.shape[1]}x{pixels.shape[0]}; reportgen trains on 32x32 RGB images")


def _not_a_folder(root: Path) -> str:
    """Why `root` cannot be a data folder; for a tar archive (cifar10-jpeg.tar.gz), the commands to unpack it."""
    name = root.name.lower()
    if not (root.is_file() and name.endswith((".tar.gz", ".tgz", ".tar"))):
        return f"data folder {root} does not exist; pass a folder that holds train/ and test/"
    folder = f"data/{root.name.split('.')[0]}"
    flags = "-xf" if name.endswith(".tar") else "-xzf"
    return (f"data folder {root} is an archive, not a folder: unpack it first with mkdir -p {folder} && "
            f"tar {flags} {root} -C {folder}, then pass --data-dir {folder}")
