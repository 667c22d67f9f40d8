"""The run store's keys: everything that changes a run's result, and nothing else."""

from reportgen.runstore import run_key
from reportgen.runtime import Runtime, uses_tf32
from tests.conftest import tiny_config


def key_of(config, seed, data, device, precision):
    """run_key of the CNN under the runtime that `device` and `precision` resolve to for `config`."""
    return run_key(config, "cnn", seed, data, Runtime(device, precision, uses_tf32(config, device, precision)))


def test_run_key_covers_what_changes_results():
    config = tiny_config()
    key = key_of(config, 42, "data", "cpu", "32")
    assert key_of(config, 43, "data", "cpu", "32") != key
    assert key_of(config, 42, "other data", "cpu", "32") != key
    assert key_of(config, 42, "data", "cuda", "32") != key
    assert key_of(config, 42, "data", "cpu", "bf16-mixed") != key
    changed = tiny_config(lr=0.5)
    assert key_of(changed, 42, "data", "cpu", "32") != key
    changed = tiny_config()
    changed.vit.depth = 3  # another model's settings
    assert key_of(changed, 42, "data", "cpu", "32") == key
    changed = tiny_config()
    changed.train.device, changed.train.precision = "auto", "auto"  # what they resolve to counts, not the words
    assert key_of(changed, 42, "data", "cpu", "32") == key
    assert key_of(tiny_config(deterministic=True), 42, "data", "cpu", "32") != key
    # TF32 counts where it is in effect (fp32 on CUDA), and nowhere else.
    assert key_of(tiny_config(tf32=False), 42, "data", "cpu", "32") == key
    cuda_key = key_of(config, 42, "data", "cuda", "32")
    assert key_of(tiny_config(tf32=False), 42, "data", "cuda", "32") != cuda_key
