"""What several sections say alike: the headline sentence, a run's accuracy, the per-class table, the accuracy
lead and its test, the parameter lead, the learning-curve figure's key and the one-image scope of the visual
sections' figures.

Sections import these from here, never from each other, so that no section depends on another's module.
"""

from __future__ import annotations

from typing import Sequence

from reportgen.bundle import RunData
from reportgen.report.contents import Lead, ModelFacts, ReportContents, lead, over_seeds
from reportgen.report.kernel import Cell, Metric, Sentence, Table, capital, compare_key, run_key, sentence
from reportgen.report.stats import Significance, accuracy_significance

MACRO_FIELDS = ("precision", "recall", "f1")
PER_CLASS_FIELDS = ("precision", "recall", "f1", "accuracy")


def accuracy_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The more accurate model, by mean test accuracy; margin in percentage points."""
    return lead(a, b, lambda m: m.accuracy, True,
                lambda win, lose: Metric(compare_key("accuracy_diff_pts"), win - lose, "points"))


def accuracy_winner(a: ModelFacts, b: ModelFacts, sig: Significance) -> ModelFacts | None:
    """The more accurate model when the difference is significant, else None (no win is claimed)."""
    ahead = accuracy_lead(a, b)
    return ahead.winner if ahead is not None and sig.significant else None


def curves_figure_key(m: ModelFacts) -> str:
    """The key (file stem) of a model's learning-curve figure, for references from other sections."""
    return f"curves_{m.key}"


def headline_sentence(m: ModelFacts) -> Sentence:
    """Test accuracy, macro F1 and, for a trained model, its training time."""
    reached = [f"{capital(m.the)} reached a test accuracy of ", m.accuracy.parts("%"), over_seeds(m),
               ", a macro-averaged F1 of ", m.macro_f1.parts()]
    t = m.training
    if t is None:
        return sentence(reached, " (weights evaluated, not trained here).")
    return sentence(reached, ", and trained in ", t.train_time.parts(" s"), " (", t.epoch_time.parts(" s"),
                    " per epoch) over ", t.epochs, " epochs.")


ONE_IMAGE_SCOPE = " Measured on this one image: it describes the image, not the model in general."


def first_seed_clause(seeds: Sequence[int]) -> str:
    """Which run a one-run visual comes from: "" with one seed (there is no other), else ", seed 42 (the first of
    3)", so that the caption of a single run names no seed."""
    return "" if len(seeds) < 2 else f", seed {seeds[0]} (the first of {len(seeds)})"


def model_significance(contents: ReportContents) -> Significance:
    """The accuracy test of the report's two models (first in config order as the first side)."""
    first, second = contents.runs.values()
    return accuracy_significance(first, second, contents.rules.alpha, resamples=contents.rules.bootstrap_resamples,
                                 bootstrap_seed=contents.rules.bootstrap_seed)


def parameter_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with more parameters; margin = larger count / smaller count."""
    return lead(a, b, lambda m: m.parameters, True,
                lambda win, lose: Metric(compare_key("parameter_ratio"), win / lose, "factor"))


def per_class_table(run: RunData, class_names: Sequence[str]) -> Table:
    """One run's per-class precision/recall/F1/accuracy/support, macro averages and overall accuracy."""
    rows: list[list[Cell]] = [
        [name, *(Metric(run_key(run.model, run.seed, f"class{i}.{f}"), c[f], "fraction") for f in PER_CLASS_FIELDS),
         Metric(run_key(run.model, run.seed, f"class{i}.support"), c["support"], "count")]
        for i, (name, c) in enumerate(zip(class_names, run.metrics["per_class"]))
    ]
    macro = run.metrics["macro"]
    footer: list[list[Cell]] = [
        ["macro average", *(Metric(run_key(run.model, run.seed, f"macro.{f}"), macro[f], "fraction")
                            for f in MACRO_FIELDS), "", ""],
        ["overall accuracy", "", "", "", sentence(run_accuracy(run), "%"), ""],
    ]
    return Table(["class", "precision", "recall", "F1", "accuracy", "support"], rows, footer,
                 caption=f"{run.display_name}, seed {run.seed}: per-class metrics on the test set.")


def run_accuracy(run) -> Metric:
    """One run's overall test accuracy, in percent."""
    return Metric(run_key(run.model, run.seed, "accuracy"), 100 * run.metrics["accuracy"], "percent")
