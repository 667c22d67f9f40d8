"""The one typed, validated configuration of a reportgen build.

Defaults are the seed study's protocol exactly (see ../shared/seed): the two architectures, the augmentation,
CIFAR-10 normalisation, batch 1024, AdamW 1e-3 / 0.05, cosine over 80 epochs, seed 42. A config is built from a
preset, then a YAML file, then ``key=value`` overrides, in that order (reportgen.config_loading), and is validated
before any work starts (reportgen.config_rules).
This module must not import torch: ``reportgen render`` reads the config back from a bundle on machines without it.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from reportgen.architectures import ARCHITECTURES
from reportgen.executor_config import ExecutorConfig
from reportgen.mappings import flatten, merge, nest
from reportgen.trackers import TrackersConfig

# CIFAR-10 train-split channel statistics, as used by the seed notebook.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGE_SIZE = 32  # the images' side in pixels: CIFAR-10's; a folder dataset is checked against it when it loads


@dataclass
class DataConfig:
    """Where the images come from and how they are normalised."""

    dataset: Literal["cifar10", "folder", "sample"] = "cifar10"
    """Where the images come from. `cifar10`: torchvision's CIFAR-10, downloaded into `cache_dir` on first use.
    `folder`: an ImageFolder tree at `dir` with train/ and test/ of class folders (class names from the folders;
    .jpg, .jpeg, .png, .bmp or .webp, 32x32 RGB). `sample`: the class-balanced CIFAR-10 sample that ships inside
    the package (400 training and 100 test images per class; offline). `--data-dir DIR` sets `folder` and `dir`."""
    dir: str | None = None
    """The ImageFolder root when `dataset` is `folder` (required then; ignored otherwise)."""
    cache_dir: str = "~/.cache/reportgen"
    """Downloads (CIFAR-10 into `<cache_dir>/cifar10`) and the cache of decoded images, so that image files are
    decoded once."""
    mean: list[float] = field(default_factory=lambda: list(CIFAR10_MEAN))
    """Normalisation mean per RGB channel, on the 0-1 scale (default: CIFAR-10's training-split statistics, the
    seed notebook's)."""
    std: list[float] = field(default_factory=lambda: list(CIFAR10_STD))
    """Normalisation standard deviation per RGB channel, on the 0-1 scale (positive; CIFAR-10's by default)."""
    train_fraction: float = 1.0
    """Train on this share of each class's training images, in (0, 1]; the test split is always whole. The images
    are the first round(fraction x n) of a permutation of each class drawn from `fraction_seed`: the draw depends on
    neither model nor run seed, so every model sees the same images, and a smaller fraction's images are a subset of
    a larger one's (the data-efficiency curve adds data, it never swaps it)."""
    fraction_seed: int = 0
    """Seed of the permutation that `train_fraction` draws from (not negative)."""
    val_fraction: float = 0.0
    """Share of each class's training images held out as the validation split, in [0, 0.5): every choice made
    during training (curves, milestones, the overfitting rule) reads it, and the test split is touched once, at the
    end. 0: validate on the test split, as the original study did (its protocol, the `seed` preset, only)."""


@dataclass
class AugmentConfig:
    """The seed's training augmentation; evaluation uses normalisation only."""

    enabled: bool = True
    """False: no training augmentation at all (none of the settings below), to measure what augmentation brings."""
    hflip_p: float = 0.5
    """Probability of a horizontal flip of a training image, 0 to 1."""
    rotation_deg: float = 15.0
    """Rotation angle in degrees, drawn uniformly from [-deg, +deg] (0 to 180)."""
    translate_frac: float = 0.1
    """Shift up to this fraction of the width and height, in whole pixels, in [0, 1)."""
    policy: Literal["none", "trivialaugment", "randaugment"] = "none"
    """An automatic augmentation policy of the modern recipe, off in the seed protocol: `trivialaugment`
    (TrivialAugmentWide: one random op at a random strength) or `randaugment` (RandAugment, 2 ops at magnitude 9,
    torchvision's defaults). Each image draws its own operations and magnitudes; it runs batched on the training
    device (reportgen.augment) after the seed's flip, rotation and shift, and needs `train.pipeline: fast`."""
    mixup_alpha: float = 0.0
    """MixUp on the normalised batch: the Beta(alpha, alpha) mixing weight; 0: off. Training accuracy then counts
    each image's larger label. Needs `train.pipeline: fast`."""
    cutmix_alpha: float = 0.0
    """CutMix on the normalised batch: the Beta(alpha, alpha) box area; 0: off. With MixUp on too, each batch picks
    one of the two. Needs `train.pipeline: fast`."""


@dataclass
class CNNConfig:
    """The seed's residual CNN: three ResBlocks, each followed by max-pool and dropout."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    """Output channels of each stage: one ResBlock, max-pool and dropout per entry (at least one, positive)."""
    hidden_dim: int = 512
    """Width of the MLP head (2048 -> 512 -> classes with the seed's stages)."""
    dropout: float = 0.1
    """Dropout probability after each stage and in the head, in [0, 1)."""


@dataclass
class ViTConfig:
    """The seed's Vision Transformer: conv patch embedding, CLS token, pre-norm encoder layers."""

    patch_size: int = 4
    """Side of the square patches in pixels, embedded by a convolution; must divide the image size 32."""
    embed_dim: int = 128
    """Width of the token embeddings."""
    depth: int = 6
    """Number of pre-norm encoder layers."""
    num_heads: int = 4
    """Attention heads per layer; must divide `embed_dim`."""
    mlp_dim: int = 512
    """Hidden width of each encoder layer's MLP."""
    dropout: float = 0.1
    """Dropout probability in the encoder layers, in [0, 1)."""


@dataclass
class TrainConfig:
    """Optimisation and execution settings, shared by both models."""

    epochs: int = 80
    """Training epochs; the cosine learning-rate schedule runs over exactly these."""
    batch_size: int = 1024
    """The global batch: under DDP every process takes batch_size / (devices x num_nodes) images a step, which must
    divide evenly, so the optimiser sees the same batches per epoch and learning-rate schedule on 1 or 8 GPUs."""
    lr: float = 1e-3
    """AdamW learning rate, cosine-annealed to 0 over `epochs` (after any warm-up)."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    warmup_epochs: int = 0
    """Epochs over which the learning rate rises linearly to `lr` (from lr / (warmup_epochs + 1), one step per epoch)
    before the cosine decay over the remaining epochs; 0: the seed's cosine from the start. At most epochs - 1."""
    label_smoothing: float = 0.0
    """Label smoothing of the training loss: cross-entropy against (1 - s) x the label + s / classes, in [0, 1); 0 in
    the seed. The validation loss never smooths."""
    seeds: list[int] = field(default_factory=lambda: [42])
    """Each model trains once per seed; several seeds give mean ± std and a significance test over seeds."""
    pipeline: Literal["fast", "seed"] = "fast"
    """`fast`: uint8 tensors on the training device, batched augmentation there (reportgen's way). `seed`:
    torchvision PIL transforms through a DataLoader, one image at a time (the notebook's way)."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """`auto`: cuda when a GPU is visible, else mps on Apple silicon, else cpu."""
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = "auto"
    """`auto`: bf16 autocast where the hardware computes bf16 natively (CUDA compute capability 8.0+, CPUs with
    AVX512-BF16 or AMX), fp16 autocast with loss scaling (`16-mixed`) on older CUDA GPUs with tensor cores (7.x),
    else fp32 (also on MPS). Training, prediction, the figures' probes and the benchmark all use it."""
    channels_last: bool = True
    """NHWC memory layout for the CNN's convolutions."""
    compile: bool = False
    """torch.compile the training forward pass (evaluation stays eager; the last, smaller batch reuses the graph).
    Off by default: on a 2-core CPU it measured slower (docs/performance.md), and on a GPU it has not been measured
    yet."""
    deterministic: bool = False
    """Deterministic algorithms (Lightning's deterministic=True, CUBLAS_WORKSPACE_CONFIG, no cudnn.benchmark): needed
    for a resumed CUDA run to equal an uninterrupted one bit for bit; slower on GPUs. On the CPU that holds without
    it."""
    tf32: bool = True
    """fp32 matmuls and convolutions in TF32 on CUDA GPUs that have it (precision 32 only; part of the run key only
    where it is in effect)."""
    devices: int = 1
    """Processes (GPUs) per node, passed to Lightning's Trainer with `strategy` and `num_nodes`."""
    strategy: str = "auto"
    """`auto` or a Lightning DDP strategy (ddp, ddp_find_unused_parameters_true, ...); ddp_spawn, ddp_fork and
    ddp_notebook are refused (a spawned process's results are lost, a forked one cannot re-initialise CUDA)."""
    num_nodes: int = 1
    """Nodes of a multi-node run; several nodes need one run store folder (`--runs-dir`) that all of them see."""
    num_threads: int = 0
    """CPU threads for torch; 0 keeps torch's default. Not part of the run key: changing it retrains nothing."""


@dataclass
class ReportConfig:
    """What the report shows and the rules it judges by; changing these re-renders, never retrains."""

    title: str = "Comparative Analysis of a CNN and a Vision Transformer on CIFAR-10"
    """The report's title."""
    sample_index: int = 1234
    """The test image shown in the feature-map and attention figures (the seed notebook's)."""
    feature_channels: int = 4
    """Feature maps drawn per CNN stage."""
    pdf: bool = True
    """Also render report.pdf with WeasyPrint."""
    alpha: float = 0.05
    """Significance level of every test in the report (accuracy, generalisation)."""
    overfit_acc_gap_points: float = 5.0
    """A model overfits when its final train accuracy exceeds its validation accuracy by more than this, in points."""
    overfit_val_loss_rise_pct: float = 10.0
    """... or when its final validation loss lies more than this many percent above its minimum over the run."""
    val_loss_milestone: float = 1.0
    """The learning-curve milestone: the first epoch whose validation loss is below this."""
    val_acc_milestone: float = 0.70
    """The learning-curve milestone: the first epoch whose validation accuracy reaches this (a fraction)."""
    plateau_points: float = 0.5
    """Validation accuracy has levelled off from the first epoch after which it never beats its best so far
    by more than this many percentage points."""
    top_patch_fraction: float = 0.10
    """Attention concentration: the share of attention on this fraction of the patches (rounded up)."""
    calibration_bins: int = 15
    """Equal-width confidence bins of the calibration errors (ECE, MCE) and the reliability diagrams."""
    calibration_min_bin: int = 20
    """MCE counts only the bins that hold at least this many images (a bin of 2 says nothing)."""
    multiplicity: Literal["holm", "bh"] = "holm"
    """How each family of secondary tests is adjusted: Holm (family-wise error rate) or Benjamini-Hochberg (FDR)."""
    bootstrap_resamples: int = 1000
    """Resamples of the test images for the report's bootstrap confidence intervals."""
    bootstrap_seed: int = 0
    """Seed of those resamples, so that a re-render reproduces every interval."""


# The corruption suite (reportgen/analysis/corruptions.py holds what each one does), in the paper's order.
CorruptionName = Literal["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "gaussian_blur",
                         "brightness", "contrast", "saturate", "jpeg_compression", "pixelate"]
CORRUPTIONS: tuple[str, ...] = typing.get_args(CorruptionName)


@dataclass
class AnalysisConfig:
    """The analyses that measure what the seed study only claims; each can be switched off.

    Switching one off leaves its section out of the report; switching it on again later computes
    only it (from the stored weights, for those measured at build time), never retrains.
    """

    efficiency: bool = True
    """Computational cost: parameters, FLOPs, activation memory, throughput, latency, time to accuracy."""
    calibration: bool = True
    """Calibration of the stored test probabilities: ECE, MCE, NLL, Brier score, reliability diagrams."""
    robustness: bool = True
    """Accuracy on corrupted copies of the test images (a CIFAR-10-C style suite generated on the fly)."""
    explanations: bool = True
    """What the models look at: Grad-CAM / attention rollout on the same images, and their faithfulness."""
    seed: int = 0
    """Seed of the analyses' random draws: which test images the corruption suite uses, its noises, and the random
    deletion orders. The same for every model and run seed, so that all models are measured on the same images."""
    timing_repeats: int = 7
    """Timed forward passes per inference measurement in each timing block (throughput at the run's batch size,
    latency at batch 1), whose median is the block's value; at least 5, so that one stray pass cannot set it."""
    timing_blocks: int = 8
    """Interleaved timing blocks: each times every model once, in alternating order, with the machine's other load
    recorded per block; a speed verdict is a test over blocks (at least 6, the fewest for p < 0.05)."""
    timing_warmup: int = 2
    """Untimed forward passes before the timed ones: excluded from every timing."""
    corruption_images: int = 500
    """How many test images the corruption suite corrupts: a seeded random subset (analysis.seed), the same for
    every model; the whole test split when it is smaller."""
    corruptions: list[CorruptionName] = field(default_factory=lambda: list(CORRUPTIONS))
    """Which corruptions of the suite to apply (reportgen/analysis/corruptions.py), each at severities 1 to 5."""
    explanation_images: int = 3
    """Test images per class that the explanations use: the first ones of each class in test-set order."""
    deletion_grid: int = 8
    """The deletion curves occlude square patches on this grid (8: 8 x 8 patches of 4 x 4 pixels)."""
    deletion_steps: int = 16
    """Points of a deletion curve after the intact image: the patches are occluded in this many equal groups."""
    deletion_random_orders: int = 3
    """Random occlusion orders per image; their mean curve is the baseline an explanation's order must beat."""


@dataclass
class Config:
    """A whole build: data, augmentation, both architectures, training and report."""

    models: list[str] = field(default_factory=lambda: ["cnn", "vit"])
    """Which architectures to train, by their key in the model registry (reportgen/architectures.py): cnn, vit."""
    data: DataConfig = field(default_factory=DataConfig)
    """Where the images come from and how they are normalised."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """The training augmentation."""
    cnn: CNNConfig = field(default_factory=CNNConfig)
    """The CNN's architecture."""
    vit: ViTConfig = field(default_factory=ViTConfig)
    """The ViT's architecture."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation and execution, shared by both models."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """What the report shows and the rules it judges by."""
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    """The analyses beyond accuracy, each switchable."""
    trackers: TrackersConfig = field(default_factory=TrackersConfig)
    """Experiment trackers (CSV, TensorBoard, MLflow, W&B) that the build logs to; they change no run key."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    """Where the runs train (this machine, Ray, SLURM); changes no run key."""
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Named experiments on top of this config: each maps dotted keys of the training settings (data, augment, cnn,
    vit, train) to the values it changes, e.g. `{no-augment: {augment.enabled: false}}`. Every variant trains every
    model at every seed of train.seeds; its runs are keyed and stored like the base runs. The test images, the
    seeds and how the processes run (data.dataset, data.dir, data.cache_dir, train.seeds, train.device,
    train.devices, train.num_nodes, train.strategy, train.num_threads, train.pipeline) are the build's and may not
    change; `variants.<name>=null` drops one. `train.epochs` may be a multiple of the build's, `x4` (or `x1.5`):
    such a variant keeps its ratio when `--epochs` changes (docs/experiments.md)."""

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data, ready for YAML or JSON."""
        return dataclasses.asdict(self)

    def variant(self, name: str) -> Config:
        """The config that variant `name` trains with: this one, with its keys changed and no variants."""
        from reportgen.config_loading import config_from_dict  # it builds this module's dataclasses

        raw = self.to_dict()
        raw["variants"] = {}
        for key, value in self.variants[name].items():
            merge(raw, nest(key, self._relative_epochs(value) if key == "train.epochs" else value))
        return config_from_dict(raw)

    def _relative_epochs(self, value: Any) -> Any:
        """A variant's `train.epochs`: "x<factor>" is that multiple of this config's epochs (rounded, at least 1)."""
        if isinstance(value, str) and (match := re.fullmatch(r"x(\d+(?:\.\d+)?)", value.strip())):
            return max(1, round(self.train.epochs * float(match.group(1))))
        return value

    def variant_changes(self, name: str) -> dict[str, Any]:
        """The dotted keys whose values variant `name` changes, with its values: the difference of the two
        resolved configs, so a variant that sets a key to its base value does not count as changing it."""
        base, changed = flatten(self.to_dict()), flatten(self.variant(name).to_dict())
        return {key: value for key, value in changed.items() if key != "variants" and base.get(key) != value}


KNOWN_MODELS = tuple(ARCHITECTURES)  # the registry's model keys, in its order
