"""Section "Generalisation": final-epoch train-validation gaps, the overfitting verdict, and which model
generalises better, said only when a t-test over seeds of the gaps supports it (reportgen.report.rules)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reportgen.config import ReportConfig
from reportgen.report.contents import Lead, ModelFacts, ReportContents, lead, over_seeds
from reportgen.report.kernel import (
    Bullets,
    Callout,
    Cell,
    Item,
    Metric,
    Sentence,
    Table,
    capital,
    compare_key,
    model_key,
    p_parts,
    sentence,
    stat_cell,
)
from reportgen.report.rules import overfitting_clause, overfitting_rule
from reportgen.report.section import FigureDrawer, TrainingSection, Verdict
from reportgen.report.stats import TTest, ttest_over_seeds

NEGATIVE_GAP = "a negative gap, validation above training accuracy, counts as no gap"


def generalisation_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report says that one model generalises better than the other."""
    return sentence(
        "Rule used for the generalisation comparison: a model generalises better when its final train–validation "
        "accuracy gap is smaller (a negative gap, validation above training accuracy, counts as no gap) and, with "
        "two or more seeds per model, a t-test over seeds of the gaps (paired by seed when both models ran the same "
        f"seeds, else Welch's) gives p < {rules.alpha:g}. With fewer than two seeds for either model the difference "
        "cannot be tested, and neither model is said to generalise better.")


def clipped_gaps(m: ModelFacts) -> list[float]:
    """Each seed's final train-validation accuracy gap, a negative one (validation above training) as 0."""
    return [max(g, 0.0) for g in m.training.acc_gap.values]


def overfit_gap(m: ModelFacts) -> Metric:
    """The clipped gaps averaged over seeds: the same per-seed values the gap t-test compares."""
    return Metric(model_key(m.key, "overfit_gap_pts"), float(np.mean(clipped_gaps(m))), "points")


def generalisation_lead(a: ModelFacts, b: ModelFacts) -> Lead | None:
    """The model with the smaller clipped gap; None when both are equal that way (in particular both 0)."""
    return lead(a, b, overfit_gap, False)


@dataclass(frozen=True)
class GapSignificance:
    """Whether two models' final train-validation accuracy gaps differ, by the generalisation rule."""

    first: ModelFacts = field(repr=False)  # the t-test's first sample
    lead: Lead | None
    ttest: TTest | None  # over seeds of the clipped gaps (first minus second), with two or more seeds per model
    alpha: float

    @property
    def significant(self) -> bool:
        """A smaller gap, and a t-test with p < alpha pointing the same way (t < 0: the first's gap is smaller)."""
        if self.lead is None or self.ttest is None or not self.ttest.p < self.alpha:
            return False
        return (self.ttest.t < 0) == (self.lead.winner is self.first)


def generalisation_significance(a: ModelFacts, b: ModelFacts, alpha: float) -> GapSignificance:
    """The smaller-gap model and a t-test over seeds of the clipped gaps (paired when both ran the same seeds)."""
    ttest = ttest_over_seeds(compare_key("gap_ttest"), clipped_gaps(a), clipped_gaps(b), a.seeds == b.seeds)
    return GapSignificance(a, generalisation_lead(a, b), ttest, alpha)


def generalisation_sentence(a: ModelFacts, b: ModelFacts, alpha: float) -> Sentence:
    """Which model has the smaller final gap, and "generalises better" only when the gap t-test says so."""
    sig = generalisation_significance(a, b, alpha)
    ga, gb = a.training.acc_gap, b.training.acc_gap
    if sig.lead is None and overfit_gap(a).value == 0:
        return sentence("Neither model ends with a training accuracy above its validation accuracy: ",
                        ga.parts(" points"), f" for {a.the} and ", gb.parts(" points"), f" for {b.the}.")
    if sig.lead is None:
        return sentence(f"The {a.name} and the {b.name} end with the same train–validation accuracy gap, ",
                        ga.parts(" points"), ".")
    w, lo = sig.lead.winner, sig.lead.loser
    if sig.significant:
        return sentence(f"By the final train–validation accuracy gap, {w.the} generalises better: ",
                        w.training.acc_gap.parts(" points"), " against ", lo.training.acc_gap.parts(" points"),
                        f" for {lo.the}", over_seeds(w), f", a significant difference ({sig.ttest.name} over seeds, ",
                        p_parts(sig.ttest.metric("p")), f"; {NEGATIVE_GAP}).")
    if sig.ttest is not None:
        why = ["but the difference is not significant (", f"{sig.ttest.name} over seeds, ",
               *p_parts(sig.ttest.metric("p")), f"; {NEGATIVE_GAP})"]
    elif len(a.seeds) == len(b.seeds) == 1:
        why = [f"but a single run per model cannot tell whether the difference is significant ({NEGATIVE_GAP})"]
    else:
        few = a if len(a.seeds) < 2 else b
        why = [f"but with a single run of {few.the} the difference cannot be tested ({NEGATIVE_GAP})"]
    return sentence(f"{capital(w.the)}'s final train–validation accuracy gap, ", w.training.acc_gap.parts(" points"),
                    f", is smaller than {lo.the}'s, ", lo.training.acc_gap.parts(" points"), over_seeds(w), ", ", why,
                    ", so neither model is shown to generalise better.")


def gap_sentence(m: ModelFacts) -> Sentence:
    """One model's final train-validation gaps and the overfitting verdict."""
    t = m.training
    return sentence(
        f"At the final epoch {m.the} has a training accuracy of ", t.final_train_acc.parts("%"),
        " and a validation accuracy of ", t.final_val_acc.parts("%"), "; training minus validation accuracy is ",
        t.acc_gap.parts(" points"), ", validation loss minus training loss is ", t.loss_gap.parts(),
        ", and the final validation loss lies ", t.val_loss_rise.parts("%"),
        f" above its minimum. By the rule, {'it overfits' if t.overfits else 'it does not overfit'}.")


def generalisation_table(models: list[ModelFacts]) -> Table:
    """Final-epoch train and validation accuracy, their gaps and the overfitting verdict."""
    rows: list[list[Cell]] = [
        [f.name, stat_cell(f.training.final_train_acc, "%"), stat_cell(f.training.final_val_acc, "%"),
         stat_cell(f.training.acc_gap), stat_cell(f.training.loss_gap), stat_cell(f.training.val_loss_rise, "%"),
         "yes" if f.training.overfits else "no"]
        for f in models
    ]
    return Table(["model", "train acc.", "val. acc.", "acc. gap (points)", "val. − train loss",
                  "val. loss above min.", "overfits"], rows,
                 caption="Generalisation at the final epoch (validation is the test split).")


def overfitting_verdict(models: list[ModelFacts]) -> Sentence:
    """Which of the trained models overfit, by the overfitting rule."""
    if len(models) == 2 and models[0].training.overfits == models[1].training.overfits:
        text = "both models overfit" if models[0].training.overfits else "neither model overfits"
    else:
        text = " and ".join(overfitting_clause(m) for m in models)
    return sentence(f"By the overfitting rule, {text}.")


class Generalisation(TrainingSection):
    key = "generalisation"
    title = "Generalisation"


    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        trained, rules = contents.trained, contents.rules
        both = len(trained) == 2 and contents.comparative
        rule = [overfitting_rule(rules)] + ([generalisation_rule(rules)] if both else [])
        facts = ([generalisation_sentence(*trained, rules.alpha)] if both else []) + [gap_sentence(m) for m in trained]
        return [Callout("rule", rule), generalisation_table(trained), Bullets(facts)]

    def verdict(self, contents: ReportContents) -> Verdict | None:
        return Verdict((overfitting_verdict(contents.trained),)) if contents.comparative else None
