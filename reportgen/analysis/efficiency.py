"""Computational cost of a trained model that does not depend on the machine's load: FLOPs, memory.

* FLOPs per image: torch.utils.flop_counter.FlopCounterMode over one forward pass (2 FLOPs per
  multiply-add, every convolution and matrix product, the attention's included). The fused
  scaled-dot-product attention kernel is invisible to that counter on some backends (CPU's flash
  kernel), so the count runs with the math backend, which spells attention out as batched matmuls.
* Activation memory per training image: the bytes autograd saves for the backward pass
  (torch.autograd.graph.saved_tensors_hooks), each storage counted once and parameters not at all,
  at two batch sizes; the difference per image is exact and depends only on the ops the run's
  device and precision dispatch, not on any allocator.
* Peak memory of one training step (forward, backward, AdamW step) at the run's batch size, after a
  warm-up step (so the optimizer state exists, as in training): on CUDA the allocator's peak of
  allocated bytes (torch.cuda.max_memory_allocated); on the CPU the peak of bytes held by live
  tensors, tracked operator by operator by PyTorch's MemTracker (torch.distributed._tools). Both
  count tensor storage (weights, gradients, optimizer state, activations, temporaries), not cached
  allocator blocks or the process's resident size.

Times are not measured here, one run at a time: reportgen.analysis.timing times every model of a build
together, interleaved in blocks, with the machine's load recorded per block; it uses `inference_times`,
`TrainingStep` and `synchronize` from here. Training throughput and time to accuracy come from history.csv.

Shapes: B batch, K classes; images (B, 3, 32, 32).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from reportgen.config import Config
from reportgen.data import ImageData
from reportgen.models import IMAGE_SIZE, count_parameters
from reportgen.runtime import autocast, device_name

ACTIVATION_BATCHES = (2, 4)  # two batch sizes: saved bytes are affine in the batch, the slope is per image
CPU_PEAK_METHOD = ("peak bytes of live tensors during the step, tracked per operator by PyTorch's MemTracker "
                   "(torch.distributed._tools.mem_tracker)")
CUDA_PEAK_METHOD = ("torch.cuda.max_memory_allocated over the step (the allocator's peak of allocated bytes), less "
                    "what other tensors held on the GPU before it")


def images(batch: int, device: torch.device | str, seed: int = 0) -> torch.Tensor:
    """(batch, 3, 32, 32) standard-normal inputs, as normalised images are; cost does not depend on content."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator).to(device)


def prepared(model: nn.Module, device: str, channels_last: bool) -> nn.Module:
    """A copy of `model` on `device`, in NHWC where training used it, so measuring never touches the run's weights."""
    copied = copy.deepcopy(model).to(device)
    if channels_last and getattr(copied, "prefers_channels_last", False):
        copied.to(memory_format=torch.channels_last)
    return copied


def count_flops(model: nn.Module) -> dict[str, int]:
    """Forward FLOPs of one image per operator ("aten.convolution", "aten.addmm", "aten.bmm", ...) and "total"."""
    model = copy.deepcopy(model).cpu().float().eval()
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(images(1, "cpu"))
    per_operator = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return {**per_operator, "total": int(counter.get_total_flops())}


def saved_bytes(model: nn.Module, x: torch.Tensor, precision: str) -> int:
    """Bytes autograd saves for backward in one training-mode forward of `x`: distinct storages, parameters excluded."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()  # views of one storage (e.g. q, k, v of one projection) count once
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor  # kept alive until backward, so no two live storages share an address

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), autocast(x.device, precision):
        model(x)
    return sum(saved.values())


def activation_bytes_per_image(model: nn.Module, device: str, precision: str) -> int:
    """Saved-for-backward bytes per training image: the difference between two batch sizes, per image.

    A difference, because some saved tensors do not grow with the batch (bf16 copies of the weights
    under autocast, per-channel batch-norm statistics).
    """
    small, large = (saved_bytes(model, images(b, device), precision) for b in ACTIVATION_BATCHES)
    return (large - small) // (ACTIVATION_BATCHES[1] - ACTIVATION_BATCHES[0])


class TrainingStep:
    """One training step as reportgen trains (cross-entropy, AdamW, gradients set to None), at the run's batch size."""

    def __init__(self, model: nn.Module, config: Config, device: str, precision: str):
        self.model, self.device, self.precision = model, device, precision
        self.batch = images(config.train.batch_size, device)
        if getattr(model, "prefers_channels_last", False) and config.train.channels_last:
            self.batch = self.batch.contiguous(memory_format=torch.channels_last)
        self.labels = torch.zeros(len(self.batch), dtype=torch.long, device=device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr,  # fused, as training's
                                           weight_decay=config.train.weight_decay, fused=True)

    def resident_bytes(self) -> int:
        """Bytes of what the step keeps between steps: weights, buffers, optimizer state, batch (storages once)."""
        tensors = [*self.model.parameters(), *self.model.buffers(), self.batch, self.labels,
                   *(t for state in self.optimizer.state.values() for t in state.values() if torch.is_tensor(t))]
        return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}.values())

    def __call__(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.precision):
            loss = F.cross_entropy(self.model(self.batch), self.labels)
        loss.backward()
        self.optimizer.step()


def peak_step_bytes(model: nn.Module, config: Config, device: str, precision: str) -> tuple[int | None, str]:
    """Peak memory of one training step after a warm-up step, and how it was measured (None where it cannot be)."""
    model.train()
    step = TrainingStep(model, config, device, precision)
    step()  # warm-up: creates the optimizer state, as every step after the first has it
    if torch.device(device).type == "cuda":
        synchronize(device)
        # Tensors on the GPU that are not the step's (left from training, other runs) are not its memory.
        others = torch.cuda.memory_allocated(device) - step.resident_bytes()
        torch.cuda.reset_peak_memory_stats(device)
        step()
        synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - others), CUDA_PEAK_METHOD
    try:
        from torch.distributed._tools.mem_tracker import MemTracker
    except ImportError:  # a torch built without torch.distributed
        return None, "not measured: this torch build has no torch.distributed (MemTracker)"
    tracker = MemTracker()
    tracker.track_external(model, step.optimizer, step.batch)
    with tracker:
        step()
    peak = tracker.get_tracker_snapshot("peak")
    return int(sum(per_type["Total"] for per_type in peak.values())), CPU_PEAK_METHOD


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so that a timing covers the work and only it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def inference_times(model: nn.Module, batch: int, device: str, precision: str, channels_last: bool,
                    warmup: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` timed forward passes of a batch, after `warmup` untimed ones (eval, no grad)."""
    x = images(batch, device)
    if channels_last and getattr(model, "prefers_channels_last", False):
        x = x.contiguous(memory_format=torch.channels_last)
    model.eval()
    times = []
    with torch.inference_mode(), autocast(device, precision):
        for i in range(warmup + repeats):
            synchronize(device)
            start = time.perf_counter()
            model(x)
            synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def compute(model: nn.Module, config: Config, data: ImageData, run: dict[str, Any]) -> dict[str, Any]:
    """Every machine-independent cost measurement of a trained `model` on its run's device and precision, as stored
    in efficiency.json (the data are not used: cost does not depend on what the images show)."""
    t = config.train
    device, precision = run["device"], run["precision"]
    peak, method = peak_step_bytes(prepared(model, device, t.channels_last), config, device, precision)
    return {
        "device": torch.device(device).type,
        "device_name": device_name(device),
        "precision": precision,
        "batch_size": t.batch_size,
        "parameters": count_parameters(model),
        "flops_per_image": count_flops(model),
        "activation_bytes_per_image": activation_bytes_per_image(prepared(model, device, t.channels_last), device,
                                                                 precision),
        "activation_batch_sizes": list(ACTIVATION_BATCHES),
        "peak_step_bytes": peak,
        "peak_method": method,
    }


def settings(config: Config, device: str) -> dict[str, Any]:
    """What the measurements depend on beyond the run itself: the peak memory depends on the device's kernels and
    allocator (the run key names the device type, not the model of GPU)."""
    return {"device_name": device_name(device)}
