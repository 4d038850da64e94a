"""The package's import graph: layers only look down, and no module imports itself back (no cycles).

Every ``import`` / ``from ... import`` of the package is counted, at module level or inside a
function, ``TYPE_CHECKING`` blocks included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "inception_repro"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE
# models/ is the network alone: it must not know of configs, training, analysis or run records.
FORBIDDEN = {
    "models": ("config", "training", "analysis", "runs", "train", "ablate", "bench", "data"),
    "data": ("training", "analysis", "runs", "train", "ablate", "bench"),
    "training": ("analysis", "train", "ablate", "bench", "config"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports (``from pkg import mod`` counts as ``pkg.mod`` when it is one)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    files = sorted(SRC.rglob("*.py"))
    known = {module_name(f) for f in files}
    return {module_name(f): imported_modules(f, known) for f in files}


def strip_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop ``__init__`` re-export edges (a package importing its own children is not a cycle)."""
    return {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert f"{PACKAGE}.config" in graph[f"{PACKAGE}.train"]
    assert f"{PACKAGE}.models.config" in graph[f"{PACKAGE}.models.inception"]


def test_no_import_cycle():
    cycle = find_cycle(strip_packages(import_graph()))
    assert cycle is None, " -> ".join(cycle)


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_layers_only_look_down():
    wrong = []
    for module, deps in import_graph().items():
        layer = module.split(".")[1] if module.count(".") >= 1 else ""
        for dep in deps:
            target = dep.split(".")[1]
            if target in FORBIDDEN.get(layer, ()):
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "; ".join(wrong)
