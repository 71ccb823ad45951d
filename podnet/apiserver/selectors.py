"""``labelSelector`` and ``fieldSelector`` query strings: parsed once, matched per object.

Label selectors follow apimachinery ``pkg/labels/selector.go`` (``Parse``): comma-joined
requirements ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k>1``, ``k<1``; ``!=`` and ``notin`` match objects without the key. Field selectors
follow ``pkg/fields/selector.go`` (``=``, ``==``, ``!=``, backslash escapes) over the
fields each kind's strategy makes selectable (``pkg/registry/core/pod/strategy.go``
``ToSelectableFields`` and its siblings); anything else is a 400 as upstream.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.errors import ApiError, bad_request
from podnet.manifests import names

Obj = dict[str, Any]


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    op: str  # exists, !, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        # gt / lt: both sides integers, else no match (selector.go Requirement.Matches)
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except (KeyError, ValueError):
            return False
        return have > want if self.op == "gt" else have < want


_SPECIAL = set(" \t\n,=!()<>")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            out.append(text[i : i + 2])
            i += 2
        elif c in _SPECIAL:
            out.append(c)
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


def parse_labels(text: str) -> list[LabelRequirement]:
    """The requirements of a ``labelSelector`` (all must hold); 400 on a syntax error."""
    toks = _tokens(text)
    reqs: list[LabelRequirement] = []
    i = 0

    def fail(why: str) -> ApiError:
        return bad_request(f"unable to parse requirement: {why}")

    def word(at: int, what: str) -> str:
        if at >= len(toks) or toks[at] in _SPECIAL or toks[at] in ("==", "!="):
            found = toks[at] if at < len(toks) else "EOS"
            raise fail(f"found '{found}', expected: {what}")
        return toks[at]

    while i < len(toks):
        negate = toks[i] == "!"
        key = word(i + 1 if negate else i, "identifier")
        i += 2 if negate else 1
        if (msg := names.qualified_name(key)) is not None:
            raise fail(f"invalid label key {key!r}: {msg}")
        if negate or i >= len(toks) or toks[i] == ",":
            reqs.append(LabelRequirement(key, "!" if negate else "exists"))
        else:
            op = toks[i]
            if op in ("=", "==", "!=", ">", "<"):
                value = "" if i + 1 >= len(toks) or toks[i + 1] == "," else word(i + 1, "value")
                i += 1 if value == "" else 2
                kind = {"==": "=", ">": "gt", "<": "lt"}.get(op, op)
                if kind in ("gt", "lt") and not value.lstrip("-").isdigit():
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer: {value}")
                values: tuple[str, ...] = (value,)
            elif op in ("in", "notin"):
                if i + 1 >= len(toks) or toks[i + 1] != "(":
                    found = toks[i + 1] if i + 1 < len(toks) else "EOS"
                    raise fail(f"found '{found}', expected: '('")
                i += 2
                vals: list[str] = []
                expect_value = True
                while True:
                    t = toks[i] if i < len(toks) else "EOS"
                    if t in (")", ","):
                        if expect_value:
                            vals.append("")  # "k in (a,)" holds an empty value upstream too
                        i += 1
                        if t == ")":
                            break
                        expect_value = True
                    elif expect_value and t != "EOS" and t not in _SPECIAL:
                        vals.append(t)
                        expect_value = False
                        i += 1
                    else:
                        raise fail(f"found '{t}', expected: ',', ')' or identifier")
                kind, values = op, tuple(vals)
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
            for v in values:
                if (msg := names.label_value(v)) is not None:
                    raise fail(f"invalid label value: {v!r}: {msg}")
            reqs.append(LabelRequirement(key, kind, values))
        if i < len(toks):
            if toks[i] != ",":
                raise fail(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(toks):
                raise fail("found 'EOS', expected: identifier")
    return reqs


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool


def parse_fields(text: str) -> list[FieldRequirement]:
    """``a=b,c!=d`` with ``\\`` escaping ``,``, ``=``, ``!`` and itself (fields.ParseSelector)."""
    reqs: list[FieldRequirement] = []
    for part in _split_unescaped(text):
        if not part:
            continue
        for op in ("!=", "==", "="):
            at = _find_unescaped(part, op)
            if at >= 0:
                key, value = part[:at], _unescape(part[at + len(op) :])
                reqs.append(FieldRequirement(key.strip(), value, op != "!="))
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    return reqs


def _split_unescaped(text: str) -> list[str]:
    parts, cur, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if text[i] == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    parts.append(cur)
    return parts


def _find_unescaped(text: str, op: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(op, i):
            return i
        i += 1
    return -1


def _unescape(value: str) -> str:
    out, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out += value[i + 1]
            i += 2
        else:
            out += value[i]
            i += 1
    return out


def _path(*parts: str) -> Callable[[Obj], str]:
    def get(obj: Obj) -> str:
        cur: Any = obj
        for p in parts:
            cur = cur.get(p) if isinstance(cur, dict) else None
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return "" if cur is None else str(cur)

    return get


# Per-kind selectable fields beyond metadata.name/namespace (each kind's strategy.go).
_FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Event": {
        **{
            f"involvedObject.{f}": _path("involvedObject", f)
            for f in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "Secret": {"type": _path("type")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "Node": {"spec.unschedulable": _path("spec", "unschedulable")},
    "ReplicationController": {"status.replicas": _path("status", "replicas")},
    "Job": {"status.successful": _path("status", "succeeded")},
}


@dataclass(frozen=True)
class Selector:
    """One list or watch request's selectors, ready to test objects with."""

    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[tuple[Callable[[Obj], str], str, bool], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.labels and not self.fields

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        return all(r.matches(labels) for r in self.labels) and all(
            (get(obj) == value) == equal for get, value, equal in self.fields
        )


def selector(kind: str, namespaced: bool, label_selector: str, field_selector: str) -> Selector:
    """Parse both selectors for objects of ``kind``; 400 on bad syntax or fields."""
    known = dict(_FIELDS.get(kind, {}))
    known["metadata.name"] = _path("metadata", "name")
    if namespaced:
        known["metadata.namespace"] = _path("metadata", "namespace")
    fields = []
    for req in parse_fields(field_selector):
        get = known.get(req.field)
        if get is None:
            raise bad_request(f"field label not supported: {req.field}")
        fields.append((get, req.value, req.equal))
    return Selector(tuple(parse_labels(label_selector)), tuple(fields))


def encode_continue(rv: int, start: str) -> str:
    """A list continue token as etcd3's ``encodeContinue``: base64 JSON {v, rv, start}."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[int, str]:
    """(resourceVersion, first key) of a token; 400 for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = int(data["rv"]), str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or rv < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None
    return rv, start
