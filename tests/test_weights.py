"""weights: a stranger's weights file is bounded before it is read or unpacked, and holds only dense, real CPU
tensors; every refusal is one WeightsError line naming the file and the problem."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch

from reportgen import bundle_files
from reportgen.errors import WeightsError
from reportgen.weights import check_weights_file, state_dict_from_bytes


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_a_plain_state_dict_is_read():
    state = state_dict_from_bytes(saved({"w": torch.ones(2), "n": torch.tensor(3)}), "w.pt")
    assert torch.equal(state["w"], torch.ones(2))


@pytest.mark.parametrize("make, problem", [
    (lambda: torch.ones(2, 2).to_sparse(), "is a sparse_coo tensor, not a dense one"),
    (lambda: torch.ones(2, dtype=torch.complex64), "is complex"),
    (lambda: torch.complex(torch.tensor([float("nan")]), torch.tensor([0.0])), "is complex"),  # NaN: not non-finite
    (lambda: torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8), "is a quantized tensor"),
    (lambda: torch.ones(2, dtype=torch.bool), "has dtype bool"),
], ids=["sparse", "complex", "complex-nan", "quantized", "bool"])
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")  # deprecated, and still what a stranger may save
def test_tensors_that_are_not_dense_real_and_numeric_are_refused_by_name(make, problem):
    with pytest.raises(WeightsError, match=f"parameter 'odd' {problem}"):
        state_dict_from_bytes(saved({"ok": torch.ones(1), "odd": make()}), "w.pt")


def test_a_meta_tensor_is_refused():
    with pytest.raises(WeightsError, match="on the meta device"):
        state_dict_from_bytes(saved({"odd": torch.empty(3, device="meta")}), "w.pt")


def test_an_archive_that_declares_more_than_the_cap_is_refused_before_unpacking(monkeypatch):
    monkeypatch.setattr(bundle_files, "MAX_WEIGHTS_BYTES", 1 << 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/0", b"\0" * (2 << 20))  # 2 MiB of zeros deflate to a few KiB
    assert len(buffer.getvalue()) < 64 << 10
    with pytest.raises(WeightsError, match="declares 2 MiB unpacked, over the 1 MiB"):
        state_dict_from_bytes(buffer.getvalue(), "w.pt")


def test_a_weights_file_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_files, "MAX_WEIGHTS_BYTES", 1 << 20)
    path = tmp_path / "big.pt"
    with open(path, "wb") as f:
        f.truncate(2 << 20)  # sparse: over the cap without writing it
    with pytest.raises(WeightsError, match="is 2 MiB, over the 1 MiB"):
        check_weights_file(path)
