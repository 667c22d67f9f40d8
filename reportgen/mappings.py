"""Flattening nested mappings to dotted keys: {"train": {"lr": 0.001}} -> {"train.lr": 0.001}.

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
