"""The house stays in order where CI can see it: no import circles among tracetui's modules, and no
private Textual module imported (a public API does the job, or tracetui/ui/textual_compat.py says why not).

Every import counts, wherever it is written: at the top, inside a function (imported lazily to keep
start-up fast) or under TYPE_CHECKING — a circle drawn only for the type checker is still a circle
for a person reading the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tracetui

ROOT = Path(tracetui.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(path: Path) -> Iterator[str]:
    """Every module named by an import in `path` (a `from package import module` names the module)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    return {
        name: {target for target in _imports(path) if target in MODULES and target != name}
        for name, path in MODULES.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_check_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_tracetuis_imports() -> None:
    graph = import_graph()
    assert "tracetui.ui.viewer.trace_viewer" in graph["tracetui.ui.app"]
    assert "tracetui.ui.viewer.trace_keys" in graph["tracetui.ui.app"]  # `from package import module`
    assert "tracetui.tracking.client" in graph["tracetui.ui.viewer.trace_viewer"]  # imported lazily


def test_no_import_circles_among_tracetuis_modules() -> None:
    assert circles(import_graph()) == []


def test_no_private_textual_module_is_imported() -> None:
    private = {
        f"{_module_name(path)} imports {name}"
        for path in MODULES.values()
        for name in _imports(path)
        if name.split(".")[0] == "textual" and any(part.startswith("_") for part in name.split(".")[1:])
    }
    assert private == set()
