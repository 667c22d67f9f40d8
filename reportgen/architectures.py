"""The model registry's torch-free entries: each architecture's key, display name, config section and description.

Config validation (which model keys exist), the build's labels, the report and grade read a model from
here; reportgen.models holds only the factories (they need torch), under the same keys, so that
`reportgen render` and `reportgen grade` know every model without importing torch. A new architecture
adds one entry here, its config section, and one factory there (tests/test_models.py checks the keys match).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence, Union

if TYPE_CHECKING:
    from reportgen.config import Config


class Value(NamedTuple):
    """A number in a description: a config value (`config.<path>`) or a property of the data (`dataset.<path>`)."""

    scope: str  # "config" or "dataset"
    path: str
    value: float
    unit: str


class Values(NamedTuple):
    """A list of config values in a description, printed separated by commas (`config.<path>.<index>` each)."""

    path: str
    values: Sequence[float]
    unit: str


DescriptionPart = Union[str, Value, Values]


def _count(path: str, value: int) -> Value:
    return Value("config", path, value, "count")


def _classes(num_classes: int) -> Value:
    return Value("dataset", "num_classes", num_classes, "count")


def _describe_cnn(config: "Config", num_classes: int) -> list[DescriptionPart]:
    c = config.cnn
    return [
        "Input batch normalisation, then ", _count("cnn.stages", len(c.channels)),
        " stages of ResBlock (two 3×3 convolutions with batch normalisation and ReLU, plus a residual "
        "shortcut) → 2×2 max-pooling → dropout ", Value("config", "cnn.dropout", c.dropout, "number"),
        ", with widths ", Values("cnn.channels", c.channels, "count"),
        "; the flattened features feed an MLP head with ", _count("cnn.hidden_dim", c.hidden_dim),
        " hidden units and ", _classes(num_classes), " outputs."]


def _describe_vit(config: "Config", num_classes: int) -> list[DescriptionPart]:
    v = config.vit
    return [
        "Non-overlapping ", _count("vit.patch_size", v.patch_size), "-pixel patches embedded into ",
        _count("vit.embed_dim", v.embed_dim), " dimensions by a strided convolution, a learnable "
        "CLS token and positional embedding, ", _count("vit.depth", v.depth),
        " pre-norm encoder layers with ", _count("vit.num_heads", v.num_heads),
        " attention heads and a GELU MLP of width ", _count("vit.mlp_dim", v.mlp_dim),
        ", dropout ", Value("config", "vit.dropout", v.dropout, "number"),
        ", then layer normalisation of the CLS token and a linear head with ", _classes(num_classes), " outputs."]


@dataclass(frozen=True)
class ArchitectureEntry:
    """A registered architecture, as the report knows it."""

    key: str
    """The model's name in config.models (cnn, vit)."""
    display_name: str
    """What the report, the progress lines and the grade sheet call it."""
    config_section: str
    """The Config attribute that holds its settings (config.cnn, config.vit)."""
    describe: Callable[["Config", int], list[DescriptionPart]]
    """(config, number of classes) -> the description: text, and the numbers in it as plain data (the report
    makes them data-metrics)."""


ARCHITECTURES: dict[str, ArchitectureEntry] = {
    "cnn": ArchitectureEntry("cnn", "CNN", "cnn", _describe_cnn),
    "vit": ArchitectureEntry("vit", "ViT", "vit", _describe_vit),
}


def display_name(key: str) -> str:
    """The registered model `key`'s display name ("CNN")."""
    return ARCHITECTURES[key].display_name


def model_settings(config: "Config", key: str) -> dict:
    """The registered model `key`'s section of `config`, as a plain mapping (part of its runs' identity)."""
    return dict(getattr(config, ARCHITECTURES[key].config_section).__dict__)
