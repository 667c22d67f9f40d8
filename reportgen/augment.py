"""The modern recipe's automatic augmentation policies (TrivialAugmentWide, RandAugment), batched on the device.

torchvision's v2 policies draw one operation per call for the whole batch they are given and build device tensors
from host values on every call (a blocking copy each). Here every image draws its own operation and magnitude as
tensors from the caller's generator; the geometric operations are one batched `affine_grid` + `grid_sample`, the
colour operations tensor arithmetic selected with `torch.where` over the operation ids. Nothing reads a value back
to the host, so a training step never waits for the GPU, and the same generator state gives the same images.

The operations, their magnitude ranges (31 bins) and their random signs follow torchvision's definitions.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

# Operation ids, in this order in every table below.
OPERATIONS = ("identity", "shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color",
              "contrast", "sharpness", "posterize", "solarize", "autocontrast", "equalize")
GEOMETRIC = ("shear_x", "shear_y", "translate_x", "translate_y", "rotate")
SIGNED = GEOMETRIC + ("brightness", "color", "contrast", "sharpness")  # each draws a random sign, as torchvision's
MAGNITUDE_BINS = 31
RANDAUGMENT_OPS, RANDAUGMENT_BIN = 2, 9  # torchvision's RandAugment defaults: 2 operations at magnitude 9 of 30


def magnitude_ranges(policy: str, size: tuple[int, int]) -> dict[str, tuple[float, float]]:
    """Each operation's (magnitude at bin 0, at the last bin) for images of size (H, W); operations absent: none.

    Posterize's magnitude is its bits kept, Solarize's its threshold, translations whole pixels, rotation degrees,
    shears the shear factor, the colour operations the blend ratio minus one.
    """
    height, width = size
    wide = policy == "trivialaugment"
    colour = 0.99 if wide else 0.9
    return {
        "shear_x": (0.0, 0.99 if wide else 0.3), "shear_y": (0.0, 0.99 if wide else 0.3),
        "translate_x": (0.0, 32.0 if wide else 150.0 / 331.0 * width),
        "translate_y": (0.0, 32.0 if wide else 150.0 / 331.0 * height),
        "rotate": (0.0, 135.0 if wide else 30.0),
        "brightness": (0.0, colour), "color": (0.0, colour), "contrast": (0.0, colour), "sharpness": (0.0, colour),
        "posterize": (8.0, 2.0 if wide else 4.0), "solarize": (255.0, 0.0),
    }


@functools.lru_cache(maxsize=16)
def _tables(policy: str, size: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(magnitudes (ops, bins) float32, signed (ops,) bool) on the device, made once per (policy, size, device).

    Built from host numbers, so making them copies to the device and waits: cached, a step never does.
    """
    ranges = magnitude_ranges(policy, size)
    rows = []
    for name in OPERATIONS:
        low, high = ranges.get(name, (0.0, 0.0))
        row = torch.linspace(low, high, MAGNITUDE_BINS, dtype=torch.float64)
        if name == "posterize":
            row = row.round()  # whole bits, as torchvision's `8 - (arange / step).round()`
        elif name.startswith("translate"):
            row = row.trunc()  # whole pixels, as torchvision's int(magnitude)
        rows.append(row)
    magnitudes = torch.stack(rows).to(torch.float32).to(device)
    signed = torch.tensor([name in SIGNED for name in OPERATIONS], device=device)
    return magnitudes, signed


def draw_operations(n: int, policy: str, size: tuple[int, int], device, generator=None):
    """Each of n images' operation id (n,) int64 and signed magnitude (n,) float32, drawn on the device.

    The operation is uniform over OPERATIONS; TrivialAugmentWide draws the bin uniformly, RandAugment uses bin 9;
    a signed operation's magnitude is negated with probability 1/2.
    """
    magnitudes, signed = _tables(policy, size, torch.device(device))
    op = torch.randint(0, len(OPERATIONS), (n,), device=device, generator=generator)
    if policy == "trivialaugment":
        level = torch.randint(0, MAGNITUDE_BINS, (n,), device=device, generator=generator)
    else:
        level = torch.full((n,), RANDAUGMENT_BIN, device=device, dtype=torch.int64)
    flip_sign = (torch.rand(n, device=device, generator=generator) < 0.5) & signed[op]
    magnitude = magnitudes[op, level]
    return op, torch.where(flip_sign, -magnitude, magnitude)


def apply_policy(x: torch.Tensor, policy: str, generator=None) -> torch.Tensor:
    """The policy on a uint8 batch (B, C, H, W), each image its own draw; uint8 out, autocast off (exact pixels)."""
    passes = RANDAUGMENT_OPS if policy == "randaugment" else 1
    with torch.autocast(x.device.type, enabled=False):
        pixels = x.to(torch.float32)
        for _ in range(passes):
            op, magnitude = draw_operations(x.shape[0], policy, tuple(x.shape[-2:]), x.device, generator)
            pixels = apply_operations(pixels, op, magnitude)
    return pixels.to(torch.uint8)


def apply_operations(x: torch.Tensor, op: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Image i of a float batch (B, C, H, W) of whole values in [0, 255] gets operation op[i] at magnitude[i]."""
    out = _geometric(x, op, magnitude)
    m = magnitude.view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1)
    gray = _grayscale(x)  # (B, 1, H, W)
    colour = {
        "brightness": lambda: _blend(x, torch.zeros_like(x), m),
        "color": lambda: _blend(x, gray, m),
        "contrast": lambda: _blend(x, gray.mean(dim=(1, 2, 3), keepdim=True), m),
        "sharpness": lambda: _blend(x, _smoothed(x), m),
        "posterize": lambda: torch.floor(x / 2.0 ** (8 - m)) * 2.0 ** (8 - m),
        "solarize": lambda: torch.where(x >= m, 255.0 - x, x),
        "autocontrast": lambda: _autocontrast(x),
        "equalize": lambda: _equalize(x),
    }
    for name, operation in colour.items():
        out = torch.where((op == OPERATIONS.index(name)).view(-1, 1, 1, 1), operation(), out)
    return out.round_().clamp_(0, 255)


def _geometric(x: torch.Tensor, op: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Shear, translation or rotation about the centre by each image's op, nearest pixel, 0 outside; others as is.

    One (B, 2, 3) output-to-input matrix per image in affine_grid's normalised coordinates; an image whose op is
    not geometric gets the identity, which samples its own pixel centres exactly.
    """
    height, width = x.shape[-2:]

    def where(name: str) -> torch.Tensor:  # (B,): the magnitude where the op is `name`, else 0
        return torch.where(op == OPERATIONS.index(name), magnitude, torch.zeros_like(magnitude))

    rad = where("rotate") * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # In pixels, at most one of rotation, shear and shift is not the identity for an image: [[a, b], [c, d]].
    a, b = cos, -sin - where("shear_x")
    c, d = sin - where("shear_y"), cos
    # Pixels -> normalised coordinates: x scales by 2/W, y by 2/H.
    theta = torch.stack([
        torch.stack([a, b * (height / width), -2.0 * where("translate_x") / width], dim=1),
        torch.stack([c * (width / height), d, -2.0 * where("translate_y") / height], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601-2 luma of an RGB batch: (B, 3, H, W) -> (B, 1, H, W)."""
    r, g, b = x.unbind(dim=1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x at ratio 1 + m against `other` (torchvision's adjust_* with factor 1 + m), clamped to [0, 255]."""
    ratio = 1.0 + m
    return (ratio * x + (1.0 - ratio) * other).clamp_(0, 255)


def _smoothed(x: torch.Tensor) -> torch.Tensor:
    """Sharpness's degenerate image: the 3x3 smoothing kernel (centre 5, others 1, over 13) inside, border kept."""
    channels = x.shape[1]
    out = x.clone()
    out[..., 1:-1, 1:-1] = F.conv2d(x, _smoothing_kernel(channels, x.device), groups=channels).round_()
    return out


@functools.lru_cache(maxsize=16)
def _smoothing_kernel(channels: int, device: torch.device) -> torch.Tensor:
    """(C, 1, 3, 3) float32: 1/13 around, 5/13 in the centre; made once per device (its 5 is a host value)."""
    kernel = torch.ones(channels, 1, 3, 3, device=device)
    kernel[:, :, 1, 1] = 5.0
    return kernel / 13.0


def _autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Each channel stretched from its own [min, max] to [0, 255]; a flat channel is left as it is."""
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    flat = high == low
    scale = torch.where(flat, torch.ones_like(high), 255.0 / (high - low).clamp_(min=1.0))
    return ((x - torch.where(flat, torch.zeros_like(low), low)) * scale).clamp_(0, 255)


def _equalize(x: torch.Tensor) -> torch.Tensor:
    """Each channel's histogram equalised (PIL's rule, as torchvision's equalize); a channel of one value as is."""
    b, c, h, w = x.shape
    index = x.reshape(b * c, h * w).long()  # (BC, HW) pixel values 0..255
    hist = torch.zeros(b * c, 256, device=x.device, dtype=x.dtype).scatter_add_(1, index, torch.ones_like(x).view(
        b * c, h * w))
    # Counts up to H*W are exact in float32.
    last = hist.gather(1, index.amax(dim=1, keepdim=True))  # (BC, 1): the count of the highest value present
    step = torch.floor((h * w - last) / 255.0)
    below = hist.cumsum(dim=1) - hist  # (BC, 256): pixels below each value
    lut = torch.floor((below + torch.floor(step / 2)) / step.clamp(min=1.0)).clamp_(max=255.0)
    equalised = lut.gather(1, index).view(b, c, h, w)
    return torch.where((step == 0).view(b, c, 1, 1), x, equalised)
