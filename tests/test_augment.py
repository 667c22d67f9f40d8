"""The batched augmentation policies (reportgen.augment): per-image draws, their distribution and ranges, the
operations' pixels, determinism, and no host<->device traffic inside a call (proved on the CPU at the dispatcher)."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from reportgen import augment
from reportgen.augment import OPERATIONS, apply_operations, apply_policy, draw_operations, magnitude_ranges
from reportgen.config import IMAGE_SIZE, AugmentConfig
from reportgen.data import TrainAugmentation

SIZE = (IMAGE_SIZE, IMAGE_SIZE)


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, *SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def ops_of(name: str, n: int) -> torch.Tensor:
    return torch.full((n,), OPERATIONS.index(name), dtype=torch.int64)


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment"])
def test_each_operation_is_drawn_with_equal_probability_and_magnitudes_stay_in_range(policy):
    n = 140_000
    op, magnitude = draw_operations(n, policy, SIZE, "cpu", torch.Generator().manual_seed(1))
    share = torch.bincount(op, minlength=len(OPERATIONS)).double() / n
    assert torch.allclose(share, torch.full_like(share, 1 / len(OPERATIONS)), atol=0.004)  # 1/14 each, ~4 sigma
    for name, (low, high) in magnitude_ranges(policy, SIZE).items():
        drawn = magnitude[op == OPERATIONS.index(name)]
        bound = max(abs(low), abs(high))
        assert drawn.abs().max() <= bound + 1e-4 and drawn.abs().min() >= min(abs(low), abs(high)) - 1e-4, name
        if name in augment.SIGNED:  # a random sign: about half of the non-zero magnitudes negative
            assert abs((drawn[drawn != 0] < 0).double().mean().item() - 0.5) < 0.02, name
        else:
            assert (drawn >= 0).all(), name
    unused = magnitude[(op == OPERATIONS.index("identity")) | (op == OPERATIONS.index("equalize"))]
    assert (unused == 0).all()


def test_trivialaugment_draws_every_magnitude_bin_and_randaugment_one():
    op, wide = draw_operations(20_000, "trivialaugment", SIZE, "cpu", torch.Generator().manual_seed(2))
    assert wide[op == OPERATIONS.index("rotate")].abs().unique().numel() == augment.MAGNITUDE_BINS
    op, rand = draw_operations(20_000, "randaugment", SIZE, "cpu", torch.Generator().manual_seed(2))
    assert rand[op == OPERATIONS.index("rotate")].abs().unique().tolist() == [pytest.approx(9.0)]  # bin 9 of 0..30


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment"])
def test_the_policy_is_deterministic_per_generator_and_per_image(policy):
    x = images(64)
    first = apply_policy(x, policy, torch.Generator().manual_seed(5))
    assert torch.equal(first, apply_policy(x, policy, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, apply_policy(x, policy, torch.Generator().manual_seed(6)))
    assert first.dtype == torch.uint8 and first.shape == x.shape
    changed = (first != x).flatten(1).any(dim=1)
    assert 20 < int(changed.sum()) < 64  # images draw their own ops: most change, identity ones do not


def test_identity_and_non_geometric_operations_keep_the_geometry_exact():
    x = images(4).float()
    assert torch.equal(apply_operations(x, ops_of("identity", 4), torch.zeros(4)), x)
    assert torch.equal(apply_operations(x, ops_of("brightness", 4), torch.zeros(4)), x)  # ratio 1


def test_translation_shifts_whole_pixels_and_fills_zero():
    x = images(1).float()
    out = apply_operations(x, ops_of("translate_x", 1), torch.tensor([3.0]))
    assert torch.equal(out[..., :, 3:], x[..., :, :-3]) and (out[..., :, :3] == 0).all()


def test_a_quarter_turn_rotates_the_pixels_exactly():
    x = images(1).float()
    out = apply_operations(x, ops_of("rotate", 1), torch.tensor([90.0]))
    assert torch.equal(out, torch.rot90(x, 1, dims=(2, 3))) or torch.equal(out, torch.rot90(x, -1, dims=(2, 3)))


def test_colour_operations_compute_their_pixels():
    x = images(2).float()
    assert torch.equal(apply_operations(x, ops_of("solarize", 2), torch.tensor([128.0, 128.0])),
                       torch.where(x >= 128, 255 - x, x))
    assert torch.equal(apply_operations(x, ops_of("posterize", 2), torch.tensor([2.0, 2.0])),
                       torch.floor(x / 64) * 64)
    assert torch.equal(apply_operations(x, ops_of("brightness", 2), torch.tensor([-1.0, -1.0])), torch.zeros_like(x))
    stretched = apply_operations(x / 2 + 10, ops_of("autocontrast", 2), torch.zeros(2))
    assert (stretched.amin(dim=(2, 3)) == 0).all() and (stretched.amax(dim=(2, 3)) == 255).all()


def test_equalize_flattens_the_histogram_and_leaves_a_flat_image():
    ramp = torch.arange(IMAGE_SIZE * IMAGE_SIZE, dtype=torch.float32).view(1, 1, *SIZE).div(16).floor()  # 0..63
    x = ramp.expand(1, 3, *SIZE).clone()
    out = apply_operations(x, ops_of("equalize", 1), torch.zeros(1))
    assert out.max() > 240 and out.min() == 0  # 64 equal bins spread over 0..255
    flat = torch.full((1, 3, *SIZE), 7.0)
    assert torch.equal(apply_operations(flat, ops_of("equalize", 1), torch.zeros(1)), flat)


class HostTraffic(TorchDispatchMode):
    """Records the operators that read a tensor's value back to the host (.item(), bool(), .tolist()) or that
    build a tensor from host data (torch.tensor): on a GPU each is a blocking copy."""

    SYNCING = ("aten._local_scalar_dense", "aten.lift_fresh", "aten.item", "aten.nonzero", "aten.masked_select")

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func.overloadpacket).startswith(self.SYNCING) or str(func).startswith(self.SYNCING):
            self.calls.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment"])
def test_the_augmentation_reads_nothing_back_and_builds_nothing_from_host_values(policy):
    aug = AugmentConfig(policy=policy)
    augmentation = TrainAugmentation(aug, (0.5,) * 3, (0.25,) * 3, 10)
    x, y = images(32), torch.arange(32) % 10
    augmentation(x, y, generator=torch.Generator().manual_seed(0))  # the first call makes the cached constants
    with HostTraffic() as traffic:
        out, target = augmentation(x, y, generator=torch.Generator().manual_seed(1))
    assert traffic.calls == [] and out.dtype == torch.float32 and torch.equal(target, y)


def test_the_host_traffic_recorder_sees_a_read_back():
    with HostTraffic() as traffic:
        torch.ones(2).sum().item()
        torch.tensor([1.0, 2.0])
    assert len(traffic.calls) == 2


def test_the_policy_runs_outside_autocast():
    x = images(8)
    generator_state = torch.Generator().manual_seed(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = apply_policy(x, "randaugment", generator_state)
    assert torch.equal(under, apply_policy(x, "randaugment", torch.Generator().manual_seed(3)))
