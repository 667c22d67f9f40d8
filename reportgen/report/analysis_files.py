"""The build-time analysis files of a run, read as untrusted input: values of the kinds and shapes docs/bundle.md gives.

`parse_analysis` parses efficiency.json or an .npz, read by the bundle's hardened reader (size caps, no
links: reportgen.bundle.Bundle.read_bytes; never unpickling), and `check_fields` refuses, in one BundleError line
naming the file, a field of the wrong kind or shape or a number that is not finite, before a section computes or
draws anything from it.
Each file's spec is registered with its analysis (reportgen.analyses, `Analysis.spec`): it maps
each field to (kind, shape); shapes name their dimensions ("C", "S", "N"), and a name must have the same
size everywhere in one file; integers are exact sizes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.analyses import Spec
from reportgen.bundle_checks import load_npz
from reportgen.bundle_files import parse_json
from reportgen.errors import BundleError

KINDS = {"int": "iu", "uint8": "u", "float": "f", "number": "iuf", "positive": "iuf", "text": "U"}
# "positive": a time, a size or a count that a measurement never gives as zero (a speed or a per-image cost divides
# by it).


def parse_analysis(raw: bytes, path: Path) -> dict[str, Any]:
    """The bytes of the analysis file `path` of a run, JSON or .npz, parsed into its fields (`check_fields` checks
    them against a spec)."""
    data = parse_json(raw, path) if path.suffix == ".json" else load_npz(raw, path)
    if not isinstance(data, dict):
        raise BundleError(f"bundle file {path} is not a mapping of fields")
    return data


def check_fields(data: dict[str, Any], path: Path, spec: Spec) -> dict[str, Any]:
    """`data`, the parsed analysis file `path`, once every field of `spec` is as it says (BundleError otherwise)."""
    sizes: dict[str, int] = {}
    for name, (kind, shape) in spec.items():
        if name not in data:
            raise BundleError(f"bundle file {path} lacks {name} (docs/bundle.md lists its fields)")
        problem = _problem(data[name], kind, shape, sizes)
        if problem:
            raise BundleError(f"bundle file {path}: {name} {problem}")
    return data


def _problem(value: Any, kind: str, shape: tuple, sizes: dict[str, int]) -> str | None:
    """What is wrong with one field, or None."""
    if kind == "mapping":  # {name: number}, as FLOP counts per operator
        ok = isinstance(value, dict) and all(_is_finite(v) for v in value.values()) and all(
            k in value for k in shape)
        return None if ok else f"is not a mapping of numbers with {', '.join(shape)}"
    if kind == "optional" and value is None:
        return None
    array = np.asarray(value)
    kind = "number" if kind == "optional" else kind
    if array.dtype.kind not in KINDS[kind] or (kind == "uint8" and array.dtype != np.uint8):
        return f"holds {array.dtype} values, not {kind} ones"
    if array.ndim != len(shape) or not all(_fits(dim, size, sizes) for dim, size in zip(shape, array.shape)):
        return f"has shape {array.shape}, not ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"
    if array.dtype.kind in "iuf" and not np.isfinite(array).all():
        return "holds a value that is not a finite number"
    if kind == "positive" and not (array > 0).all():
        return "holds a value that is not positive (a measured time or size is never zero)"
    return None


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fits(dim: int | str, size: int, sizes: dict[str, int]) -> bool:
    """Whether one axis has the size its dimension asks (a named size is fixed by its first use, and not 0)."""
    if isinstance(dim, int):
        return size == dim
    return size > 0 and sizes.setdefault(dim, size) == size
