"""Protobuf request bodies (kubectl 1.3x's typed clients) read into the JSON shape."""

from __future__ import annotations

import pytest

from podnet.apiserver import errors
from podnet.apiserver.http import pbdecode


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _int(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def _envelope(api_version: str, kind: str, obj: bytes) -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return pbdecode.MAGIC + _len(1, type_meta) + _len(2, obj) + _len(3, b"") + _len(4, b"")


def _meta(name: str) -> bytes:
    # as Go writes it: every non-pointer field, empty or not; a zero creationTimestamp
    return (
        _len(1, name.encode())
        + _len(2, b"")
        + _len(3, b"")
        + _int(7, 0)
        + _len(8, b"")
        + _len(11, _len(1, b"app") + _len(2, b"web"))
    )


def test_a_configmap_and_a_secret() -> None:
    body = _len(1, _meta("c")) + _len(2, _len(1, b"a") + _len(2, b"b"))
    assert pbdecode.decode(_envelope("v1", "ConfigMap", body)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"app": "web"}},
        "data": {"a": "b"},
    }
    secret = _len(1, _meta("s")) + _len(2, _len(1, b"p") + _len(2, b"\x00\xff"))
    assert pbdecode.decode(_envelope("v1", "Secret", secret))["data"] == {"p": "AP8="}


def test_zero_values_stay_only_for_pointer_fields() -> None:
    spec = _int(1, 0) + _int(5, 0)  # replicas (*int32) = 0, minReadySeconds (int32) = 0
    got = pbdecode.decode(_envelope("apps/v1", "Deployment", _len(1, _meta("d")) + _len(2, spec)))
    assert got["spec"] == {"replicas": 0}


def test_int_or_string_time_and_negative_numbers() -> None:
    port = _len(1, b"http") + _int(3, 80) + _len(4, _int(1, 0) + _int(2, 8080))
    named = _len(4, _int(1, 1) + _len(3, b"web"))
    svc_spec = _len(1, port) + _len(1, _int(3, 81) + named)
    meta = _meta("s") + _len(9, _int(1, 1_700_000_000))  # deletionTimestamp
    got = pbdecode.decode(_envelope("v1", "Service", _len(1, meta) + _len(2, svc_spec)))
    assert got["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"port": 81, "targetPort": "web"},
    ]
    assert got["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    opts = _int(1, (1 << 64) - 1)  # gracePeriodSeconds = -1, a pointer field
    assert pbdecode.decode(_envelope("v1", "DeleteOptions", opts)) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": -1,
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{}", 400),  # no envelope
        (pbdecode.MAGIC + b"\x0a\x05ab", 400),  # truncated
        (_envelope("v1", "ConfigMap", _len(1, _len(1, b"c")) + _int(2, 10**9)), 400),
        (_envelope("v1", "Pod", _len(1, _len(8, _len(1, b"x")))), 400),  # Time.seconds
        (pbdecode.MAGIC + _len(1, _len(1, b"x/v1") + _len(2, b"Widget")), 415),
    ],
)
def test_bad_bodies(raw: bytes, code: int) -> None:
    with pytest.raises(errors.ApiError) as e:
        pbdecode.decode(raw)
    assert e.value.code == code
