"""The torch-free half of the model registry: what the report says about each registered architecture.

reportgen.models holds the factories (they need torch); this module holds, under the same keys, each
architecture's display name and its description for the report, built from its config section, so
that `reportgen render` can describe a model without importing torch. A new architecture adds one
entry here and one factory there (tests/test_models.py checks that the keys match).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from reportgen.report.kernel import Metric, Part, config_key, dataset_key, listing

if TYPE_CHECKING:
    from reportgen.config import Config


def _count(path: str, value: int) -> Metric:
    return Metric(config_key(path), value, "count")


def _describe_cnn(config: "Config", num_classes: int) -> list[Part]:
    c = config.cnn
    return [
        "Input batch normalisation, then ", _count("cnn.stages", len(c.channels)),
        " stages of ResBlock (two 3×3 convolutions with batch normalisation and ReLU, plus a residual "
        "shortcut) → 2×2 max-pooling → dropout ", Metric(config_key("cnn.dropout"), c.dropout, "number"),
        ", with widths ", *listing(config_key("cnn.channels"), c.channels, "count"),
        "; the flattened features feed an MLP head with ", _count("cnn.hidden_dim", c.hidden_dim),
        " hidden units and ", Metric(dataset_key("num_classes"), num_classes, "count"), " outputs."]


def _describe_vit(config: "Config", num_classes: int) -> list[Part]:
    v = config.vit
    return [
        "Non-overlapping ", _count("vit.patch_size", v.patch_size), "-pixel patches embedded into ",
        _count("vit.embed_dim", v.embed_dim), " dimensions by a strided convolution, a learnable "
        "CLS token and positional embedding, ", _count("vit.depth", v.depth),
        " pre-norm encoder layers with ", _count("vit.num_heads", v.num_heads),
        " attention heads and a GELU MLP of width ", _count("vit.mlp_dim", v.mlp_dim),
        ", dropout ", Metric(config_key("vit.dropout"), v.dropout, "number"),
        ", then layer normalisation of the CLS token and a linear head with ",
        Metric(dataset_key("num_classes"), num_classes, "count"), " outputs."]


@dataclass(frozen=True)
class ArchitectureEntry:
    """A registered architecture, as the report knows it."""

    key: str  # the config's model key and section name (cnn, vit)
    display_name: str  # what the report calls it
    describe: Callable[["Config", int], list[Part]]  # (config, number of classes) -> sentence parts


ARCHITECTURES: dict[str, ArchitectureEntry] = {
    "cnn": ArchitectureEntry("cnn", "CNN", _describe_cnn),
    "vit": ArchitectureEntry("vit", "ViT", _describe_vit),
}
