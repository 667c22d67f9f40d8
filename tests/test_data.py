"""Data: image-folder loading and errors, the decode cache, and the batched augmentation."""

import numpy as np
import pytest
import torch
from PIL import Image

from reportgen.config import AugmentConfig, DataConfig
from reportgen.data import (
    PILImages,
    TensorBatches,
    TrainAugmentation,
    augment,
    clean_training_indices,
    flip_rotate_shift,
    load_data,
    normalize,
    random_affine_params,
    seed_transforms,
    training_data,
    training_subset,
    validation_split,
)
from reportgen.errors import DataError

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def write_folder(root, classes=("cat", "dog"), per_class=(3, 2), size=32):
    rng = np.random.default_rng(0)
    for split, n in zip(("train", "test"), per_class):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")
    return root


def test_image_folder_loads_as_uint8_with_class_names_from_folders(tmp_path):
    root = write_folder(tmp_path / "d")
    data = load_data(DataConfig(dataset="folder", dir=str(root), cache_dir=str(tmp_path / "cache")))
    assert data.classes == ["cat", "dog"]
    assert data.train_x.shape == (6, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1] and data.test_y.tolist() == [0, 0, 1, 1]
    first = np.asarray(Image.open(root / "train" / "cat" / "0.png"))
    assert np.array_equal(data.train_x[0].permute(1, 2, 0).numpy(), first)


def test_decoded_data_is_cached_and_identical(tmp_path):
    root = write_folder(tmp_path / "d")
    cfg = DataConfig(dataset="folder", dir=str(root), cache_dir=str(tmp_path / "cache"))
    first, second = load_data(cfg), load_data(cfg)
    assert list((tmp_path / "cache" / "decoded").glob("*.npz"))
    assert first.fingerprint == second.fingerprint
    assert torch.equal(first.test_x, second.test_x)


def test_fingerprint_changes_with_the_pixels(tmp_path):
    root = write_folder(tmp_path / "d")
    cfg = DataConfig(dataset="folder", dir=str(root), cache_dir=str(tmp_path / "cache"))
    before = load_data(cfg).fingerprint
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "test" / "dog" / "0.png")
    assert load_data(cfg).fingerprint != before


@pytest.mark.parametrize("breakage, message", [
    (lambda r: None, "does not exist"),
    (lambda r: write_folder(r) and __import__("shutil").rmtree(r / "test"), "no test/ folder"),
    (lambda r: write_folder(r) and (r / "test" / "bird").mkdir(), "differ"),
    (lambda r: write_folder(r, size=40), "32x32"),
    (lambda r: write_folder(r) and (r / "train" / "cat" / "0.png").write_bytes(b"not an image"), "cannot read"),
])
def test_bad_image_folders_give_clear_errors(tmp_path, breakage, message):
    root = tmp_path / "d"
    breakage(root)
    with pytest.raises(DataError, match=message):
        load_data(DataConfig(dataset="folder", dir=str(root), cache_dir=str(tmp_path / "cache")))


def test_bundled_sample_is_class_balanced_cifar10(tmp_path):
    data = load_data(DataConfig(dataset="sample", cache_dir=str(tmp_path)))
    assert data.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert torch.bincount(data.train_y).tolist() == [400] * 10
    assert torch.bincount(data.test_y).tolist() == [100] * 10


def test_cifar10_download_failure_says_how_to_proceed(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="--data-dir"):
        load_data(DataConfig(dataset="cifar10", cache_dir=str(tmp_path)))


def test_cifar10_arrays_are_converted_to_channels_first(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeCIFAR10:
        classes = ["a", "b"]

        def __init__(self, root, train, download):
            n = 4 if train else 2
            self.data = np.arange(n * 32 * 32 * 3, dtype=np.uint64).reshape(n, 32, 32, 3).astype(np.uint8)
            self.targets = [i % 2 for i in range(n)]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    data = load_data(DataConfig(dataset="cifar10", cache_dir=str(tmp_path)))
    raw = FakeCIFAR10(None, True, False).data
    assert data.train_x.shape == (4, 3, 32, 32)
    assert torch.equal(data.train_x[1, 2], torch.from_numpy(raw[1, :, :, 2]))
    assert data.classes == ["a", "b"]


def test_augmentation_parameters_follow_the_seed_distributions():
    g = torch.Generator().manual_seed(0)
    n = 200_000
    flip, angle, sx, sy = random_affine_params(n, AugmentConfig(), (32, 32), "cpu", g)
    assert abs(flip.float().mean().item() - 0.5) < 0.01
    assert angle.min() >= -15 and angle.max() <= 15
    assert abs(angle.mean().item()) < 0.1 and abs(angle.std().item() - 30 / 12**0.5) < 0.05  # U(-15, 15)
    # RandomAffine: round(U(-3.2, 3.2)) -> whole pixels in [-3, 3]; +-3 each with probability 0.7/6.4
    assert set(sx.unique().tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    assert abs((sx == 3).float().mean().item() - 0.7 / 6.4) < 0.005
    assert abs((sy == 0).float().mean().item() - 1 / 6.4) < 0.005
    _, _, sx, sy = random_affine_params(n, AugmentConfig(), (20, 40), "cpu", g)  # shifts scale with each side
    assert sx.abs().max() == 4 and sy.abs().max() == 2


def test_identical_images_come_out_different():
    x = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8).repeat(16, 1, 1, 1)
    out = augment(x, AugmentConfig(), generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert len({tuple(img.flatten().tolist()) for img in out}) == 16


def seed_flip_rotate_shift(img, flip, angle, shift_x, shift_y):
    """What the seed's RandomHorizontalFlip, RandomRotation and RandomAffine do to a PIL image with these draws."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    if flip:
        img = TF.hflip(img)
    img = TF.rotate(img, angle, InterpolationMode.NEAREST, fill=0)
    return TF.affine(img, 0.0, [shift_x, shift_y], 1.0, [0.0, 0.0], InterpolationMode.NEAREST, fill=0)


@pytest.mark.parametrize("aug, max_mismatch", [
    (AugmentConfig(hflip_p=0.5, rotation_deg=0.0, translate_frac=0.1), 0.0),  # whole pixels: exact
    (AugmentConfig(), 1e-3),  # rotation: PIL and we round half-pixel ties apart (within 1e-3 px of .5)
])
def test_batched_augmentation_computes_what_the_seed_transforms_compute(aug, max_mismatch):
    n = 256
    x = torch.randint(1, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    flip, angle, shift_x, shift_y = random_affine_params(n, aug, (32, 32), "cpu", torch.Generator().manual_seed(1))
    ours = flip_rotate_shift(x, flip, angle, shift_x, shift_y)
    seed = torch.stack([
        torch.from_numpy(np.array(seed_flip_rotate_shift(
            Image.fromarray(x[i].permute(1, 2, 0).numpy()), flip[i].item(), angle[i].item(),
            int(shift_x[i]), int(shift_y[i])))).permute(2, 0, 1)
        for i in range(n)])
    mismatch = (ours != seed).any(1).float().mean().item()  # share of output pixels that differ
    assert mismatch <= max_mismatch
    assert (ours == 0).all(1).float().mean() > 0.05  # the draws did shift and rotate zeros in


def test_augment_draws_its_own_parameters_per_image():
    x = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)
    g = torch.Generator().manual_seed(2)
    params = random_affine_params(64, AugmentConfig(), (32, 32), "cpu", torch.Generator().manual_seed(2))
    assert torch.equal(augment(x, AugmentConfig(), g), flip_rotate_shift(x, *params))


def test_normalize_matches_torchvision_to_tensor_and_normalize():
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    _, test_tf = seed_transforms(AugmentConfig(), MEAN, STD)
    expected = torch.stack([test_tf(Image.fromarray(img.permute(1, 2, 0).numpy())) for img in x])
    torch.testing.assert_close(normalize(x, MEAN, STD), expected, rtol=1e-5, atol=1e-5)


def test_batches_are_gathered_at_once_and_pil_dataset_serves_single_images():
    x = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(10)
    xb, yb = TensorBatches(x, y)[torch.tensor([3, 1, 7])]
    assert torch.equal(xb, x[[3, 1, 7]]) and yb.tolist() == [3, 1, 7]
    train_tf, _ = seed_transforms(AugmentConfig(), MEAN, STD)
    img, label = PILImages(x, y, train_tf)[4]
    assert img.shape == (3, 32, 32) and label == 4


def test_normalisation_constants_are_made_once_per_device():
    first = normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), MEAN, STD)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch, "tensor", lambda *args, **kwargs: pytest.fail("constants rebuilt from host values"))
        again = normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), list(MEAN), list(STD))
    assert torch.equal(first, again)


def _labelled_data(per_class=(40, 20, 10)):
    from reportgen.data import ImageData

    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(per_class)])
    images = torch.arange(len(labels)).view(-1, 1, 1, 1).expand(-1, 3, 32, 32).to(torch.uint8)
    return ImageData(images, labels, images[:5], labels[:5], ["a", "b", "c"], "test", "f" * 64)


def test_a_training_fraction_takes_that_share_of_every_class():
    data = _labelled_data()
    half = training_subset(data, 0.5, seed=0)
    assert torch.bincount(half.train_y).tolist() == [20, 10, 5]
    assert torch.equal(half.test_x, data.test_x) and torch.equal(half.test_y, data.test_y)
    assert half.fingerprint != data.fingerprint  # runs on the subset are keyed apart
    kept = half.train_x[:, 0, 0, 0].tolist()  # each image's index, written into its pixels
    assert kept == sorted(kept) and torch.equal(half.train_y, data.train_y[kept])


def test_training_fractions_are_seeded_and_nested():
    data = _labelled_data()
    quarter, half = training_subset(data, 0.25, seed=3), training_subset(data, 0.5, seed=3)
    assert torch.equal(quarter.train_x, training_subset(data, 0.25, seed=3).train_x)
    assert set(quarter.train_x[:, 0, 0, 0].tolist()) < set(half.train_x[:, 0, 0, 0].tolist())
    assert not torch.equal(quarter.train_x, training_subset(data, 0.25, seed=4).train_x)
    assert training_subset(data, 1.0, seed=3) is data
    assert torch.bincount(training_subset(data, 0.01, seed=0).train_y).tolist() == [1, 1, 1]  # never an empty class


def test_augmentation_switched_off_only_normalises():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(6) % 3
    out, target = TrainAugmentation(AugmentConfig(enabled=False, mixup_alpha=1.0), (0.5,) * 3, (0.25,) * 3, 3)(x, y)
    assert torch.equal(out, normalize(x, (0.5,) * 3, (0.25,) * 3)) and torch.equal(target, y)


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment"])
def test_augmentation_policies_run_on_the_batch_per_image(policy):
    torch.manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    aug = AugmentConfig(hflip_p=0.0, rotation_deg=0.0, translate_frac=0.0, policy=policy)
    out, target = TrainAugmentation(aug, (0.0,) * 3, (1 / 255,) * 3, 10)(x, torch.zeros(64, dtype=torch.int64),
                                                                          generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.float32 and target.shape == (64,)
    changed = [not torch.equal(a, b) for a, b in zip(out, x.float())]
    assert sum(changed) > 20  # each image draws its own operations (tests/test_augment.py checks their distribution)


def test_mixup_and_cutmix_mix_targets_that_sum_to_one():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(16) % 4
    out, target = TrainAugmentation(AugmentConfig(mixup_alpha=0.8, cutmix_alpha=1.0), (0.5,) * 3, (0.25,) * 3, 4)(x, y)
    assert out.shape == (16, 3, 32, 32) and target.shape == (16, 4)
    assert torch.allclose(target.sum(dim=1), torch.ones(16))
    for i, row in enumerate(target):  # each image mixes its own label with its batch neighbour's
        assert set(row.nonzero().flatten().tolist()) <= {int(y[i]), int(y[i - 1])}


def test_the_seed_pipeline_without_augmentation_trains_on_the_test_transform():
    train, test = seed_transforms(AugmentConfig(enabled=False), MEAN, STD)
    assert train is test


def _images(data) -> set[bytes]:
    return {image.numpy().tobytes() for image in data}


def _distinct_data(per_class: int = 20, classes: int = 4):
    """Training images that are all different (each carries its index), so that splits can be compared by pixels."""
    from reportgen.data import ImageData

    n = per_class * classes
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = torch.arange(n) % 256, torch.arange(n) // 256
    y = torch.arange(n) % classes
    return ImageData(x, y, x[:8].clone(), y[:8].clone(), [f"c{i}" for i in range(classes)], "distinct", "fp")


def test_the_validation_split_is_stratified_disjoint_from_training_and_independent_of_the_fraction():
    data = _distinct_data()
    held = validation_split(data, 0.2, seed=0)
    assert torch.bincount(held.val_y).tolist() == [4, 4, 4, 4]  # a fifth of each class's 20
    assert torch.bincount(held.train_y).tolist() == [16, 16, 16, 16]
    assert not _images(held.val_x) & _images(held.train_x)  # never trained on
    assert _images(held.val_x) | _images(held.train_x) == _images(data.train_x)
    assert torch.equal(held.test_x, data.test_x) and held.fingerprint != data.fingerprint
    # The same held-out images at every training fraction, never among the images a fraction trains on.
    for fraction in (0.25, 0.5, 1.0):
        cfg = DataConfig(train_fraction=fraction, val_fraction=0.2)
        run = training_data(data, cfg)
        assert torch.equal(run.val_x, held.val_x)
        assert not _images(run.val_x) & _images(run.train_x)
    quarter, half = (training_data(data, DataConfig(train_fraction=f, val_fraction=0.2)) for f in (0.25, 0.5))
    assert _images(quarter.train_x) <= _images(half.train_x)  # a smaller fraction's images are a larger one's
    assert not torch.equal(validation_split(data, 0.2, seed=1).val_x, held.val_x)  # the draw follows its seed


def test_val_fraction_0_keeps_the_test_split_as_validation_and_the_old_fingerprints():
    data = _distinct_data()
    assert training_data(data, DataConfig(val_fraction=0.0)) is data
    assert data.validation()[0] is data.test_x and data.describe()["val_size"] == 0
    half = training_data(data, DataConfig(train_fraction=0.5))
    assert half.fingerprint == training_subset(data, 0.5, 0).fingerprint and half.val_y is None
    held = training_data(data, DataConfig(val_fraction=0.1))
    assert held.validation()[1] is held.val_y and held.describe()["val_size"] == 8


def test_every_class_keeps_a_training_image_however_small():
    data = _distinct_data(per_class=2)
    held = validation_split(data, 0.45, seed=0)
    assert torch.bincount(held.train_y).tolist() == [1, 1, 1, 1] == torch.bincount(held.val_y).tolist()


def test_the_clean_training_subset_is_all_images_or_a_class_proportional_seeded_draw():
    labels = torch.arange(100) % 4
    assert clean_training_indices(labels, 100, seed=0).tolist() == list(range(100))
    chosen = clean_training_indices(labels, 40, seed=0)
    assert len(chosen) == 40 and torch.bincount(labels[chosen]).tolist() == [10, 10, 10, 10]
    assert np.array_equal(chosen, clean_training_indices(labels, 40, seed=0))
    assert not np.array_equal(chosen, clean_training_indices(labels, 40, seed=1))
