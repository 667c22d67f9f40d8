#!/usr/bin/env python3
"""How layered reportgen's code is: modules, the longest chain of reportgen imports, the largest modules.

Every import statement of a reportgen module counts (lazy ones inside functions too); a chain is a path
of imports without repeats. Run from the repository root: python3 scripts/import_depth.py [--chain]
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path


def module_graph(root: Path) -> dict[str, set[str]]:
    """{module: the reportgen modules it imports}."""
    files = {".".join(p.with_suffix("").parts).removesuffix(".__init__"): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                module = ".".join([*base, node.module] if node.module else base) if node.level else node.module or ""
                deps |= {f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def main() -> None:
    graph = module_graph(Path("reportgen"))

    @functools.lru_cache(None)
    def chain(name: str, seen: frozenset = frozenset()) -> tuple[str, ...]:
        longest = max((chain(d, seen | {name}) for d in graph[name] if d not in seen), key=len, default=())
        return (name, *longest)

    deepest = max((chain(n) for n in graph), key=len)
    sizes = sorted(((len(Path(*n.split(".")).with_suffix(".py").read_text().splitlines())
                     if Path(*n.split(".")).with_suffix(".py").is_file() else 0), n) for n in graph)
    print(f"{len(graph)} modules; longest import chain: {len(deepest)} modules")
    if "--chain" in sys.argv:
        print("  " + " -> ".join(deepest))
    print("largest: " + ", ".join(f"{n} ({lines} lines)" for lines, n in reversed(sizes[-5:])))


if __name__ == "__main__":
    main()
