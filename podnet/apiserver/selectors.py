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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podnet.apiserver.errors import bad_request
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


# --- label selectors: apimachinery pkg/labels/selector.go, Lexer and Parser ---------------
#
# A port of the recursive descent parser rather than a look-alike, so that a mistyped
# ``kubectl get -l`` gets the very message kube-apiserver gives (an end of string is the
# literal '', only requirement errors say "unable to parse requirement").

_EOS, _IDENT, _SYMBOL = "eos", "ident", "symbol"
_SYMBOLS = frozenset({")", ",", "!", "==", "=", ">", "(", "<", "!="})
_KEYWORDS = frozenset({"in", "notin"})
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_BINARY = "in, notin, =, ==, !=, gt, lt"  # selector.go binaryOperators
_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = f"({_QUALIFIED_FMT})?"
_INT64 = re.compile(r"[+-]?[0-9]+")
_NOT_INTEGER = "for 'Gt', 'Lt' operators, the value must be an integer"


def _lex(text: str) -> list[tuple[str, str]]:
    """Lexer.Lex until the end: (kind, literal); ``in``/``notin`` and symbols carry
    themselves as kind; runs of symbols are split greedily as scanSpecialSymbol does."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            out.append((_EOS, ""))
            return out
        if text[i] in _SPECIAL:
            best = ""
            j = i
            while j < n and text[j] in _SPECIAL:
                if text[i : j + 1] in _SYMBOLS:
                    best = text[i : j + 1]
                elif best:
                    break
                j += 1
            out.append((best, best))
            i += len(best)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _SPACE:
            j += 1
        word = text[i:j]
        out.append((word if word in _KEYWORDS else _IDENT, word))
        i = j


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, double spaces included."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _key_error(key: str) -> str | None:
    msg = names.qualified_name(key)
    if msg is not None and msg.startswith("name part must consist"):
        msg = "name part " + _regex_error(
            msg.removeprefix("name part "), _QUALIFIED_FMT, "MyName", "my.name", "123-abc"
        )
    return msg


def _value_error(value: str) -> str | None:
    msg = names.label_value(value)
    if msg is not None and msg.startswith("a valid label"):
        msg = _regex_error(msg, _VALUE_FMT, "MyValue", "my_value", "12345")
    return msg


def _invalid(path: str, value: str, detail: str) -> str:
    """field.Invalid(path, value, detail).Error(); a nil path prints as <nil>."""
    return f"{path}: Invalid value: {json.dumps(value)}: {detail}"


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.at = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.items[self.at]
        return (_IDENT if values and kind in _KEYWORDS else kind), lit

    def consume(self, values: bool = True) -> tuple[str, str]:
        got = self.lookahead(values)
        self.at += 1
        return got

    def parse(self) -> list[LabelRequirement]:
        reqs: list[LabelRequirement] = []
        while True:
            kind, lit = self.lookahead()
            if kind in (_IDENT, "!"):
                try:
                    reqs.append(self.requirement())
                except _SyntaxError as e:
                    raise _SyntaxError(f"unable to parse requirement: {e}") from None
                kind, lit = self.consume()
                if kind == _EOS:
                    return reqs
                if kind != ",":
                    raise _SyntaxError(f"found '{lit}', expected: ',' or 'end of string'")
                kind2, lit2 = self.lookahead()
                if kind2 not in (_IDENT, "!"):
                    raise _SyntaxError(f"found '{lit2}', expected: identifier after ','")
            elif kind == _EOS:
                return reqs
            else:
                raise _SyntaxError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> LabelRequirement:
        kind, key = self.consume()
        op = ""
        if kind == "!":
            op = "!"
            kind, key = self.consume()
        if kind != _IDENT:
            raise _SyntaxError(f"found '{key}', expected: identifier")
        if (msg := _key_error(key)) is not None:
            raise _SyntaxError(_invalid("<nil>", key, msg))
        if op == "!" or self.lookahead()[0] in (_EOS, ","):
            return LabelRequirement(key, op or "exists")
        kind, lit = self.consume(values=False)
        if kind in ("in", "notin"):
            values = self.values()
        elif kind in ("=", "==", "!=", ">", "<"):
            values = self.exact_value()
        else:
            raise _SyntaxError(f"found '{lit}', expected: {_BINARY}")
        return _new_requirement(key, {"==": "=", ">": "gt", "<": "lt"}.get(kind, kind), values)

    def values(self) -> list[str]:
        kind, lit = self.consume()
        if kind != "(":
            raise _SyntaxError(f"found '{lit}' expected: '('")
        kind, lit = self.lookahead()
        if kind in (_IDENT, ","):
            got = self.identifiers()
            if self.consume()[0] != ")":
                raise _SyntaxError(f"found '{lit}', expected: ')'")
            return sorted(got)
        if kind == ")":
            self.consume()
            return [""]
        raise _SyntaxError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        got: set[str] = set()
        while True:
            kind, lit = self.consume()
            if kind == _IDENT:
                got.add(lit)
                kind2, lit2 = self.lookahead()
                if kind2 == ",":
                    continue
                if kind2 == ")":
                    return got
                raise _SyntaxError(f"found '{lit2}', expected: ',' or ')'")
            if kind == ",":
                if not got:
                    got.add("")  # "(,"
                kind2, _ = self.lookahead()
                if kind2 == ")":
                    got.add("")  # ",)"
                    return got
                if kind2 == ",":
                    self.consume()
                    got.add("")  # ",,"
                continue
            raise _SyntaxError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        if self.lookahead()[0] in (_EOS, ","):
            return [""]
        kind, lit = self.consume()
        if kind == _IDENT:
            return [lit]
        raise _SyntaxError(f"found '{lit}', expected: identifier")


class _SyntaxError(Exception):
    pass


def _new_requirement(key: str, op: str, values: list[str]) -> LabelRequirement:
    """NewRequirement's checks of the values, its errors aggregated as utilerrors does."""
    errs: list[str] = []
    if op in ("gt", "lt"):
        for i, v in enumerate(values):
            if not _INT64.fullmatch(v) or not -(2**63) <= int(v) < 2**63:  # strconv.ParseInt
                errs.append(_invalid(f"values[{i}]", v, _NOT_INTEGER))
    for i, v in enumerate(values):
        if (msg := _value_error(v)) is not None:
            errs.append(_invalid(f"values[{i}][{key}]", v, msg))
    if errs:
        unique = list(dict.fromkeys(errs))
        raise _SyntaxError(unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")
    return LabelRequirement(key, op, tuple(values))


def parse_labels(text: str) -> list[LabelRequirement]:
    """The requirements of a ``labelSelector`` (all must hold); 400 on a syntax error,
    with labels.Parse's message."""
    try:
        return _LabelParser(text).parse()
    except _SyntaxError as e:
        raise bad_request(str(e)) from None


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
