"""A compiled yes/no check for the Kubernetes OpenAPI schemas, to skip jsonschema.

jsonschema walks the schema and resolves ``$ref`` on every call; almost every document
is valid, so each kind's schema is compiled once into nested closures that only answer
"valid?", and jsonschema runs only on a no, for its messages. Soundness matters in one
direction: a "yes" here must be a "yes" from jsonschema. So the compiler knows exactly
the keywords the kubernetes-validate schemas use (type, properties,
additionalProperties, required, items, enum, oneOf over types, $ref) with jsonschema's
semantics (an integer-valued float is an ``integer``; ``True`` is not ``1``), ignores
annotations (description, format - not asserted without a FormatChecker -
x-kubernetes-*), and refuses (:class:`Unsupported`) any other schema, so the caller
falls back to jsonschema alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = {"description", "format", "$schema", "$id", "default", "title"}


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not implement exactly."""


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "null":
        return value is None
    raise Unsupported(f"type {name!r}")


# One named type, as _is_type answers it, without the name comparisons on every call.
_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: _is_type(v, "integer"),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}

# The type names whose values are exactly the instances of one class (no int/float/bool
# subtleties): a list of them is one isinstance with a tuple.
_PLAIN_TYPES: dict[str, type] = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def _equal(a: Any, b: Any) -> bool:
    """jsonschema's enum equality for scalars: bools are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    raise Unsupported("enum of structured values")


class Compiler:
    """Compiles schemas whose ``$ref`` point into one ``$defs`` table."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, Check] = {}
        self._in_defs = False

    def compile(self, schema: Mapping[str, Any]) -> Check:
        checks: list[Check] = []
        for key in schema:
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            checks.append(self._keyword(key, schema))
        checks = [c for c in checks if c is not _always]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)

        def check_all(v: Any) -> bool:  # a loop: a generator costs more per call
            for c in checks:  # noqa: SIM110 (all() over a generator is slower here)
                if not c(v):
                    return False
            return True

        return check_all

    def _ref(self, ref: str) -> Check:
        # The kind's schema refers into the definitions file by absolute URI; inside
        # that file, references are relative to it ("#/$defs/...").
        prefix = "#/$defs/" if self._in_defs else "/api/_definitions.json#/$defs/"
        name = ref.removeprefix(prefix)
        if not ref.startswith(prefix) or name not in self._defs:
            raise Unsupported(f"$ref {ref!r}")
        if name not in self._compiled:
            slot: list[Check] = []
            self._compiled[name] = lambda v: slot[0](v)  # recursive definitions
            outer, self._in_defs = self._in_defs, True
            try:
                slot.append(self.compile(self._defs[name]))
            finally:
                self._in_defs = outer
            self._compiled[name] = slot[0]
        return self._compiled[name]

    def _keyword(self, key: str, schema: Mapping[str, Any]) -> Check:
        value = schema[key]
        if key == "$ref":
            return self._ref(value)
        if key == "type":
            names = (value,) if isinstance(value, str) else tuple(value)
            for n in names:
                _is_type(None, n)  # raises Unsupported on unknown type names
            if len(names) == 1 and names[0] in _TYPE_CHECKS:
                return _TYPE_CHECKS[names[0]]
            if all(n in _PLAIN_TYPES for n in names):  # e.g. ["string", "null"]
                classes = tuple(_PLAIN_TYPES[n] for n in names)
                return lambda v: isinstance(v, classes)
            return lambda v: any(_is_type(v, n) for n in names)
        if key == "properties":
            props = {k: self.compile(s) for k, s in value.items()}

            def check_properties(v: Any) -> bool:
                if not isinstance(v, dict):
                    return True
                for k, x in v.items():
                    c = props.get(k)
                    if c is not None and not c(x):
                        return False
                return True

            return check_properties
        if key == "additionalProperties":
            return self._additional(schema)
        if key == "required":
            req = tuple(value)
            return lambda v: not isinstance(v, dict) or all(k in v for k in req)
        if key == "items":
            if not isinstance(value, dict):
                raise Unsupported("items as a list")
            item = self.compile(value)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        if key == "enum":
            allowed = tuple(value)
            for a in allowed:
                _equal(a, a)
            return lambda v: any(_equal(v, a) for a in allowed)
        if key == "oneOf":
            # Only unions of plain types (IntOrString): exactness of "one" needs exact parts.
            for sub in value:
                if set(sub) - {"type", "description"}:
                    raise Unsupported("oneOf over structured schemas")
            subs = [self.compile(s) for s in value]
            return lambda v: sum(1 for s in subs if s(v)) == 1
        raise Unsupported(f"keyword {key!r}")

    def _additional(self, schema: Mapping[str, Any]) -> Check:
        extra = schema["additionalProperties"]
        known = frozenset(schema.get("properties", {}))
        if extra is True:
            return _always
        if extra is False:
            return lambda v: not isinstance(v, dict) or known.issuperset(v)
        check = self.compile(extra)
        return lambda v: (
            not isinstance(v, dict) or all(check(x) for k, x in v.items() if k not in known)
        )


def _always(_: Any) -> bool:
    return True
