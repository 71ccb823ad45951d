"""A CRD version's ``openAPIV3Schema`` applied to custom resources: structural pruning,
defaulting and validation, as apiextensions-apiserver does them.

- pruning: ``pkg/apiserver/schema/pruning/algorithm.go`` (fields the schema does not
  specify are dropped, unless ``x-kubernetes-preserve-unknown-fields``; ``apiVersion``,
  ``kind`` and ``metadata`` at the root are kept, ``metadata`` as ObjectMeta);
- defaulting: ``pkg/apiserver/schema/defaulting/algorithm.go`` (a missing field with a
  ``default`` gets it, then the default itself is defaulted below);
- validation: ``pkg/apiserver/validation/validation.go`` over kube-openapi's
  ``validate`` (messages "<path> in body must be of type integer", "should be less than
  or equal to", ...), reported as field causes.

Schemas are plain dicts (the CRD's JSON); nothing here reads the store.
"""

from __future__ import annotations

import json
import re
from typing import Any

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # (reason, field, message), as errors.invalid takes

_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _props(s: Obj) -> Obj:
    p = s.get("properties")
    return p if isinstance(p, dict) else {}


def _all_of_props(s: Obj) -> Obj:
    """Properties declared at this level, also inside allOf/anyOf/oneOf (pruning
    follows the value validation branches too, as the structural schema's skeleton)."""
    out = dict(_props(s))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in s.get(key) or ():
            if isinstance(sub, dict):
                for name, v in _props(sub).items():
                    out.setdefault(name, v)
    return out


# ----------------------------------------------------------------------- pruning


def prune(obj: Any, schema: Obj, *, root: bool = True, path: str = "") -> list[str]:
    """Drop, in place, every field ``schema`` does not specify; returns their paths
    (``spec.foo``), for the ``unknown field`` warnings and Strict's error."""
    found: list[str] = []
    _prune(obj, schema, root, path, found)
    return found


def _prune(value: Any, s: Obj, root: bool, path: str, found: list[str]) -> None:
    if not isinstance(s, dict) or s.get("x-kubernetes-preserve-unknown-fields") is True:
        if isinstance(value, dict) and isinstance(s, dict):
            # preserve keeps unknown fields, but the specified ones are still pruned below
            props = _all_of_props(s)
            for key, v in value.items():
                if key in props:
                    _prune(v, props[key], False, _join(path, key), found)
        return
    if isinstance(value, dict):
        props = _all_of_props(s)
        extra = s.get("additionalProperties")
        # an x-kubernetes-embedded-resource keeps its apiVersion, kind and metadata too
        root = root or bool(s.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            if root and key in _ROOT_KEEP:
                continue
            where = _join(path, key)
            if key in props:
                _prune(value[key], props[key], False, where, found)
            elif isinstance(extra, dict):
                _prune(value[key], extra, False, where, found)
            elif extra is True:
                continue
            else:
                found.append(where)
                del value[key]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _prune(item, items, False, f"{path}[{i}]", found)


_STR: Obj = {"type": "string"}
_STRINGS: Obj = {"type": "object", "additionalProperties": _STR}
# metav1.ObjectMeta as a structural schema: what a custom resource's (root) metadata
# may hold; the rest is unknown (objectmeta.GetObjectMetaWithOptions with
# ReturnUnknownFieldPaths). managedFields' fieldsV1 is free-form.
OBJECT_META: Obj = {
    "type": "object",
    "properties": {
        **{
            k: _STR
            for k in (
                "name",
                "generateName",
                "namespace",
                "selfLink",
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
            )
        },
        "generation": {"type": "integer"},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": _STRINGS,
        "annotations": _STRINGS,
        "finalizers": {"type": "array", "items": _STR},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **{k: _STR for k in ("apiVersion", "kind", "name", "uid")},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
        "managedFields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **{
                        k: _STR
                        for k in (
                            "manager",
                            "operation",
                            "apiVersion",
                            "time",
                            "fieldsType",
                            "subresource",
                        )
                    },
                    "fieldsV1": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
        },
    },
}


def unknown_fields(obj: Obj, schema: Obj) -> list[str]:
    """Prune ``obj`` in place as a custom resource is decoded; the paths dropped, as
    customresource_handler.go ``unstructuredSchemaCoercer.apply`` reports them: the
    schema's, sorted (``pruning.PruneWithOptions``), then ``metadata``'s."""
    found = sorted(prune(obj, schema)) if schema else []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        found += prune(meta, OBJECT_META, root=False, path="metadata")
    return found


# ----------------------------------------------------------------------- defaulting


def default(value: Any, s: Obj) -> None:
    """Fill missing fields that have a ``default``, in place, depth first."""
    if not isinstance(s, dict):
        return
    if isinstance(value, dict):
        props = _props(s)
        for key, sub in props.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = json.loads(json.dumps(sub["default"]))
        for key, v in value.items():
            if key in props:
                default(v, props[key])
            elif isinstance(s.get("additionalProperties"), dict):
                default(v, s["additionalProperties"])
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for item in value:
            default(item, s["items"])


# ----------------------------------------------------------------------- validation

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _type_ok(value: Any, typ: str) -> bool:
    if isinstance(value, bool) and typ in ("integer", "number"):
        return False
    if typ == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(typ, (object,)))


def _show(value: Any) -> str:
    """The value as apimachinery's field.Invalid prints it (strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return '"object"' if isinstance(value, dict) else '"array"'


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def validate(obj: Obj, schema: Obj) -> list[Cause]:
    """Every way ``obj`` breaks ``schema`` (the root's ``metadata`` is ObjectMeta's and
    checked elsewhere), as field causes."""
    causes: list[Cause] = []
    props = _props(schema)
    for key, v in obj.items():
        if key in _ROOT_KEEP:
            continue
        sub = props.get(key)
        if isinstance(sub, dict):
            _validate(v, sub, key, causes)
    for key in schema.get("required") or ():
        if key not in obj and key not in _ROOT_KEEP:
            causes.append(("FieldValueRequired", key, "Required value"))
    return causes


def _validate(value: Any, s: Obj, path: str, causes: list[Cause]) -> None:
    if value is None:
        if not s.get("nullable"):
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f'Invalid value: "null": {path} in body must be of type '
                    f'{s.get("type", "object")}: "null"',
                )
            )
        return
    typ = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _type_ok(value, "integer")):
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f'Invalid value: "{_type_name(value)}": {path} in body must be of type '
                    f'integer,string: "{_type_name(value)}"',
                )
            )
            return
    elif isinstance(typ, str) and typ and not _type_ok(value, typ):
        causes.append(
            (
                "FieldValueInvalid",
                path,
                # kube-openapi InvalidType as field.TypeInvalid: the value shown is
                # the type found
                f'Invalid value: "{_type_name(value)}": {path} in body must be of type '
                f'{typ}: "{_type_name(value)}"',
            )
        )
        return
    enum = s.get("enum")
    if isinstance(enum, list) and value not in enum:
        allowed = ", ".join(json.dumps(e) for e in enum)
        causes.append(
            (
                "FieldValueNotSupported",
                path,
                f"Unsupported value: {json.dumps(value)}: supported values: {allowed}",
            )
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _numbers(value, s, path, causes)
    elif isinstance(value, str):
        _strings(value, s, path, causes)
    elif isinstance(value, list):
        _arrays(value, s, path, causes)
    elif isinstance(value, dict):
        _objects(value, s, path, causes)
    for sub in s.get("allOf") or ():
        if isinstance(sub, dict):
            _validate(value, sub, path, causes)


def _bad(path: str, value: Any, text: str) -> Cause:
    return "FieldValueInvalid", path, f"Invalid value: {_show(value)}: {path} in body {text}"


def _numbers(value: float, s: Obj, path: str, causes: list[Cause]) -> None:
    hi, lo = s.get("maximum"), s.get("minimum")
    if isinstance(hi, (int, float)):
        if s.get("exclusiveMaximum") and value >= hi:
            causes.append(_bad(path, value, f"should be less than {hi}"))
        elif value > hi:
            causes.append(_bad(path, value, f"should be less than or equal to {hi}"))
    if isinstance(lo, (int, float)):
        if s.get("exclusiveMinimum") and value <= lo:
            causes.append(_bad(path, value, f"should be greater than {lo}"))
        elif value < lo:
            causes.append(_bad(path, value, f"should be greater than or equal to {lo}"))
    m = s.get("multipleOf")
    if isinstance(m, (int, float)) and m and (value / m) != int(value / m):
        causes.append(_bad(path, value, f"should be a multiple of {m}"))


def _strings(value: str, s: Obj, path: str, causes: list[Cause]) -> None:
    mx, mn = s.get("maxLength"), s.get("minLength")
    if isinstance(mx, int) and len(value) > mx:
        causes.append(("FieldValueTooLong", path, f"Too long: may not be more than {mx} bytes"))
    if isinstance(mn, int) and len(value) < mn:
        causes.append(_bad(path, value, f"should be at least {mn} chars long"))
    pattern = s.get("pattern")
    if isinstance(pattern, str):
        try:
            ok = re.search(pattern, value) is not None
        except re.error:
            ok = True  # the CRD's validation refused bad patterns already
        if not ok:
            causes.append(_bad(path, value, f"should match '{pattern}'"))


def _arrays(value: list[Any], s: Obj, path: str, causes: list[Cause]) -> None:
    mx, mn = s.get("maxItems"), s.get("minItems")
    if isinstance(mx, int) and len(value) > mx:
        causes.append(
            ("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most {mx} items")
        )
    if isinstance(mn, int) and len(value) < mn:
        causes.append(_bad(path, value, f"should have at least {mn} items"))
    list_type = s.get("x-kubernetes-list-type")
    if s.get("uniqueItems") or list_type == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                causes.append(
                    (
                        "FieldValueDuplicate",
                        f"{path}[{i}]",
                        f"Duplicate value: {json.dumps(item)}",
                    )
                )
            seen.append(item)
    elif list_type == "map":
        keys = [str(k) for k in s.get("x-kubernetes-list-map-keys") or ()]
        seen_keys: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                k = {key: item.get(key) for key in keys}
                if k in seen_keys:
                    causes.append(
                        ("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {json.dumps(k)}")
                    )
                seen_keys.append(k)
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", causes)


def _objects(value: Obj, s: Obj, path: str, causes: list[Cause]) -> None:
    for key in s.get("required") or ():
        if key not in value:
            causes.append(("FieldValueRequired", _join(path, str(key)), "Required value"))
    mx, mn = s.get("maxProperties"), s.get("minProperties")
    if isinstance(mx, int) and len(value) > mx:
        causes.append(
            ("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most {mx} items")
        )
    if isinstance(mn, int) and len(value) < mn:
        causes.append(_bad(path, value, f"should have at least {mn} properties"))
    props = _props(s)
    extra = s.get("additionalProperties")
    for key, v in value.items():
        sub = props.get(key)
        if isinstance(sub, dict):
            _validate(v, sub, _join(path, key), causes)
        elif isinstance(extra, dict):
            _validate(v, extra, _join(path, key), causes)


# ----------------------------------------------------------------------- structural


def structural_causes(s: Any, path: str, *, root: bool = True) -> list[Cause]:
    """Why ``s`` is not a structural schema (``pkg/apiserver/schema/validation.go``
    ValidateStructural, the common cases): every specified node has a type (or
    x-kubernetes-int-or-string / x-kubernetes-preserve-unknown-fields), the root is an
    object, properties and additionalProperties are not both set, metadata at the root
    says at most name and generateName."""
    causes: list[Cause] = []
    _structural(s, path, root, causes)
    return causes


def _structural(s: Any, path: str, root: bool, causes: list[Cause]) -> None:
    if not isinstance(s, dict):
        causes.append(("FieldValueInvalid", path, "Invalid value: must be an object"))
        return
    typ = s.get("type")
    free = s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")
    if not typ and not free:
        causes.append(
            (
                "FieldValueRequired",
                f"{path}.type",
                "Required value: must not be empty for specified object fields"
                if not root
                else "Required value: must not be empty at the root",
            )
        )
    if root and typ and typ != "object":
        causes.append(
            (
                "FieldValueInvalid",
                f"{path}.type",
                f'Invalid value: "{typ}": must be object at the root',
            )
        )
    if "default" in s:  # validation.go: a default must validate against its own schema
        found: list[Cause] = []
        _validate(s["default"], s, f"{path}.default", found)
        causes += found
    if isinstance(s.get("properties"), dict) and isinstance(s.get("additionalProperties"), dict):
        causes.append(
            (
                "FieldValueForbidden",
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            )
        )
    for name, sub in _props(s).items():
        if root and name == "metadata" and isinstance(sub, dict):
            extra = set(_props(sub)) - {"name", "generateName"}
            if extra:
                causes.append(
                    (
                        "FieldValueForbidden",
                        f"{path}.properties[metadata]",
                        "Forbidden: must not specify anything other than name and "
                        "generateName, but metadata is implicitly specified",
                    )
                )
            continue
        _structural(sub, f"{path}.properties[{name}]", False, causes)
    if isinstance(s.get("additionalProperties"), dict):
        _structural(s["additionalProperties"], f"{path}.additionalProperties", False, causes)
    items = s.get("items")
    if typ == "array" and not isinstance(items, dict):
        causes.append(("FieldValueRequired", f"{path}.items", "Required value: must be specified"))
    elif isinstance(items, dict):
        _structural(items, f"{path}.items", False, causes)
