"""The sentences of a comparison: per model, each bundle against its reference, and whether the data agree.

A gain is claimed only when the report's significance rule says the difference is significant;
timings from different devices are flagged as comparing the hardware as well.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from reportgen.compare.bundles import (
    ACCURACY,
    EPOCH_TIME,
    STEADY_EPOCH_TIME,
    Compared,
    bundle_significance,
    holding,
    stat_delta,
)
from reportgen.report.kernel import Metric, Sentence, bundle_key, sentence
from reportgen.report.stats import significance_evidence


def accuracy_summary(reference: Compared, other: Compared, model: str) -> Sentence:
    """How `model`'s test accuracy in `other` compares with the reference's, claiming a gain only if significant."""
    ref_acc, acc = reference.stat(model, ACCURACY), other.stat(model, ACCURACY)
    delta = stat_delta(reference, other, model, ACCURACY)
    subject = f"Against {reference.label}, {other.label}'s {other.facts[model].name}"
    values = [" (", *acc.parts("%"), " against ", *ref_acc.parts("%"), ")"]
    if delta.value == 0:
        return sentence(f"{subject} has the same test accuracy", values, ".")
    margin = Metric(bundle_key(other.index, f"margin.{model}.accuracy"), abs(delta.value), "points")
    sig = bundle_significance(reference, other, model)
    higher = delta.value > 0
    if sig is None:
        return sentence(f"{subject} scores ", margin, f" points {'higher' if higher else 'lower'}", values,
                        "; the bundles used different test data, so no significance test applies.")
    evidence = significance_evidence(sig, side="bundle")
    if sig.significant:
        return sentence(f"{subject} is ", margin, f" points {'more' if higher else 'less'} accurate", values,
                        "; the difference is significant (", evidence, ").")
    return sentence(f"{subject} scores ", margin, f" points {'higher' if higher else 'lower'}", values,
                    ", a difference that is not significant (", evidence, "), so neither is shown to be more "
                    "accurate.")


def speed_summary(reference: Compared, other: Compared, model: str) -> list[Sentence]:
    """How much faster or slower `model` trains per epoch in `other` than in the reference (both trained here):
    by the steady-state time per epoch when both bundles recorded it, else by the mean with warm-up."""
    steady = reference.stat(model, STEADY_EPOCH_TIME), other.stat(model, STEADY_EPOCH_TIME)
    ref_time, time = steady if None not in steady else (reference.stat(model, EPOCH_TIME),
                                                         other.stat(model, EPOCH_TIME))
    if time is None or ref_time is None:
        return []
    values = [" (", *time.parts(" s"), " against ", *ref_time.parts(" s"), ")"]
    devices = [device_name(c.environment) for c in (reference, other)]
    caveat = "" if devices[0] == devices[1] else (f"; the timings come from different devices ({devices[0]}; "
                                                  f"{devices[1]}), so they compare the hardware as well")
    if time.mean.text == ref_time.mean.text:
        return [sentence("It trains equally fast per epoch", values, caveat, ".")]
    faster = time.mean.value < ref_time.mean.value
    slow, fast = (ref_time, time) if faster else (time, ref_time)
    factor = Metric(bundle_key(other.index, f"{model}.epoch_time_factor"), slow.mean.value / fast.mean.value, "factor")
    return [sentence("It trains ", factor, f"× {'faster' if faster else 'slower'} per epoch", values, caveat, ".")]


def _run_checksums(c: Compared, model: str) -> list[tuple[str | None, ...]]:
    """Per seed, the manifest's sha256 of the run's weights and predictions."""
    files = c.bundle.manifest()["files"]
    return [tuple(files.get((run.path.relative_to(c.bundle.root) / name).as_posix())
                  for name in ("weights.pt", "predictions.csv")) for run in c.runs[model]]


def shared_runs_summary(reference: Compared, other: Compared, model: str) -> list[Sentence]:
    """A note when both bundles hold identical runs of `model`: the same seeds, weights and predictions."""
    same_seeds = [r.seed for r in reference.runs[model]] == [r.seed for r in other.runs[model]]
    checksums = _run_checksums(reference, model)
    if not same_seeds or checksums != _run_checksums(other, model):
        return []
    return [sentence(f"{other.label} and {reference.label} hold identical {other.facts[model].name} runs (the same "
                     "seeds, and weights and predictions with equal checksums), so its results are the same by "
                     "construction.")]


def model_summary(compared: Sequence[Compared], model: str) -> list[Sentence]:
    """Accuracy and speed of `model` in each bundle against its reference."""
    reference, *others = holding(compared, model)
    return [s for other in others for s in (*shared_runs_summary(reference, other, model),
                                            accuracy_summary(reference, other, model),
                                            *speed_summary(reference, other, model))]


def data_sentence(compared: Sequence[Compared]) -> Sentence:
    """Whether all bundles used the same data, by the dataset fingerprint."""
    fingerprints = {c.dataset.get("fingerprint") for c in compared}
    if len(fingerprints) == 1 and None not in fingerprints:
        return sentence("All bundles used the same data: their dataset fingerprints (sha256 of the decoded images "
                        "and labels) are equal.")
    return sentence("The bundles did not all use the same data (their dataset fingerprints differ): accuracy "
                    "differences between bundles with different data mix the change of data with the change of "
                    "setup, and are not tested for significance.")


def device_name(env: Mapping[str, Any]) -> str:
    return f"{env.get('device', 'not recorded')} ({env.get('device_name', 'not recorded')})"
