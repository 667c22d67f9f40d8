"""A property-based fuzz test (hypothesis): a real tiny bundle with one of its files mutated, as a malicious student
would (bytes flipped, the file cut short or grown, a JSON value replaced by a hostile one), its manifest rewritten
or not. render, verify and grade each end in a clean result or a one-line refusal, never a traceback, and grade
always writes its row. The examples are few and derandomised, so that the test is the same in every run and stays
well within a minute in CI (the budget of hostile work is measured by a command: docs/bundle.md)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reportgen.bundle import write_manifest
from reportgen.cli import main
from tests.verification_helpers import rendered_bundle

# Values a stranger puts in a JSON file: huge, negative, empty, the wrong type, deeply nested.
HOSTILE_VALUES = [10 ** 30, -1, 0, 1e308, "", "=HYPERLINK(1)", None, True, [], {}, [[[[[[[[1]]]]]]]], "\u202e", -0.0]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return rendered_bundle(tmp_path_factory.mktemp("fuzz") / "b", models=("cnn",), num_classes=3, test_size=30)


def files_of(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def mutate_bytes(data: bytes, kind: str, at: float, byte: int) -> bytes:
    """Flip one byte, cut the file at a point, or grow it with junk: `at` in [0, 1) places the change."""
    i = int(at * len(data)) if data else 0
    if kind == "flip" and data:
        return data[:i] + bytes([data[i] ^ (byte or 1)]) + data[i + 1:]
    if kind == "cut":
        return data[:i]
    return data[:i] + bytes([byte]) * 64 + data[i:]


def replace_json_value(data: bytes, at: float, value) -> bytes:
    """The JSON file with one of its values (picked by `at`, depth first) replaced by `value`."""
    document = json.loads(data)
    slots = []

    def walk(node):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            slots.append((node, key))
            walk(child)

    walk(document)
    if slots:
        node, key = slots[int(at * len(slots))]
        node[key] = value
    return json.dumps(document).encode()


def clean_or_one_line(result, *, grade: bool = False) -> None:
    """No traceback; grade exits 0 (the row says why), verify and render 0 or 1 with one `error:` line or, for
    verify, its failed checks and their count."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if grade:
        assert result.exit_code == 0, result.output
    elif result.exit_code != 0:
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 or lines[-1].endswith(" failed") and not errors, result.output


MUTATIONS = st.one_of(
    st.tuples(st.sampled_from(["flip", "cut", "grow"]), st.floats(0, 0.999), st.integers(0, 255)),
    st.tuples(st.just("json"), st.floats(0, 0.999), st.sampled_from(HOSTILE_VALUES)),
)


@settings(max_examples=8, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pick=st.floats(0, 0.999), mutation=MUTATIONS, forged=st.booleans())
def test_a_mutated_bundle_renders_verifies_and_grades_cleanly_or_in_one_line(template, tmp_path_factory, pick,
                                                                             mutation, forged):
    root = shutil.copytree(template, tmp_path_factory.mktemp("case") / "b")
    names = [n for n in files_of(root) if n != "manifest.json" and (mutation[0] != "json" or n.endswith(".json"))]
    target = root / names[int(pick * len(names))]
    kind, at, extra = mutation
    data = target.read_bytes()
    target.write_bytes(replace_json_value(data, at, extra) if kind == "json" else mutate_bytes(data, kind, at, extra))
    if forged:
        write_manifest(root)  # a forger rewrites the checksums too
    runner = CliRunner()
    clean_or_one_line(runner.invoke(main, ["verify", str(root)]))
    out = tmp_path_factory.mktemp("grades")
    clean_or_one_line(runner.invoke(main, ["grade", str(root), "--out", str(out), "--no-progress"]), grade=True)
    (row,) = json.loads((out / "grades.json").read_text())["rows"]
    assert row["verified"] in (True, False)
    clean_or_one_line(runner.invoke(main, ["render", str(root), "--no-pdf"]))
