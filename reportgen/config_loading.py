"""Reading a config: a preset, then a YAML file, then dotted ``key=value`` overrides, merged, checked against
reportgen.config's dataclasses and validated (reportgen.config_rules); a bundle's stored config; saving one.

Like reportgen.config it must not import torch: ``reportgen render`` reads a bundle's config on machines without it.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from reportgen.config import Config
from reportgen.errors import ConfigError
from reportgen.mappings import flatten, merge, nest
from reportgen.plain_data import load_yaml
from reportgen.presets import PRESETS


def load_config(preset: str = "seed", config_file: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> Config:
    """Build and validate a config: preset, then YAML file, then dotted-key overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}': choose one of {', '.join(PRESETS)}")
    raw: dict[str, Any] = {}
    merge(raw, copy.deepcopy(PRESETS[preset]))  # merging edits nested mappings in place
    if config_file is not None:
        merge(raw, _read_yaml(Path(config_file)))
    for key, value in (overrides or {}).items():
        merge(raw, nest(key, value))
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a (possibly partial) nested mapping and return the full config."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a mapping of sections (data, train, ...)")
    config = _build(Config, raw, prefix="")
    from reportgen.config_rules import validate  # it reads this module's dataclasses

    validate(config)
    return config


# Keys that earlier versions wrote into a bundle's config.yaml and that no longer mean anything. A bundle that holds
# one still reads (the key is dropped); a user's config or --set that names one is refused as unknown.
RETIRED_KEYS = frozenset({
    "report.slope_epochs",  # 0.4.0: the training-length slope's window; training length is judged by a variant now
    "augment.policy_group",  # 0.5.0: images that shared one policy operation; the policy now draws per image
})


def bundle_config_from_dict(raw: Any) -> Config:
    """`config_from_dict` for a bundle's stored config: the retired keys of earlier versions are dropped first."""
    if isinstance(raw, dict):
        raw = copy.deepcopy(raw)
        for dotted in RETIRED_KEYS:
            section, name = dotted.split(".")
            if isinstance(raw.get(section), dict):
                raw[section].pop(name, None)
    return config_from_dict(raw)


def parse_override(text: str) -> tuple[str, Any]:
    """Split a ``section.key=value`` override; the value is parsed as YAML (numbers, lists, ...)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{text}' is not of the form section.key=value")
    try:
        return key.strip(), load_yaml(value) if value.strip() else ""
    except yaml.YAMLError:
        return key.strip(), value


def save_config(config: Config, path: Path) -> None:
    """Write the resolved config as YAML."""
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections (data, train, ...)")
    return data


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise ConfigError(
                f"unknown config key '{prefix}{key}': known keys here are {', '.join(sorted(names))}"
            )
    kwargs = {}
    for name in names & raw.keys():
        if cls is Config and name == "variants":
            kwargs[name] = _variant_overrides(raw[name])
        else:
            kwargs[name] = _coerce(hints[name], raw[name], f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check `value` against the annotation `hint`, converting only int and numeric text -> float."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a section (a mapping), got {value!r}")
        return _build(hint, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _coerce(inner, value, key)
    if origin is Literal:
        choices = typing.get_args(hint)
        value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if value not in choices:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads 3e-4 (no dot) as a string; it is meant as a number
            return float(value)
        except ValueError:
            pass
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"config key '{key}' must be of type {getattr(hint, '__name__', hint)}, got {value!r}")


VARIANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
def _variant_overrides(raw: Any) -> dict[str, dict[str, Any]]:
    """`variants` as {name: {dotted key: value}}; a variant's keys may be dotted or nested, and a variant set
    to null is dropped (so that `variants.modern=null` removes a preset's variant)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config key 'variants' must map variant names to their keys, got {raw!r}")
    out = {}
    for name, keys in raw.items():
        if keys is None:
            continue
        if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
            raise ConfigError(f"variant name {name!r} must be 1 to 40 lower-case letters, digits, - or _, "
                              "starting with a letter or digit")
        if not isinstance(keys, dict) or not keys:
            raise ConfigError(f"variant '{name}' must map config keys to values, e.g. {{augment.enabled: false}}")
        out[name] = flatten(keys)
    return out
