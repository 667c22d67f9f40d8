"""YAML and JSON read as plain data, from files that strangers may have written (a submitted bundle's config).

Both readers refuse what would let a small file mean something else or cost without bound:

* YAML aliases (``*name``): nested aliases expand a few hundred bytes into billions of nodes as soon as the data is
  walked (the "billion laughs"), and reportgen's configs never need them: write the values out;
* a key given twice in one mapping (YAML or JSON): the standard readers keep the last one silently, so a reviewer
  reading the file and the tool would see different values;
* JSON's NaN and Infinity, which are not JSON, and integers of more than MAX_INT_DIGITS digits (a count of
  4,001 digits overflows every array it reaches).

Each problem is a ValueError (yaml.YAMLError for YAML) whose message names it; callers turn it into their
one-line error. Torch-free.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import yaml


class PlainLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and without duplicate keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"line {mark.line + 1} uses a YAML alias (*name), which "
                                              "reportgen does not read: write the value out", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"line {key_node.start_mark.line + 1} gives the key {key!r} twice in one mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """`text` as plain YAML data (mappings, lists, scalars); yaml.YAMLError on aliases or duplicate keys."""
    return yaml.load(text, Loader=PlainLoader)  # a SafeLoader: no Python objects are constructed


MAX_INT_DIGITS = 20  # the largest count a bundle holds (FLOPs, bytes) has about 12


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits is not a count reportgen writes")
    return int(text)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a finite number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    unique = dict(pairs)
    if len(unique) < len(pairs):  # a set's size, not a count per key: a large object stays linear
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {duplicate!r} appears twice in one object")
    return unique


def load_json(text: str) -> Any:
    """`text` as JSON data; ValueError on NaN or Infinity, an integer of over MAX_INT_DIGITS digits, or a key given
    twice in one object."""
    return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int, object_pairs_hook=_unique_keys)
