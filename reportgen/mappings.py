"""Nested mappings and dotted keys: flattening {"train": {"lr": 0.001}} to {"train.lr": 0.001}, nesting a dotted
key back, and merging one tree into another.

Torch-free and dependency-free, so that readers of bundles (compare, grading) can flatten a config
without importing more than they need.
"""

from __future__ import annotations

from typing import Any, Mapping


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: {"train": {"lr": 0.001}} -> {"train.lr": 0.001}.

    Values that are not mappings (lists included) are kept as they are; `prefix` goes before every key.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def nest(dotted: str, value: Any) -> dict[str, Any]:
    """A dotted key as nested mappings: nest("train.lr", 0.001) -> {"train": {"lr": 0.001}}."""
    out: dict[str, Any] = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merge `new` into `into` in place: nested mappings key by key; any other value replaces the old one."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
