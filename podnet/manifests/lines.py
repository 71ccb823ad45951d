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
