"""Where and how numbers are computed: the device, the precision and TF32, resolved once per command.

A command resolves its `Runtime` at its boundary (`resolve_runtime(config)`) and passes it down:
training, prediction, the figures' probes, the analyses and the benchmark all compute under the same
device and precision, and nothing below the command asks torch again which device to use. A config
variant with its own `train.precision` gets its own Runtime on the same device (`Runtime.for_config`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from reportgen import CUBLAS_WORKSPACE
from reportgen.config import Config
from reportgen.errors import ConfigError


@dataclass(frozen=True)
class Runtime:
    """The resolved device and precision of one config, and whether fp32 runs in TF32 there."""

    device: str
    """cpu, cuda or mps (never auto)."""
    precision: str
    """Lightning's precision name: 32, bf16-mixed or 16-mixed (never auto)."""
    tf32: bool
    """fp32 matmuls and convolutions in TF32: on CUDA, at precision 32, with train.tf32."""

    def for_config(self, config: Config) -> Runtime:
        """The Runtime of another config (a variant) on this device: its own precision and TF32."""
        precision = resolve_precision(config.train.precision, self.device)
        return Runtime(self.device, precision, uses_tf32(config, self.device, precision))

    def autocast(self):
        """The autocast context Lightning runs the model under at this precision, for code outside the Trainer."""
        return autocast(self.device, self.precision)


def resolve_runtime(config: Config) -> Runtime:
    """The Runtime that `config.train` asks for on this machine; a device it lacks is refused in one line."""
    device = resolve_device(config.train.device)
    check_device(device)
    precision = resolve_precision(config.train.precision, device)
    return Runtime(device, precision, uses_tf32(config, device, precision))


def resolve_device(requested: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'mps' on Apple silicon, else 'cpu'."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def check_device(device: str) -> None:
    """Refuse, in one line, a device that this machine does not have."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device' is cuda but no CUDA GPU is visible; use --device cpu or auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("config key 'train.device' is mps but this machine has no Apple GPU; "
                          "use --device cpu or auto")


def resolve_precision(requested: str, device: str) -> str:
    """'auto' -> bf16 autocast where the hardware computes in bf16 natively, fp16 on older GPUs, else fp32.

    CUDA: bf16 from compute capability 8.0 (A100, RTX 30xx, H100), asked without emulation (by
    default torch counts a T4's emulated bf16 as supported); fp16 with loss scaling (16-mixed) on 7.x
    (V100, T4, RTX 20xx), whose tensor cores compute fp16; fp32 below that. CPU: bf16 where the CPU has
    AVX512-BF16 or AMX, where oneDNN runs bf16 convolutions and matmuls about twice as fast as fp32
    (see `reportgen bench`); elsewhere bf16 would be emulated and slower. MPS: fp32 (not measured).
    """
    if requested != "auto":
        return requested
    if device == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return "bf16-mixed"
        return "16-mixed" if torch.cuda.get_device_capability() >= (7, 0) else "32"
    if device == "cpu":
        return "bf16-mixed" if cpu_has_native_bf16() else "32"
    return "32"


def autocast(device: str, precision: str):
    """The autocast context that Lightning's `precision` runs the model under, for code outside the Trainer."""
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def uses_tf32(config: Config, device: str, precision: str) -> bool:
    """Whether fp32 matmuls and convolutions run in TF32: on CUDA, at precision 32, with train.tf32."""
    return device == "cuda" and precision == "32" and config.train.tf32


def configure_backends(config: Config, runtime: Runtime) -> None:
    """Process-wide numerics for this run: TF32 on CUDA, and what deterministic algorithms need.

    cudnn.benchmark is Lightning's (Trainer(benchmark=...)); TF32 is set both ways, so that one run's
    setting never leaks into the next run of the same process.
    """
    if runtime.device == "cuda":
        torch.set_float32_matmul_precision("high" if runtime.tf32 else "highest")  # the API Lightning reads back
        torch.backends.cudnn.allow_tf32 = runtime.tf32
    if config.train.deterministic and os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (CUBLAS_WORKSPACE, ":16:8"):
        # Too late to set here if cuBLAS already has its handle: say so rather than run non-deterministically.
        if runtime.device == "cuda" and torch.cuda.is_initialized():
            raise ConfigError("config key 'train.deterministic' needs CUBLAS_WORKSPACE_CONFIG="
                              f"{CUBLAS_WORKSPACE} before CUDA starts; unset the variable or set it to that value")
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "CPU"


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has bf16 instructions (x86 AVX512-BF16 or AMX-BF16), read from Linux's cpuinfo.

    Not oneDNN's own check, which accepts any AVX-512 CPU and so would pick an emulated bf16.
    Where there is no cpuinfo (macOS, Windows), False: fp32 is the safe default there.
    """
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of handing it back to the OS (Linux).

    A CPU training step frees and reallocates the same large activation buffers every time; by
    default glibc unmaps them, and every step pays the page faults again: up to half the step time
    on a 2-core VM (reportgen bench). Elsewhere (macOS, musl) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)  # large blocks from the heap too, where freed memory is reused
    libc.mallopt(m_trim_threshold, 2**31 - 1)  # and never shrink the heap
