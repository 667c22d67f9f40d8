"""The rules a config must satisfy, checked before any work starts; each refusal is one line naming the key.

`validate` is what `config_from_dict` runs on every config it builds: the values (ranges, lengths, known
models, an architecture the images fit), the analysis settings, the DDP strategy, and the variants
(allowed keys only, each changing something, no two alike).
"""

from __future__ import annotations

from reportgen.architectures import ARCHITECTURES
from reportgen.config import IMAGE_SIZE, KNOWN_MODELS, AnalysisConfig, Config
from reportgen.errors import ConfigError

# The sections a variant may change: the data, the augmentation, every registered model's and the training.
VARIANT_SECTIONS = ("data", "augment", *(entry.config_section for entry in ARCHITECTURES.values()), "train")
# Keys a variant may not change: the test images (every run must be tested on the same ones), the build's
# seeds (every variant runs all of them) and how the processes run (the build's, not an experiment's).
FIXED_FOR_VARIANTS = ("data.dataset", "data.dir", "data.cache_dir", "train.seeds", "train.device", "train.devices",
                      "train.num_nodes", "train.strategy", "train.num_threads", "train.pipeline")
# Upper bounds of the settings that size an array or a loop of the work of rendering or verifying a bundle: its
# config comes from whoever built it (docs/bundle.md). Each is far above any useful value; the calibration test
# bootstraps 6 sums per bin, so its bins and the resamples together bound the worst case measured there.
SIZE_LIMITS = {"report.calibration_bins": 50, "report.bootstrap_resamples": 2_000,
               "report.feature_channels": 64, "analysis.timing_repeats": 1_000, "analysis.timing_blocks": 100,
               "analysis.explanation_images": 1_000, "analysis.deletion_random_orders": 100}



def _check_variants(c: Config) -> None:
    """Each variant changes allowed keys to valid values, changes something, and differs from every other."""
    seen: dict[str, str] = {}
    for name, keys in c.variants.items():
        for key in keys:
            section = key.split(".", 1)[0]
            allowed = ", ".join(f"{s}.*" for s in VARIANT_SECTIONS)
            _require(section in VARIANT_SECTIONS and "." in key, f"variants.{name}.{key}",
                     f"is not a training setting a variant can change ({allowed})")
            _require(key not in FIXED_FOR_VARIANTS, f"variants.{name}.{key}",
                     "is the build's, the same for every variant (the test images, seeds and processes)")
        try:
            changes = c.variant_changes(name)
        except ConfigError as exc:
            raise ConfigError(f"variant '{name}': {exc}") from None
        _require(bool(changes), f"variants.{name}", "changes nothing from the base config")
        identity = repr(sorted(changes.items()))
        _require(identity not in seen, f"variants.{name}", f"makes the same changes as variant '{seen.get(identity)}'")
        seen[identity] = name


def _require(ok: bool, key: str, what: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {what}")


def _within(value: int, least: int, key: str) -> None:
    """`value` from `least` to the key's upper bound in SIZE_LIMITS (a bundle's config sizes the work of reading it)."""
    most = SIZE_LIMITS[key]
    _require(least <= value <= most, key, f"must be from {least:,} to {most:,}")


def validate(c: Config) -> None:
    """Reject impossible values, naming the key, before any work starts."""
    _require(len(c.models) > 0, "models", f"must name at least one model ({', '.join(KNOWN_MODELS)})")
    for name in c.models:
        _require(name in KNOWN_MODELS, "models", f"names unknown model '{name}': known models are "
                 f"{', '.join(KNOWN_MODELS)}")
    _require(len(set(c.models)) == len(c.models), "models", "lists a model twice")
    _require(c.data.dataset != "folder" or bool(c.data.dir), "data.dir", "must be set when data.dataset is folder")
    for key, values in (("data.mean", c.data.mean), ("data.std", c.data.std)):
        _require(len(values) == 3, key, "must hold 3 values, one per RGB channel")
    _require(all(s > 0 for s in c.data.std), "data.std", "must be positive")
    _require(0.0 < c.data.train_fraction <= 1.0, "data.train_fraction", "must be in (0, 1]")
    _require(c.data.fraction_seed >= 0, "data.fraction_seed", "must not be negative")
    _require(0.0 <= c.data.val_fraction < 0.5, "data.val_fraction", "must be in [0, 0.5) (0: the test split)")
    _require(0.0 <= c.augment.hflip_p <= 1.0, "augment.hflip_p", "must be between 0 and 1")
    _require(0.0 <= c.augment.rotation_deg <= 180.0, "augment.rotation_deg", "must be between 0 and 180")
    _require(0.0 <= c.augment.translate_frac < 1.0, "augment.translate_frac", "must be in [0, 1)")
    for name in ("mixup_alpha", "cutmix_alpha"):
        _require(getattr(c.augment, name) >= 0, f"augment.{name}", "must not be negative (0 switches it off)")
    modern = c.augment.policy != "none" or c.augment.mixup_alpha > 0 or c.augment.cutmix_alpha > 0
    _require(not modern or c.train.pipeline == "fast", "train.pipeline",
             "must be fast for augment.policy, mixup_alpha and cutmix_alpha (they run batched on the device)")
    _require(not modern or c.augment.enabled, "augment.enabled",
             "is false, which switches augment.policy, mixup_alpha and cutmix_alpha off too: set them to none / 0, "
             "or augmentation on")
    _require(len(c.cnn.channels) > 0, "cnn.channels", "must list at least one stage width")
    _require(all(ch > 0 for ch in c.cnn.channels), "cnn.channels", "must be positive")
    _require(2 ** len(c.cnn.channels) <= IMAGE_SIZE, "cnn.channels",
             f"lists {len(c.cnn.channels)} stages, but each halves the {IMAGE_SIZE}-pixel image: at most "
             f"{IMAGE_SIZE.bit_length() - 1}")
    _require(c.cnn.hidden_dim > 0, "cnn.hidden_dim", "must be positive")
    _require(c.vit.patch_size > 0 and IMAGE_SIZE % c.vit.patch_size == 0, "vit.patch_size",
             f"must divide the image size {IMAGE_SIZE}")
    _require(c.vit.embed_dim > 0, "vit.embed_dim", "must be positive")
    _require(c.vit.num_heads > 0 and c.vit.embed_dim % c.vit.num_heads == 0,
             "vit.num_heads", "must be positive and divide vit.embed_dim")
    _require(c.vit.depth > 0, "vit.depth", "must be positive")
    _require(c.vit.mlp_dim > 0, "vit.mlp_dim", "must be positive")
    for key, p in (("cnn.dropout", c.cnn.dropout), ("vit.dropout", c.vit.dropout)):
        _require(0.0 <= p < 1.0, key, "must be in [0, 1)")
    _require(c.train.epochs > 0, "train.epochs", f"must be a positive number of epochs, got {c.train.epochs}")
    _require(c.train.batch_size > 0, "train.batch_size", "must be positive")
    _require(c.train.lr > 0, "train.lr", "must be positive")
    _require(c.train.weight_decay >= 0, "train.weight_decay", "must not be negative")
    _require(0 <= c.train.warmup_epochs < c.train.epochs, "train.warmup_epochs",
             f"must be from 0 to train.epochs - 1 ({c.train.epochs - 1}): the cosine decay needs an epoch")
    _require(0.0 <= c.train.label_smoothing < 1.0, "train.label_smoothing", "must be in [0, 1)")
    _require(len(c.train.seeds) > 0, "train.seeds", "must list at least one seed")
    _require(len(set(c.train.seeds)) == len(c.train.seeds), "train.seeds", "lists a seed twice")
    _require(all(s >= 0 for s in c.train.seeds), "train.seeds", "must not be negative")
    _require(c.train.devices > 0, "train.devices", "must be positive")
    _require(c.train.num_nodes > 0, "train.num_nodes", "must be positive")
    processes = c.train.devices * c.train.num_nodes
    _require(c.train.batch_size % processes == 0, "train.batch_size",
             f"({c.train.batch_size}) must divide evenly over the {processes} processes of train.devices x "
             f"train.num_nodes: it is the global batch, split across them")
    _check_strategy(c.train.strategy)
    _require(c.train.num_threads >= 0, "train.num_threads", "must not be negative")
    _require(c.report.sample_index >= 0, "report.sample_index", "must not be negative")
    _within(c.report.feature_channels, 1, "report.feature_channels")
    _require(0.0 < c.report.alpha < 1.0, "report.alpha", "must be between 0 and 1")
    _require(c.report.overfit_acc_gap_points >= 0, "report.overfit_acc_gap_points", "must not be negative")
    _require(c.report.overfit_val_loss_rise_pct >= 0, "report.overfit_val_loss_rise_pct", "must not be negative")
    _require(c.report.val_loss_milestone > 0, "report.val_loss_milestone", "must be positive")
    _require(0.0 < c.report.val_acc_milestone <= 1.0, "report.val_acc_milestone", "must be in (0, 1]")
    _require(c.report.plateau_points >= 0, "report.plateau_points", "must not be negative")
    _require(0.0 < c.report.top_patch_fraction <= 1.0, "report.top_patch_fraction", "must be in (0, 1]")
    _within(c.report.calibration_bins, 2, "report.calibration_bins")
    _require(c.report.calibration_min_bin >= 1, "report.calibration_min_bin", "must be at least 1")
    _within(c.report.bootstrap_resamples, 100, "report.bootstrap_resamples")
    _require(c.report.bootstrap_seed >= 0, "report.bootstrap_seed", "must not be negative")
    _check_analysis(c.analysis)
    _require(len(set(c.trackers.loggers)) == len(c.trackers.loggers), "trackers.loggers", "lists a tracker twice")
    _check_executor(c)
    _check_variants(c)


def _check_executor(c: Config) -> None:
    e, slurm = c.executor, c.executor.slurm
    for key, value, least in (("cpus_per_run", e.cpus_per_run, 1), ("gpus_per_run", e.gpus_per_run, 0),
                              ("max_retries", e.max_retries, 0), ("slurm.time_min", slurm.time_min, 1),
                              ("slurm.gpus_per_task", slurm.gpus_per_task, 0),
                              ("slurm.cpus_per_task", slurm.cpus_per_task, 1), ("slurm.mem_gb", slurm.mem_gb, 1)):
        _require(value >= least, f"executor.{key}", f"must be at least {least}")


def _check_analysis(a: AnalysisConfig) -> None:
    _require(a.seed >= 0, "analysis.seed", "must not be negative")
    # Five timed passes a block: a median that one stray pass cannot set; six blocks: the fewest for p < 0.05.
    _within(a.timing_repeats, 5, "analysis.timing_repeats")
    _within(a.timing_blocks, 6, "analysis.timing_blocks")
    _require(a.timing_warmup >= 0, "analysis.timing_warmup", "must not be negative")
    _require(a.corruption_images >= 10, "analysis.corruption_images", "must be at least 10")
    _require(len(a.corruptions) > 0, "analysis.corruptions", "must name at least one corruption")
    _require(len(set(a.corruptions)) == len(a.corruptions), "analysis.corruptions", "lists a corruption twice")
    _within(a.explanation_images, 1, "analysis.explanation_images")
    _require(a.deletion_grid > 1 and IMAGE_SIZE % a.deletion_grid == 0, "analysis.deletion_grid",
             f"must divide the image size {IMAGE_SIZE} (2, 4, 8, 16 or 32)")
    _require(0 < a.deletion_steps <= a.deletion_grid ** 2, "analysis.deletion_steps",
             "must be between 1 and the number of patches (analysis.deletion_grid squared)")
    _within(a.deletion_random_orders, 1, "analysis.deletion_random_orders")


# Strategies whose processes cannot work with a reportgen build: the history and results live in the
# process that trains, which ddp_spawn discards, and a forked process cannot re-initialise CUDA.
_REFUSED_STRATEGY_WORDS = {"spawn": "loses the training history (the spawned processes' results are discarded)",
                           "fork": "cannot re-initialise CUDA in the forked processes",
                           "notebook": "forks its processes, which cannot re-initialise CUDA"}


def _check_strategy(strategy: str) -> None:
    for word, why in _REFUSED_STRATEGY_WORDS.items():
        _require(word not in strategy, "train.strategy", f"'{strategy}' {why}; use ddp (or auto)")
