"""The sandbox's module layout: no import cycle inside the package, and a handle (`import
sandbox`) that the suite can import without the server's dependencies.

Imports are read with ast, not executed. Every import statement counts, also one inside a
function or under `if TYPE_CHECKING:`: a cycle hidden behind a late import is still a cycle.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "sandbox"
HANDLE_MAY_IMPORT = set(sys.stdlib_module_names) | {"requests"}


def module_files() -> Dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name `from <base> import ...` refers to."""
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str, path: Path, modules: Set[str]) -> tuple[Set[str], Set[str]]:
    """(modules of the package it imports, top-level names of the outside modules it imports)."""
    inside, outside = set(), set()

    def add(name: str) -> None:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            inside.add(name)
        else:
            outside.add(name.split(".")[0])

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path.name == "__init__.py", node)
            for alias in node.names:
                # `from pkg import name` imports the submodule pkg.name when there is one
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    inside.discard(module)
    return inside, outside


def import_graph() -> tuple[Dict[str, Set[str]], Dict[str, Set[str]]]:
    files = module_files()
    inside, outside = {}, {}
    for module, path in files.items():
        inside[module], outside[module] = imports_of(module, path, set(files))
    return inside, outside


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One cycle of the graph as [a, b, ..., a], or None."""
    done: Set[str] = set()
    path: List[str] = []
    on_path: Set[str] = set()

    def visit(node: str) -> Optional[List[str]]:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_names_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_every_kind_of_import():
    inside, _ = import_graph()
    assert len(inside) > 30
    assert "sandbox.reaper" in inside["sandbox"]                         # from . import reaper
    assert "sandbox.standby.files" in inside["sandbox.standby.sync"]     # from . import files as sf
    assert "sandbox.clock" in inside["sandbox.cloud.lifecycle"]          # from ..clock import Clock
    assert "sandbox.server" in inside["sandbox.__main__"]                # a late import


def test_no_import_cycle_inside_the_sandbox():
    inside, _ = import_graph()
    cycle = find_cycle(inside)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_handle_needs_only_the_standard_library_and_requests():
    """The suite's process imports `sandbox`: it must never pull in fastapi, asyncssh or
    uvicorn, which only the server subprocess has to load."""
    inside, outside = import_graph()
    seen, todo = set(), [PACKAGE]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(inside[module])
    needs = {m: sorted(outside[m] - HANDLE_MAY_IMPORT) for m in sorted(seen)}
    assert not any(needs.values()), f"the handle imports more than the standard library and requests: {needs}"


def test_layers_point_one_way():
    """The cloud knows neither the standby nor HTTP; the standby does not know HTTP (it is told
    by the cloud through cloud/listener.py, and served by web/)."""
    inside, _ = import_graph()
    forbidden = {"sandbox.cloud": ("sandbox.standby", "sandbox.web", "sandbox.core"),
                 "sandbox.standby": ("sandbox.web", "sandbox.core")}
    wrong = sorted((m, target) for m, targets in inside.items() for target in targets
                   for layer, banned in forbidden.items()
                   if (m == layer or m.startswith(layer + ".")) and target.startswith(banned))
    assert not wrong, wrong
