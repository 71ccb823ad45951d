"""Server-side ``Table`` output (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``),
what ``kubectl get`` prints from: the Table around the rows of :mod:`.printers`.

Row objects per ``includeObject`` as ``rest`` ``TableConvertor`` callers set them
(``None``; ``Metadata``, a PartialObjectMetadata; ``Object``, the whole object).
"""

from __future__ import annotations

from typing import Any

from podnet.apiserver.crd import jsonpath
from podnet.apiserver.resources import Resource
from podnet.apiserver.store.base import Obj
from podnet.apiserver.tables.printers import (
    AGE,
    AGE_COL,
    AGE_DOC,
    EVENT_COLS,
    NAME_DOC,
    POD_COLS,
    PRINTERS,
    Row,
    column,
    event_row,
    field,
    human_duration,
    pod_row,
    since,
    storage_class_name,
)

__all__ = ["columns", "human_duration", "since", "table"]


# A CRD version without additionalPrinterColumns prints its age (customresource_handler.go
# getColumnsForVersion, serveDefaultColumnsIfEmpty).
_DEFAULT_CR_COLUMNS = (
    {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": AGE_DOC,
    },
)


# The kinds served with the generic store's default table (apiserver pkg/registry/rest
# table.go NewDefaultTableConvertor: Name and "Created At", an RFC 3339 time), as the
# CustomResourceDefinition storage of apiextensions-apiserver is.
_DEFAULT_TABLE = frozenset({("apiextensions.k8s.io", "CustomResourceDefinition")})


def _custom_columns(res: Resource) -> tuple[dict[str, Any], ...]:
    assert res.custom is not None
    return res.custom.columns or _DEFAULT_CR_COLUMNS


def columns(res: Resource) -> list[dict[str, Any]]:
    if res.custom is not None:  # tableconvertor.New: Name, then the CRD's columns
        cols = [column("Name", doc=NAME_DOC)] + [
            (
                str(c.get("name", "")),
                str(c.get("type", "string")),
                int(c.get("priority", 0) or 0),
                str(c.get("description", "")),
            )
            for c in _custom_columns(res)
        ]
        out = []
        for name, typ, prio, doc in cols:
            fmt = str(
                next(
                    (c.get("format", "") for c in _custom_columns(res) if c.get("name") == name), ""
                )
            )
            d = {"name": name, "type": typ, "format": fmt, "description": doc, "priority": prio}
            if name == "Name" and typ == "string" and not prio:
                d["format"] = "name"
            out.append(d)
        return out
    if (res.group, res.kind) in _DEFAULT_TABLE and res.custom is None:
        cols = [column("Name", doc=NAME_DOC), column("Created At", "date", doc=AGE_DOC)]
    elif res.kind == "Event":
        cols = EVENT_COLS
    else:
        rest = POD_COLS if (res.group, res.kind) == ("", "Pod") else None
        if rest is None:
            rest = PRINTERS.get((res.group, res.kind), ([AGE_COL], None))[0]
        cols = [column("Name", doc=NAME_DOC), *rest]
    out = []
    for name, typ, prio, doc in cols:
        d = {"name": name, "type": typ, "format": "", "description": doc, "priority": prio}
        if name == "Name":
            d["format"] = "name"
        out.append(d)
    return out


def _row(res: Resource, obj: Obj, now: float) -> tuple[Row, list[dict[str, str]]]:
    age = since(field(obj, "metadata", "creationTimestamp"), now)
    name = field(obj, "metadata", "name") or ""
    if res.custom is not None:
        return [
            name,
            *(jsonpath.cell(obj, c, lambda t: since(t, now)) for c in _custom_columns(res)),
        ], []
    if (res.group, res.kind) in _DEFAULT_TABLE and res.custom is None:
        return [name, field(obj, "metadata", "creationTimestamp")], []
    if (res.group, res.kind) == ("", "Pod"):
        return pod_row(obj, now)
    if res.kind == "Event":
        return event_row(obj, now), []
    printer = PRINTERS.get((res.group, res.kind))
    cells = printer[1](obj, now) if printer is not None else [AGE]
    if (res.group, res.kind) == ("storage.k8s.io", "StorageClass"):
        name = storage_class_name(obj)  # printStorageClass: "<name> (default)"
    return [name, *(age if c is AGE else c for c in cells)], []


def table(
    res: Resource,
    objects: list[Obj],
    *,
    include_object: str = "Metadata",
    now: float,
    resource_version: str = "",
    continue_token: str = "",
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``; row objects per ``includeObject``
    (``None``, ``Metadata``: PartialObjectMetadata, ``Object``: the object)."""
    rows = []
    for obj in objects:
        cells, conditions = _row(res, obj, now)
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns(res),
        "rows": rows,
    }
