"""``file:line`` for each finding, as load errors give it.

The model keeps each object's location (the line its document, or its item of a
``kind: List``, starts on: :class:`podnet.model.meta.Meta`). To point at the field
itself (``spec.template.spec.containers[0].env[1].value``) the file is parsed again
with the loader's line-keeping YAML reader, only for files that have findings, and
the deepest part of the field path that exists gives the line
(:func:`podnet.manifests.lines.field_line`, the same lookup load errors use). When the
file cannot be read again (stdin, removed since), the object's own line is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from podnet.analyze.lint.context import owner_ref
from podnet.analyze.lint.finding import Finding
from podnet.errors import Location, PodnetError
from podnet.manifests.lines import LineDict, LineList, PathPart, field_line
from podnet.manifests.yamlsrc import parse_documents
from podnet.model.cluster import ClusterState

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_field(text: str) -> tuple[PathPart, ...]:
    """``spec.ports[0].targetPort`` -> ("spec", "ports", 0, "targetPort")."""
    return tuple(
        int(m.group(2)) if m.group(2) is not None else m.group(1) for m in _PART.finditer(text)
    )


def object_locations(state: ClusterState) -> dict[str, Location]:
    """``Kind/namespace/name`` (as findings name objects) -> where it was declared."""
    out: dict[str, Location] = {}
    for pod in state.pods:
        if pod.meta is not None and pod.meta.location is not None:
            out.setdefault(owner_ref(pod), pod.meta.location)
    owners: Iterable[Any] = (
        *state.services,
        *state.policies,
        *state.namespaces,
        *state.cluster_policies,
    )
    for obj in owners:
        meta = obj.meta
        if meta is not None and meta.location is not None:
            out.setdefault(meta.ref, meta.location)
    return out


class _Files:
    """Documents of each file read again, by the line each starts on (list items too)."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[int, Any]] = {}

    def document(self, where: Location) -> Any:
        docs = self._docs.get(where.file)
        if docs is None:
            docs = self._docs[where.file] = self._read(where.file)
        return docs.get(where.line)

    @staticmethod
    def _read(file: str) -> dict[int, Any]:
        try:
            with open(file, encoding="utf-8") as fh:
                parsed = parse_documents(fh.read(), file)
        except (OSError, UnicodeDecodeError, PodnetError):
            return {}
        out: dict[int, Any] = {}
        for doc, loc in parsed:
            out[loc.line] = doc
            items = doc.get("items") if isinstance(doc, LineDict) else None
            if isinstance(items, LineList):
                for line, item in zip(items.item_lines, items, strict=False):
                    out.setdefault(line, item)
        return out


def locate(findings: Sequence[Finding], state: ClusterState) -> tuple[Finding, ...]:
    """``findings`` with :attr:`Finding.location` set wherever the object's is known."""
    where = object_locations(state)
    files = _Files()
    out: list[Finding] = []
    for f in findings:
        loc = where.get(f.object)
        if loc is None:
            out.append(f)
            continue
        doc = files.document(loc)
        line = field_line(doc, parse_field(f.field)) if doc is not None else None
        out.append(replace(f, location=str(Location(loc.file, line or loc.line))))
    return tuple(out)
