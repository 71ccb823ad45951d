"""Request bodies in Kubernetes' protobuf encoding, read into the JSON shape.

kubectl 1.3x (``create namespace``, ``create deployment``, ``expose``, ...) and helm 4
send built-in kinds as ``application/vnd.kubernetes.protobuf``: the 4-byte ``k8s\\0``
magic, then a ``runtime.Unknown`` (TypeMeta, the object's bytes, encoding, content type)
(``apimachinery/pkg/runtime/serializer/protobuf/protobuf.go``). The object's messages
are read with the field table in ``k8s_proto.json``, generated from k8s.io/api's
``generated.proto`` and the ``types.go`` struct tags (tools/gen_k8s_proto.py).

Go's protobuf marshalling writes every non-pointer field, set or not; Go's JSON drops
them (``omitempty``) or writes their zero value, which the API reads as unset. So a zero
value is dropped unless its Go field is a pointer (``replicas: 0`` stays). Only decoding:
answers are JSON, which every client accepts.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import struct
from pathlib import Path
from typing import Any

from podnet.apiserver import errors

MAGIC = b"k8s\x00"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"
META_KINDS = frozenset({"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions"})
Field = list[Any]  # [number, json name, label, type(, map value type), pointer]


@functools.cache
def _table() -> dict[str, dict[int, Field]]:
    raw: dict[str, list[Field]] = json.loads(
        (Path(__file__).with_name("k8s_proto.json")).read_text()
    )
    return {name: {int(f[0]): f for f in fields} for name, fields in raw.items()}


def _message_name(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    if kind in META_KINDS or group == "meta.k8s.io":
        return f"{META}.{kind}"
    package = group.split(".")[0] if group else "core"
    return f"k8s.io.api.{package}.{version}.{kind}"


def _bad(why: str) -> errors.ApiError:
    return errors.bad_request(f"the body of the request could not be decoded as protobuf: {why}")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _bad("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value): an int for varint/fixed, bytes for the rest."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            if i + 8 > len(buf):
                raise _bad("truncated fixed64")
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise _bad("truncated field")
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            if i + 4 > len(buf):
                raise _bad("truncated fixed32")
            value, i = buf[i : i + 4], i + 4
        else:
            raise _bad(f"wire type {wire}")
        out.append((num, wire, value))
    return out


def _buf(v: Any) -> bytes:
    """A length-delimited field's bytes (never ``bytes(n)`` of a varint: n zero bytes)."""
    if not isinstance(v, bytes):
        raise _bad("a message or string field with a numeric wire type")
    return v


def _signed(v: Any, bits: int) -> int:
    if not isinstance(v, int):
        raise _bad("a numeric field with a length-delimited wire type")
    n: int = v & ((1 << bits) - 1)
    return n - (1 << bits) if n >> (bits - 1) else n


WIRE = {"string": 2, "bytes": 2, "double": 1, "float": 5}


def _scalar(typ: str, wire: int, value: Any) -> Any:
    if wire != WIRE.get(typ, 0):
        raise _bad(f"a {typ} field with wire type {wire}")
    if typ == "string":
        return _buf(value).decode("utf-8", errors="replace")
    if typ == "bytes":
        return base64.b64encode(_buf(value)).decode()
    if typ == "bool":
        return bool(value)
    if typ in ("int32", "int64", "uint32", "uint64"):
        return _signed(value, 32 if typ == "int32" else 64) if typ[0] == "i" else value
    if typ == "double":
        return struct.unpack("<d", value)[0]
    if typ == "float":
        return struct.unpack("<f", value)[0]
    raise _bad(f"type {typ}")


def _packed(typ: str, buf: bytes) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(buf):
        if typ == "double":
            out.append(struct.unpack("<d", buf[i : i + 8])[0])
            i += 8
        elif typ == "float":
            out.append(struct.unpack("<f", buf[i : i + 4])[0])
            i += 4
        else:
            v, i = _varint(buf, i)
            out.append(_scalar(typ, 0, v))
    return out


def _time(buf: bytes, micro: bool) -> str | None:
    f = {n: v for n, _, v in _fields(buf)}
    seconds, nanos = _signed(f.get(1, 0), 64), _signed(f.get(2, 0), 32)
    if seconds == 0 and nanos == 0:
        return None  # Go's zero Time is JSON null
    t = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _special(name: str, buf: bytes) -> tuple[bool, Any]:
    """Messages whose JSON form is not an object (time, quantity, int-or-string, raw)."""
    if name == f"{META}.Time":
        return True, _time(buf, micro=False)
    if name == f"{META}.MicroTime":
        return True, _time(buf, micro=True)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        f = {n: v for n, _, v in _fields(buf)}
        return True, _buf(f.get(1, b"")).decode()
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        f = {n: v for n, _, v in _fields(buf)}
        if f.get(1, 0) == 1:
            return True, _buf(f.get(3, b"")).decode()
        return True, _signed(f.get(2, 0), 32)
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", f"{META}.FieldsV1"):
        f = {n: v for n, _, v in _fields(buf)}
        raw = _buf(f.get(1, b""))
        try:
            return True, json.loads(raw) if raw else None
        except ValueError:
            raise _bad(f"{name} holds no JSON") from None
    if name == f"{META}.Duration":
        f = {n: v for n, _, v in _fields(buf)}
        return True, _duration(_signed(f.get(1, 0), 64))
    return False, None


def _duration(ns: int) -> str:
    """Go's ``time.Duration.String()`` for whole seconds and below (``1h0m0s``, ``1.5s``)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    h, rest = divmod(ns, 3600 * 10**9)
    m, rest = divmod(rest, 60 * 10**9)
    s = rest / 10**9
    text = f"{s:.9f}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{sign}{h}h{m}m{text}"
    if m:
        return f"{sign}{m}m{text}"
    return sign + text


def _zero(v: Any) -> bool:
    return v is None or v == "" or v == 0 or v is False or v == [] or v == {}


def _value(typ: str, wire: int, value: Any) -> Any:
    if typ in _table():
        if wire != 2:
            raise _bad(f"{typ} not length-delimited")
        return _message(typ, _buf(value))
    return _scalar(typ, wire, value)


def _message(name: str, buf: bytes) -> Any:
    special, value = _special(name, buf)
    if special:
        return value
    fields = _table().get(name)
    if fields is None:
        raise _bad(f"unknown message {name}")
    out: dict[str, Any] = {}
    inline: dict[str, Any] = {}  # fields of Go structs embedded with `json:",inline"`
    for num, wire, raw in _fields(buf):
        f = fields.get(num)
        if f is None:
            continue  # a field newer than our table: dropped, as an old server would
        key, label, typ = f[1], f[2], f[3]
        if label == "map":
            entry = {n: (w, v) for n, w, v in _fields(_buf(raw))}
            k = _value(typ, *entry[1]) if 1 in entry else ""
            vtyp = f[4]
            v = _value(vtyp, *entry[2]) if 2 in entry else ("" if vtyp == "string" else None)
            out.setdefault(key, {})[str(k)] = v
        elif label == "repeated":
            items = out.setdefault(key, [])
            if wire == 2 and typ not in _table() and typ not in ("string", "bytes"):
                items.extend(_packed(typ, _buf(raw)))
            else:
                items.append(_value(typ, wire, raw))
        elif key == "":  # Volume's VolumeSource, Probe's ProbeHandler, LocalObjectReference
            value = _value(typ, wire, raw)
            inline.update(value if isinstance(value, dict) else {})
        else:
            out[key] = _value(typ, wire, raw)
    pointers = {f[1] for f in fields.values() if f[-1] is True}
    return {k: v for k, v in out.items() if k in pointers or not _zero(v)} | inline


def decode(raw: bytes) -> dict[str, Any]:
    """The object in a ``k8s\\0``-framed protobuf body, as the JSON decoder would give it."""
    if not raw.startswith(MAGIC):
        raise _bad("no k8s protobuf envelope")
    unknown = {n: v for n, _, v in _fields(raw[len(MAGIC) :])}
    type_meta = {n: _buf(v).decode() for n, _, v in _fields(_buf(unknown.get(1, b"")))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if unknown.get(3):
        raise _bad(f"content encoding {_buf(unknown[3]).decode()!r}")
    name = _message_name(api_version, kind)
    if name not in _table():
        raise errors.unsupported_media_type(
            f"podnet reads no protobuf for {kind} ({api_version}): send it as JSON"
        )
    obj = _message(name, _buf(unknown.get(2, b"")))
    if not isinstance(obj, dict):
        raise _bad(f"{kind} is not an object")
    return {"apiVersion": api_version, "kind": kind, **obj}
