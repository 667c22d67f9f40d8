"""The corruption suite: the paper's constants, deterministic for a seed, distortion growing with severity."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.analysis.corruptions import BY_NAME, SEVERITIES, SUITE, _disk, corrupt, image_subset
from reportgen.config import CORRUPTIONS
from tests.bundle_factory import _class_image

RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise")  # the corruptions that draw random numbers


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Sixteen 32x32 colour images with structure (gradients) and texture (noise), uint8 (16, 3, 32, 32)."""
    rng = np.random.default_rng(0)
    return np.stack([_class_image(rng, i % 10, 10) for i in range(16)])


def distortion(images: np.ndarray, name: str, severity: int) -> float:
    """Mean absolute pixel change, 0-255."""
    return float(np.abs(corrupt(images, name, severity, seed=0).astype(float) - images).mean())


def test_the_suite_is_the_configurable_one_with_five_constants_each():
    assert tuple(c.name for c in SUITE) == CORRUPTIONS
    assert all(len(c.constants) == len(SEVERITIES) == 5 for c in SUITE)
    assert {c.family for c in SUITE} == {"noise", "blur", "weather", "digital"}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corruption_is_deterministic_for_a_seed_and_keeps_the_layout(images, name):
    first, again = corrupt(images, name, 3, seed=7), corrupt(images, name, 3, seed=7)
    assert first.dtype == np.uint8 and first.shape == images.shape
    assert np.array_equal(first, again)
    assert not np.array_equal(first, images)


@pytest.mark.parametrize("name", RANDOM)
def test_another_seed_draws_other_noise(images, name):
    assert not np.array_equal(corrupt(images, name, 3, seed=7), corrupt(images, name, 3, seed=8))


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if n != "saturate"])
def test_distortion_grows_with_severity(images, name):
    distortions = [distortion(images, name, s) for s in SEVERITIES]
    assert distortions == sorted(distortions) and distortions[0] < distortions[-1], distortions


def test_saturate_desaturates_then_oversaturates_more_with_severity(images):
    """The paper's saturate is not monotone by design: severities 1-2 take colour away (x0.3, x0.1), 3-5 add it
    (x1.5, x2 + 0.1, x2.5 + 0.2); within each half the distortion grows."""
    d = [distortion(images, "saturate", s) for s in SEVERITIES]
    assert d[0] < d[1] and d[2] < d[3] < d[4], d
    spread = lambda x: float(x.astype(float).std(axis=1).mean())  # noqa: E731  colourfulness: spread over channels
    assert spread(corrupt(images, "saturate", 2, 0)) < spread(images) < spread(corrupt(images, "saturate", 5, 0))


def test_impulse_noise_replaces_about_its_share_of_values_with_black_or_white(images):
    noisy = corrupt(images, "impulse_noise", 5, seed=0)  # amount 0.07
    changed = noisy != images
    assert 0.05 < changed.mean() < 0.08
    assert set(np.unique(noisy[changed])) <= {0, 255}


def test_contrast_keeps_each_images_mean_colour(images):
    low = corrupt(images, "contrast", 5, seed=0).astype(float)
    assert np.abs(low.mean(axis=(2, 3)) - images.mean(axis=(2, 3))).max() < 1.5  # truncation to uint8 only
    assert low.std(axis=(2, 3)).mean() < 0.3 * images.std(axis=(2, 3)).mean()  # severity 5 scales by 0.15


def test_the_defocus_kernel_is_a_normalised_disk():
    kernel = _disk(1.5, 0.1)  # the 9 grid points within 1.5 of the centre, barely smoothed
    assert kernel.shape == (17, 17) and kernel.sum() == pytest.approx(1.0)
    assert kernel[8, 8] == pytest.approx(1 / 9, rel=1e-3) and kernel[7, 9] == pytest.approx(1 / 9, rel=1e-3)
    assert kernel[8, 10] < 1e-6 and (kernel > 1e-6).sum() == 9
    wide = _disk(1.0, 0.2)  # severity 4: radius 1, more smoothing spreads weight beyond the disk
    assert (wide > 1e-6).sum() > (wide > 0.05).sum()


def test_the_constants_are_the_cifar_ones():
    assert BY_NAME["gaussian_noise"].constants == (0.04, 0.06, 0.08, 0.09, 0.10)
    assert BY_NAME["jpeg_compression"].constants == (80, 65, 58, 50, 40)
    assert BY_NAME["pixelate"].constants == (0.95, 0.9, 0.85, 0.75, 0.65)


def test_the_subset_is_seeded_sorted_and_the_whole_split_when_small():
    subset = image_subset(1000, 100, seed=3)
    assert len(set(subset)) == 100 and np.all(np.diff(subset) > 0)
    assert np.array_equal(subset, image_subset(1000, 100, seed=3))
    assert not np.array_equal(subset, image_subset(1000, 100, seed=4))
    assert np.array_equal(image_subset(50, 100, seed=3), np.arange(50))
