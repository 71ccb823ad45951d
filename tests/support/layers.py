"""The import graph of a Python package, and the layering rules podnet keeps.

Parsed with :mod:`ast`, never imported, so the checker sees every import, including the
lazy ones inside functions (podnet defers heavy imports to the verb that runs; a lazy
import is still a dependency and still closes a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    """``root/podnet/a/b.py`` -> ``podnet.a.b``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph(root: Path) -> Graph:
    """Every module of the package at ``root`` -> the package's modules it imports.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module,
    else of ``pkg``. Imports of other packages are left out.
    """
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    graph: Graph = {}
    for mod, path in files.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, path.name == "__init__.py", node)
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                ]
            else:
                continue
            for t in targets:
                if t != top and not t.startswith(top + "."):
                    continue
                while t not in files and "." in t:  # `import podnet.a.b.attr` forms
                    t = t.rsplit(".", 1)[0]
                if t in files and t != mod:
                    deps.add(t)
        graph[mod] = deps
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member, each sorted.

    Tarjan's algorithm, iterative (a deep package must not hit the recursion limit).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def collapse(graph: Mapping[str, Iterable[str]], depth: int) -> Graph:
    """The graph between packages: each module named by its first ``depth`` parts."""
    out: Graph = {}
    for mod, deps in graph.items():
        key = ".".join(mod.split(".")[:depth])
        out.setdefault(key, set())
        for d in deps:
            dkey = ".".join(d.split(".")[:depth])
            if dkey != key:
                out[key].add(dkey)
    return out


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported}: {self.why}"


def layer_violations(
    graph: Mapping[str, Iterable[str]],
    ranks: Mapping[str, int],
    forbidden: Iterable[tuple[str, str]] = (),
) -> list[Violation]:
    """Imports that go up (to a package of a higher rank) or across a forbidden pair.

    ``ranks`` names top-level packages (``podnet.model``) or modules; a module takes the
    rank of its longest named prefix. Equal ranks may import each other unless the pair
    is in ``forbidden`` (checked in both directions).
    """

    def rank_of(mod: str) -> tuple[str, int] | None:
        parts = mod.split(".")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in ranks:
                return key, ranks[key]
        return None

    banned = {frozenset(p) for p in forbidden}
    found = []
    for mod, deps in sorted(graph.items()):
        mine = rank_of(mod)
        for dep in sorted(deps):
            theirs = rank_of(dep)
            if mine is None or theirs is None or mine[0] == theirs[0]:
                continue
            if theirs[1] > mine[1]:
                found.append(Violation(mod, dep, f"{theirs[0]} is above {mine[0]}"))
            elif frozenset((mine[0], theirs[0])) in banned:
                found.append(Violation(mod, dep, f"{mine[0]} and {theirs[0]} stay independent"))
    return found
