"""Datasets as uint8 tensors, batched on-device augmentation, and the seed's PIL pipeline.

Images are decoded once into one uint8 tensor per split, (N, 3, 32, 32), and cached on disk, so a
training epoch never touches PIL or per-image Python (the seed's loader, PIL transforms one image
at a time, managed ~3,500 images/s and starved its GPU). Augmentation draws every image's flip,
angle and shift at once and applies them to the whole batch as one gather on the device, pixel for
pixel what the seed's PIL transforms give with the same draws.

The seed's own pipeline (torchvision transforms on PIL images through a DataLoader) stays available
as `train.pipeline: seed`, so that `reportgen bench` can compare the two.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from reportgen.augment import apply_policy
from reportgen.bundle_files import atomic_output
from reportgen.config import IMAGE_SIZE, AugmentConfig, DataConfig
from reportgen.errors import DataError
from reportgen.image_folder import SPLITS, decode_split, scan_image_folder

IMAGE_SHAPE = (3, IMAGE_SIZE, IMAGE_SIZE)


@dataclass
class ImageData:
    """The splits of a dataset, decoded: uint8 (N, 3, 32, 32) images and int64 (N,) labels.

    `val_x` / `val_y` are the validation split held out of the training images (data.val_fraction), or None:
    then Lightning validates on the test split, as the original study did.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    source: str  # a human-readable description of where the images came from
    fingerprint: str  # sha256 of the decoded images, labels and class names
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None

    def validation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels Lightning validates on: the held-out validation split, else the test split."""
        if self.val_y is None:
            return self.test_x, self.test_y
        return self.val_x, self.val_y

    def describe(self) -> dict:
        """The dataset's identity, as written to dataset.json (val_size 0: validation on the test split)."""
        return {
            "source": self.source,
            "classes": self.classes,
            "train_size": len(self.train_y),
            "test_size": len(self.test_y),
            "val_size": 0 if self.val_y is None else len(self.val_y),
            "fingerprint": self.fingerprint,
        }


def class_permutations(labels: np.ndarray, num_classes: int, seed) -> list[np.ndarray]:
    """Each class's indices into `labels` (N,), in a random order drawn from `seed`: one array per class."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]


def _kept(data: ImageData, chosen: np.ndarray, fingerprint_note: str, source_note: str, **splits) -> ImageData:
    """`data` training on the images `chosen` (indices into its training split), its other splits as given."""
    index = torch.from_numpy(np.sort(chosen))
    fingerprint = hashlib.sha256(f"{data.fingerprint}:{fingerprint_note}".encode()).hexdigest()
    return dataclasses.replace(data, train_x=data.train_x[index], train_y=data.train_y[index],
                               source=f"{data.source}, {source_note}", fingerprint=fingerprint, **splits)


def training_subset(data: ImageData, fraction: float, seed: int) -> ImageData:
    """`data` with the first round(fraction x n_c) images (at least 1) of a seeded permutation of each class's
    training images, in their original order; the test and validation splits are unchanged.

    The permutation depends only on `seed` and the class, so all models train on the same images and a smaller
    fraction's images are among a larger one's. The fingerprint names the subset, so runs on it are keyed apart.
    """
    if fraction >= 1.0:
        return data
    orders = class_permutations(data.train_y.numpy(), len(data.classes), seed)
    chosen = np.concatenate([order[:max(1, round(fraction * len(order)))] for order in orders])
    return _kept(data, chosen, f"train_fraction={fraction!r}:seed={seed}",
                 f"{fraction:g} of the training images per class")


# Mixed into the validation draw's seed, so that it is not the permutation train_fraction draws from the same seed.
VALIDATION_STREAM = 0x7A1


def validation_split(data: ImageData, fraction: float, seed: int) -> ImageData:
    """`data` with round(fraction x n_c) of each class's training images (at least 1, and never all of a class)
    held out as its validation split (val_x, val_y), the rest left to train on, both in their original order.

    The draw is a seeded permutation of each class (seed and VALIDATION_STREAM: no model, no run seed), so every
    model and run validates on the same images. 0: nothing is held out and `data` is returned as it is.
    """
    if fraction <= 0:
        return data
    orders = class_permutations(data.train_y.numpy(), len(data.classes), [seed, VALIDATION_STREAM])
    held = [order[:min(len(order) - 1, max(1, round(fraction * len(order))))] for order in orders]
    rest = np.concatenate([order[len(h):] for order, h in zip(orders, held)])
    val = torch.from_numpy(np.sort(np.concatenate(held)))
    return _kept(data, rest, f"val_fraction={fraction!r}:seed={seed}",
                 f"{fraction:g} of each class's training images held out for validation",
                 val_x=data.train_x[val], val_y=data.train_y[val])


def training_data(full: ImageData, cfg: DataConfig) -> ImageData:
    """What a run of config `cfg` trains and validates on: first the validation split is held out of the training
    images (data.val_fraction), then data.train_fraction is drawn from the rest. So the held-out images are the
    same at every training fraction and are never trained on, and a smaller fraction's images are still among a
    larger one's."""
    held_out = validation_split(full, cfg.val_fraction, cfg.fraction_seed)
    return training_subset(held_out, cfg.train_fraction, cfg.fraction_seed)


def clean_training_indices(labels: torch.Tensor, count: int, seed: int) -> np.ndarray:
    """Which training images the clean training accuracy is measured on: all of them when there are at most
    `count`, else about `count` drawn class by class in proportion to each class's share (seeded by `seed` alone,
    so every model and run of a training set is measured on the same images), sorted. int64 (M,)."""
    n = len(labels)
    if n <= count:
        return np.arange(n, dtype=np.int64)
    orders = class_permutations(labels.numpy(), int(labels.max()) + 1, seed)
    return np.sort(np.concatenate([order[:round(count * len(order) / n)] for order in orders])).astype(np.int64)


def sample_root() -> Path:
    """The class-balanced CIFAR-10 sample shipped inside the package (ImageFolder layout)."""
    return Path(str(resources.files("reportgen.sample") / "cifar10"))


def load_data(cfg: DataConfig) -> ImageData:
    """Load the configured dataset, decoding it once and caching the decoded arrays."""
    cache = Path(cfg.cache_dir).expanduser()
    if cfg.dataset == "cifar10":
        return _load_torchvision_cifar10(cache)
    root = sample_root() if cfg.dataset == "sample" else Path(cfg.dir).expanduser()
    label = "the CIFAR-10 sample shipped with reportgen" if cfg.dataset == "sample" else f"image folder {root}"
    return _load_image_folder(root, cache, label)


def _load_torchvision_cifar10(cache: Path) -> ImageData:
    from torchvision.datasets import CIFAR10

    root = cache / "cifar10"
    try:
        train = CIFAR10(root=str(root), train=True, download=True)
        test = CIFAR10(root=str(root), train=False, download=True)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a bad archive is a RuntimeError
        raise DataError(
            f"could not download CIFAR-10 into {root} ({exc.__class__.__name__}: {exc}); without internet, "
            "pass --data-dir with an ImageFolder copy (train/ and test/ of class folders) or use --preset quick"
        ) from None
    arrays = [
        torch.from_numpy(np.ascontiguousarray(train.data.transpose(0, 3, 1, 2))),  # (N, 32, 32, 3) -> (N, 3, 32, 32)
        torch.tensor(train.targets, dtype=torch.int64),
        torch.from_numpy(np.ascontiguousarray(test.data.transpose(0, 3, 1, 2))),
        torch.tensor(test.targets, dtype=torch.int64),
    ]
    classes = list(train.classes)
    return ImageData(*arrays, classes, f"torchvision CIFAR-10 ({root})", _fingerprint(*arrays, classes))


def _load_image_folder(root: Path, cache: Path, label: str) -> ImageData:
    files, classes = scan_image_folder(root)
    key = hashlib.sha256(
        "\n".join(f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    ).hexdigest()[:24]
    cached = cache / "decoded" / f"{key}.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as z:
            arrays = [torch.from_numpy(z[name]) for name in ("train_x", "train_y", "test_x", "test_y")]
            return ImageData(*arrays, [str(c) for c in z["classes"]], label, str(z["fingerprint"]))
    arrays = [torch.from_numpy(a) for split in SPLITS for a in decode_split(root / split, classes)]  # all cores
    data = ImageData(*arrays, classes, label, _fingerprint(*arrays, classes))
    _write_cache(cached, data)
    return data


def _fingerprint(train_x, train_y, test_x, test_y, classes) -> str:
    digest = hashlib.sha256()
    for t in (train_x, train_y, test_x, test_y):
        digest.update(t.numpy().tobytes())
    digest.update("\n".join(classes).encode())
    return digest.hexdigest()


def _write_cache(path: Path, data: ImageData) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # a crash never leaves a truncated cache entry
        np.savez(tmp, train_x=data.train_x.numpy(), train_y=data.train_y.numpy(), test_x=data.test_x.numpy(),
                 test_y=data.test_y.numpy(), classes=np.array(data.classes), fingerprint=np.array(data.fingerprint))


# ---------------------------------------------------------------------------------------------
# Batched augmentation on the device (reportgen's pipeline)
# ---------------------------------------------------------------------------------------------

def random_affine_params(n: int, aug: AugmentConfig, size: tuple[int, int], device, generator=None):
    """Draw each image's flip, rotation and shift the way the seed's torchvision transforms do.

    flip ~ Bernoulli(hflip_p); angle ~ U(-rotation_deg, +rotation_deg) degrees;
    shift_x = round(U(-translate_frac*W, +translate_frac*W)) whole pixels, shift_y likewise with H, for
    images of size (H, W) (RandomAffine).
    Returns (flip bool (n,), angle_deg (n,), shift_x (n,), shift_y (n,)).
    """
    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, device=device, generator=generator) * (high - low) + low

    flip = torch.rand(n, device=device, generator=generator) < aug.hflip_p
    angle = uniform(-aug.rotation_deg, aug.rotation_deg)
    height, width = size
    shift_x = torch.round(uniform(-aug.translate_frac * width, aug.translate_frac * width))
    shift_y = torch.round(uniform(-aug.translate_frac * height, aug.translate_frac * height))
    return flip, angle, shift_x, shift_y


def augment(x: torch.Tensor, aug: AugmentConfig, generator=None) -> torch.Tensor:
    """The seed's random flip, rotation and translation of a uint8 batch (B, C, H, W); uint8 pixels out."""
    b, _, h, w = x.shape
    flip, angle, shift_x, shift_y = random_affine_params(b, aug, (h, w), x.device, generator)
    return flip_rotate_shift(x, flip, angle, shift_x, shift_y)


def flip_rotate_shift(x: torch.Tensor, flip: torch.Tensor, angle: torch.Tensor, shift_x: torch.Tensor,
                      shift_y: torch.Tensor) -> torch.Tensor:
    """shift(rotate(flip(image))) for every image of a uint8 batch (B, C, H, W), as one gather.

    Computes what the seed's PIL transforms compute with these parameters (flip (B,) bool, angle (B,)
    degrees counterclockwise about the centre, shift (B,) whole pixels right/down): nearest neighbour,
    0 wherever a transform reads outside its input. Each output pixel copies one input pixel, so the
    three resamplings collapse into one index per pixel, with no float copy of the images and no
    matmul that autocast could lower to bf16.
    """
    b, c, h, w = x.shape
    # (B,) -> (B, 1, 1), to broadcast over the output pixels (B, H, W)
    flip, angle, shift_x, shift_y = (t.view(-1, 1, 1) for t in (flip, angle, shift_x, shift_y))
    # Undo the shift: the rotated image is read at (u, v) = output - shift, in pixels from the
    # image centre: u (B, 1, W) per column, v (B, H, 1) per row.
    u = torch.arange(w, device=x.device, dtype=torch.float32) - (shift_x + (w - 1) / 2)
    v = torch.arange(h, device=x.device, dtype=torch.float32).view(h, 1) - (shift_y + (h - 1) / 2)
    # Undo the rotation, then the flip (u -> -u): the source pixel is at column
    # mirror (cos u - sin v) + (w-1)/2 and row sin u + cos v + (h-1)/2, a column term plus a row term.
    # +0.5 and floor: the nearest pixel, halves rounded up as PIL does; +1: a one-pixel zero border.
    rad = angle * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    mirror = 1.0 - 2.0 * flip.float()
    col_u, col_v = (mirror * cos) * u + ((w - 1) / 2 + 1.5), (mirror * sin) * v
    row_u, row_v = sin * u + ((h - 1) / 2 + 1.5), cos * v
    # The shift fills with 0 what it brings in from outside the rotated frame: send those off the image.
    col_u.masked_fill_(u.abs() > (w - 1) / 2, math.inf)
    col_v.masked_fill_(v.abs() > (h - 1) / 2, -math.inf)
    # Every source outside the image lands on the zero border: (B, H, W) indices into the padded image.
    col = (col_u - col_v).floor_().clamp_(0, w + 1)
    row = (row_u + row_v).floor_().clamp_(0, h + 1)
    bordered = F.pad(x, (1, 1, 1, 1)).flatten(2)  # (B, C, (H+2)(W+2))
    index = torch.add(col, row, alpha=w + 2).long().flatten(1)
    return bordered.gather(2, index.unsqueeze(1).expand(b, c, h * w)).view(b, c, h, w)


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 or float pixels in [0, 255] -> (x/255 - mean) / std per channel, as one multiply-add."""
    scale, shift = _normalisation_constants(tuple(mean), tuple(std), x.device)
    # In place on a float copy: twice as fast on CPU as addcmul's broadcast over the channels.
    return x.to(torch.float32, copy=True).mul_(scale).add_(shift)


@functools.lru_cache(maxsize=16)
def _normalisation_constants(mean: tuple, std: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel scale 1/(255 std) and shift -mean/std, (1, 3, 1, 1) each, made once per device.

    Built from host numbers, so making them copies to the device and waits: cached, a step never does.
    """
    scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=device).view(1, 3, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(mean, std)], device=device).view(1, 3, 1, 1)
    return scale, shift


class TrainAugmentation:
    """All of config.augment for a uint8 training batch on the device: the seed's flip, rotation and shift,
    then the recipe's policy (TrivialAugment or RandAugment), normalisation, then MixUp or CutMix.

    Returns normalised float images and the targets: class indices (B,), or with MixUp / CutMix the mixed
    one-hot targets (B, K). The policy (reportgen.augment) draws per image from `generator`, as the flip, rotation
    and shift do; the mixes are torchvision.transforms.v2's, which draw from torch's global generator. The training
    step seeds both per (seed, epoch, rank), so a resumed run repeats them.
    """

    def __init__(self, aug: AugmentConfig, mean, std, num_classes: int):
        from torchvision.transforms import v2

        self.aug, self.mean, self.std = aug, mean, std
        self.policy = aug.policy if aug.enabled and aug.policy != "none" else None
        mixes = [mix(alpha=alpha, num_classes=num_classes)
                 for mix, alpha in ((v2.MixUp, aug.mixup_alpha), (v2.CutMix, aug.cutmix_alpha)) if alpha > 0]
        self.mix = v2.RandomChoice(mixes) if aug.enabled and mixes else None

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.aug.enabled:
            x = augment(x, self.aug, generator=generator)
        if self.policy is not None:
            x = apply_policy(x, self.policy, generator=generator)
        x = normalize(x, self.mean, self.std)
        if self.mix is not None:
            x, y = self.mix(x, y)  # (B, K) float targets, each image's weights on its two labels
        return x, y


class TensorBatches(Dataset):
    """A dataset indexed by whole batches: an index tensor in, the batch's images and labels out.

    Lives on whatever device its tensors are on: on CUDA the data never leaves GPU memory, and with
    index tensors on the device too (reportgen.loaders.DeviceBatches), gathering a batch never waits.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # index_select copies whole images; x[idx] goes element by element (20x slower on CPU).
        return self.x.index_select(0, indices), self.y.index_select(0, indices)


def keep_batch(batch):
    """collate_fn for TensorBatches: the batch is already stacked."""
    return batch


# ---------------------------------------------------------------------------------------------
# The seed notebook's pipeline, kept for comparison (train.pipeline: seed, reportgen bench)
# ---------------------------------------------------------------------------------------------

def seed_transforms(aug: AugmentConfig, mean, std):
    """The notebook's torchvision transforms: (train with augmentation, test with normalisation only)."""
    from torchvision import transforms as T

    test = T.Compose([T.ToTensor(), T.Normalize(tuple(mean), tuple(std))])
    if not aug.enabled:
        return test, test
    train = T.Compose([
        T.RandomHorizontalFlip(p=aug.hflip_p),
        T.RandomRotation(aug.rotation_deg),
        T.RandomAffine(0, translate=(aug.translate_frac, aug.translate_frac)),
        T.ToTensor(),
        T.Normalize(tuple(mean), tuple(std)),
    ])
    return train, test


class PILImages(Dataset):
    """uint8 images served one at a time as PIL images through torchvision transforms (the seed's way)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        self.pixels = x.permute(0, 2, 3, 1).contiguous().numpy()  # (N, H, W, 3), what PIL wants
        self.labels = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.pixels[i])), self.labels[i]
