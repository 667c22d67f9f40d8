"""`verify --deep`: the predictions follow from the weights.

The checksums prove integrity, not authorship: someone who rewrites predictions, metrics, report and
manifest consistently passes `verify_bundle`. `verify_deep` catches that: it loads each run's weights
(torch.load(weights_only=True), never pickle), rebuilds the model from config.yaml, checks that the data
it is given is the bundle's (dataset fingerprint) and that the stored labels are the data's, re-predicts
the test set on the CPU in fp32 and compares predictions and probabilities with the stored ones within
the tolerances below, which depend on how the run was computed. torch is imported inside the functions
that need it: importing this module (or reportgen.verification) does not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from reportgen.bundle import Bundle, RunData, run_folder
from reportgen.config import DataConfig
from reportgen.errors import BundleError, DataError, WeightsError
from reportgen.verification.checks import DEEP, Check

if TYPE_CHECKING:
    from reportgen.data import ImageData


def deep_check(name: str, ok: bool, detail: str = "") -> Check:
    """A check of the deep kind."""
    return Check(name, ok, detail, kind=DEEP)


@dataclass(frozen=True)
class Tolerance:
    """How far the fresh fp32 CPU predictions of a run's weights may be from its stored ones."""

    label: str
    tie_margin: float  # a prediction may differ only where the fresh top-2 probabilities are this close
    max_differing: float  # and at most this share of the predictions
    probabilities: float  # largest absolute difference allowed between a stored and a fresh probability

    def describe(self) -> str:
        return (f"{self.label}: predictions may differ only where the top-2 probabilities are within "
                f"{self.tie_margin:g}, at most {self.max_differing:.1%} of them; probabilities within "
                f"{self.probabilities:g}")


# fp32 on a CPU computes what the build computed up to summation order (about 1e-6 relative): every
# prediction must be equal but an exact tie, and probabilities (stored with 6 decimals) agree to 1e-4.
FP32_CPU = Tolerance("fp32 on a CPU", tie_margin=1e-5, max_differing=0.001, probabilities=1e-4)
# Reduced precision: bf16 autocast builds, and fp32 builds on CUDA (cuDNN convolutions use TF32 there by
# default). Measured against fp32 (bf16 on an AMD EPYC CPU, reportgen 0.2.0), over 8 runs: 0.2 % to 0.4 %
# of the predictions differed on the quick preset (1,000 test images, 15 epochs), 0.4 % to 0.7 % on the
# 10,000 CIFAR-10 test images for weak models (one epoch, or 30 steps: more near-ties); all where the fp32
# top-2 probabilities were within 0.012, and no probability differed by more than 0.014. The tolerance
# leaves about 2.8x, 4x and 3.5x of room. A forger can hide within it only flips among near-ties, of at
# most 2 % of the images.
REDUCED_PRECISION = Tolerance("bf16 autocast, or fp32 with TF32 on CUDA", tie_margin=0.05, max_differing=0.02,
                              probabilities=0.05)
# Of an array's largest magnitude. The build probes on the training device under the training precision;
# verify recomputes in fp32 on the CPU, so reduced-precision builds get the looser bound.
VISUALS_TOLERANCE = {"fp32": 0.01, "reduced": 0.05}


def tolerance_for(run: RunData) -> Tolerance:
    """The tolerance of a run, by the device and precision its run.json records (unknown ones: reduced)."""
    exact = run.info.get("precision") == "32" and run.info.get("device") == "cpu"
    return FP32_CPU if exact else REDUCED_PRECISION


def deep_data_config(bundle: Bundle, data_dir: Path | None) -> DataConfig:
    """Where `verify --deep` reads the images: `data_dir`, else the bundle's own source when this machine has it.

    That is the sample shipped with reportgen or torchvision's CIFAR-10, in this machine's reportgen
    cache: never a folder, nor a cache folder, that a stranger's config.yaml names.
    """
    cache = DataConfig().cache_dir
    if data_dir is not None:
        return DataConfig(dataset="folder", dir=str(data_dir), cache_dir=cache)
    source = bundle.config().data
    if source.dataset == "folder":
        raise DataError(f"{bundle.root} was built on an image folder ({str(source.dir)[:120]!r}): pass --data-dir "
                        "with a copy of those images")
    return DataConfig(dataset=source.dataset, cache_dir=cache)


def verify_deep(root: Path | Bundle, data: "ImageData") -> list[Check]:
    """The deep checks of the bundle at `root` (a path or an opened bundle) on `data`, the images it was built on.

    Raises DataError when `data` does not have the bundle's dataset fingerprint: then nothing can be
    compared, whether the wrong data was given or dataset.json was edited.
    """
    from reportgen.data import training_data

    bundle = root if isinstance(root, Bundle) else Bundle(root)
    recorded = bundle.dataset()["fingerprint"]
    config = bundle.config()
    # dataset.json describes the base config's training images: a class-balanced share under data.train_fraction,
    # of what the validation split (data.val_fraction) leaves.
    data = training_data(data, config.data)
    if data.fingerprint != recorded:
        raise DataError(f"the data given ({data.source}) has dataset fingerprint {data.fingerprint[:16]}…, but "
                        f"{bundle.root}/dataset.json records {recorded[:16]}…: pass --data-dir with the images "
                        "the bundle was built on")
    runs = [run for model in bundle.models() for run in bundle.runs(model)]
    too_much = deep_work_problem(bundle, len(data.classes), len(data.test_y))
    if too_much:  # before any model is built: every run is re-predicted, so the whole is bounded, not each run
        return [deep_check("deep: the re-prediction is within the bound of a deep check", False, too_much)]
    labels_ok = all(np.array_equal(run.labels, data.test_y.numpy()) for run in runs)
    checks = [deep_check("deep: the data given is the bundle's", True, f"dataset fingerprint {recorded[:16]}…"),
              deep_check("deep: the stored test labels are the data's", labels_ok,
                    "" if labels_ok else "predictions.csv holds labels the test images do not have")]
    for run in runs:
        checks += _deep_run_checks(bundle, run, data)
    if bundle.variants():
        checks.append(deep_check("deep: the variants' runs", True, "checked from their predictions only: a bundle "
                                 "keeps no weights of variant runs (the run store does)"))
    return checks


# The most forward-pass FLOPs one deep verification spends re-predicting a bundle's runs on its test images: ten
# seeds of the original study's two models on CIFAR-10's 10,000 test images (0.25 GFLOPs for both), about 10
# minutes of one 2-core machine (docs/bundle.md measures it); a bundle asking for more is refused before any
# model is built.
MAX_DEEP_FLOPS = 25 * 10 ** 12


def deep_work_problem(bundle: Bundle, classes: int, images: int) -> str | None:
    """Why re-predicting the base runs of `bundle` on `images` test images is over MAX_DEEP_FLOPS, or None; a model
    over the bounds of one (reportgen.models.size_problem) is never run, so it does not count."""
    from reportgen.models import model_cost, size_problem

    config = bundle.config()
    flops = sum(model_cost(model, config, classes)[1] * len(bundle.seeds(model)) for model in bundle.models()
                if size_problem(model, config, classes) is None)
    if flops * images <= MAX_DEEP_FLOPS:
        return None
    return (f"re-predicting its runs on {images:,} test images takes {flops * images / 1e12:.1f} TFLOPs, over the "
            f"{MAX_DEEP_FLOPS / 1e12:g} reportgen spends on one bundle; not run")


def _deep_run_checks(bundle: Bundle, run: RunData, data: "ImageData") -> list[Check]:
    from reportgen.evaluation import predict
    from reportgen.models import create_model, size_problem
    from reportgen.weights import fit_state_dict, state_dict_from_bytes

    name = f"deep: {run.label}"
    config = bundle.config()
    too_large = size_problem(run.model, config, len(data.classes))  # before the model is built
    if too_large:
        return [deep_check(f"{name}: the model config.yaml describes is within the bounds of a deep check", False,
                           f"{too_large}; not built")]
    model = create_model(run.model, config, len(data.classes))
    source = f"{run.path}/weights.pt"
    try:
        fit_state_dict(model, state_dict_from_bytes(hashed_weights(bundle, run), source), source,
                       f"the {run.display_name} of config.yaml")
    except (WeightsError, BundleError) as exc:
        return [deep_check(f"{name}: weights.pt loads into the model config.yaml describes", False, str(exc))]
    fresh = predict(model, data.test_x, config.data.mean, config.data.std, 500, "32")
    return [
        deep_check(f"{name}: weights.pt loads into the model config.yaml describes", True,
              "torch.load(weights_only=True), strict"),
        _architecture_check(name, model, bundle.architectures()[run.model]),
        *prediction_checks(name, run, fresh, tolerance_for(run)),
        _visuals_check(name, model, bundle.visuals(run.model, run.seed), config, data, tolerance_for(run)),
    ]


def hashed_weights(bundle: Bundle, run: RunData) -> bytes:
    """The bytes of a run's weights.pt, read through the bundle, so that they are the bytes its checksum was taken
    of (reportgen.bundle.Bundle.read_bytes), and refused (BundleError) unless manifest.json records that checksum:
    the weights re-predicted are the weights the manifest vouches for."""
    name = f"{run_folder(run.model, run.seed, run.variant)}/weights.pt"
    raw = bundle.read_bytes(name)
    listed = bundle.manifest()["files"].get(name)
    if listed != bundle.sha256(name):
        recorded = "does not list it" if listed is None else f"records {listed[:16]}…"
        raise BundleError(f"{run.path}/weights.pt has sha256 {bundle.sha256(name)[:16]}…, but manifest.json "
                          f"{recorded}: it is not the file the bundle was built with")
    return raw


def prediction_checks(name: str, run: RunData, fresh: np.ndarray, tolerance: Tolerance) -> list[Check]:
    """Stored predictions and probabilities against those the weights give now, within `tolerance`."""
    fresh_preds = fresh.argmax(axis=1)
    top2 = np.sort(fresh, axis=1)[:, -2:]
    differ = run.preds != fresh_preds
    beyond = np.flatnonzero(differ & (top2[:, 1] - top2[:, 0] > tolerance.tie_margin))
    share = float(differ.mean())
    preds_ok = not len(beyond) and share <= tolerance.max_differing
    detail = f"{int(differ.sum())} of {len(differ)} differ ({tolerance.describe()})"
    if len(beyond):
        i = int(beyond[0])
        detail = (f"image {i} is predicted class {int(run.preds[i])} in predictions.csv but class "
                  f"{int(fresh_preds[i])} by the weights, with a clear margin ({len(beyond)} such images); " + detail)
    worst = float(np.abs(fresh - run.probs).max())
    return [
        deep_check(f"{name}: stored predictions follow from the weights", preds_ok, detail),
        deep_check(f"{name}: stored probabilities follow from the weights", worst <= tolerance.probabilities,
              f"largest difference {worst:.2g} (tolerance {tolerance.probabilities:g}, {tolerance.label})"),
    ]


def _architecture_check(name: str, model, stored: dict) -> Check:
    from reportgen.models import count_parameters, describe_architecture

    same = describe_architecture(model) == stored["layers"] and count_parameters(model) == stored["parameters"]
    return deep_check(f"{name}: architectures.json describes the model of config.yaml", same,
                 "" if same else "its layers or parameter count differ from the rebuilt model's")


def _visuals_check(name: str, model, stored: dict[str, np.ndarray], config, data: "ImageData",
                   tolerance: Tolerance) -> Check:
    from reportgen.evaluation import probe_visuals

    index = config.report.sample_index
    if index >= len(data.test_x):
        return deep_check(f"{name}: visuals.npz follows from the weights", False,
                     f"config.yaml's report.sample_index {index} is not one of the {len(data.test_x)} test images")
    fresh = probe_visuals(model, data.test_x[index], config.data.mean, config.data.std, "32")
    bound = VISUALS_TOLERANCE["reduced" if tolerance is REDUCED_PRECISION else "fp32"]
    same = set(fresh) == set(stored) and all(
        fresh[k].shape == stored[k].shape
        and np.abs(fresh[k] - stored[k]).max() <= bound * max(float(np.abs(fresh[k]).max()), 1e-12)
        for k in fresh)
    return deep_check(f"{name}: visuals.npz follows from the weights", same,
                 f"within {bound:.0%} of each map's largest value" if same
                 else "the feature maps or attention stored differ from those the weights give")
