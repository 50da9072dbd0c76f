"""Check the import structure of the three packages: no cycles between modules, and arrows pointing down only.

Every import statement counts: at module level, inside a function (a late import hides a cycle, it does not
open it) and under ``if TYPE_CHECKING:`` (a type-only cycle is still two modules that need each other).
``from package import submodule`` is an arrow to the submodule; a package's ``__init__`` is a module that
imports what it re-exports.

    python scripts/check_imports.py        # prints the cycles and forbidden arrows; exit 1 if there are any
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("demo_search", "workers", "db")
FORBIDDEN = {"workers": ("demo_search", "db"), "db": ("demo_search", "workers")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")
             if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported = _imports(tree, module, path.name == "__init__.py", set(files))
        targets = {name for name in imported if name in files}
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def forbidden_arrows(graph: dict[str, set[str]]) -> list[str]:
    return [f"{source} imports {target}" for source, targets in sorted(graph.items()) for target in sorted(targets)
            if target.split(".")[0] in FORBIDDEN.get(source.split(".")[0], ())]


def main() -> int:
    graph = import_graph()
    problems = [f"import cycle: {' <-> '.join(component)}" for component in cycles(graph)] + forbidden_arrows(graph)
    for problem in problems:
        print(problem)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
