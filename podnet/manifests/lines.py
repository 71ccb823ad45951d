"""Plain dicts and lists that remember the source line of every key and item.

The YAML loader builds these instead of ``dict``/``list`` so that a check deep inside
``spec.ports[1].targetPort`` can point at the line the user wrote. They *are* dicts and
lists (jsonschema, ``json.dumps`` and ``==`` treat them as such), so code that builds
manifests as plain dicts (generators, tests) passes through the same functions; it just
gets the document's line instead of the field's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PathPart = str | int
Path = tuple[PathPart, ...]


class LineDict(dict[str, Any]):
    """A mapping with ``line`` (where it starts) and ``key_lines`` (key -> line)."""

    line: int
    key_lines: dict[str, int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines = {}


class LineList(list[Any]):
    """A sequence with ``line`` (where it starts) and ``item_lines`` (index -> line)."""

    line: int
    item_lines: list[int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines = []


def field_line(doc: Any, path: Sequence[PathPart]) -> int | None:
    """The line of the deepest element of ``path`` that has a recorded line.

    Returns ``None`` when ``doc`` carries no line information at all (built as plain
    dicts), so the caller falls back to the document's own location.
    """
    line: int | None = getattr(doc, "line", None)
    node = doc
    for part in path:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            if part < len(node.item_lines):
                line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def format_path(path: Sequence[PathPart]) -> str:
    """Kubernetes' field path rendering: ``spec.ports[0].port``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def prune_nulls(value: Any, path: Path = (), null_items: list[Path] | None = None) -> Any:
    """A copy without ``null`` mapping values, keeping line information.

    The API server decodes JSON into Go structs, where ``null`` is the field's zero
    value, i.e. the same as leaving it out; after this, "present" means "not null" for
    every check and conversion. ``null`` *list items* are collected in ``null_items`` (the
    caller reports them: a zero-value object in a list is invalid in every list podnet
    reads).
    """
    if isinstance(value, dict):
        out: dict[str, Any] = LineDict(value.line) if isinstance(value, LineDict) else {}
        for k, v in value.items():
            if v is None:
                continue
            out[k] = prune_nulls(v, (*path, k), null_items)
            if isinstance(value, LineDict) and isinstance(out, LineDict) and k in value.key_lines:
                out.key_lines[k] = value.key_lines[k]
        return out
    if isinstance(value, list):
        seq: list[Any] = LineList(value.line) if isinstance(value, LineList) else []
        for i, v in enumerate(value):
            if v is None and null_items is not None:
                null_items.append((*path, i))
            seq.append(prune_nulls(v, (*path, i), null_items))
        if isinstance(value, LineList) and isinstance(seq, LineList):
            seq.item_lines = list(value.item_lines)
        return seq
    return value
