"""An OpenAPI v2 (swagger) document, as JSON-shaped dicts, in gnostic's protobuf encoding.

client-go's ``OpenAPISchema()`` asks ``/openapi/v2`` for
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and unmarshals an
``openapi_v2.Document`` (github.com/google/gnostic-models ``openapiv2/OpenAPIv2.proto``);
kubectl (all versions up to 1.37) validates and computes strategic-merge patches from it
(kube-openapi ``pkg/util/proto/document.go``). Only the fields kube-apiserver's swagger
uses are encoded: each message below is its field numbers from that .proto. Vendor
extensions, defaults, examples and enum values are ``Any`` with the value as YAML text
(JSON is YAML), which is what ``VendorExtensionToMap`` reads.

Hand-written wire encoding, not a library: no maintained PyPI package ships gnostic's
message classes, and the ``protobuf`` runtime would need protoc-generated code (or a
descriptor built by hand) plus a new dependency, for a write-only encoder of ~30 message
fields over three wire types (varint, 64-bit, length-delimited).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _string(field: int, value: str) -> bytes:
    return _bytes(field, value.encode()) if value else b""  # proto3: "" is not sent


def _bool(field: int, value: bool) -> bytes:
    return _varint(field << 3) + b"\x01" if value else b""


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", float(value))


def _strings(field: int, values: Iterable[str]) -> bytes:
    return b"".join(_bytes(field, v.encode()) for v in values)


def _any(field: int, value: Any) -> bytes:
    """``Any{yaml: 2}``: the value as (JSON-flavoured) YAML text."""
    return _bytes(field, _string(2, json.dumps(value, ensure_ascii=False)))


def _extensions(field: int, obj: Obj) -> bytes:
    """``repeated NamedAny{name: 1, value: 2}`` of every ``x-`` key."""
    return b"".join(
        _bytes(field, _string(1, k) + _any(2, v)) for k, v in obj.items() if k.startswith("x-")
    )


def _named(field: int, items: Obj, encode: Callable[[Any], bytes]) -> bytes:
    """``repeated Named<T>{name: 1, value: 2}``: a map in document order."""
    return b"".join(_bytes(field, _string(1, k) + _bytes(2, encode(v))) for k, v in items.items())


# Schema field numbers (message Schema in OpenAPIv2.proto).
_SCHEMA_STRINGS = {"$ref": 1, "format": 2, "title": 3, "description": 4, "pattern": 13}
_SCHEMA_DOUBLES = {"multipleOf": 6, "maximum": 7, "minimum": 9}
_SCHEMA_BOOLS = {
    "exclusiveMaximum": 8,
    "exclusiveMinimum": 10,
    "uniqueItems": 16,
    "readOnly": 27,
}
_SCHEMA_INTS = {
    "maxLength": 11,
    "minLength": 12,
    "maxItems": 14,
    "minItems": 15,
    "maxProperties": 17,
    "minProperties": 18,
}


def schema(s: Obj) -> bytes:
    """One ``Schema`` message."""
    out = bytearray()
    for key, value in s.items():
        if key in _SCHEMA_STRINGS:
            out += _string(_SCHEMA_STRINGS[key], value)
        elif key in _SCHEMA_DOUBLES:
            out += _double(_SCHEMA_DOUBLES[key], value)
        elif key in _SCHEMA_BOOLS:
            out += _bool(_SCHEMA_BOOLS[key], value)
        elif key in _SCHEMA_INTS:
            out += _int(_SCHEMA_INTS[key], value)
        elif key == "default":
            out += _any(5, value)
        elif key == "required":
            out += _strings(19, value)
        elif key == "enum":
            out += b"".join(_any(20, v) for v in value)
        elif key == "additionalProperties":  # AdditionalPropertiesItem{schema 1 | boolean 2}
            inner = _bytes(1, schema(value)) if isinstance(value, dict) else _bool(2, value)
            out += _bytes(21, inner)
        elif key == "type":  # TypeItem{repeated value 1}
            out += _bytes(22, _strings(1, [value] if isinstance(value, str) else value))
        elif key == "items":  # ItemsItem{repeated schema 1}
            items = value if isinstance(value, list) else [value]
            out += _bytes(23, b"".join(_bytes(1, schema(i)) for i in items))
        elif key == "allOf":
            out += b"".join(_bytes(24, schema(i)) for i in value)
        elif key == "properties":  # Properties{repeated NamedSchema 1}
            out += _bytes(25, _named(1, value, schema))
        elif key == "example":
            out += _any(30, value)
    out += _extensions(31, s)
    return bytes(out)


def _parameter(p: Obj) -> bytes:
    """``ParametersItem{parameter: 1}`` holding a body or a query/path parameter."""
    if p["in"] == "body":  # BodyParameter
        body = (
            _string(1, p.get("description", ""))
            + _string(2, p["name"])
            + _string(3, "body")
            + _bool(4, p.get("required", False))
            + _bytes(5, schema(p["schema"]))
        )
        param = _bytes(1, body)
    else:
        # Query- and PathParameterSubSchema share fields 1-4; type and uniqueItems differ.
        query = p["in"] == "query"
        sub = (
            _bool(1, p.get("required", False))
            + _string(2, p["in"])
            + _string(3, p.get("description", ""))
            + _string(4, p["name"])
            + _string(6 if query else 5, p.get("type", ""))
            + _bool(20 if query else 19, p.get("uniqueItems", False))
        )
        param = _bytes(2, _bytes(3 if query else 4, sub))  # NonBodyParameter
    return _bytes(1, param)


def _response(r: Obj) -> bytes:
    """``ResponseValue{response: 1}``: ``Response{description 1, schema 2}``."""
    resp = _string(1, r.get("description", ""))
    if "schema" in r:
        resp += _bytes(2, _bytes(1, schema(r["schema"])))  # SchemaItem{schema 1}
    return _bytes(1, resp)


def _operation(op: Obj) -> bytes:
    return (
        _strings(1, op.get("tags", ()))
        + _string(3, op.get("description", ""))
        + _string(5, op.get("operationId", ""))
        + _strings(6, op.get("produces", ()))
        + _strings(7, op.get("consumes", ()))
        + b"".join(_bytes(8, _parameter(p)) for p in op.get("parameters", ()))
        + _bytes(9, _named(1, op.get("responses", {}), _response))
        + _strings(10, op.get("schemes", ()))
        + _extensions(13, op)
    )


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Obj) -> bytes:
    out = bytearray()
    for method, field in _METHODS.items():
        if method in item:
            out += _bytes(field, _operation(item[method]))
    out += b"".join(_bytes(9, _parameter(p)) for p in item.get("parameters", ()))
    return bytes(out + _extensions(10, item))


def document(doc: Obj) -> bytes:
    """The whole ``Document``: swagger 1, info 2, paths 8, definitions 9."""
    info = doc.get("info", {})
    return (
        _string(1, doc.get("swagger", "2.0"))
        + _bytes(2, _string(1, info.get("title", "")) + _string(2, info.get("version", "")))
        + _bytes(8, _named(2, doc.get("paths", {}), _path_item))  # Paths{path 2}
        + _bytes(9, _named(1, doc.get("definitions", {}), schema))  # Definitions{1}
    )
