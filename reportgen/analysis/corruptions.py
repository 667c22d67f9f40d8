"""A CIFAR-10-C style corruption suite, generated on the fly: numpy, scipy and Pillow, no ImageMagick, no downloads.

Hendrycks and Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations" (ICLR 2019), built CIFAR-10-C with ImageNet-C/create_c/make_cifar_c.py of
github.com/hendrycks/robustness. Every severity constant below is that script's CIFAR constant
(its `c = [...]` list for the same function), and each function computes what that script's
function computes, with numpy / scipy / Pillow equivalents of the skimage and OpenCV calls it used.
Like that script, a corrupted image is stored as uint8 by truncation (its ``np.uint8(...)``).

Images are uint8 (N, 3, H, W) arrays, as reportgen keeps them. Every random draw comes from a
numpy generator seeded by (seed, corruption, severity), so a corruption of the same images with the
same seed is the same, bit for bit, on any machine, in any process and in any order: which is what
lets the build generate the suite once, in parallel, and share it between models
(reportgen.analysis.robustness). The suite's families are the paper's: noise,
blur, weather, digital (gaussian blur and saturate were among its extra, validation corruptions).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from PIL import Image
from scipy import ndimage

SEVERITIES = (1, 2, 3, 4, 5)

# A corruption maps float images (N, H, W, 3) in [0, 1], a severity's constant and a generator to
# float images in [0, 1] (clipped by `corrupt`).
Transform = Callable[[np.ndarray, object, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """One corruption of the suite: its family, its five severity constants and what it does."""

    name: str
    family: str  # noise, blur, weather or digital, as grouped by Hendrycks and Dietterich (2019)
    constants: tuple  # one per severity 1..5, from make_cifar_c.py
    transform: Transform


def gaussian_noise(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of standard deviation c."""
    return x + rng.normal(size=x.shape, scale=c)


def shot_noise(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson (photon) noise: c photons per unit of intensity."""
    return rng.poisson(x * c) / c


def impulse_noise(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper noise: a share c of the values (per pixel and channel) set to 0 or 1, half each.

    This is skimage.util.random_noise(mode="s&p", amount=c), which the script used.
    """
    flipped = rng.random(x.shape) <= c
    salted = rng.random(x.shape) <= 0.5
    return np.where(flipped, np.where(salted, 1.0, 0.0), x)


def gaussian_blur(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur of standard deviation c pixels; skimage.filters.gaussian's edge mode ("nearest") and truncation."""
    return ndimage.gaussian_filter(x, sigma=(0, c, c, 0), mode="nearest", truncate=4.0)


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """The script's `disk`: a normalised disk of `radius` on a 17 x 17 grid, smoothed by a 3 x 3 Gaussian of
    standard deviation alias_blur (cv2.GaussianBlur with ksize (3, 3), border reflect-101)."""
    grid = np.arange(-8, 8 + 1)  # radius <= 8 for every CIFAR severity
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
    disk /= disk.sum()
    taps = np.exp(-np.array([-1.0, 0.0, 1.0]) ** 2 / (2 * alias_blur ** 2))
    taps /= taps.sum()
    return ndimage.correlate1d(ndimage.correlate1d(disk, taps, axis=0, mode="mirror"), taps, axis=1, mode="mirror")


def defocus_blur(x: np.ndarray, c: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Defocus: each channel filtered by the anti-aliased disk (cv2.filter2D, border reflect-101 = "mirror")."""
    kernel = _disk(*c)[None, :, :, None]  # the same 2-D kernel for every image and channel
    return ndimage.correlate(x, kernel, mode="mirror")


def contrast(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast scaled by c around each image's mean per channel."""
    means = x.mean(axis=(1, 2), keepdims=True)
    return (x - means) * c + means


def _in_hsv(x: np.ndarray, channel: int, change: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply `change` to one HSV channel (1 saturation, 2 value), clipped to [0, 1] as the script does."""
    hsv = rgb_to_hsv(x)
    hsv[..., channel] = np.clip(change(hsv[..., channel]), 0, 1)
    return hsv_to_rgb(hsv)


def brightness(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """c added to the HSV value."""
    return _in_hsv(x, 2, lambda v: v + c)


def saturate(x: np.ndarray, c: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """HSV saturation times c[0] plus c[1]: severities 1-2 desaturate, 3-5 oversaturate (the paper's design)."""
    return _in_hsv(x, 1, lambda s: s * c[0] + c[1])


def _per_image(x: np.ndarray, change: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    """Apply a Pillow operation to each image (x came from uint8, so rounding recovers its exact pixels)."""
    pixels = np.rint(x * 255).astype(np.uint8)
    return np.stack([np.asarray(change(Image.fromarray(image)).convert("RGB")) for image in pixels]) / 255.0


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer)


def jpeg_compression(x: np.ndarray, c: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG at quality c (Pillow's encoder, as the script used)."""
    return _per_image(x, lambda image: _jpeg(image, c))


def pixelate(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Box-downsampled to c times the side, then box-upsampled back (Pillow, as the script)."""
    def change(image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.BOX)

    return _per_image(x, change)


# The suite, in the paper's order of families. Constants: make_cifar_c.py, function of the same name.
SUITE: tuple[Corruption, ...] = (
    Corruption("gaussian_noise", "noise", (0.04, 0.06, 0.08, 0.09, 0.10), gaussian_noise),
    Corruption("shot_noise", "noise", (500, 250, 100, 75, 50), shot_noise),
    Corruption("impulse_noise", "noise", (0.01, 0.02, 0.03, 0.05, 0.07), impulse_noise),
    Corruption("defocus_blur", "blur", ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)), defocus_blur),
    Corruption("gaussian_blur", "blur", (0.4, 0.6, 0.7, 0.8, 1.0), gaussian_blur),
    Corruption("brightness", "weather", (0.05, 0.1, 0.15, 0.2, 0.3), brightness),
    Corruption("contrast", "digital", (0.75, 0.5, 0.4, 0.3, 0.15), contrast),
    Corruption("saturate", "digital", ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)), saturate),
    Corruption("jpeg_compression", "digital", (80, 65, 58, 50, 40), jpeg_compression),
    Corruption("pixelate", "digital", (0.95, 0.9, 0.85, 0.75, 0.65), pixelate),
)
BY_NAME = {c.name: c for c in SUITE}


def corruption_rng(seed: int, name: str, severity: int) -> np.random.Generator:
    """The generator of one corruption at one severity: independent of which other corruptions run."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """uint8 (N, 3, H, W) images -> the same images corrupted by `name` at `severity` (1-5), uint8 (N, 3, H, W)."""
    corruption = BY_NAME[name]
    x = images.transpose(0, 2, 3, 1) / 255.0  # (N, H, W, 3) in [0, 1], the script's layout
    out = corruption.transform(x, corruption.constants[severity - 1], corruption_rng(seed, name, severity))
    # np.uint8 of the scaled float truncates, as make_cifar_c.py stored CIFAR-10-C.
    return (np.clip(out, 0, 1) * 255).astype(np.uint8).transpose(0, 3, 1, 2)


def image_subset(test_size: int, count: int, seed: int) -> np.ndarray:
    """Which test images the suite corrupts: `count` of them drawn without replacement by `seed`, in test-set
    order (all of them when the test split is no larger). The same for every model of a build."""
    if count >= test_size:
        return np.arange(test_size, dtype=np.int64)
    chosen = np.random.default_rng([seed, test_size]).choice(test_size, size=count, replace=False)
    return np.sort(chosen).astype(np.int64)
