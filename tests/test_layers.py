"""The library's layering, read from the sources with ast (nothing is imported):

- no import cycle among clipret's modules, counting the imports a module runs when it is imported
  (its body, class bodies included; `if TYPE_CHECKING:` blocks and function bodies left out);
- only clipret/ui imports streamlit or clipret.ui (anywhere in a module, function bodies included);
  clipret/ui itself may import the rest of the library.

An edge goes to the module an import names: `from clipret.x import y` is clipret.x.y when that is a
module, else clipret.x (its __init__); the parent packages Python initialises on the way are not edges,
so a package's __init__ re-exporting its submodules is no cycle.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clipret"
UI = "clipret.ui"
UI_ONLY = ("streamlit", UI)  # top-level names (and their submodules) only clipret/ui may import
# a module named in a string, e.g. importlib.import_module("streamlit") or a worker's "module:function"
NAMED_IN_STRING = re.compile(r"^(streamlit|clipret\.ui)(\.[A-Za-z_][\w.]*)?(:[A-Za-z_]\w*)?$")


@cache
def modules() -> dict[str, Path]:
    """Dotted name → file, for every module of clipret (a package is its __init__)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


@cache
def tree(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_imports(body: list[ast.stmt]):
    """The Import/ImportFrom nodes a module runs when it is imported: the module body and whatever
    runs with it (if/try/with/for/while/match blocks, class bodies), not function bodies and not
    `if TYPE_CHECKING:` (its `else:` does run)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from import_time_imports(node.body)
            yield from import_time_imports(node.orelse)
        elif isinstance(node, ast.ClassDef):
            yield from import_time_imports(node.body)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from import_time_imports(block)
        elif isinstance(node, (ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
            yield from import_time_imports(node.body)
            yield from import_time_imports(getattr(node, "orelse", []))
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from import_time_imports(case.body)


def imported_names(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute dotted names `node` (in `module`) imports: for `from a import b`, a.b when that is
    one of clipret's modules, else a."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module if is_package(module) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    names = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()]
    return names if len(names) == len(node.names) else [*names, base]


@cache
def import_graph() -> dict[str, set[str]]:
    """Module → the clipret modules it imports at import time."""
    graph: dict[str, set[str]] = {}
    for name in modules():
        targets = set()
        for node in import_time_imports(tree(name).body):
            for target in imported_names(name, node):
                while target and target not in modules():  # `import clipret.x.Name`-style: its module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted; only those of 2+ modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def a_cycle(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module, as a path (first == last), by breadth-first search."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return component


def in_ui(module: str) -> bool:
    return module == UI or module.startswith(UI + ".")


def _names_ui_only(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in UI_ONLY)


# -- the scanner itself, on known snippets ---------------------------------------------------------------
def test_scanner_counts_import_time_imports_only():
    source = """
import os
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import clipret.ui
else:
    import json
try:
    import tomllib
except ImportError:
    import tomli
class A:
    import re
def f():
    import streamlit
"""
    found = [alias.name if isinstance(node, ast.Import) else node.module
             for node in import_time_imports(ast.parse(source).body)
             for alias in (node.names if isinstance(node, ast.Import) else node.names[:1])]
    assert found == ["os", "typing", "json", "tomllib", "tomli", "re"]


def test_scanner_resolves_from_imports_and_finds_cycles():
    assert imported_names("clipret.store", ast.parse("from clipret.store import clip_store").body[0]) == [
        "clipret.store.clip_store"]
    assert imported_names("clipret.store.points", ast.parse("from . import clip_store").body[0]) == [
        "clipret.store.clip_store"]
    assert imported_names("clipret.cli", ast.parse("from clipret.store import ClipStore").body[0]) == [
        "clipret.store"]
    assert imported_names("clipret.store.points", ast.parse("from ..config import Settings").body[0]) == [
        "clipret.config"]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert a_cycle(["a", "b", "c"], graph) == ["a", "b", "c", "a"]


def test_every_module_is_scanned():
    assert {"clipret", "clipret.cli", "clipret.store", "clipret.ui", "clipret.sources.demo"} <= set(modules())
    assert any(import_graph().values()), "the scan found no import between clipret's modules"


# -- the layering -------------------------------------------------------------------------------------
def test_no_import_cycle_among_clipret_modules():
    graph = import_graph()
    cycles = [" → ".join(a_cycle(component, graph)) for component in strongly_connected(graph)]
    assert not cycles, "import cycles among clipret's modules (module-level imports):\n" + "\n".join(cycles)


def test_only_clipret_ui_imports_streamlit_or_the_ui():
    wrong = []
    for name, path in modules().items():
        if in_ui(name):
            continue
        for node in ast.walk(tree(name)):  # function bodies included
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno} imports {t}" for t in imported_names(name, node)
                          if _names_ui_only(t)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and NAMED_IN_STRING.match(node.value):
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno} names {node.value!r}"]
    assert not wrong, "only clipret/ui may import streamlit or clipret.ui:\n" + "\n".join(wrong)


def test_the_ui_builds_on_the_library():
    ui = {name: targets for name, targets in import_graph().items() if in_ui(name)}
    assert ui, "clipret/ui has no modules"
    library = {target for targets in ui.values() for target in targets if not in_ui(target)}
    assert library, "clipret/ui imports nothing of the library at module level"
    streamlit_users = [name for name in ui
                       if any(alias.name.startswith("streamlit") for node in ast.walk(tree(name))
                              if isinstance(node, ast.Import) for alias in node.names)
                       or any((node.module or "").startswith("streamlit") for node in ast.walk(tree(name))
                              if isinstance(node, ast.ImportFrom))]
    assert streamlit_users, "no module of clipret/ui imports streamlit: the layer test scans the wrong place"
