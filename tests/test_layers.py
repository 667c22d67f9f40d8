"""The code's shape: commands side by side (none imports another), no private name imported across modules,
no module over the size a reader takes in at once, and the import chain measured by scripts/import_depth.py."""

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reportgen"
MAX_LINES = 450  # about 400 lines a module


def imports_of(path: Path) -> list[ast.ImportFrom]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", sorted((PACKAGE / "commands").glob("*.py")), ids=lambda p: p.stem)
def test_no_command_imports_another(path):
    others = {p.stem for p in (PACKAGE / "commands").glob("*.py")} - {"__init__", "options", path.stem}
    for node in imports_of(path):
        assert not any((node.module or "") == f"reportgen.commands.{name}" for name in others), node.module


def test_no_library_imports_a_command():
    for path in modules():
        if path.parent.name == "commands" or path.name == "cli.py":
            continue
        assert not any((node.module or "").startswith("reportgen.commands") for node in imports_of(path)), path


def test_no_module_imports_a_private_name_from_another():
    for path in modules():
        for node in imports_of(path):
            if (node.module or "").startswith("reportgen"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                assert not private, f"{path.relative_to(ROOT)} imports {private} from {node.module}"


def test_no_module_is_over_the_size_a_reader_takes_in():
    sizes = {path.relative_to(ROOT): len(path.read_text().splitlines()) for path in modules()}
    assert max(sizes.values()) <= MAX_LINES, max(sizes, key=sizes.get)


def test_the_import_chain_is_measured():
    spec = importlib.util.spec_from_file_location("import_depth", ROOT / "scripts" / "import_depth.py")
    import_depth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(import_depth)
    graph = import_depth.module_graph(PACKAGE)
    chain = import_depth.longest_chain(graph)
    # 18 before the commands stood side by side, 17 after; 19 since reading a config (config_loading -> config_rules
    # -> config) stands apart from its definition: a bundle reader's chain goes through all three
    assert chain[0] == "reportgen.cli" and len(chain) <= 19
    # units: 13 in 0.4.0, then 10; 12 with config_loading and the executors (grading -> executors -> assembly)
    assert len(import_depth.longest_chain(import_depth.unit_graph(graph))) <= 12
