"""The worst submission the bounds admit: every bound of reading a bundle at its admitted maximum at once, to
measure what one submission can cost the grader (docs/bundle.md, "What one submission costs the grader").

    python -m tests.worst_case DIR            # the bundle, for render, verify and grade
    python -m tests.worst_case DIR --weights  # cnn.pt and vit.pt at the architecture bounds, for evaluate

The bundle (synthetic, numpy only) holds the most classes, test images, epochs, seeds and variants a bundle may,
each report.* setting that sizes a loop at its bound, every analysis file, and weights files as large as the
bundle's size bound leaves room for (no state dicts). Deep verification's worst case is a real model at the
architecture bounds: `reportgen evaluate` of the weights --weights writes, with WORST_MODELS as --set. The
measurement is a command, `/usr/bin/time -v reportgen render DIR` and the like, never a timed test;
tests/test_hostile_budget.py pins that the bundle stays admitted, so that the bounds and the measurement cannot
drift apart.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from reportgen.bundle import write_manifest
from reportgen.bundle_checks import MAX_CLASSES, MAX_EPOCHS, MAX_SEEDS, MAX_TEST_IMAGES, MAX_VARIANTS
from reportgen.bundle_files import MAX_BUNDLE_SIZE, MAX_WEIGHTS_BYTES
from reportgen.config import Config
from reportgen.config_loading import config_from_dict
from reportgen.config_rules import SIZE_LIMITS
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import VariantSpec, make_bundle

# The largest models deep verification re-runs, as config keys: each just under reportgen.models' bounds
# (MAX_FLOPS_PER_IMAGE, then MAX_PARAMETERS): the CNN 43.7M parameters, 0.995 GFLOPs; the ViT about 28M, 0.97 GFLOPs.
WORST_MODELS = {"cnn.channels": [94, 188, 376, 752], "cnn.hidden_dim": 11000, "vit.patch_size": 8, "vit.depth": 9,
                "vit.embed_dim": 512, "vit.mlp_dim": 2048, "vit.num_heads": 8}
# The report.* settings a bundle's config sets that size the work of reading it, each at its bound.
REPORT_BOUNDS = {key: SIZE_LIMITS[key] for key in SIZE_LIMITS if key.startswith("report.")}


def worst_variants(count: int = MAX_VARIANTS) -> dict[str, VariantSpec]:
    """`count` variants, each a run of every model at every seed (the training fraction differs in each)."""
    return {f"fraction-{i}": VariantSpec({"data.train_fraction": round(0.9 - 0.04 * i, 2)},
                                         {"cnn": 0.8 - 0.01 * i, "vit": 0.7 - 0.01 * i})
            for i in range(count)}


def worst_case_bundle(root: Path, *, test_size: int = MAX_TEST_IMAGES, variants: int = MAX_VARIANTS,
                      fill: bool = True) -> Path:
    """Write the worst admissible bundle into `root`; `test_size` and `variants` below their bounds make a smaller
    one of the same shape (a test's), and `fill` pads the weights files until the bundle is as large as admitted."""
    make_bundle(root, models=("cnn", "vit"), seeds=tuple(range(42, 42 + MAX_SEEDS)), num_classes=MAX_CLASSES,
                epochs=MAX_EPOCHS, test_size=test_size, train_size=50_000, variants=worst_variants(variants),
                config_overrides=REPORT_BOUNDS, analyses=AnalysisOptions(analyses=ANALYSES))
    if fill:
        fill_weights(root)
    return root


def fill_weights(root: Path) -> None:
    """Pad every weights.pt (sparse: no disk is spent) so that the bundle holds just under MAX_BUNDLE_SIZE bytes,
    each file within MAX_WEIGHTS_BYTES: every byte is hashed by verify, render and grade. Rewrites the manifest."""
    files = [p for p in root.rglob("*") if p.is_file()]
    weights = [p for p in files if p.name == "weights.pt"]
    room = MAX_BUNDLE_SIZE - sum(p.stat().st_size for p in files) - (256 << 20)  # for the figures and report
    for path in weights:
        os.truncate(path, min(MAX_WEIGHTS_BYTES, room // len(weights)))
    write_manifest(root)


def worst_config(**overrides: Any) -> Config:
    """The seed protocol with WORST_MODELS (and `overrides`, dotted keys), validated as a user's config."""
    raw = Config().to_dict()
    for dotted, value in {**WORST_MODELS, **overrides}.items():
        section, key = dotted.split(".")
        raw[section][key] = value
    return config_from_dict(raw)


def write_worst_weights(folder: Path) -> list[Path]:
    """cnn.pt and vit.pt: state dicts of WORST_MODELS for CIFAR-10's 10 classes, freshly initialised."""
    import torch

    from reportgen.models import create_model

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    paths = []
    for model in ("cnn", "vit"):
        torch.save(create_model(model, worst_config(), 10).state_dict(), folder / f"{model}.pt")
        paths.append(folder / f"{model}.pt")
    return paths


if __name__ == "__main__":
    if "--weights" in sys.argv[2:]:
        written = write_worst_weights(Path(sys.argv[1]))
        keys = " ".join(f"--set {key}={str(value).replace(' ', '')}" for key, value in WORST_MODELS.items())
        print(f"wrote {', '.join(map(str, written))}; evaluate them with {keys}")
    else:
        worst_case_bundle(Path(sys.argv[1]))
        print(f"wrote the worst admissible bundle into {sys.argv[1]}")
