"""The build-time analyses, each registered once: its module, its file in the bundle and that file's fields.

The build computes every analysis that its ``analysis.<name>`` switch turns on (reportgen.analysis.store
imports the registered `module`: its ``settings(config, device)`` and ``compute(model, config, data,
run)``) and adds its `filename` to each run's bundle folder; the report's sections read the file with
its `spec` (reportgen.report.analysis_files.check_fields, through ``contents.analysis``), and
``reportgen verify`` finds it by the same name. `TIMINGS` is the one build-level analysis: the base models
of every seed timed together, interleaved (reportgen.analysis.timing), into the bundle's timings.json. This
module imports neither torch nor the analysis modules, so the render side can read it.

A spec maps each field to (kind, shape): kinds as reportgen.report.analysis_files reads them; shapes
name their dimensions ("C", "S", "N"), and a name must have the same size everywhere in one file;
integers are exact sizes. docs/bundle.md documents every field.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import ModuleType
from typing import Mapping

Spec = Mapping[str, tuple[str, tuple]]


@dataclass(frozen=True)
class Analysis:
    """One build-time analysis of a run."""

    name: str  # the analysis.<name> switch (reportgen.config.AnalysisConfig), and the stem of its stored results
    module: str  # the module that computes it (it imports torch): settings(config, device), compute(...)
    filename: str  # the file it adds to each run's bundle folder (docs/bundle.md)
    spec: Spec  # the file's fields, as the report reads them

    @property
    def suffix(self) -> str:
        """".json" (JSON data) or ".npz" (plain arrays): how the result is written and read."""
        return PurePosixPath(self.filename).suffix

    def load(self) -> ModuleType:
        """The analysis module (imports torch: the build side only)."""
        return importlib.import_module(self.module)


EFFICIENCY = Analysis("efficiency", "reportgen.analysis.efficiency", "efficiency.json", {
    "device": ("text", ()), "device_name": ("text", ()), "precision": ("text", ()),
    "batch_size": ("positive", ()), "flops_per_image": ("mapping", ("total",)),
    "activation_bytes_per_image": ("number", ()), "peak_step_bytes": ("optional", ()), "peak_method": ("text", ()),
})
ROBUSTNESS = Analysis("robustness", "reportgen.analysis.robustness", "robustness.npz", {
    "indices": ("int", ("N",)), "labels": ("int", ("N",)), "corruptions": ("text", ("C",)),
    "families": ("text", ("C",)), "severities": ("int", ("S",)), "clean_preds": ("int", ("N",)),
    "preds": ("int", ("C", "S", "N")),
})
EXPLANATIONS = Analysis("explanations", "reportgen.analysis.explanations", "explanations.npz", {
    "method": ("text", ()), "indices": ("int", ("M",)), "labels": ("int", ("M",)),
    "images": ("uint8", ("M", 3, "H", "W")), "fractions": ("float", ("P",)), "random_deletion": ("float", ("M", "P")),
    "random_orders": ("int", ()),
})
# Parts of explanations.npz that may be absent: the model's own method (absent when captum, which Grad-CAM needs, is
# not installed: the file's `skipped` says so) and the shared occlusion method (absent without captum, and in files
# of reportgen 0.5 and earlier). Each part is read only when all its fields are there, with the file's M and P.
EXPLANATION_PARTS = {
    "own": {"indices": ("int", ("M",)), "fractions": ("float", ("P",)), "saliency": ("float", ("M", "h", "w")),
            "grid_saliency": ("float", ("M", "G", "G")), "deletion": ("float", ("M", "P"))},
    "occlusion": {"indices": ("int", ("M",)), "fractions": ("float", ("P",)),
                  "occlusion_saliency": ("float", ("M", "G", "G")), "occlusion_deletion": ("float", ("M", "P"))},
}

# In the order the build computes them.
ANALYSES: dict[str, Analysis] = {a.name: a for a in (EFFICIENCY, ROBUSTNESS, EXPLANATIONS)}


@dataclass(frozen=True)
class BuildAnalysis(Analysis):
    """A build-level analysis: computed once per build over every base run together, not per run, kept in the run
    store under a key of all those runs (reportgen.analysis.store.time_base_runs) and written at the bundle's root.
    Its `name` is the stem of its stored results; `switch` the analysis.<switch> that turns it on."""

    switch: str = ""


# The base models timed interleaved (reportgen.analysis.timing), with the efficiency analysis: B blocks, M models.
TIMINGS = BuildAnalysis("timings", "reportgen.analysis.timing", "timings.json", {
    "device": ("text", ()), "device_name": ("text", ()), "threads": ("int", ()), "precision": ("text", ()),
    "batch_size": ("positive", ()), "warmup": ("int", ()), "repeats": ("positive", ()), "models": ("text", ("M",)),
    "block_seeds": ("int", ("B",)), "order": ("int", ("B", "M")), "inference_s": ("positive", ("B", "M")),
    "latency_s": ("positive", ("B", "M")), "step_s": ("positive", ("B", "M")), "other_load_cores": ("optional", ("B",)),
}, switch="efficiency")
