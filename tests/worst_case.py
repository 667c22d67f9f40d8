"""The worst submission the bounds admit: every bound of reading a bundle at its admitted maximum at once, to
measure what one submission can cost the grader (docs/bundle.md, "What one submission costs the grader").

    python -m tests.worst_case DIR [--runs-only]

writes it into DIR (a synthetic bundle, numpy only): the most classes, test images, epochs, seeds and variants a
bundle may hold, each report.* setting that sizes a loop at its bound, and every analysis file. Its weights are no
state dict (deep verification's worst case is a real model at the architecture bounds: docs/bundle.md). The
measurement is a command, `/usr/bin/time -v reportgen render DIR` and the like, never a timed test;
tests/test_hostile_budget.py pins that the bundle stays admitted, so that the bounds and the measurement cannot
drift apart.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from reportgen.bundle import write_manifest
from reportgen.bundle_checks import MAX_CLASSES, MAX_EPOCHS, MAX_SEEDS, MAX_TEST_IMAGES, MAX_VARIANTS
from reportgen.bundle_files import MAX_BUNDLE_SIZE, MAX_WEIGHTS_BYTES
from reportgen.config_rules import SIZE_LIMITS
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.bundle_factory import VariantSpec, make_bundle

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
    room = MAX_BUNDLE_SIZE - sum(p.stat().st_size for p in files) - (1 << 20)  # a MiB for the rendered files
    for path in weights:
        os.truncate(path, min(MAX_WEIGHTS_BYTES, room // len(weights)))
    write_manifest(root)


if __name__ == "__main__":
    worst_case_bundle(Path(sys.argv[1]))
    print(f"wrote the worst admissible bundle into {sys.argv[1]}")
