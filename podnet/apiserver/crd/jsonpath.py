"""The JSONPath subset of ``additionalPrinterColumns`` and the cells they make
(apiextensions-apiserver ``pkg/registry/customresource/tableconvertor/tableconvertor.go``
over client-go's ``util/jsonpath``): ``.a.b``, ``['a.b']``, ``[0]``, ``[*]`` and filters
``[?(@.type=="Ready")]``; a column with no result is an empty (null) cell; the first
result is the cell; ``date`` columns are ages (``5m``), ``string`` columns printed as
kubectl's JSONPath prints (objects as JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

Obj = dict[str, Any]

_TOKEN = re.compile(
    r"""\.\.?(?P<field>[^.\[\]]+)           # .field
    |\[\s*(?P<index>-?\d+)\s*\]               # [0]
    |\[\s*\*\s*\]                             # [*]
    |\[\s*'(?P<quoted>[^']*)'\s*\]            # ['a.b']
    |\[\s*\?\(\s*@\.(?P<fpath>[\w.\-/]+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\s*\]
    |\.\*                                     # .*
    """,
    re.VERBOSE,
)


def parse(path: str) -> list[tuple[str, Any]] | None:
    """The steps of ``path`` (``{...}`` braces allowed), or None when out of the subset."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        if m.group("field") is not None:
            steps.append(("field", m.group("field")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("quoted") is not None:
            steps.append(("field", m.group("quoted")))
        elif m.group("fpath") is not None:
            raw = m.group("fval")
            value: Any = raw[1:-1] if raw[:1] in "\"'" else _literal(raw)
            steps.append(("filter", (m.group("fpath").split("."), m.group("op"), value)))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def _literal(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def find(obj: Any, steps: list[tuple[str, Any]]) -> list[Any]:
    """Every value ``steps`` lead to in ``obj``."""
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            field_hit = kind == "field" and isinstance(v, dict) and arg in v
            if field_hit or (kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v)):
                nxt.append(v[arg])
            elif kind == "all":
                nxt.extend(v if isinstance(v, list) else v.values() if isinstance(v, dict) else ())
            elif kind == "filter" and isinstance(v, list):
                keys, op, want = arg
                for item in v:
                    got: Any = item
                    for k in keys:
                        got = got.get(k) if isinstance(got, dict) else None
                    if (got == want) == (op == "=="):
                        nxt.append(item)
        current = nxt
    return current


def cell(obj: Obj, column: Obj, age: Any) -> Any:
    """One column's cell for ``obj``; ``age``: turns an RFC 3339 time into an age."""
    steps = parse(str(column.get("jsonPath", "")))
    found = find(obj, steps) if steps is not None else []
    if not found or found[0] is None:
        return None
    value = found[0]
    typ = column.get("type")
    if typ == "string":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if typ == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok else None
    if typ == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if ok else None
    if typ == "boolean":
        return value if isinstance(value, bool) else None
    if typ == "date":
        return age(value) if isinstance(value, str) else None
    return None
