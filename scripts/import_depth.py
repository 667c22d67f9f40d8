#!/usr/bin/env python3
"""How layered reportgen's code is: modules, the longest chain of reportgen imports, the largest modules.

Every import statement of a reportgen module counts (lazy ones inside functions too; those under
`if TYPE_CHECKING:` do not); a chain is a path
of imports without repeats. The same is measured over units, a package (report, grading, ...) or a top-level
module each, imports inside a unit left out. Run from the repository root: python3 scripts/import_depth.py [--chain]
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path


def module_graph(root: Path) -> dict[str, set[str]]:
    """{module: the reportgen modules it imports}."""
    files = {".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        tree = ast.parse(path.read_text())
        type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                     and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in type_only:  # imports for type hints only: no dependency when the code runs
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                module = ".".join([*base, node.module] if node.module else base) if node.level else node.module or ""
                deps |= {f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph with each package of reportgen as one unit (reportgen.report.x -> reportgen.report)."""
    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])
    units: dict[str, set[str]] = {}
    for name, deps in graph.items():
        units.setdefault(unit(name), set()).update(unit(d) for d in deps if unit(d) != unit(name))
    return units


def longest_chain(graph: dict[str, set[str]]) -> tuple[str, ...]:
    """The longest path of imports without repeats."""
    @functools.lru_cache(None)
    def chain(name: str, seen: frozenset = frozenset()) -> tuple[str, ...]:
        longest = max((chain(d, seen | {name}) for d in graph[name] if d not in seen), key=len, default=())
        return (name, *longest)

    return max((chain(n) for n in graph), key=len)


def main() -> None:
    graph = module_graph(Path("reportgen"))
    deepest = longest_chain(graph)
    units = unit_graph(graph)
    unit_chain = longest_chain(units)
    sizes = sorted(((len(Path(*n.split(".")).with_suffix(".py").read_text().splitlines())
                     if Path(*n.split(".")).with_suffix(".py").is_file() else 0), n) for n in graph)
    print(f"{len(graph)} modules; longest import chain: {len(deepest)} modules")
    if "--chain" in sys.argv:
        print("  " + " -> ".join(deepest))
    print(f"{len(units)} units (packages and top-level modules); longest chain: {len(unit_chain)} units")
    if "--chain" in sys.argv:
        print("  " + " -> ".join(unit_chain))
    print("largest: " + ", ".join(f"{n} ({lines} lines)" for lines, n in reversed(sizes[-5:])))


if __name__ == "__main__":
    main()
