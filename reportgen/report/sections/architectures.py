"""Section "Architectures": each model's description (from its registry entry) and its layer table."""

from __future__ import annotations

from typing import Any

from reportgen.architectures import ARCHITECTURES, DescriptionPart, Value, Values
from reportgen.report.contents import ReportContents
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Part,
    Subsection,
    Table,
    config_key,
    dataset_key,
    listing,
    model_key,
    sentence,
)
from reportgen.report.section import FigureDrawer, Section


def _shape_text(shape: Any) -> str:
    return " × ".join(str(d) for d in shape) if isinstance(shape, (list, tuple)) else str(shape)


def architecture_table(model: str, spec: dict[str, Any]) -> Table:
    """architectures.json's layer list of one model, with the total parameter count."""
    rows: list[list[Cell]] = [
        [layer["name"], layer["type"], _shape_text(layer["output_shape"]),
         Metric(model_key(model, f"arch.layer{j}.parameters"), int(layer["parameters"]), "count")]
        for j, layer in enumerate(spec["layers"])
    ]
    footer: list[list[Cell]] = [["total", "", "", Metric(model_key(model, "parameters"), int(spec["parameters"]),
                                                          "count")]]
    return Table(["layer", "type", "output shape", "parameters"], rows, footer,
                 caption=f"{spec['display_name']}: layers, output shapes (per image) and trainable parameters.")


def description_parts(description: list[DescriptionPart]) -> list[Part]:
    """A registry entry's description as sentence parts: each number a data-metric under its config or data key."""
    parts: list[Part] = []
    for part in description:
        if isinstance(part, Value):
            key = config_key(part.path) if part.scope == "config" else dataset_key(part.path)
            parts.append(Metric(key, part.value, part.unit))
        elif isinstance(part, Values):
            parts += listing(config_key(part.path), part.values, part.unit)
        else:
            parts.append(part)
    return parts


class Architectures(Section):
    key = "architectures"
    title = "Architectures"
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        out: list[Item] = []
        for f in contents.models:
            entry = ARCHITECTURES.get(f.key)
            description = entry.describe(contents.config, len(contents.class_names)) if entry else None
            text = [Paragraph([sentence(description_parts(description))])] if description else []
            out.append(Subsection(f"architecture-{f.key}", f.name,
                                  [*text, architecture_table(f.key, contents.architectures[f.key])]))
        return out
