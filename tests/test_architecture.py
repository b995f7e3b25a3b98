"""The import rules of the layout (docs/architecture.md), read from the source:

- core/ imports only core/, the standard library and a few libraries it computes with;
- channels/ never imports storage/, knowledge/ or bot/; storage/ and knowledge/ never import
  channels/ or bot/, nor each other; only bot/ knows every package;
- no import cycle anywhere: not between modules, and not between core's subpackages.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "channels", "core", "knowledge", "storage")
# What core may use besides itself and the standard library, and why.
CORE_LIBRARIES = {
    "babel",  # reads the translation catalogs
    "matplotlib",  # draws the report chart
    "rapidfuzz",  # groups similar questions for /gaps
}
FORBIDDEN = {
    "core": {"bot", "channels", "knowledge", "storage"},
    "channels": {"bot", "knowledge", "storage"},
    "storage": {"bot", "channels", "knowledge"},
    "knowledge": {"bot", "channels", "storage"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, type-checking imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    return {
        name: {imported for imported in _imports(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }


GRAPH = _graph()


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_the_layout_allows(package: str) -> None:
    wrong = sorted(
        f"{module} imports {imported}"
        for module in GRAPH
        if _top(module) == package
        for imported in _all_imports(module)
        if _top(imported) in FORBIDDEN[package]
    )
    assert not wrong, wrong


def _all_imports(module: str) -> set[str]:
    path = ROOT / module.replace(".", "/")
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return _imports(path)


def test_core_uses_only_the_standard_library_and_its_few_libraries() -> None:
    outside = sorted(
        f"{module} imports {imported}"
        for module in GRAPH
        if _top(module) == "core"
        for imported in _all_imports(module)
        if _top(imported) not in {"core", "__future__", *CORE_LIBRARIES}
        and _top(imported) not in sys.stdlib_module_names
    )
    assert not outside, outside


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH) or [])


def test_no_cycle_between_cores_subpackages() -> None:
    """core/*.py is the shared vocabulary; each subpackage is one concept."""

    def group(module: str) -> str:
        parts = module.split(".")
        is_package = (ROOT / "/".join(parts[:2])).is_dir()
        return ".".join(parts[:2]) if len(parts) > 1 and is_package else "core"

    packages: dict[str, set[str]] = defaultdict(set)
    for module, imported in GRAPH.items():
        if _top(module) != "core":
            continue
        for other in imported:
            if group(other) != group(module):
                packages[group(module)].add(group(other))
    assert _cycle(packages) is None, " -> ".join(_cycle(packages) or [])


def test_the_rules_see_the_code() -> None:
    assert len(GRAPH) > 100 and GRAPH["core.conversation.engine"]
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
