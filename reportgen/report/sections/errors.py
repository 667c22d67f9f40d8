"""Section "Errors": each model's most confused class pairs and, for CIFAR-10's classes, how many of its
errors stay within the animal or the vehicle group, against what a uniform wrong label would give; then
example images of those confusions, from the test images the bundle holds (explanations.npz keeps the first
images of each class with their test-set indices; the bundle holds no other test image), or what is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import binomtest, ttest_1samp

from reportgen.analyses import EXPLANATIONS
from reportgen.report.contents import ModelFacts, ReportContents
from reportgen.report.evidence import SEEDS_FOR_A_TEST
from reportgen.report.kernel import (
    FigureRef,
    Item,
    Metric,
    Paragraph,
    Part,
    Sentence,
    capital,
    dataset_key,
    first_seed,
    model_key,
    name_list,
    p_parts,
    sentence,
)
from reportgen.report.multiplicity import Family, family
from reportgen.report.original_study import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from reportgen.report.plots import bare, hwc
from reportgen.report.section import ClaimFinding, FigureDrawer, Section, Verdict

EXAMPLES_PER_PAIR = 4  # images shown per confused pair and model: enough to see a pattern
EXAMPLES_PER_ROW = 8  # images per row of the examples figure
EXAMPLES_FIGURE = "confused_examples"
MAIN_CONFUSION = frozenset({"cat", "dog"})  # the original study's main confusion

CIFAR10_GROUPS = {
    "animal": frozenset({"bird", "cat", "deer", "dog", "frog", "horse"}),
    "vehicle": frozenset({"airplane", "automobile", "ship", "truck"}),
}


@dataclass(frozen=True)
class ConfusedPair:
    """Two classes and how often the model mixed them up, in both directions together."""

    first: str
    second: str
    count: int
    share_pct: float  # of all errors


def confused_pairs(confusion: np.ndarray, class_names: Sequence[str], top: int = 3) -> list[ConfusedPair]:
    """The `top` class pairs with the most errors between them (i as j plus j as i), most first."""
    cm = np.asarray(confusion, dtype=np.int64)
    errors = int(cm.sum() - np.trace(cm))
    both_ways = cm + cm.T
    pairs = [(int(both_ways[i, j]), i, j) for i in range(len(cm)) for j in range(i + 1, len(cm)) if both_ways[i, j]]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))  # ties broken by class order, for stable prose
    return [ConfusedPair(class_names[i], class_names[j], count, 100 * count / errors) for count, i, j in pairs[:top]]


def class_groups(class_names: Sequence[str]) -> list[int] | None:
    """Group index of each class when the classes are exactly CIFAR-10's, else None."""
    groups = list(CIFAR10_GROUPS.values())
    if set(class_names) != set().union(*groups) or len(class_names) != len(set(class_names)):
        return None
    return [next(g for g, members in enumerate(groups) if name in members) for name in class_names]


def within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors whose true and predicted class share a CIFAR-10 group (animal or vehicle).

    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors = cm.sum() - np.trace(cm)
    if groups is None or errors == 0:
        return None
    same = np.equal.outer(groups, groups) & ~np.eye(len(groups), dtype=bool)
    return float(100 * cm[same].sum() / errors)


def chance_within_group_share(confusion: np.ndarray, class_names: Sequence[str]) -> float | None:
    """Percent of errors expected to stay within a group if each misclassified image's wrong label were
    drawn uniformly from the other K - 1 classes, given where the model's errors actually fall.

    A misclassified image of true class c keeps a uniformly drawn wrong label within c's group with
    probability (|group(c)| - 1) / (K - 1); the baseline is that probability averaged over the errors,
    weighted by e_c, the errors on true class c (the off-diagonal sum of row c of `confusion`).
    None when the classes are not CIFAR-10's or the model made no error.
    """
    groups = class_groups(class_names)
    cm = np.asarray(confusion, dtype=np.int64)
    errors_per_class = cm.sum(axis=1) - np.diag(cm)
    total = int(errors_per_class.sum())
    if groups is None or total == 0:
        return None
    k = len(groups)
    stay = np.array([(groups.count(g) - 1) / (k - 1) for g in groups])
    return float(100 * (errors_per_class * stay).sum() / total)


def groups_sentence() -> Sentence:
    """The definition of the CIFAR-10 class groups, stated once for all models."""
    return sentence(f"CIFAR-10's classes form two groups: animals ({', '.join(sorted(CIFAR10_GROUPS['animal']))}) "
                    f"and vehicles ({', '.join(sorted(CIFAR10_GROUPS['vehicle']))}).")


def confusion_sentences(m: ModelFacts, test: list[Part]) -> list[Sentence]:
    """The most confused class pairs and, for CIFAR-10 classes, how many errors stay within a group, with `test`
    (the within-group test's raw and adjusted p, as the Conclusion states them; [] where untested)."""
    errors = m.errors
    seeds = [", summed over ", m.seed_count, " seeds"] if len(m.seeds) > 1 else []
    if errors.value == 0:
        return [sentence(f"{capital(m.the)} made no errors on the test set.")]
    listed: list[Part] = []
    for rank, pair in enumerate(confused_pairs(m.confusion, m.class_names), start=1):
        listed += ["; " if rank > 1 else "", f"{pair.first} ↔ {pair.second} (",
                   Metric(model_key(m.key, f"confusion.pair{rank}.count"), pair.count, "count"), " errors, ",
                   Metric(model_key(m.key, f"confusion.pair{rank}.share_pct"), pair.share_pct, "percent"), "%)"]
    out = [sentence("Of the ", errors, f" test errors of {m.the}", seeds, ", the most frequent confusions, "
                    "counting both directions, are: ", listed, ".")]
    share = within_group_share(m.confusion, m.class_names)
    chance = chance_within_group_share(m.confusion, m.class_names)
    if share is not None and chance is not None:
        out.append(sentence(
            "Of its errors, ", Metric(model_key(m.key, "confusion.within_group_pct"), share, "percent"),
            "% stay within a group, against ",
            Metric(model_key(m.key, "confusion.within_group_chance_pct"), chance, "percent"),
            "% expected if each misclassified image's wrong label were drawn uniformly from the other classes, "
            "given how its errors fall over the true classes; the remaining ",
            Metric(model_key(m.key, "confusion.cross_group_pct"), 100 - share, "percent"),
            "% cross between the groups", *([" (against chance: "] + test + [")"] if test else []), "."))
    return out


def within_group_p(m: ModelFacts, runs) -> float:
    """Two-sided p of "the errors stay within a group as often as chance would have them": with one seed, the
    binomial test of the within-group errors among all errors at the chance share; with several, the t-test over
    seeds of each seed's share minus its chance share (so that seed-to-seed variation is part of the test)."""
    if len(runs) == 1:
        errors = int(m.confusion.sum() - np.trace(m.confusion))
        share, chance = within_group_share(m.confusion, m.class_names), chance_within_group_share(m.confusion,
                                                                                                m.class_names)
        return float(binomtest(round(share * errors / 100), errors, chance / 100).pvalue)
    excess = [within_group_share(c, m.class_names) - chance_within_group_share(c, m.class_names)
              for c in (np.asarray(run.metrics["confusion"]) for run in runs)]
    return 1.0 if not np.any(excess) else float(ttest_1samp(excess, 0.0).pvalue)


def grouped_models(contents: ReportContents) -> list[ModelFacts]:
    """The models whose errors can be placed in CIFAR-10's groups (CIFAR-10's classes, an error in every seed)."""
    if class_groups(contents.class_names) is None:
        return []
    return [m for m in contents.models if all(
        within_group_share(np.asarray(run.metrics["confusion"]), m.class_names) is not None
        for run in contents.runs[m.key])]


def within_group_tests(contents: ReportContents, models: list[ModelFacts]) -> Family:
    """Each model's within-group test against chance, adjusted together (one family)."""
    raw = [Metric(model_key(m.key, "confusion.within_group.p"), within_group_p(m, contents.runs[m.key]), "pvalue")
           for m in models]
    return family(f"the {len(models)} models' within-group tests", raw, contents.rules.multiplicity)


def within_group_finding(m: ModelFacts, tests: Family, index: int, alpha: float) -> tuple[int, list[Part]]:
    """(direction: 1 above chance, -1 below, 0 not shown, evidence) of one model's within-group test."""
    share = Metric(model_key(m.key, "confusion.within_group_pct"), within_group_share(m.confusion, m.class_names),
                   "percent")
    chance = Metric(model_key(m.key, "confusion.within_group_chance_pct"),
                    chance_within_group_share(m.confusion, m.class_names), "percent")
    direction = int(np.sign(share.value - chance.value)) if tests.significant(index, alpha) else 0
    word = {1: "more often than chance", -1: "less often than chance",
            0: "about as often as chance (no significant difference)"}
    return direction, [f"{m.the}'s errors stay within a group {word[direction]} (", share, "% against ", chance,
                       "%; ", *test_parts(tests, index), ")"]


def decided_claim(status: str, evidence: str, one_seed: bool) -> ClaimFinding:
    """The errors claim decided as `status`; with one seed only of this run (inconclusive about the models)."""
    if one_seed:
        return ClaimFinding("errors-within-groups", INCONCLUSIVE, sentence(
            f"one seed: in this run {evidence}; train with {SEEDS_FOR_A_TEST} to test it"))
    return ClaimFinding("errors-within-groups", status, sentence(evidence))


def errors_claim(models: list[ModelFacts], directions: list[int]) -> ClaimFinding:
    """The original study's "errors stay within the groups; cat and dog are the main confusion"."""
    tops = {m.name: confused_pairs(m.confusion, m.class_names, top=1) for m in models}
    other_top = [f"{name}: {pairs[0].first} ↔ {pairs[0].second}" for name, pairs in tops.items()
                 if not pairs or {pairs[0].first, pairs[0].second} != MAIN_CONFUSION]
    one_seed = all(len(m.seeds) == 1 for m in models)  # the weights held fixed: this run's errors, not the models'
    if any(d < 0 for d in directions):
        return decided_claim(CONTRADICTED, "some model's errors cross the groups more often than chance", one_seed)
    if all(d > 0 for d in directions) and not other_top:
        return decided_claim(SUPPORTED, "errors stay within the groups more often than chance; cat ↔ dog leads for "
                             "each model", one_seed)
    groups = "errors stay within the groups more often than chance" if all(d > 0 for d in directions) else \
        "within-group errors not shown above chance for every model"
    main = f"; the main confusion is not cat ↔ dog ({name_list(other_top)})" if other_top else ""
    return ClaimFinding("errors-within-groups", INCONCLUSIVE, sentence(groups, main))


def test_parts(tests: Family, index: int) -> list[Part]:
    """"raw p = x, adjusted p = y" of one model's within-group test."""
    return ["raw ", *p_parts(tests.raw[index]), ", adjusted ", *p_parts(tests.adjusted[index])]


def errors_verdict(contents: ReportContents) -> Verdict:
    """Each model's most frequent confusion and, for CIFAR-10's classes, whether its errors stay within the groups
    more often than chance (adjusted across the models), with the original study's claim on it."""
    pairs = {m.the: f"{pair.first} ↔ {pair.second}" for m in contents.models
             for pair in confused_pairs(m.confusion, m.class_names, top=1)}
    main = [f"{model}: {pair}" for model, pair in pairs.items()]
    if len(pairs) > 1 and len(set(pairs.values())) == 1:  # one pair for every model: said once
        main = [f"{'both models' if len(pairs) == 2 else 'every model'}: {next(iter(pairs.values()))}"]
    first = sentence("Errors: the most frequent confusion is, for ", "; for ".join(main), ".") if main else \
        sentence("Errors: no model made an error on the test set.")
    models = grouped_models(contents)
    if not models:
        return Verdict((first,))
    tests = within_group_tests(contents, models)
    found = [within_group_finding(m, tests, i, contents.rules.alpha) for i, m in enumerate(models)]
    parts: list[Part] = []
    for k, (_, evidence) in enumerate(found):
        parts += (["; "] if k else []) + evidence
    lead = " " if contents.several_seeds else " In this run (one seed: the test holds the weights fixed), "
    groups = sentence(lead, capital(parts[0]) if contents.several_seeds else parts[0], parts[1:], ".")
    return Verdict((sentence(first, groups),), claims=(errors_claim(models, [d for d, _ in found]),))


def held_test_images(contents: ReportContents) -> dict[int, np.ndarray]:
    """Test-set index -> image (3, H, W) of every test image the bundle holds: the explained images of each
    model's first seed (explanations.npz), in index order; indices outside the test set are ignored."""
    held: dict[int, np.ndarray] = {}
    for m in contents.models:
        records = contents.analysis(m.key, EXPLANATIONS.filename, EXPLANATIONS.spec)
        if records is None:
            continue
        size = len(contents.runs[m.key][0].labels)
        held.update((int(i), image) for i, image in zip(records[0]["indices"], records[0]["images"]) if 0 <= i < size)
    return dict(sorted(held.items()))


@dataclass(frozen=True)
class ConfusionExample:
    """A held test image that a model put in the other class of one of its most confused pairs."""

    index: int  # test-set index
    true: str
    predicted: str
    image: np.ndarray  # (3, H, W) uint8


def confusion_examples(contents: ReportContents, m: ModelFacts, held: dict[int, np.ndarray]
                       ) -> list[tuple[ConfusedPair, list[ConfusionExample]]]:
    """Each of the model's most confused pairs with up to EXAMPLES_PER_PAIR held images it confused that way
    (first seed), in test-set order."""
    run = contents.runs[m.key][0]
    names = contents.class_names
    out = []
    for pair in confused_pairs(m.confusion, names):
        both = {pair.first, pair.second}
        found = [ConfusionExample(i, names[run.labels[i]], names[run.preds[i]], image) for i, image in held.items()
                 if run.labels[i] != run.preds[i] and {names[run.labels[i]], names[run.preds[i]]} == both]
        out.append((pair, found[:EXAMPLES_PER_PAIR]))
    return out


def draw_examples(rows: Sequence[tuple[str, Sequence[ConfusionExample]]]) -> plt.Figure:
    """The examples of every (model, pair) in reading order, EXAMPLES_PER_ROW to a row, each titled with its model
    and "true → predicted" (a compact grid: a few 32-pixel images need no more room)."""
    cells = [(label.split(":")[0], example) for label, examples in rows for example in examples]
    columns = min(EXAMPLES_PER_ROW, len(cells))
    lines = -(-len(cells) // columns)  # ceiling division
    fig, axes = plt.subplots(lines, columns, figsize=(0.85 * columns, 1.0 * lines), squeeze=False)
    for ax in axes.ravel():
        bare(ax)
    for ax, (model, example) in zip(axes.ravel(), cells):
        ax.imshow(hwc(example.image))
        ax.set_title(f"{model}: {example.true}\n→ {example.predicted} (#{example.index})", fontsize=5)
    fig.tight_layout(pad=0.2, w_pad=0.2, h_pad=0.3)
    return fig


def examples_items(contents: ReportContents, figures: FigureDrawer) -> list[Item]:
    """The figure of confusion examples and what it shows, or what the bundle lacks to show them."""
    held = held_test_images(contents)
    count = Metric(dataset_key("held_test_images"), len(held), "count")
    if not held:
        return [Paragraph([sentence(
            "Examples of these confusions cannot be shown: the bundle holds the test predictions but no test image "
            "besides one per class (samples.npz). analysis.explanations stores the first images of each class "
            "(explanations.npz), from which the examples are drawn.")])]
    rows, missing = [], []
    for m in contents.models:
        for pair, examples in confusion_examples(contents, m, held):
            label = f"{m.name}: {pair.first} ↔ {pair.second}"
            if examples:
                rows.append((label, examples))
            else:
                missing.append(label)
    lacking = [" No held image shows ", "; ".join(missing), "."] if missing else []
    if not rows:
        return [Paragraph([sentence("None of the ", count, " test images the bundle holds (explanations.npz: the "
                                    "first images of each class) is one of these confusions, so no example can be "
                                    "shown; the bundle holds no other test image.")])]
    caption = sentence(f"Examples of each model's most confused pairs ({first_seed(contents.config.train.seeds)}), "
                       "from the ", count,
                       " test images the bundle holds (explanations.npz, the first images of each class); titles: "
                       "model: true → predicted class (#test-set index).")
    width = f"{min(100, 12 * sum(len(examples) for _, examples in rows) + 4)}%"  # about 2 cm per image
    figure = figures.draw(EXAMPLES_FIGURE, lambda: draw_examples(rows), caption, width)
    return [Paragraph([sentence(FigureRef(EXAMPLES_FIGURE), " shows examples of these confusions among the test "
                                "images the bundle holds; it holds no other test image.", *lacking)]), figure]


class Errors(Section):
    key = "errors"
    title = "Errors"

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        intro = [Paragraph([groups_sentence()])] if class_groups(contents.class_names) is not None else []
        tested = grouped_models(contents)
        tests = within_group_tests(contents, tested) if tested else None
        confusions = [Paragraph(confusion_sentences(m, test_parts(tests, tested.index(m)) if m in tested else []))
                      for m in contents.models]
        return intro + confusions + examples_items(contents, figures)

    def verdict(self, contents: ReportContents) -> Verdict | None:
        return errors_verdict(contents)
