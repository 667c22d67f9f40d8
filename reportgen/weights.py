"""Weights from strangers: a torch.save file read as a plain state dict, and fitted strictly into a model.

`reportgen evaluate` (weights trained elsewhere) and `reportgen verify --deep` (a bundle's weights.pt)
load weights the same way: ``torch.load(weights_only=True)`` on the CPU, so a file that would need
code to unpickle is refused, never run; then strictly into the architecture the config describes.
Every way a file can fail to be the right state dict is one WeightsError line.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen import bundle_files
from reportgen.errors import WeightsError

if TYPE_CHECKING:
    import torch

SAVE_HINT = "save one with torch.save(model.state_dict(), FILE)"


def check_weights_file(path: Path) -> None:
    """WeightsError when a weights file given on the command line is no regular file (torch-free: commands call
    it before torch loads)."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (or is not a file)")
    _check_weights_size(path, path.stat().st_size)


def _check_weights_size(path: Path, size: int) -> None:
    if size > bundle_files.MAX_WEIGHTS_BYTES:
        raise WeightsError(f"weights file {path} is {size >> 20} MiB, over the "
                           f"{bundle_files.MAX_WEIGHTS_BYTES >> 20} MiB reportgen reads: it is not the state dict of "
                           "a model this size")


def read_weights_file(path: Path) -> bytes:
    """The bytes of a weights file given on the command line, checked by `check_weights_file` first, and read
    once: these bytes are loaded, hashed and copied into the bundle. At most one byte over the bound is read, so a
    file that grew since the check is refused without being read whole."""
    check_weights_file(path)
    with open(path, "rb") as f:
        raw = f.read(bundle_files.MAX_WEIGHTS_BYTES + 1)
    _check_weights_size(path, len(raw))
    return raw


def check_unpacked_size(raw: bytes, source: str) -> None:
    """WeightsError when the archive in `raw` (torch.save's zip format) declares more than MAX_WEIGHTS_BYTES
    (reportgen.bundle_files) unpacked: checked from its directory, before anything is decompressed (a small
    deflated file can expand a thousandfold)."""
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        return  # torch's legacy format is a plain pickle stream: its size on disk is its size
    try:
        declared = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(raw)).infolist())
    except zipfile.BadZipFile:
        raise WeightsError(f"{source} is not a readable torch.save archive; {SAVE_HINT}") from None
    if declared > bundle_files.MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{source} declares {declared >> 20} MiB unpacked, over the "
                           f"{bundle_files.MAX_WEIGHTS_BYTES >> 20} MiB reportgen reads; it is not the state dict of a "
                           "model this size")


def tensor_problem(tensor: torch.Tensor) -> str | None:
    """Why `tensor` cannot be a parameter or buffer of reportgen's models, or None: they are dense, real, on the
    CPU, and floating point (integers for counters such as BatchNorm's num_batches_tracked)."""
    import torch

    if tensor.layout != torch.strided:
        return f"is a {str(tensor.layout).removeprefix('torch.')} tensor, not a dense one"
    if tensor.is_quantized:
        return "is a quantized tensor"
    if tensor.is_complex():
        return "is complex"
    if tensor.device.type != "cpu":
        return f"is on the {tensor.device.type} device, which holds no values"
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32)):
        return f"has dtype {str(tensor.dtype).removeprefix('torch.')}"
    return None


def state_dict_from_bytes(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """The plain state dict in `raw` (a torch.save file), loaded with weights_only=True on the CPU.

    Anything else is one WeightsError line: a file that would need code to unpickle (a whole model
    saved with torch.save(model)), a file that is no torch file at all, or an object that is not a
    mapping of parameter names to tensors (a training checkpoint, say).
    """
    import torch

    check_unpacked_size(raw, source)
    try:
        with warnings.catch_warnings():  # e.g. on an unusual pickle protocol: the refusal below says enough
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch.load raises many types for a file it cannot read; all mean the same here
        needed = re.search(r"Unsupported global: GLOBAL ([\w.]{1,120})", str(exc))
        if needed:
            raise WeightsError(f"{source} is not a plain state dict: loading it would run code named in the file "
                               f"({needed.group(1)}), which torch.load(weights_only=True) refuses; "
                               f"{SAVE_HINT}") from None
        raise WeightsError(f"{source} is not a state dict that torch.load(weights_only=True) can read: not a file "
                           f"of tensors saved by torch.save; {SAVE_HINT}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{source} holds a {type(state).__name__}, not a state dict; {SAVE_HINT}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        raise WeightsError(f"{source} is a training checkpoint, not a state dict: save the model's own "
                           f"state dict instead ({SAVE_HINT})")
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source} holds entry {str(name)[:60]!r}, which is not a named tensor: it is not a "
                               f"plain state dict; {SAVE_HINT}")
        problem = tensor_problem(value)
        if problem:
            raise WeightsError(f"{source}: parameter {name[:60]!r} {problem}; reportgen's models hold dense, real "
                               "tensors on the CPU")
    return state


def _shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def fit_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str, what: str) -> None:
    """Load `state` into `model` strictly, or say in one WeightsError line where it first does not fit.

    `what` names the model in the message ("the CNN of the config"). Checked in the model's own
    parameter order: a missing parameter, one of another shape, then an unexpected one; and
    non-finite values, which would make every prediction meaningless.
    """
    import torch

    expected = model.state_dict()
    hint = "pass the config the weights were trained with (--config or --set)"
    for name, tensor in expected.items():
        if name not in state:
            raise WeightsError(f"{source} does not fit {what}: it has no parameter '{name}' (expected shape "
                               f"{_shape(tensor)}); {hint}")
        if state[name].shape != tensor.shape:
            raise WeightsError(f"{source} does not fit {what}: parameter '{name}' has shape {_shape(state[name])} "
                               f"in the file, {what} has {_shape(tensor)}; {hint}")
    unexpected = [name for name in state if name not in expected]
    if unexpected:
        raise WeightsError(f"{source} does not fit {what}: unexpected parameter '{unexpected[0]}' "
                           f"(shape {_shape(state[unexpected[0]])}); {hint}")
    broken = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if broken:
        raise WeightsError(f"{source}: parameter '{broken[0]}' holds NaN or infinite values")
    model.load_state_dict(state, strict=True)
