"""The parallel decode of an ImageFolder tree (reportgen.image_folder.decode_split): Pillow's serial pixels, bit for
bit, whatever the threads and chunks; a broken or wrongly sized file named in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen import image_folder
from reportgen.data import sample_root
from reportgen.errors import DataError
from reportgen.image_folder import decode_split, scan_image_folder

CLASSES = ["cat", "dog"]


def pillow_serial(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every file opened by Pillow, one after another, as reportgen decoded before: (N, 3, H, W)."""
    images, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in image_folder.IMAGE_EXTENSIONS:
                with Image.open(path) as img:
                    images.append(np.asarray(img.convert("RGB")))
                labels.append(index)
    return np.stack(images).transpose(0, 3, 1, 2), np.array(labels)


def write_mixed_tree(root: Path, per_class: int = 5) -> Path:
    """train/<class>/ of JPEGs at several qualities (one in greyscale, one progressive), a PNG and a non-image."""
    rng = np.random.default_rng(0)
    for c in CLASSES:
        folder = root / "train" / c
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:02d}.jpg", quality=int(rng.integers(40, 96)))
        Image.fromarray(pixels[..., 0]).save(folder / "grey.jpg")
        Image.fromarray(pixels).save(folder / "progressive.jpeg", progressive=True)
        Image.fromarray(pixels).save(folder / "lossless.png")
        (folder / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("workers, chunk", [(1, 512), (3, 2), (4, 1)])
def test_the_parallel_decode_is_pillows_serial_decode_bit_for_bit(tmp_path, monkeypatch, workers, chunk):
    root = write_mixed_tree(tmp_path / "d")
    monkeypatch.setattr(image_folder, "DECODE_CHUNK", chunk)  # many chunks over few threads, finishing out of order
    images, labels = decode_split(root / "train", CLASSES, workers=workers, progress=False)
    expected_images, expected_labels = pillow_serial(root / "train", CLASSES)
    assert images.dtype == np.uint8 and images.shape == (16, 3, 32, 32) and images.flags.c_contiguous
    assert np.array_equal(images, expected_images)
    assert labels.dtype == np.int64 and labels.tolist() == expected_labels.tolist() == [0] * 8 + [1] * 8


def test_the_bundled_sample_decodes_as_pillow_decodes_it():
    root = sample_root()
    _, classes = scan_image_folder(root)
    images, labels = decode_split(root / "test", classes, workers=2, progress=False)
    expected_images, expected_labels = pillow_serial(root / "test", classes)
    assert np.array_equal(images, expected_images) and np.array_equal(labels, expected_labels)


def test_the_progress_bar_counts_images_and_shows_time_left(tmp_path, capsys):
    root = write_mixed_tree(tmp_path / "d")
    decode_split(root / "train", CLASSES, workers=2, progress=True)
    bar = capsys.readouterr().err
    assert "decoding train/" in bar and "/16 [" in bar and "image/s" in bar
    assert "00:00<" in bar  # elapsed<left: the time left, as the training bar shows it


@pytest.mark.parametrize("breakage, message", [
    (lambda f: (f / "01.jpg").write_bytes(b"\xff\xd8\xff not a jpeg"), "cannot read image .*01.jpg"),
    (lambda f: (f / "02.jpg").write_bytes(b"not an image"), "cannot read image .*02.jpg"),
    (lambda f: Image.new("RGB", (40, 32)).save(f / "03.jpg"), "03.jpg is 40x32; reportgen trains on 32x32"),
    (lambda f: Image.new("RGB", (32, 16)).save(f / "04.png"), "04.png is 32x16"),
])
def test_a_bad_file_is_named_in_one_data_error(tmp_path, monkeypatch, breakage, message):
    root = write_mixed_tree(tmp_path / "d")
    breakage(root / "train" / "dog")
    monkeypatch.setattr(image_folder, "DECODE_CHUNK", 3)
    with pytest.raises(DataError, match=message):
        decode_split(root / "train", CLASSES, workers=2, progress=False)


def test_a_split_without_images_is_refused(tmp_path):
    for c in CLASSES:
        (tmp_path / "train" / c).mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        decode_split(tmp_path / "train", CLASSES, progress=False)
