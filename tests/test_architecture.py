"""The package's structure, read from its source: imports point down the layers, no import
circle (function-level imports count), small modules, a small app class, one reader of the
``KOOKOO_*`` environment. The table below is the picture in docs/architecture.md; when a
module moves, both change together."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kookoo"

#: Each part of the package and the parts it may import (besides itself).
LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "protocol": frozenset({"core"}),
    "xml": frozenset({"core", "protocol"}),
    "state": frozenset({"core", "protocol"}),
    "flow": frozenset({"core", "protocol", "xml", "state"}),
    "outbound": frozenset({"core", "protocol", "xml", "state"}),
    "stream": frozenset({"core", "protocol", "xml", "state"}),
    "web": frozenset({"core", "protocol", "xml", "state", "flow", "stream"}),
    "testing": frozenset({"core", "protocol", "xml", "state", "flow", "outbound", "stream", "web"}),
    "cli": frozenset(
        {"core", "protocol", "xml", "state", "flow", "outbound", "stream", "web", "testing"}
    ),
}
#: The package's own top: the public face (``kookoo/__init__.py``) and ``python -m kookoo``.
#: Only the command line, a user of the public face, may import it.
TOP = ("kookoo", "kookoo.__main__")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str, known: dict[str, Path]) -> bool:
    return name in known and known[name].name == "__init__.py"


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every kookoo module ``path`` imports, anywhere in it (functions, TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if is_package(name, known) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kookoo":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "kookoo":
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield (target if target in known else base), node.lineno


def part(name: str) -> str:
    return name.split(".")[1] if name.count(".") else name


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, _ in imported(name, path, known):
            if target != name:
                edges[name].add(target)
    return edges


def test_every_part_of_the_package_is_in_the_layer_table() -> None:
    parts = {part(name) for name in modules() if name not in TOP}
    assert parts == set(LAYERS)


def test_imports_point_down_the_layers() -> None:
    known = modules()
    wrong = []
    for name, path in known.items():
        if name in TOP:
            continue
        own = part(name)
        for target, line in imported(name, path, known):
            other = part(target)
            if target in TOP and own != "cli":
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
            elif target not in TOP and other != own and other not in LAYERS[own]:
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {target} ({other})"
                )
    assert wrong == []


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_import_circles() -> None:
    assert strongly_connected(graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(edges) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_modules_are_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 800, f"{path.name} has {lines} lines: split it by concept"


def test_the_package_top_is_small() -> None:
    entries = sorted(
        p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and p.name != "py.typed"
    )
    assert len(entries) <= 12, entries


def test_the_app_class_is_setup_only() -> None:
    tree = ast.parse((PACKAGE / "web" / "app.py").read_text(encoding="utf-8"))
    [app] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "KooKoo"]
    assert app.end_lineno is not None
    assert app.end_lineno - app.lineno + 1 <= 350


def test_only_the_settings_module_reads_kookoo_variables() -> None:
    readers = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("KOOKOO_")
                and node.value.isupper()
                and _reads_environ(text)
            ):
                readers.append(name)
                break
    assert readers == ["kookoo.core.settings"]


def _reads_environ(text: str) -> bool:
    return "os.environ" in text or "getenv" in text
