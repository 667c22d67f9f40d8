"""Section "Conclusion": the closing verdict, computed from the results the other sections state, and the verdict of
each experiment the bundle holds (augmentation, data size, training length, recipe), as its section states it."""

from __future__ import annotations

from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.experiments import one_seed_note
from reportgen.report.kernel import Bullets, Item, Sentence, capital, sentence
from reportgen.report.section import FigureDrawer, Section
from reportgen.report.sections.accuracy import accuracy_lead, accuracy_winner, model_significance
from reportgen.report.sections.augmentation import Augmentation, augmentation_off_variants, reliance_sentence
from reportgen.report.sections.data_efficiency import DataEfficiency, gap_change_sentence, size_points
from reportgen.report.sections.generalisation import verdict
from reportgen.report.sections.recipe import gap_sentence, recipe_variants
from reportgen.report.sections.speed import speed_lead
from reportgen.report.sections.training import SEED_PROTOCOL_EPOCHS, scale_note
from reportgen.report.sections.training_length import TrainingLength, ends_of_training, plateau_claim
from reportgen.report.stats import Significance


def accuracy_verdict(a: ModelFacts, b: ModelFacts, sig: Significance) -> Sentence:
    """Which model is more accurate, only if significantly so."""
    ahead = accuracy_lead(a, b)
    if ahead is None:
        return sentence(f"On this run the {a.name} and the {b.name} are equally accurate.")
    if sig.significant:
        return sentence(f"On this run {ahead.winner.the} is the more accurate model, by ", ahead.margin,
                        " percentage points, a significant difference.")
    return sentence(f"On this run neither model is shown to be more accurate: {ahead.winner.the}'s lead of ",
                    ahead.margin, " percentage points is not significant.")


def cost_verdict(a: ModelFacts, b: ModelFacts, winner: ModelFacts | None) -> Sentence:
    """Which model trained faster per epoch, and whether that trades against accuracy."""
    speed = speed_lead(a, b)
    if speed is None:
        return sentence("Both trained equally fast per epoch.")
    if winner is None or speed.winner is winner:
        also = "" if winner is None else " also"
        return sentence(f"{capital(speed.winner.the)}{also} trained ", speed.margin, "× faster per epoch" +
                        ("." if winner is None else ", so it wins on both accuracy and training cost."))
    return sentence(f"{capital(speed.winner.the)}, however, trained ", speed.margin,
                    "× faster per epoch, so choosing between them trades accuracy against training cost.")


def overfitting_verdict(models: list[ModelFacts]) -> Sentence:
    """Which of the trained models overfit, by the overfitting rule."""
    if len(models) == 2 and models[0].training.overfits == models[1].training.overfits:
        text = "both models overfit" if models[0].training.overfits else "neither model overfits"
    else:
        text = " and ".join(verdict(m) for m in models)
    return sentence(f"By the overfitting rule, {text}.")


def single_model_verdict(m: ModelFacts) -> Sentence:
    reached = [f"{capital(m.the)} reached ", m.accuracy.parts("%"), " test accuracy"]
    if m.training is None:
        return sentence(reached, " with the evaluated weights.")
    return sentence(reached, " after ", m.training.epochs, " epochs and ", m.training.train_time.parts(" s"),
                    f" of training; by the overfitting rule, {verdict(m)}.")


def experiment_verdicts(contents: ReportContents) -> list[Sentence]:
    """The experiments' verdicts, as their sections state them: reliance on augmentation, the gap against the
    training-set size, the plateau claim, and the gap under each recipe."""
    out = []
    if contents.comparative and Augmentation().applies(contents):
        out.append(sentence("Augmentation: ", reliance_sentence(contents, augmentation_off_variants(contents)[0])))
    if contents.comparative and DataEfficiency().applies(contents):
        points = size_points(contents)
        out.append(sentence("Data: ", gap_change_sentence(contents, points[0], points[-1])))
    if TrainingLength().applies(contents):
        out.append(sentence("Training length: ", plateau_claim(ends_of_training(contents))))
    if contents.comparative:
        out += [sentence(f"Recipe {v.name}: ", gap_sentence(contents, v)) for v in recipe_variants(contents)]
    note = one_seed_note(contents)
    return out + ([note] if note and contents.variants else [])


def conclusion_sentences(contents: ReportContents) -> list[Sentence]:
    """The closing verdict: accuracy (with its significance), training cost and overfitting."""
    if not contents.comparative:
        out = [single_model_verdict(m) for m in contents.models]
    else:
        a, b = contents.models
        sig = model_significance(contents)
        out = [accuracy_verdict(a, b, sig)]
        if len(contents.trained) == 2:
            out.append(cost_verdict(a, b, accuracy_winner(a, b, sig)))
        if contents.trained:
            out.append(overfitting_verdict(contents.trained))
    out += experiment_verdicts(contents)
    if scale_note(contents) is not None:
        out.append(sentence("These conclusions describe a reduced-scale run; the seed protocol's "
                            f"{SEED_PROTOCOL_EPOCHS} epochs on the full training set may change them."))
    return out


class Conclusion(Section):
    key = "conclusion"
    title = "Conclusion"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [Bullets(conclusion_sentences(contents))]
