"""The report's typesetting kernel: numbers, sentences, tables, figures and the layout items sections return.

Every number the report shows is a `Metric`: a data-metric key, a raw value and a unit that fixes
its format. Sentences interleave text with metrics (`Sentence`), so the template can print each
number as ``<span class="metric" data-metric=KEY data-unit=UNIT>TEXT</span>`` and `reportgen verify`
can read them back. A quantity over seeds is a `Stat` (mean, and the sample standard deviation with
two seeds or more). Metric keys are built by the `*_key` functions below, one per key prefix; the
naming scheme is listed in docs/sections.md.

A section (reportgen.report.sections) returns a list of layout items: `Paragraph`, `Bullets`,
`Callout` (a rule or a note), `Table`, `Figure` and `Subsection`; the renderer numbers sections,
subsections, tables and figures in report order, and `FigureRef` parts of a sentence print as the
number the figure was given. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

import numpy as np


class PValueFormat:
    """p-values with 4 significant digits, and "< 0.0001" below that: never an exponent in the prose."""

    floor = 1e-4

    def format(self, value: float) -> str:
        return f"< {self.floor:g}" if value < self.floor else f"{value:#.4g}"


class PValueBoundFormat(PValueFormat):
    """A p-value known only as an upper bound (the smallest p a simulation's draws can give, or a p adjusted from
    one): "≤ x", so that no equals sign claims more than was measured."""

    def format(self, value: float) -> str:
        shown = super().format(value)
        return shown if shown.startswith("<") else f"≤ {shown}"


# How each unit is displayed (anything with a str.format-like `format`); the data-metric text is exactly this.
UNIT_FORMATS = {
    "percent": "{:.2f}",  # a share or accuracy in percent
    "percent1": "{:.1f}",  # a per-class score in percent: on 100-image classes one image is a whole point
    "points": "{:.2f}",  # a difference of percentages, in percentage points
    "points1": "{:+.1f}",  # a signed difference of per-class scores ("percent1"), in percentage points
    "fraction": "{:.4f}",  # precision, recall, F1, per-class accuracy, normalised entropy in [0, 1]
    "loss": "{:.4f}",  # cross-entropy
    "seconds": "{:.2f}",
    "factor": "{:.2f}",  # a ratio, shown with a trailing ×
    "rate": "{:.1f}",  # training images per second
    "activation": "{:.4f}",  # mean feature-map activation
    "count": "{:,.0f}",  # integers; thousands separated by commas
    "epoch": "{:.0f}",
    "number": "{:g}",  # config values (learning rate, probabilities, normalisation constants)
    "pvalue": PValueFormat(),  # a test's p-value: 4 significant digits, or "< 0.0001"
    "pvalue_bound": PValueBoundFormat(),  # a p-value that is an upper bound: "≤ 0.001998"
    "statistic": "{:.2f}",  # a test statistic (t)
    "slope": "{:+.3f}",  # a change per epoch of a percentage, in points per epoch, always signed
    "loss_slope": "{:+.5f}",  # a change of a loss per epoch, always signed (a few thousandths at the end of training)
    "mflops": "{:.1f}",  # millions of floating-point operations (2 per multiply-add)
    "megabytes": "{:.2f}",  # memory in MB of 10^6 bytes
    "milliseconds": "{:.2f}",  # a short time (inference latency)
}


@dataclass(frozen=True)
class Metric:
    """One reported number: its data-metric key, raw value and unit (which fixes its format)."""

    key: str
    value: float
    unit: str

    @property
    def text(self) -> str:
        return UNIT_FORMATS[self.unit].format(self.value)


@dataclass(frozen=True)
class FigureRef:
    """A pointer to a figure by its key, printed as "Figure N" once the renderer has numbered the figures."""

    key: str


Part = Union[str, Metric, FigureRef]


@dataclass(frozen=True)
class Sentence:
    """Text interleaved with metrics (and figure references); `text` is its plain reading."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text if isinstance(p, Metric) else f"Figure {p.key}" if isinstance(p, FigureRef) else p
                       for p in self.parts)

    @property
    def metrics(self) -> list[Metric]:
        return [p for p in self.parts if isinstance(p, Metric)]


def sentence(*parts: Part | Iterable | Sentence) -> Sentence:
    """Build a Sentence from strings, metrics, sentences and (nested) lists of them, all flattened."""
    flat: list[Part] = []
    for part in parts:
        if isinstance(part, (str, Metric, FigureRef)):
            flat.append(part)
        elif isinstance(part, Sentence):
            flat.extend(part.parts)
        else:
            flat.extend(sentence(*part).parts)
    return Sentence(tuple(flat))


@dataclass(frozen=True)
class Stat:
    """A quantity over seeds: mean, and the sample standard deviation (ddof=1) when there are several seeds."""

    key: str
    unit: str
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Metric:
        return Metric(f"{self.key}.mean", float(np.mean(self.values)), self.unit)

    @property
    def std(self) -> Metric | None:
        if self.n < 2:
            return None
        return Metric(f"{self.key}.std", float(np.std(self.values, ddof=1)), self.unit)

    def parts(self, suffix: str = "") -> list[Part]:
        """``mean`` or ``mean ± std``, followed by `suffix` (a unit such as "%" or " s")."""
        std = self.std
        return [self.mean, suffix] if std is None else [self.mean, " ± ", std, suffix]

    def rekeyed(self, key: str) -> "Stat":
        """The same values under another key (e.g. prefixed by a bundle's "b2." in a comparison)."""
        return Stat(key, self.unit, self.values)


def stat(key: str, unit: str, values: Iterable[float]) -> Stat:
    """A Stat of plain floats."""
    return Stat(key, unit, tuple(float(v) for v in values))


# ---------------------------------------------------------------- metric keys, one builder per prefix


def run_key(model: str, seed: int, name: str) -> str:
    """A number of one run: ``<model>.seed<seed>.<name>``."""
    return f"{model}.seed{seed}.{name}"


def model_key(model: str, name: str) -> str:
    """A number of one model over its seeds: ``<model>.<name>``."""
    return f"{model}.{name}"


def variant_key(variant: str, key: str) -> str:
    """A number of a config variant's runs: ``variant.<name>.<key>``, `key` built as for the base runs."""
    return f"variant.{variant}.{key}"


def compare_key(name: str) -> str:
    """A comparison of the two models of a report: ``compare.<name>``."""
    return f"compare.{name}"


def config_key(path: str) -> str:
    """A config value: ``config.<section>.<field>[.<index>]``."""
    return f"config.{path}"


def dataset_key(name: str) -> str:
    """A property of the data: ``dataset.<name>``."""
    return f"dataset.{name}"


def bundle_key(index: int, name: str) -> str:
    """A number of the index-th compared bundle (1-based) in `reportgen compare`: ``b<index>.<name>``."""
    return f"b{index}.{name}"


# ---------------------------------------------------------------- layout items


Cell = Union[str, Metric, Sentence]


@dataclass
class Table:
    """A table: plain-text header, cells of text, metrics or sentences; numbered when it has a caption."""

    header: list[str]
    rows: list[list[Cell]]
    footer: list[list[Cell]] = field(default_factory=list)
    caption: str = ""
    kind: str = ""  # CSS class: "kv" (label/value pairs), "left" (numbers left-aligned), "fingerprints", "claims"
    number: int | None = None  # set by the renderer


@dataclass
class Figure:
    """A drawn figure: its key (the SVG file's stem), path relative to the document, caption and display width."""

    key: str
    src: str
    caption: Cell
    width: str = "100%"
    number: int | None = None  # set by the renderer


@dataclass
class Paragraph:
    """Sentences set as one paragraph."""

    sentences: list[Sentence]


@dataclass
class Bullets:
    """Sentences set as a bulleted list, one fact per item."""

    sentences: list[Sentence]


@dataclass
class Callout:
    """A boxed aside: a "rule" the report applies, or a "note" (a caveat)."""

    kind: str
    sentences: list[Sentence]
    label: str = ""


@dataclass
class Subsection:
    """A numbered subsection (N.k) inside a section; `key` is its HTML id."""

    key: str
    title: str
    items: list["Item"]
    number: str = ""  # set by the renderer


Item = Union[Paragraph, Bullets, Callout, Table, Figure, Subsection]


def item_metrics(items: Iterable["Item"]) -> list[Metric]:
    """Every metric that `items` show: in sentences, table cells and figure captions, descending into subsections."""
    def of_cell(cell) -> list[Metric]:
        return [cell] if isinstance(cell, Metric) else cell.metrics if isinstance(cell, Sentence) else []

    out: list[Metric] = []
    for item in items:
        if isinstance(item, (Paragraph, Bullets, Callout)):
            out += [m for s in item.sentences for m in s.metrics]
        elif isinstance(item, Table):
            out += [m for row in item.rows + item.footer for cell in row for m in of_cell(cell)]
        elif isinstance(item, Figure):
            out += of_cell(item.caption)
        elif isinstance(item, Subsection):
            out += item_metrics(item.items)
    return out


def key_value_table(pairs: Sequence[tuple[str, Cell]], caption: str = "") -> Table:
    """A two-column table of labels and values, without header."""
    return Table([], [[label, value] for label, value in pairs], caption=caption, kind="kv")


def stat_cell(value: Stat, suffix: str = "") -> Sentence:
    """``mean`` or ``mean ± std`` of a quantity over seeds, as a table cell."""
    return sentence(value.parts(suffix))


def listing(key: str, values: Sequence[float], unit: str = "number") -> list[Part]:
    """Values separated by commas, each its own metric ``<key>.<index>``."""
    parts: list[Part] = []
    for i, v in enumerate(values):
        parts += [", " if i else "", Metric(f"{key}.{i}", v, unit)]
    return parts


def floored_p(p: Metric, floor: float) -> Metric:
    """The p-value as an upper bound ("≤ x") when it is the smallest p its simulation could give (`floor`: no draw or
    resample reached the observed value): the true p may be smaller, so an equals sign would claim more than was
    measured."""
    return Metric(p.key, p.value, "pvalue_bound") if p.value <= floor + 1e-12 else p


def p_parts(p: Metric) -> list[Part]:
    """"p = 0.0123", "p < 0.0001" below the displayed floor, "p ≤ 0.001998" for an upper bound."""
    return ["p ", p] if p.text[:1] in "<≤" else ["p = ", p]


# ---------------------------------------------------------------- English


def capital(text: str) -> str:
    """The text with its first letter upper-cased (model names keep their own case)."""
    return text[:1].upper() + text[1:]


def name_list(names: Sequence[str]) -> str:
    """Names separated by commas, or "none"."""
    return ", ".join(names) if names else "none"


def first_seed(seeds: Sequence[int]) -> str:
    """Which run a per-run figure or table shows: "seed 42", or "the first seed, 42" of several."""
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"the first seed, {seeds[0]}"


def indefinite_article(number: int) -> str:
    """"a" or "an" before a number read aloud: an 8, an 11, an 18, an 80, a 16."""
    return "an" if str(number).startswith("8") or number in (11, 18) or 11_000 <= number < 12_000 \
        or 18_000 <= number < 19_000 else "a"


def plural(count: int, word: str) -> str:
    """"1 seed", "3 seeds"."""
    return f"{count} {word}{'' if count == 1 else 's'}"
