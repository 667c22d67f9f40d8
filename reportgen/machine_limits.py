"""What the machine itself allows, and a training step's share of it: `reportgen bench`'s limits.

Four short probes on the chosen device, each timed for at least `ProbeSizes.min_seconds` after a warm-up call,
with the device synchronised around the clock:

- matrix products, n x n by n x n, in fp32 (TF32 where the process allows it, as training does) and bf16 (and
  fp16 where the run trains in it): 2 n^3 FLOPs a product;
- a 3x3 convolution of 64 to 64 channels on 32x32 images, channels_last, padding 1, in the step's compute
  dtype: 2 * 9 * 64 * 64 * 32 * 32 FLOPs an image;
- a memory copy of a large tensor: its bytes read plus its bytes written.

A training step's limit is a roofline: images/s = min(fastest FLOP/s at the step's dtype / FLOPs per image,
copy bandwidth / bytes per image). FLOPs per image are three forward passes (reportgen.models.model_cost: the
backward pass costs about twice the forward, gradients for inputs and for weights). Bytes per image are an
estimate, a floor on the traffic: each tensor autograd saves for backward (reportgen.analysis.efficiency's
activation bytes, measured at the run's device and precision by reportgen.bench_steps.step_cost) is written in
the forward, read in the backward, and a gradient of its size written and read there, 4 passes; and every step
moves each fp32 parameter 11 times (forward read; backward read and gradient write; AdamW reads weight,
gradient and two moments and writes weight and both moments), shared by the batch. Temporaries that are not
saved, and caches that spare a pass, are not counted. The share is the measured images/s over that limit: what
a figure means is the same on a laptop, a 2-core CPU or an H200.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

ACTIVATION_PASSES = 4  # saved tensor written (forward) and read (backward), its gradient written and read
PARAMETER_PASSES = 11  # per fp32 parameter and step: forward 1, backward 2, AdamW 4 reads and 3 writes
PARAMETER_BYTES = 4
TRAINING_FLOPS_PER_FORWARD = 3  # forward + backward (about twice the forward)
CONV_CHANNELS, CONV_SIZE = 64, 32
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclasses.dataclass(frozen=True)
class ProbeSizes:
    """How big each probe is: large enough to run well past launch overhead, small enough for seconds in all."""

    matmul: int  # n of the n x n x n matrix products
    conv_batch: int  # images of the convolution probe
    copy_bytes: int  # bytes of the tensor copied
    min_seconds: float  # each probe is timed for at least this long, in whole calls


CPU_SIZES = ProbeSizes(matmul=2048, conv_batch=128, copy_bytes=256 * 2**20, min_seconds=0.5)
GPU_SIZES = ProbeSizes(matmul=8192, conv_batch=1024, copy_bytes=2 * 2**30, min_seconds=0.5)  # data > 60 MB L2
QUICK_SIZES = ProbeSizes(matmul=64, conv_batch=2, copy_bytes=2**20, min_seconds=0.0)  # a smoke run's


def probe_sizes(device: str, quick: bool) -> ProbeSizes:
    """The probes' sizes for `device`, or a smoke run's tiny ones."""
    if quick:
        return QUICK_SIZES
    return CPU_SIZES if device == "cpu" else GPU_SIZES


def compute_dtype(precision: str) -> str:
    """The dtype a training step at `precision` computes its matrix products and convolutions in."""
    return {"bf16-mixed": "bf16", "bf16-true": "bf16", "16-mixed": "fp16", "16-true": "fp16"}.get(precision, "fp32")


def synchronize(device: str) -> None:
    """Wait for the device's queued work, so that a clock read after it measures the work."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    elif torch.device(device).type == "mps":
        torch.mps.synchronize()


def step_bytes(saved_bytes_per_image: int, parameters: int, batch_size: int) -> float:
    """A training step's estimated bytes moved per image (see above): activation passes plus its share of the
    parameter passes."""
    return ACTIVATION_PASSES * saved_bytes_per_image + parameters * PARAMETER_BYTES * PARAMETER_PASSES / batch_size


def seconds_per_call(call: Callable[[], object], device: str, min_seconds: float) -> float:
    """Mean seconds of one call, after an untimed warm-up call, over at least 2 whole calls lasting min_seconds.

    The device is synchronised after every call, so the clock reads GPU work done, not queued; a probe's call
    takes a millisecond or more even on an H200, against microseconds for the synchronisation.
    """
    call()
    synchronize(device)
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < min_seconds:
        call()
        synchronize(device)
        calls += 1
    return (time.perf_counter() - start) / calls


def probes(device: str, sizes: ProbeSizes, step_dtype: str) -> dict[str, tuple[str, float, str, Callable]]:
    """{probe: (what it measures, its work per call, the unit of that work, a call that does it once)}, allocated
    on `device`."""
    found = {}
    n = sizes.matmul
    for name in sorted({"fp32", "bf16", step_dtype}, key=list(DTYPES).index):
        a, b = (torch.randn(n, n, device=device, dtype=DTYPES[name]) for _ in range(2))
        found[f"matmul_{name}"] = (f"{n}x{n} by {n}x{n} matrix product, {name}", 2.0 * n ** 3, "FLOP",
                                   lambda a=a, b=b: a @ b)
    c, s, dtype = CONV_CHANNELS, CONV_SIZE, DTYPES[step_dtype]
    x = torch.randn(sizes.conv_batch, c, s, s, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    w = torch.randn(c, c, 3, 3, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    found[f"conv_{step_dtype}"] = (f"3x3 convolution, {c} to {c} channels, {s}x{s}, batch {sizes.conv_batch}, "
                                   f"channels_last, {step_dtype}", 2.0 * 9 * c * c * s * s * sizes.conv_batch,
                                   "FLOP", lambda: F.conv2d(x, w, padding=1))
    source = torch.empty(sizes.copy_bytes // 4, device=device, dtype=torch.float32).fill_(1.0)
    target = torch.empty_like(source)
    found["copy"] = (f"copy of {sizes.copy_bytes / 2**20:,.0f} MiB (bytes read + written)", 2.0 * sizes.copy_bytes,
                     "byte", lambda: target.copy_(source))
    return found


def measure_limits(device: str, sizes: ProbeSizes, step_dtype: str,
                   timer: Callable[[Callable, str, float], float] = seconds_per_call) -> dict[str, dict]:
    """Each probe's work, seconds per call and rate (FLOP/s or bytes/s) on `device`; `timer` as seconds_per_call."""
    limits = {}
    with torch.no_grad():
        for key, (what, work, unit, call) in probes(device, sizes, step_dtype).items():
            seconds = timer(call, device, sizes.min_seconds)
            limits[key] = {"what": what, "work": work, "unit": unit, "seconds": seconds, "per_s": work / seconds}
    return limits


def step_share(cost: dict, limits: dict[str, dict], step_dtype: str, images_per_s: float) -> dict:
    """The roofline limit of a step of `cost` on these limits, which of compute and memory bounds it, and the share
    of it that `images_per_s` reached."""
    compute_keys = [k for k in limits if limits[k]["unit"] == "FLOP" and k.endswith(f"_{step_dtype}")]
    best = max(compute_keys, key=lambda k: limits[k]["per_s"])
    by_compute = limits[best]["per_s"] / cost["flops_per_image"]
    by_memory = limits["copy"]["per_s"] / cost["bytes_per_image"]
    limit = min(by_compute, by_memory)
    return {**cost, "compute_probe": best, "limit_by_compute": by_compute, "limit_by_memory": by_memory,
            "bound": "compute" if by_compute <= by_memory else "memory", "limit_images_per_s": limit,
            "images_per_s": images_per_s, "share": images_per_s / limit}
