"""The model registry's torch-free entries: every key has a config section, a display name and a factory."""

import pytest

from reportgen.architectures import ARCHITECTURES, display_name, model_settings
from reportgen.config import KNOWN_MODELS, Config
from tests.torch_free import assert_runs_without_torch


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_every_entry_names_its_config_section_and_display_name(key):
    entry = ARCHITECTURES[key]
    assert entry.key == key and display_name(key) == entry.display_name
    assert model_settings(Config(), key) == getattr(Config(), entry.config_section).__dict__


def test_the_config_accepts_exactly_the_registered_models():
    assert KNOWN_MODELS == tuple(ARCHITECTURES)


def test_the_registry_and_config_validation_import_no_torch():
    assert_runs_without_torch("from reportgen.config_loading import load_config; load_config('quick')")
