"""The runtime: device and precision resolved once, TF32 where it applies, native bf16 read from the CPU flags."""

import pytest
import torch

import reportgen.runtime as runtime
from tests.conftest import tiny_config


def bf16_support(native: bool):
    """torch.cuda.is_bf16_supported for a GPU with native bf16 or with emulated bf16 only (e.g. a T4)."""
    return lambda including_emulation=True: native or including_emulation


@pytest.mark.parametrize("native, capability, expected", [
    (True, (9, 0), "bf16-mixed"),  # H100
    (True, (8, 0), "bf16-mixed"),  # A100
    (False, (7, 5), "16-mixed"),  # T4: bf16 only emulated, fp16 tensor cores
    (False, (6, 1), "32"),  # GTX 1080: neither
])
def test_auto_precision_on_cuda_asks_for_native_bf16(monkeypatch, native, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16_support(native))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert runtime.resolve_precision("auto", "cuda") == expected
    assert runtime.resolve_precision("32", "cuda") == "32"


def test_precision_and_device_resolution(monkeypatch):
    assert runtime.resolve_device("cpu") == "cpu"
    assert runtime.resolve_precision("32", "cuda") == "32"
    assert runtime.resolve_precision("auto", "mps") == "32"
    for native, expected in ((True, "bf16-mixed"), (False, "32")):
        monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
        assert runtime.resolve_precision("auto", "cpu") == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for mps, expected in ((True, "mps"), (False, "cpu")):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        assert runtime.resolve_device("auto") == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.resolve_device("auto") == "cuda"


def test_tf32_only_for_fp32_on_cuda():
    config = tiny_config()
    assert runtime.uses_tf32(config, "cuda", "32")
    assert not runtime.uses_tf32(config, "cuda", "bf16-mixed") and not runtime.uses_tf32(config, "cpu", "32")
    assert not runtime.uses_tf32(tiny_config(tf32=False), "cuda", "32")


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32")])
def test_native_bf16_flags_choose_cpu_precision(monkeypatch, native, expected):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    assert runtime.resolve_precision("auto", "cpu") == expected


@pytest.mark.parametrize("flags, native", [
    ("fpu avx2 avx512f avx512bw avx512vl avx512dq", False),  # AVX-512 alone: bf16 would be emulated
    ("fpu avx2 avx512f avx512bw avx512_bf16 avx512_vnni", True),
    ("fpu avx512f amx_bf16 amx_tile", True),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert runtime.cpu_has_native_bf16(cpuinfo) is native
    assert runtime.cpu_has_native_bf16(tmp_path / "missing") is False


def test_a_variant_gets_its_own_precision_on_the_same_device():
    base = runtime.resolve_runtime(tiny_config(precision="32", device="cpu"))
    assert base == runtime.Runtime("cpu", "32", False)
    assert base.for_config(tiny_config(precision="bf16-mixed", device="cpu")) == runtime.Runtime("cpu", "bf16-mixed",
                                                                                                  False)


def test_a_device_the_machine_lacks_is_refused_in_one_line(monkeypatch):
    from reportgen.errors import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        runtime.resolve_runtime(tiny_config(device="cuda"))


def test_the_cublas_workspace_is_set_when_reportgen_is_imported():
    import os

    import reportgen

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (reportgen.CUBLAS_WORKSPACE, ":16:8")
