"""Shared fixtures: tiny configs and tiny data, so every test runs in seconds on a CPU.

Torch is imported only where tiny data is made, so the render-side tests stay torch-free.
Tests marked `cuda` (tests/test_cuda.py) run only where a CUDA GPU is visible; every other test pins
the CPU, even on a GPU machine, because it checks CPU behaviour (bit-exact resume, tolerances).
Tests marked `e2e` (the end-to-end tier: real `reportgen` processes, DDP, signals) are marked in their own
files; `pytest -m "not e2e"` is the fast tier, `pytest -m e2e` the end-to-end one (pyproject.toml, README). `make
test-fast` runs the fast tier's files two processes at a time (pytest-xdist, `--dist loadfile`: a module's fixtures
are made once), each with one torch thread.
"""

import os

import pytest

from reportgen.config import Config

if os.environ.get("PYTEST_XDIST_WORKER"):  # one of several test processes: one torch thread each, not one per core
    os.environ.setdefault("OMP_NUM_THREADS", "1")

CLASSES = ["airplane", "automobile", "bird", "cat"]


BUILD_TIME_ANALYSES = ("efficiency", "robustness", "explanations")  # what a build computes per run (analysis.*)


def tiny_config(*, analyses: bool = False, **train) -> Config:
    """Small models and few epochs on the CPU; fp32 so results do not depend on the CPU's bf16 support.

    The build-time analyses are off unless `analyses` is true: they are most of a tiny build's time, and only
    the tests about them (tests/test_analysis_*.py) need them.
    """
    c = Config()
    for name in BUILD_TIME_ANALYSES:
        setattr(c.analysis, name, analyses)
    c.cnn.channels, c.cnn.hidden_dim = [4, 8], 16
    c.vit.embed_dim, c.vit.depth, c.vit.num_heads, c.vit.mlp_dim, c.vit.patch_size = 16, 1, 2, 32, 8
    c.train.epochs, c.train.batch_size, c.train.precision, c.train.device = 2, 16, "32", "cpu"
    c.data.dataset = "sample"
    c.report.sample_index = 3
    c.report.pdf = False
    for key, value in train.items():
        setattr(c.train, key, value)
    return c


def tiny_data(n_train: int = 52, n_test: int = 30, seed: int = 0):
    """Random images whose class sets their mean brightness, so a model can learn something."""
    import torch

    from reportgen.data import ImageData

    g = torch.Generator().manual_seed(seed)

    def split(n):
        y = torch.arange(n) % len(CLASSES)
        base = (y * 60 + 20).view(-1, 1, 1, 1).float()
        x = (base + torch.randn(n, 3, 32, 32, generator=g) * 25).clamp(0, 255).to(torch.uint8)
        return x, y

    train_x, train_y = split(n_train)
    test_x, test_y = split(n_test)
    return ImageData(train_x, train_y, test_x, test_y, list(CLASSES), "tiny synthetic", f"tiny-{seed}")


@pytest.fixture
def data():
    return tiny_data()


# The verification tests' bundles: a rendered bundle and a rendered study, each made once per test module and
# copied for every test that edits it (tests/verification_helpers.py makes them).
@pytest.fixture(scope="module")
def verified_bundle_template(tmp_path_factory):
    from tests import verification_helpers

    return verification_helpers.rendered_bundle(tmp_path_factory.mktemp("template") / "b")


@pytest.fixture(scope="module")
def verified_study_template(tmp_path_factory):
    from tests import verification_helpers

    return verification_helpers.rendered_bundle(tmp_path_factory.mktemp("template") / "study",
                                                variants=verification_helpers.STUDY_VARIANTS)


@pytest.fixture
def bundle(verified_bundle_template, tmp_path):
    """A fresh copy of the rendered bundle, for a test to edit."""
    from tests import verification_helpers

    return verification_helpers.copy_of(verified_bundle_template, tmp_path / "b")


@pytest.fixture
def study(verified_study_template, tmp_path):
    """A fresh copy of the rendered study bundle, for a test to edit."""
    from tests import verification_helpers

    return verification_helpers.copy_of(verified_study_template, tmp_path / "study")
