"""The rules the report judges by, as printed in it: generated here, in one place, from the report config.

Each threshold is a typed field of `reportgen.config.ReportConfig` (report.alpha,
report.overfit_acc_gap_points, ...). Sections apply the rule through the functions below and print
its text through the `*_rule` sentences, so what the report says it does is what it does. Changing a
threshold is a ``report.*`` change: the next build re-renders with it and retrains nothing.
"""

from __future__ import annotations

import math

from reportgen.config import ReportConfig
from reportgen.report.kernel import Metric, Sentence, sentence


def is_overfitting(rules: ReportConfig, acc_gap_pts: float, val_loss_rise_pct: float) -> bool:
    """A model overfits when its final train-validation accuracy gap or its validation loss rise passes its limit."""
    return acc_gap_pts > rules.overfit_acc_gap_points or val_loss_rise_pct > rules.overfit_val_loss_rise_pct


def overfitting_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report calls a model overfitting."""
    return sentence(
        "Rule used in this report: a model overfits when, at its final epoch, its training accuracy exceeds "
        f"its validation accuracy by more than {rules.overfit_acc_gap_points:g} percentage points, or its validation "
        f"loss has risen more than {rules.overfit_val_loss_rise_pct:g}% above the lowest value it reached during "
        "training.")


def significance_rule(rules: ReportConfig, side: str = "model") -> Sentence:
    """The rule by which an accuracy difference between two `side`s (models, bundles) is called significant."""
    alpha = rules.alpha
    return sentence(
        f"Rule used for accuracy differences: a difference is significant when every test that applies rejects "
        f"equal accuracy at α = {alpha:g}. McNemar's exact test compares the two {side}s' predictions of the same "
        f"test images (b images only the first {side} classifies correctly, c only the second; two-sided binomial "
        f"test of b in b + c at 1/2); it must give p < {alpha:g} in favour of the {side} that is more accurate on "
        "average in more than half of the seeds both ran with (with one seed: in that seed). With two or more seeds "
        f"per {side}, a t-test over seeds of the test accuracy (paired by seed when both {side}s ran the same seeds, "
        f"else Welch's) must also give p < {alpha:g}. A difference that is not significant is not called a win.")


def generalisation_rule(rules: ReportConfig) -> Sentence:
    """The rule by which the report says that one model generalises better than the other."""
    return sentence(
        "Rule used for the generalisation comparison: a model generalises better when its final train–validation "
        "accuracy gap is smaller (a negative gap, validation above training accuracy, counts as no gap) and, with "
        "two or more seeds per model, a t-test over seeds of the gaps (paired by seed when both models ran the same "
        f"seeds, else Welch's) gives p < {rules.alpha:g}. With fewer than two seeds for either model the difference "
        "cannot be tested, and neither model is said to generalise better.")


def curve_rule(rules: ReportConfig) -> Sentence:
    """How the learning curves are read: milestones, the plateau and where training and validation diverge."""
    return sentence(
        "How the curves are read: milestones are the first epochs at which the validation loss falls below "
        f"{rules.val_loss_milestone:g} and the validation accuracy reaches {rules.val_acc_milestone:.0%}; validation "
        "accuracy has stopped improving from the first epoch after which it never beats its best so far by more than "
        f"{rules.plateau_points:g} percentage points; training and validation diverge from the first epoch after which "
        f"the train–validation accuracy gap stays above {rules.overfit_acc_gap_points:g} points. With several seeds "
        "the curves are averaged epoch by epoch first.")


def top_patch_count(rules: ReportConfig, patches: int) -> int:
    """How many patches make up the top `report.top_patch_fraction` of `patches` (rounded up, at least one)."""
    return max(1, math.ceil(rules.top_patch_fraction * patches))


def top_share_label(rules: ReportConfig, patches: int) -> str:
    """What the attention top share measures, e.g. "share of attention on the top 10% of patches (7 of 64)"."""
    return (f"share of attention on the top {rules.top_patch_fraction:.0%} of patches "
            f"({top_patch_count(rules, patches)} of {patches})")


NLL_FLOOR = 1e-7  # predictions.csv stores probabilities with 6 decimals: a stored 0 means below 5e-7


def calibration_rule(rules: ReportConfig) -> Sentence:
    """How calibration is measured and when one model is said to be better calibrated."""
    level = 95
    return sentence(
        f"How calibration is measured: the test images are put into {rules.calibration_bins} equal-width bins of "
        "their top-class confidence (a confidence of exactly 1 belongs to the top bin); the expected calibration "
        "error (ECE) is the image-weighted mean over bins of |accuracy − mean confidence|, the maximum calibration "
        "error (MCE) the largest such gap of a non-empty bin; the negative log-likelihood (NLL) is the mean of "
        f"−ln p(true class), each p floored at {NLL_FLOOR:g} (the stored probabilities have 6 decimals); the Brier "
        "score is the mean over images of Σₖ (pₖ − [k is the true class])². A model is better calibrated when the "
        f"{level}% percentile bootstrap interval of the ECE difference ({rules.bootstrap_resamples} resamples of the "
        f"test images, seed {rules.bootstrap_seed}, the same images for both models, ECE averaged over each model's "
        "seeds) excludes 0.")


def robustness_rule(rules: ReportConfig, images: Metric, corruptions: int, severities: int, seed: int) -> Sentence:
    """What the corruption suite is, and when one model is called more robust than another."""
    return sentence(
        "Rule used for robustness: the suite corrupts ", images, f" test images (drawn at random with seed {seed}, "
        f"analysis.seed, the same for every model) with {corruptions} corruptions at {severities} "
        "severities each, with the CIFAR-10-C constants of Hendrycks and Dietterich (2019). A model's mean corruption "
        "accuracy is its accuracy over every corrupted copy; its relative drop is its clean accuracy on the same "
        "images minus its mean corruption accuracy, over the clean accuracy. One model is more robust, overall, on a "
        f"family or on a corruption, when McNemar's exact test over the images gives p < {rules.alpha:g} in its "
        "favour: an image counts for the model that classifies more of its corrupted copies in that scope correctly "
        "(over every seed both models ran), ties drop out, so copies of one image are not counted as independent "
        "evidence. Relative drops differ when the percentile bootstrap interval of their difference over the test "
        f"images ({rules.bootstrap_resamples} resamples, seed {rules.bootstrap_seed}) excludes 0. A difference that is "
        "not significant is not called a win.")


def faithfulness_rule(rules: ReportConfig, images: Metric, grid: int, steps: int, orders: int) -> Sentence:
    """How the explanations' faithfulness is measured, and when one is called more faithful."""
    side = 32 // grid
    return sentence(
        "How faithfulness is measured: the explained images are the first test images of each class (", images,
        f" images, the same for every model). Each image is cut into a {grid} × {grid} grid of {side} × {side}-pixel "
        f"patches, which are occluded (set to the training set's mean colour) most salient first in {steps} equal "
        "groups, recording the true class's probability after each; the same is done in "
        f"{orders} random orders per image, the same orders for every model. The area under such a curve (share "
        "of patches occluded from 0 to 1) is smaller when the probability falls sooner, and the gap, the random "
        "orders' mean area minus the salient-first area, is larger when the map points at what the model relies on. "
        f"An explanation beats random orders when a two-sided Wilcoxon signed-rank test of the per-image gaps gives "
        f"p < {rules.alpha:g} with a positive mean gap; one model's explanation is more faithful than the other's "
        f"when the same test of the paired per-image gap differences gives p < {rules.alpha:g}. With several seeds "
        "each image's areas are averaged over the seeds first.")


def cost_rule(rules: ReportConfig, peak_methods: list[str]) -> Sentence:
    """How every number of the cost section is measured, and when a model is called faster."""
    return sentence(
        "How cost is measured: FLOPs count every convolution and matrix product of one image's forward pass, the "
        "attention's included, at 2 FLOPs per multiply-add (PyTorch's FlopCounterMode, with attention computed by "
        "its math backend so that no fused kernel hides it). Activation memory is what autograd saves for the "
        "backward pass per training image (each storage once, weights not counted; the difference between two batch "
        "sizes, per image). Peak memory is that of one training step (forward, backward, AdamW) at the run's batch "
        f"size after a warm-up step: {'; '.join(peak_methods)}. Inference is timed in evaluation mode at the run's "
        "batch size and at batch 1: the median of the timed forward passes, after untimed warm-up passes that the "
        "timings exclude. Training throughput is training images × epochs / training time, and time to accuracy sums "
        "the epoch times up to the first epoch whose validation accuracy reaches the milestone (history.csv). A model "
        f"is called faster only when a test rejects equal speed at α = {rules.alpha:g}: a two-sided Mann-Whitney U "
        "test of the two models' timed passes, or, for training throughput, a t-test over seeds (paired by seed) with "
        "two or more seeds per model; other work on the machine while the passes are timed makes them noisier and a "
        "difference harder to show. MB are 10^6 bytes.")


def augmentation_rule(rules: ReportConfig, variant: str) -> Sentence:
    """How reliance on augmentation is measured, and when one model is said to rely on it more."""
    return sentence(
        f"Rule used for augmentation: variant {variant} trains every model exactly as the base config does, at the "
        "same seeds, with no training augmentation at all (augment.enabled: false). A model's drop is its test "
        "accuracy with augmentation minus without; it is significant by the accuracy rule (McNemar's exact test per "
        "seed on the same test images, and a paired t-test over seeds with two or more). One model relies on "
        "augmentation more when its drop is larger and the difference of the two drops is significant at "
        f"α = {rules.alpha:g}: with two or more seeds, a paired t-test over seeds of the per-seed drops; with one "
        "seed, a paired t-test over the test images of each image's change of correctness, one model's against the "
        "other's.")


def data_efficiency_rule(rules: ReportConfig) -> Sentence:
    """How the training-set sizes are drawn and when the gap between the models is said to change with them."""
    return sentence(
        "Rule used for data efficiency: each smaller training set is a class-balanced share of the base config's "
        "training images (data.train_fraction of each class, drawn with data.fraction_seed: the same images for every "
        "model and seed, and a smaller share's images are among a larger one's); every run is tested on the whole test "
        "split. Each model's change from the smallest to the largest size, and at each size the gap between the "
        "models, are tested by the accuracy rule. The gap changes with the size when the difference between the gaps "
        f"at the largest and the smallest size is significant at α = {rules.alpha:g}: with two or more seeds, a "
        "paired t-test over seeds of the per-seed gaps; with one seed, a paired t-test over the test images. The "
        "report describes only the measured sizes: it does not extrapolate beyond them.")


def training_length_rule(rules: ReportConfig, epochs: int) -> Sentence:
    """How the end of training is read: the slopes, their intervals and the verdicts."""
    level = 1 - rules.alpha
    return sentence(
        f"Rule used for training length: the slopes are least-squares lines through the last {epochs} epochs "
        f"(report.slope_epochs, or every epoch of a shorter run) of the validation accuracy (points per epoch) and "
        f"loss, each with a {level:.0%} confidence "
        "interval: over the seeds' slopes with two or more seeds, else from the regression's standard error. A model "
        "is still improving when the accuracy interval lies above 0 or the loss interval below 0; getting worse when "
        "the accuracy interval lies below 0 or the loss interval above 0; otherwise no trend is shown, which is "
        "consistent with a plateau. Either curve suffices, so a model is called improving more often than the level "
        "alone says; and with one seed the regression treats consecutive epochs as independent, which they are not, "
        "so its interval is too narrow: several seeds (train.seeds) give the sounder interval. The cosine schedule "
        "brings the learning rate close to 0 in these epochs, so a flat end can be the schedule's doing as much as "
        "the model's; a variant with more epochs (train.epochs) separates the two.")


def recipe_rule(rules: ReportConfig, variant: str, ingredients: str) -> Sentence:
    """What the recipe variant changes, and how its effect and the gap it closes are tested."""
    return sentence(
        f"Rule used for the recipe: variant {variant} trains the same architectures at the same seeds with "
        f"{ingredients}; everything else is the base config's. Each model's change of test accuracy is tested by the "
        "accuracy rule. The gap is the first model's accuracy minus the second's; the share of the seed recipe's gap "
        "that the recipe closes is (gap before − gap after in the leader's favour) / gap before, and the change of "
        f"the gap is significant at α = {rules.alpha:g} by a paired t-test over seeds of the per-seed gaps (two or "
        "more seeds) or over the test images (one seed). The gap is said to narrow, widen or reverse only when that "
        "change is significant.")
