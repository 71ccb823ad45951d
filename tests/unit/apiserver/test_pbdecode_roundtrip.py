"""Representative objects encoded as Go's generated marshallers write them, then decoded.

The encoder below walks the same field table the decoder reads (http/k8s_proto.json) and
writes what gogo-protobuf's ``Marshal`` writes (``k8s.io/api/*/generated.pb.go``): every
non-pointer scalar even when zero, non-pointer messages even when empty, map entries
sorted by key, repeated fields unpacked, IntOrString's three fields, Time's seconds and
nanos. So the decoder's structure is exercised (nesting, maps of Quantity, bytes,
int-or-string, pointer zeros, times, raw JSON); the table itself is checked against
real clients in tests/kernel/apiserver/test_api_protobuf.py. Wire helpers come from
podnet.apiserver.protobuf (the OpenAPI encoder).
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
from typing import Any

import pytest

from podnet.apiserver import protobuf
from podnet.apiserver.http import pbdecode

Obj = dict[str, Any]
META = "k8s.io.apimachinery.pkg.apis.meta.v1"
ZERO = {"string": "", "bytes": "", "bool": False, "double": 0.0}


def _key(num: int, wire: int) -> bytes:
    return protobuf._varint(num << 3 | wire)


def _special(name: str, value: Any) -> bytes | None:
    if name in (f"{META}.Time", f"{META}.MicroTime"):
        if value is None:
            return _key(1, 0) + b"\x00" + _key(2, 0) + b"\x00"
        t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        nanos = t.microsecond * 1000
        seconds = int(t.replace(microsecond=0).timestamp())
        return _key(1, 0) + protobuf._varint(seconds) + _key(2, 0) + protobuf._varint(nanos)
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        is_str = isinstance(value, str)
        return (
            _key(1, 0)
            + protobuf._varint(1 if is_str else 0)
            + _key(2, 0)
            + protobuf._varint(0 if is_str else value)
            + protobuf._bytes(3, value.encode() if is_str else b"")
        )
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return protobuf._bytes(1, value.encode())
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", f"{META}.FieldsV1"):
        return protobuf._bytes(1, json.dumps(value).encode() if value is not None else b"")
    return None


def _value(num: int, typ: str, value: Any) -> bytes:
    if typ in pbdecode._table() or _special(typ, None if "Time" in typ else 0) is not None:
        return protobuf._bytes(num, encode(typ, value))
    if typ == "string":
        return protobuf._bytes(num, value.encode())
    if typ == "bytes":
        return protobuf._bytes(num, base64.b64decode(value))
    if typ == "double":
        return _key(num, 1) + struct.pack("<d", value)
    return _key(num, 0) + protobuf._varint(int(value))  # bool, int32, int64


def encode(name: str, obj: Any) -> bytes:
    """``name``'s message as Go marshals it: absent non-pointer fields as zeros."""
    special = _special(name, obj)
    if special is not None:
        return special
    out = bytearray()
    for num, field in sorted(pbdecode._table()[name].items()):
        key, label, typ, pointer = field[1], field[2], field[3], field[-1]
        if key == "":  # a struct embedded `json:",inline"`: its fields are in obj itself
            out += protobuf._bytes(num, encode(typ, obj))
            continue
        if key not in obj:
            if pointer or label in ("map", "repeated"):
                continue  # nil: not written
            if typ in pbdecode._table():
                out += protobuf._bytes(num, b"")  # an empty struct (value type)
            elif typ.endswith("Time"):
                out += protobuf._bytes(num, encode(typ, None))
            elif _special(typ, 0) is None:
                out += _value(num, typ, ZERO.get(typ, 0))
            continue
        value = obj[key]
        if label == "map":
            for k in sorted(value):
                entry = protobuf._bytes(1, k.encode()) + _value(2, field[4], value[k])
                out += protobuf._bytes(num, entry)
        elif label == "repeated":
            for item in value:
                out += _value(num, typ, item)
        else:
            out += _value(num, typ, value)
    return bytes(out)


def body(obj: Obj, message: str) -> bytes:
    """The ``k8s\\0`` + runtime.Unknown envelope around ``obj``."""
    type_meta = protobuf._bytes(1, obj["apiVersion"].encode())
    type_meta += protobuf._bytes(2, obj["kind"].encode())
    inner = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    unknown = protobuf._bytes(1, type_meta) + protobuf._bytes(2, encode(message, inner))
    unknown += protobuf._bytes(3, b"") + protobuf._bytes(4, b"")
    return pbdecode.MAGIC + unknown


META_FULL: Obj = {
    "name": "p",
    "namespace": "default",
    "labels": {"app": "web", "tier": ""},
    "annotations": {"note": "x"},
    "creationTimestamp": "2024-01-02T03:04:05Z",
    "ownerReferences": [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-1",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ],
    "finalizers": ["a/b"],
    "managedFields": [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2024-01-02T03:04:05Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        }
    ],
}
POD: Obj = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": META_FULL,
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "nginx",
                "args": ["-g", "daemon off;"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "C_"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                    "initialDelaySeconds": 5,
                    "periodSeconds": 10,
                },
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "securityContext": {"runAsUser": 0, "privileged": False},  # pointers
            }
        ],
        "terminationGracePeriodSeconds": 0,
        "securityContext": {"runAsNonRoot": False, "supplementalGroups": [1, 2]},
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
        ],
        "ephemeralContainers": [{"name": "debug", "image": "busybox", "stdin": True}],
        "tolerations": [
            {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "nodeSelector": {"disk": "ssd"},
    },
}
SECRET: Obj = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "s"},
    "data": {"bin": base64.b64encode(bytes(range(256))).decode(), "empty": ""},
    "stringData": {"plain": "text"},
    "type": "Opaque",
    "immutable": False,  # a pointer: kept
}
DEPLOYMENT: Obj = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 0,
        "selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
        },
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
        },
        "revisionHistoryLimit": 0,
        "progressDeadlineSeconds": 600,
    },
}
SERVICE: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "s"},
    "spec": {
        "selector": {"app": "web"},
        "ports": [
            {"name": "a", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "b", "port": 443, "targetPort": "https", "protocol": "TCP"},
        ],
        "type": "ClusterIP",
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
    },
}
NAMESPACE: Obj = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "n", "labels": {"kubernetes.io/metadata.name": "n"}},
    "spec": {"finalizers": ["kubernetes"]},
}
JOB: Obj = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "j"},
    "spec": {
        "backoffLimit": 0,
        "completions": 3,
        "parallelism": 1,
        "activeDeadlineSeconds": 60,
        "suspend": False,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "j", "image": "busybox", "command": ["sh", "-c", "true"]}],
            }
        },
    },
}
CONFIGMAP: Obj = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "generateName": "c-"},
    "data": {"a": "1", "b": ""},
    "binaryData": {"raw": base64.b64encode(b"\x00\xff").decode()},
}
DELETE: Obj = {
    "apiVersion": "meta.k8s.io/v1",
    "kind": "DeleteOptions",
    "gracePeriodSeconds": 0,
    "propagationPolicy": "Foreground",
    "preconditions": {"uid": "u-1"},
}
EVICTION: Obj = {
    "apiVersion": "policy/v1",
    "kind": "Eviction",
    "metadata": {"name": "p", "namespace": "default"},
    "deleteOptions": {"gracePeriodSeconds": 30},
}
SCALE: Obj = {
    "apiVersion": "autoscaling/v1",
    "kind": "Scale",
    "metadata": {"name": "web", "resourceVersion": "7"},
    "spec": {"replicas": 3},
}
CASES = [
    (POD, "k8s.io.api.core.v1.Pod"),
    (SECRET, "k8s.io.api.core.v1.Secret"),
    (DEPLOYMENT, "k8s.io.api.apps.v1.Deployment"),
    (SERVICE, "k8s.io.api.core.v1.Service"),
    (NAMESPACE, "k8s.io.api.core.v1.Namespace"),
    (JOB, "k8s.io.api.batch.v1.Job"),
    (CONFIGMAP, "k8s.io.api.core.v1.ConfigMap"),
    (DELETE, f"{META}.DeleteOptions"),
    (EVICTION, "k8s.io.api.policy.v1.Eviction"),
    (SCALE, "k8s.io.api.autoscaling.v1.Scale"),
]


@pytest.mark.parametrize(("obj", "message"), CASES, ids=[c[0]["kind"] for c in CASES])
def test_round_trip(obj: Obj, message: str) -> None:
    assert pbdecode.decode(body(obj, message)) == obj


def test_the_encoder_writes_go_zero_values() -> None:
    """Not a vacuous round trip: the bytes hold the zeros that the decoder must drop."""
    raw = body(NAMESPACE, "k8s.io.api.core.v1.Namespace")
    assert len(raw) > len(
        body({"apiVersion": "v1", "kind": "Namespace"}, "k8s.io.api.core.v1.Namespace")
    )
    meta = encode(f"{META}.ObjectMeta", {"name": "n"})
    assert protobuf._bytes(2, b"") in meta  # generateName "" written, as Go does
    assert _key(7, 0) + b"\x00" in meta  # generation 0 written
