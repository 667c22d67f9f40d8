"""The configuration reference, generated from reportgen/config.py itself: ``python -m reportgen.configdoc``.

Each config field is documented where it is declared, by an attribute docstring (a string literal directly
after the field, the convention that litgpt and jsonargparse read). This module reads the dataclasses' fields,
types and defaults, and their docstrings from the classes' source (``ast``), and renders
docs/configuration-reference.md: one table per section, then what each preset overrides.
``make docs`` regenerates the page; tests/test_docs.py fails when it is out of date or a field has no docstring.

Torch-free: it imports reportgen.config only.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from typing import Any, Literal

from reportgen import config as config_module
from reportgen.config import Config
from reportgen.mappings import flatten
from reportgen.presets import PRESETS

HEADER = ("<!-- Generated from reportgen/config.py by `python -m reportgen.configdoc` (`make docs`); do not edit by "
          "hand: edit the fields' docstrings and regenerate. -->")


def config_dataclasses() -> list[type]:
    """Every dataclass that reportgen/config.py defines, in source order; then sections defined elsewhere."""
    classes = [obj for _, obj in inspect.getmembers(config_module, inspect.isclass)
               if dataclasses.is_dataclass(obj) and obj.__module__ == config_module.__name__]
    # Sections declared beside the feature they configure (reportgen/trackers.py's), after config.py's own.
    elsewhere = [cls for _, cls in sections() if cls.__module__ != config_module.__name__]
    return sorted(classes, key=lambda cls: inspect.getsourcelines(cls)[1]) + elsewhere


def field_docs(cls: type) -> dict[str, str | None]:
    """Each field of dataclass `cls` with its attribute docstring (whitespace collapsed), None where it has none."""
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    docs: dict[str, str | None] = {}
    body = node.body
    for statement, following in zip(body, [*body[1:], None]):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        doc = None
        if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            doc = " ".join(following.value.value.split()) or None
        docs[statement.target.id] = doc
    return {f.name: docs.get(f.name) for f in dataclasses.fields(cls)}


def undocumented() -> list[str]:
    """``Class.field`` for every field of a config dataclass without a docstring."""
    return [f"{cls.__name__}.{name}" for cls in config_dataclasses()
            for name, doc in field_docs(cls).items() if not doc]


def sections() -> list[tuple[str, type]]:
    """The config's sections as (key prefix, dataclass): the top level first, then each nested section."""
    def nested(prefix: str, cls: type) -> list[tuple[str, type]]:
        hints = typing.get_type_hints(cls)
        inner = [(f"{prefix}{f.name}", hints[f.name]) for f in dataclasses.fields(cls)
                 if dataclasses.is_dataclass(hints[f.name])]
        return [entry for name, sub in inner for entry in [(name, sub), *nested(f"{name}.", sub)]]

    return [("", Config), *nested("", Config)]


def render_type(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        inner = render_type(args[0])
        return f"list of {inner}" if typing.get_origin(args[0]) is not Literal else f"list, each {inner}"
    if origin is dict:
        return "mapping"
    if origin in (typing.Union, types.UnionType):
        names = [render_type(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    return getattr(hint, "__name__", str(hint))


def render_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def section_table(prefix: str, cls: type) -> list[str]:
    hints, docs = typing.get_type_hints(cls), field_docs(cls)
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            continue  # a section: its own table follows
        key = f"{prefix}.{f.name}" if prefix else f.name
        lines.append(f"| `{key}` | {_cell(render_type(hints[f.name]))} | `{_cell(render_value(default_of(f)))}` | "
                     f"{_cell(docs[f.name] or '')} |")
    return lines


def preset_tables() -> list[str]:
    lines = ["## Presets", "",
             "`--preset NAME` starts from the defaults above with these overrides; `--config` and `--set` apply on "
             "top. Generated from `reportgen.config.PRESETS`.", "",
             "| preset | overrides (besides variants) | variants |", "| --- | --- | --- |"]
    for name, overrides in PRESETS.items():
        flat = flatten({k: v for k, v in overrides.items() if k != "variants"})
        text = (", ".join(f"`{k}: {render_value(v)}`" for k, v in flat.items())
                or "none: the defaults (the seed protocol)")
        variants = ", ".join(f"`{v}`" for v in overrides.get("variants", {})) or "none"
        lines.append(f"| `{name}` | {_cell(text)} | {variants} |")
    for name, overrides in PRESETS.items():
        if not overrides.get("variants"):
            continue
        lines += ["", f"### The variants of `{name}`", "", "| variant | changes |", "| --- | --- |"]
        for variant, keys in overrides["variants"].items():
            changes = ", ".join(f"`{k}: {render_value(v)}`" for k, v in flatten(keys).items())
            lines.append(f"| `{variant}` | {_cell(changes)} |")
    return lines


def render() -> str:
    """The whole of docs/configuration-reference.md."""
    lines = [HEADER, "", "# Configuration reference", "",
             "Every key of the config, with its type, its default (the seed protocol) and what it does, from the "
             "docstrings of `reportgen/config.py`. How the config is put together (presets, YAML, `--set`, variants): "
             "[configuration.md](configuration.md).", ""]
    for prefix, cls in sections():
        title = f"`{prefix}`" if prefix else "Top level"
        intro = " ".join(inspect.getdoc(cls).split("\n\n")[0].split()) if prefix else (
            "Keys outside the sections.")
        lines += [f"## {title}", "", intro, "", *section_table(prefix, cls), ""]
    lines += preset_tables()
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
